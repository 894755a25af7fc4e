"""What `octoplan receive` reads once at start: the callback token and the project's region."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from octoplan.errors import UsageError
from octoplan.project import CONFIG_NAME
from octoplan.yamlsource import read_yaml

TOKEN_VAR = "OCTOPLAN_CALLBACK_TOKEN"
DEFAULT_REGION = "FR"
# Long enough not to be guessed; only characters that travel unescaped in a URL path.
_TOKEN = re.compile(r"[A-Za-z0-9._~-]{16,256}")
_REGION = re.compile(r"[A-Z]{2}")
TOKEN_HINT = 'make one with: python3 -c "import secrets; print(secrets.token_urlsafe(32))"'


def callback_token(environ: Mapping[str, str]) -> str:
    """The token from `environ` (the CLI passes its process environment)."""
    value = environ.get(TOKEN_VAR, "").strip()
    if not value:
        raise UsageError(
            f"{TOKEN_VAR} is not set: the callback URL is /callbacks/<token>, and the token is "
            f"what keeps strangers out; {TOKEN_HINT}"
        )
    if not _TOKEN.fullmatch(value):
        raise UsageError(
            f"{TOKEN_VAR} must be 16 to 256 letters, digits or ._~- characters; {TOKEN_HINT}"
        )
    return value


def project_region(root: Path) -> str:
    """The `region:` of root's octoplan.yaml (only that key: callbacks need nothing else)."""
    path = root / CONFIG_NAME
    if not path.exists():
        return DEFAULT_REGION
    data = read_yaml(path, CONFIG_NAME).data
    value = data.get("region") if isinstance(data, dict) else None
    if value is None:
        return DEFAULT_REGION
    region = str(value).strip().upper()
    if not _REGION.fullmatch(region):
        raise UsageError(f"{path}: `region` must be a two-letter country code, not {value!r}")
    return region
