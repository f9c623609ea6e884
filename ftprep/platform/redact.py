"""Keep secrets out of anything printed or logged."""
from __future__ import annotations

import os
import re

# OpenAI-style keys (sk-..., sk-proj-...), bearer tokens and Azure-style 32-hex keys.
_PATTERNS = [
    re.compile(r"sk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9_\-\.=]{8,}"),
    re.compile(r"(?i)(api[-_]?key[\"'=:\s]+)[A-Za-z0-9_\-]{8,}"),
]
_ENV_SECRETS = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "FTPREP_API_KEY")


def redact(text: str, *secrets: str | None) -> str:
    """Replace known secrets (given, or from the environment) and key-shaped strings."""
    values = [s for s in secrets if s] + [os.environ.get(v, "") for v in _ENV_SECRETS]
    for value in sorted({v for v in values if len(v) >= 4}, key=len, reverse=True):
        text = text.replace(value, "***")
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return text
