"""Where the fine-tuning API lives and how to authenticate: OpenAI, Azure OpenAI or any
OpenAI-compatible server, resolved from options first and the environment second.

Azure has two URL styles: the resource endpoint with an api-version
(`https://RESOURCE.openai.azure.com` + `?api-version=...`) and the v1 endpoint
(`https://RESOURCE.openai.azure.com/openai/v1/`), which takes no api-version."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from ftprep.errors import UsageError

OPENAI = "openai"
AZURE = "azure"
COMPATIBLE = "compatible"
PROVIDERS = (OPENAI, AZURE, COMPATIBLE)

DEFAULT_OPENAI_URL = "https://api.openai.com/v1"
DEFAULT_AZURE_API_VERSION = "2025-04-01-preview"
DEFAULT_MAX_RETRIES = 3
DEFAULT_TIMEOUT = 600.0


@dataclass(frozen=True)
class ProviderConfig:
    """Everything needed to build a client. `api_key` is a secret: never print this object."""

    provider: str
    base_url: str
    api_key: str = field(repr=False)
    api_key_env: str
    organization: str | None = None
    project: str | None = None
    api_version: str | None = None
    max_retries: int = DEFAULT_MAX_RETRIES
    timeout: float = DEFAULT_TIMEOUT
    debug: bool = False
    # The URL as given, with any user:password@ in it: used only to connect. `base_url` is
    # the same URL without credentials, for everything stored or shown.
    connect_url: str = field(default="", repr=False)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never be printed: the key and any password in the URL."""
        password = urlsplit(self.connect_url).password if self.connect_url else None
        return tuple(s for s in (self.api_key, password) if s)

    def to_dict(self) -> dict:
        """Safe view (no key) for --format json and --dry-run."""
        return {
            "provider": self.provider,
            "base_url": self.base_url,
            "api_key_env": self.api_key_env,
            "organization": self.organization,
            "project": self.project,
            "api_version": self.api_version,
        }


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def resolve_config(
    provider: str | None = None,
    *,
    base_url: str | None = None,
    api_key_env: str | None = None,
    api_version: str | None = None,
    max_retries: int | None = None,
    timeout: float | None = None,
    debug: bool = False,
    require_key: bool = True,
) -> ProviderConfig:
    """Resolve provider settings. Missing key → UsageError naming the variable to set."""
    provider = (provider or os.environ.get("FTPREP_PROVIDER") or OPENAI).lower()
    if provider not in PROVIDERS:
        raise UsageError(f"unknown provider {provider!r}; use one of {', '.join(PROVIDERS)}")
    if provider == AZURE:
        url = base_url or _env("AZURE_OPENAI_ENDPOINT")
        key_env = api_key_env or "AZURE_OPENAI_API_KEY"
        if not url:
            raise UsageError(
                "Azure OpenAI needs an endpoint: set AZURE_OPENAI_ENDPOINT or --base-url")
        version: str | None = _azure_api_version(url, api_version)
    else:
        url = base_url or _env("OPENAI_BASE_URL") or DEFAULT_OPENAI_URL
        key_env = api_key_env or "OPENAI_API_KEY"
        version = api_version
        if provider == COMPATIBLE and not base_url and not _env("OPENAI_BASE_URL"):
            raise UsageError("an OpenAI-compatible provider needs --base-url (or OPENAI_BASE_URL)")
    key = os.environ.get(key_env, "")
    if require_key and not key:
        raise UsageError(f"no API key: set the environment variable {key_env}")
    return ProviderConfig(
        provider=provider,
        base_url=public_url(url).rstrip("/"),
        connect_url=url.rstrip("/"),
        api_key=key,
        api_key_env=key_env,
        organization=_env("OPENAI_ORG_ID", "OPENAI_ORGANIZATION") if provider != AZURE else None,
        project=_env("OPENAI_PROJECT_ID") if provider != AZURE else None,
        api_version=version,
        max_retries=_int_env("FTPREP_MAX_RETRIES", DEFAULT_MAX_RETRIES)
        if max_retries is None
        else max_retries,
        timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
        debug=debug,
    )


def public_url(url: str) -> str:
    """`https://user:secret@host/v1` → `https://host/v1`: credentials in a URL are never
    stored (upload records) or shown (errors, --dry-run, logs)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def is_azure_v1(url: str) -> bool:
    """`https://RESOURCE.openai.azure.com/openai/v1/`: Azure's versionless, OpenAI-shaped API."""
    return url.rstrip("/").endswith("/openai/v1")


def _azure_api_version(url: str, api_version: str | None) -> str | None:
    """None for the v1 endpoint (it takes no api-version); else the given or default one."""
    if is_azure_v1(url):
        if api_version:
            raise UsageError(f"api_version={api_version!r} does not apply to the v1 endpoint "
                             f"{url} (it has no api-version); drop one of them")
        return None
    return api_version or _env("OPENAI_API_VERSION") or DEFAULT_AZURE_API_VERSION


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"{name} must be an integer, got {raw!r}") from None
