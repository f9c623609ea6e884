"""Exceptions that carry an exit code, so the CLI can turn any of them into one line."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

EXIT_OK = 0
EXIT_FINDINGS = 1  # the data has errors
EXIT_USAGE = 2  # bad arguments, unreadable files, API/config problems


class FtprepError(Exception):
    """Base class: an expected failure that deserves a one-line message, not a traceback."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


_NO_VALUE: Any = object()
_FIELD = re.compile(r"\{([a-z][a-z0-9_]*)\}")


class UsageError(FtprepError):
    """The caller asked for something impossible (unknown column, bad option value...).

    The library speaks Python, the CLI speaks flags. An error about a parameter names it with
    `param` (and its `value`); the message may mention it, and the parameters listed in
    `mentions`, as `{name}` fields (only those: text from data is never rewritten).
    `str(e)` spells them as Python (`test=5 leaves nothing for train`); the CLI rewords the
    same error with its flags through `worded(flags)` (`--test 5 leaves nothing for train`)."""

    def __init__(self, message: str, *, param: str | None = None, value: Any = _NO_VALUE,
                 mentions: tuple[str, ...] = (), hint: str | None = None) -> None:
        self.template, self.param, self.value = message, param, value
        self.fields = frozenset((*mentions, param) if param else mentions)
        self.hint_template = hint
        super().__init__(self.worded(None), hint=self.worded_hint(None))

    def _spell(self, text: str, spell: Callable[[str], str]) -> str:
        return _FIELD.sub(lambda m: spell(m[1]) if m[1] in self.fields else m[0], text)

    def worded_hint(self, flags: Callable[[str], str] | None) -> str | None:
        if self.hint_template is None:
            return None
        return self._spell(self.hint_template, flags or (lambda name: name))

    def worded(self, flags: Callable[[str], str] | None) -> str:
        """The message with parameters spelled by `flags` (name → flag), or as Python."""
        spell: Callable[[str], str] = flags or (lambda name: name)
        text = self._spell(self.template, spell)
        if self.param is None:
            return text
        if self.value is _NO_VALUE:
            subject = spell(self.param)
        elif flags is None:
            subject = f"{self.param}={self.value!r}"
        else:
            shown = repr(self.value) if isinstance(self.value, str) else str(self.value)
            subject = f"{spell(self.param)} {shown}"
        return f"{subject} {text}" if text else subject


class InputError(FtprepError):
    """An input file cannot be read or decoded. Names the file and, when known, line and field."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = ":".join(str(p) for p in (path, line) if p is not None)
        if field:
            where = f"{where} [{field}]" if where else f"[{field}]"
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.path, self.line, self.field = path, line, field


class DataError(FtprepError):
    """The data itself is wrong in a way that stops the command (exit 1)."""

    exit_code = EXIT_FINDINGS


class PlatformError(FtprepError):
    """The fine-tuning API refused or failed; message is already safe to print (no secrets)."""
