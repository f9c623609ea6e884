"""Exceptions that carry an exit code, so the CLI can turn any of them into one line."""
from __future__ import annotations

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


class UsageError(FtprepError):
    """The caller asked for something impossible (unknown column, bad option value...)."""


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
