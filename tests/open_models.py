"""Small REAL open-model tokenizers for tests, built offline (no hub, no download).

`build_tokenizer_json` trains a byte-level BPE (the kind Llama 3 and Qwen use) on a short
corpus with `tokenizers`, with the chat special tokens added. `write_model_dir` writes a folder
as a model repository holds it: tokenizer.json + tokenizer_config.json (chat template, special
tokens), loadable by both ftprep and transformers' AutoTokenizer.

Two chat templates in the style of real ones:
- LLAMA3_TEMPLATE: Llama-3 headers, tools in a system block, tool calls as JSON, and
  ``{% generation %}`` blocks around assistant turns (the assistant mask TRL uses);
- CHATML_TEMPLATE: Qwen's ChatML with <tools>/<tool_call> blocks, no generation blocks.
"""
from __future__ import annotations

import json
from pathlib import Path

SPECIAL_TOKENS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                  "<|end_header_id|>", "<|eot_id|>", "<|im_start|>", "<|im_end|>"]

CORPUS = [
    "You are a helpful assistant. Answer briefly and precisely.",
    "What is the capital of France? The capital of France is Paris.",
    "What is the weather in Paris today? It is sunny and 21 degrees.",
    "Call the function get_weather with the city name and return the result.",
    '{"name": "get_weather", "parameters": {"city": "Paris", "unit": "celsius"}}',
    "question answer user assistant system tool function arguments type object",
    "Translate to German: good morning. Guten Morgen. Thank you, danke schön.",
] * 20

LLAMA3_TEMPLATE = (
    "{{- bos_token }}\n"
    "{%- if tools %}\n"
    "{{- '<|start_header_id|>system<|end_header_id|>\\n\\nYou can call these functions:\\n' }}\n"
    "{%- for t in tools %}{{- t | tojson(indent=2) }}{{- '\\n\\n' }}{%- endfor %}\n"
    "{{- '<|eot_id|>' }}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    "{%- if message.role == 'assistant' %}\n"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n"
    "{%- generation %}\n"
    "{%- if message.tool_calls %}\n"
    "{%- for call in message.tool_calls %}"
    "{{- '{\"name\": \"' + call.function.name + '\", \"parameters\": ' "
    "+ call.function.arguments | tojson + '}' }}{%- endfor %}\n"
    "{%- else %}{{- message.content | trim }}{%- endif %}\n"
    "{{- '<|eot_id|>' }}\n"
    "{%- endgeneration %}\n"
    "{%- elif message.role == 'tool' %}\n"
    "{{- '<|start_header_id|>ipython<|end_header_id|>\\n\\n' + message.content | trim + '<|eot_id|>' }}\n"
    "{%- else %}\n"
    "{{- '<|start_header_id|>' + message.role + '<|end_header_id|>\\n\\n' + message.content | trim"
    " + '<|eot_id|>' }}\n"
    "{%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{%- endif %}\n"
)

CHATML_TEMPLATE = (
    "{%- if tools %}\n"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if messages and messages[0].role == 'system' %}{{- messages[0].content + '\\n\\n' }}{%- endif %}\n"
    "{{- '# Tools\\n<tools>' }}{%- for t in tools %}{{- '\\n' }}{{- t | tojson }}{%- endfor %}"
    "{{- '\\n</tools><|im_end|>\\n' }}\n"
    "{%- elif messages and messages[0].role == 'system' %}\n"
    "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    "{%- if message.role == 'system' %}\n"
    "{%- if not loop.first %}{{ raise_exception('the system message must come first') }}{%- endif %}\n"
    "{%- elif message.role == 'assistant' %}\n"
    "{{- '<|im_start|>assistant\\n' }}{%- if message.content %}{{- message.content }}{%- endif %}\n"
    "{%- for call in message.tool_calls or [] %}"
    "{{- '\\n<tool_call>\\n{\"name\": \"' + call.function.name + '\", \"arguments\": ' "
    "+ call.function.arguments | tojson + '}\\n</tool_call>' }}{%- endfor %}\n"
    "{{- '<|im_end|>\\n' }}\n"
    "{%- elif message.role == 'tool' %}\n"
    "{{- '<|im_start|>user\\n<tool_response>\\n' + message.content + '\\n</tool_response><|im_end|>\\n' }}\n"
    "{%- else %}\n"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}\n"
    "{%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}\n"
)


def build_tokenizer_json(path: Path, vocab_size: int = 400) -> Path:
    """Train a small byte-level BPE with the chat special tokens and save it as tokenizer.json."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tokenizer.train_from_iterator(CORPUS, trainer=trainer)
    tokenizer.save(str(path))
    return path


def write_model_dir(folder: Path, tokenizer_json: Path, template: str, *,
                    bos: str | None = "<|begin_of_text|>", eos: str = "<|eot_id|>",
                    template_in_jinja_file: bool = False) -> Path:
    """A model folder: tokenizer.json + tokenizer_config.json (+ chat_template.jinja)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.json").write_bytes(tokenizer_json.read_bytes())
    config: dict[str, object] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "eos_token": eos,
        "model_max_length": 4096,
    }
    if bos is not None:
        config["bos_token"] = {"__type": "AddedToken", "content": bos, "special": True}  # older form
    if template_in_jinja_file:
        (folder / "chat_template.jinja").write_text(template, encoding="utf-8")
    else:
        config["chat_template"] = template
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder
