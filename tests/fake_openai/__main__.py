"""Run the local OpenAI-compatible server by hand (for the README's eval session):

    python -m tests.fake_openai --port 8765 --answers split/test.jsonl \\
        --model gpt-4.1-mini=0.5 --model ft:gpt-4.1-mini-2025-04-14:acme:faq:abc123=0.9

Each `--model NAME=FRACTION` answers the reference of the first FRACTION of the answers
file's examples (matched by their last user message) and "I am not sure." to the rest. The API
key is $OPENAI_API_KEY (default sk-local-demo). Stops on Ctrl-C.
"""
from __future__ import annotations

import argparse
import json
import os
import threading

from tests.fake_openai.server import FakeOpenAI, reference_reply


def _references(path: str) -> dict[str, object]:
    refs: dict[str, object] = {}
    with open(path, encoding="utf-8") as f:
        for raw in f:
            if not raw.strip():
                continue
            messages = json.loads(raw).get("messages") or []
            if len(messages) < 2 or messages[-1].get("role") != "assistant":
                continue
            question = next((m.get("content") for m in reversed(messages[:-1])
                             if m.get("role") == "user"), None)
            if isinstance(question, str):
                answer = messages[-1]
                refs[question] = answer.get("content") if not answer.get("tool_calls") else {
                    "tool_calls": answer["tool_calls"]}
    return refs


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_openai")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--answers", help="chat JSONL whose final assistant messages are known")
    parser.add_argument("--model", action="append", default=[], metavar="NAME=FRACTION")
    args = parser.parse_args()
    api = FakeOpenAI(api_key=os.environ.get("OPENAI_API_KEY", "sk-local-demo"), port=args.port)
    refs = _references(args.answers) if args.answers else {}
    questions = list(refs)
    for spec in args.model:
        name, _, fraction = spec.rpartition("=")
        known = set(questions[: round(float(fraction) * len(questions))])
        api.add_chat_model(name, reference_reply(refs, known, "I am not sure."))
    api.start()
    print(f"serving {', '.join(api.chat_models)} at {api.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        api.stop()


if __name__ == "__main__":
    main()
