"""Turn the `openai` SDK's exceptions into one clear, key-free line (PlatformError)."""
from __future__ import annotations

import contextlib
import datetime
import email.utils
import math
import time
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


MAX_WAIT = 120.0  # seconds: the longest Retry-After the SDK (and ftprep) will wait


def retryable(exc: openai.OpenAIError) -> bool:
    """A failure after which the request may or may not have taken effect, and a retry may
    succeed: no answer (connection dropped, timeout), 429, or a 5xx."""
    return isinstance(exc, (openai.APIConnectionError, openai.RateLimitError,
                            openai.InternalServerError))


def asked_wait(exc: openai.APIStatusError) -> float | None:
    """Seconds the server asked to wait, if it said: `retry-after-ms`, or `Retry-After` in
    seconds or as an HTTP date (RFC 9110; a date already past means 0)."""
    headers = exc.response.headers
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        with contextlib.suppress(ValueError):
            seconds = float(headers.get(header, "")) / divisor
            if math.isfinite(seconds):
                return seconds
    return _seconds_until(headers.get("retry-after"))


def _seconds_until(http_date: str | None) -> float | None:
    if not http_date:
        return None
    try:
        when = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means it said -0000
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(when.timestamp() - time.time(), 0.0)


def retries_made(exc: openai.APIError, configured: int) -> int:
    """How many retries the SDK actually made (it numbers each request it sends)."""
    try:
        return int(exc.request.headers.get("x-stainless-retry-count", configured))
    except (AttributeError, ValueError):
        return configured


def _after(exc: openai.APIError, configured: int) -> str:
    made = retries_made(exc, configured)
    return f" after {made} {'retry' if made == 1 else 'retries'}" if made else ""


def _why_not_retried(exc: openai.APIStatusError) -> str:
    wait = asked_wait(exc)
    if wait is not None and wait > MAX_WAIT:
        return (f"; the server asks to wait {wait:g} s (Retry-After), longer than the "
                f"{MAX_WAIT:g} s ftprep waits, so it did not retry: try again after that")
    if exc.response.headers.get("x-should-retry") == "false":
        return "; the server said not to retry"
    return ""


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
    after, why = _after(exc, retries), _why_not_retried(exc)
    if status == 429:
        advice = why or "; wait and try again or raise --max-retries"
        return f"rate limited (429){after}{detail}{advice}"
    if status >= 500:
        return f"server error ({status}){after}{detail}{why or '; try again later'}"
    return f"request rejected ({status}){detail}"


def _connection_line(exc: openai.APIConnectionError, base_url: str, retries: int) -> str:
    cause = exc.__cause__
    if cause is not None and "header" in str(cause).lower() and \
            type(cause).__name__ == "LocalProtocolError":
        # httpx refuses the request before sending it; its text would quote the key.
        return ("the request could not be sent: a header value contains a newline or control "
                "character (check the API key, organization and project variables)")
    after = _after(exc, retries)
    if isinstance(exc, openai.APITimeoutError):
        return f"request to {base_url} timed out{after}"
    return f"cannot reach {base_url} (connection failed{after})"


def translate(exc: Exception, *, secret: str | None, key_env: str, base_url: str,
              retries: int) -> PlatformError:
    """Map any SDK/transport error to a PlatformError whose text contains no secret."""
    if isinstance(exc, openai.APIStatusError):
        line = _status_line(exc, f"${key_env}", retries)
    elif isinstance(exc, openai.APIConnectionError):
        line = _connection_line(exc, base_url, retries)
    elif isinstance(exc, openai.APIResponseValidationError):
        line = f"the server's answer has an unexpected shape: {exc.message}"
    else:
        line = f"{type(exc).__name__}: {exc}"
    return PlatformError(redact(line, secret))
