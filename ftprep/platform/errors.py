"""Turn the `openai` SDK's exceptions into one clear, key-free line (PlatformError)."""
from __future__ import annotations

from typing import Any

import openai

from ftprep.errors import PlatformError
from ftprep.platform.redact import redact

WIND_DOWN_CODES = {"training_not_available", "fine_tuning_not_available", "fine_tuning_disabled"}

WIND_DOWN_MESSAGE = (
    "fine-tuning is not available to this organisation (403 {code}): OpenAI is winding down "
    "self-serve fine-tuning (no new jobs for most organisations since mid-2026, none after "
    "2027-01-06, older base models shut down). Train on Azure OpenAI (--provider azure) or an "
    "OpenAI-compatible provider (--base-url URL) instead"
)


def _body_error(exc: openai.APIStatusError) -> tuple[str, str]:
    """(code, message) from the API's error envelope, whatever its shape."""
    body: Any = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    code = str(body.get("code") or body.get("type") or "") if isinstance(body, dict) else ""
    message = str(body.get("message") or "") if isinstance(body, dict) else ""
    return code, message or exc.message


def _is_wind_down(code: str, message: str) -> bool:
    text = f"{code} {message}".lower()
    return code in WIND_DOWN_CODES or (
        "fine-tun" in text and ("not available" in text or "no longer" in text)
    )


def _status_line(exc: openai.APIStatusError, config_hint: str, retries: int) -> str:
    code, message = _body_error(exc)
    status = exc.status_code
    detail = f": {message}" if message else ""
    if status == 401:
        return f"authentication failed (401){detail}; check the key in {config_hint}"
    if status == 403 and _is_wind_down(code, message):
        return WIND_DOWN_MESSAGE.format(code=code or "training_not_available")
    if status == 403:
        return f"permission denied (403){detail}; the key's project or role may not allow this"
    if status == 404:
        return f"not found (404){detail}"
    if status == 409:
        return f"conflict (409){detail}; the object is not in a state that allows this"
    if status == 429:
        return (
            f"rate limited (429) after {retries} retries{detail}; wait and try again "
            "or raise --max-retries"
        )
    if status >= 500:
        return f"server error ({status}) after {retries} retries{detail}; try again later"
    return f"request rejected ({status}){detail}"


def translate(exc: Exception, *, secret: str | None, key_env: str, base_url: str,
              retries: int) -> PlatformError:
    """Map any SDK/transport error to a PlatformError whose text contains no secret."""
    if isinstance(exc, openai.APIStatusError):
        line = _status_line(exc, f"${key_env}", retries)
    elif isinstance(exc, openai.APITimeoutError):
        line = f"request to {base_url} timed out after {retries} retries"
    elif isinstance(exc, openai.APIConnectionError):
        line = f"cannot reach {base_url} (connection failed after {retries} retries)"
    else:
        line = f"{type(exc).__name__}: {exc}"
    return PlatformError(redact(line, secret))
