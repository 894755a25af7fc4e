"""Where a command's messages go and where it keeps its record: one Target, resolved once.

An environment is chosen by `--env NAME` (or `--sandbox`, the built-in `sandbox` environment),
else by `OCTOPLAN_ENV`, else by octoplan.yaml's `default_environment`, else it is `default`:
the project's top-level `state` and `api` settings. The caller reads the process environment
and passes it in (`environ`): nothing here reads `os.environ`.

Layers, each over the one before: octoplan's defaults < octoplan.yaml's top level < the
variables `OCTOPLAN_STATE` and `OCTOPUSH_BASE_URL` < the chosen environment's own keys. One
exception keeps environments apart: an environment never shares the top-level state (nor
`OCTOPLAN_STATE`); without a `state` of its own it gets `.octoplan/<name>-state.db`, so that
staging sends never mark production recipients as sent.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from octoplan.errors import UsageError
from octoplan.rules import API_URL

if TYPE_CHECKING:  # plans and their views need no pydantic
    from octoplan.model import Environment, ProjectConfig

DEFAULT = "default"
SANDBOX = "sandbox"
ENV_VAR = "OCTOPLAN_ENV"
STATE_VAR = "OCTOPLAN_STATE"
BASE_URL_VAR = "OCTOPUSH_BASE_URL"
LOGIN_VAR = "OCTOPUSH_API_LOGIN"
KEY_VAR = "OCTOPUSH_API_KEY"
DEFAULT_API_URL = API_URL  # octoplan.model.Api's default
SANDBOX_STATE = ".octoplan/sandbox-state.db"  # the built-in sandbox environment's state
SANDBOX_DATA = ".octoplan/sandbox.db"  # what its embedded sandbox delivered


def is_local_url(url: str) -> bool:
    """A URL on this machine (loopback): a sandbox, never real messages."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Destination:
    """What a plan records of its target: the environment and the API it sends to."""

    environment: str = DEFAULT
    api_url: str | None = DEFAULT_API_URL  # None: the embedded sandbox (a port of its own)
    sandbox: bool = False

    @property
    def local(self) -> bool:
        """Messages stay on this machine: no real message, no real money."""
        return self.sandbox or self.api_url is None or is_local_url(self.api_url)

    @property
    def where(self) -> str:
        return "the embedded local sandbox" if self.api_url is None else self.api_url

    @property
    def label(self) -> str:
        """`environment staging (https://...)`, for prompts and summaries."""
        return f"environment {self.environment} ({self.where})"

    def flag(self) -> str:
        """The command-line option that selects it again (empty for `default`)."""
        if self.environment == DEFAULT:
            return ""
        return " --sandbox" if self.environment == SANDBOX else f" --env {self.environment}"


@dataclass(frozen=True)
class Choice:
    """An environment asked for by name, and by what (for messages)."""

    name: str
    origin: str  # "--env", "--sandbox", "OCTOPLAN_ENV", "default_environment"


@dataclass(frozen=True)
class Target:
    destination: Destination
    state: str  # a SQLite path (relative to the root) or a postgresql:// URL
    login_var: str = LOGIN_VAR
    key_var: str = KEY_VAR
    sandbox_data: str = SANDBOX_DATA  # the embedded sandbox's data file (sandbox targets)
    settings: Environment | None = None  # the declared environment (None: top level only)
    note: str | None = None  # said once by commands: a variable that is not used, and why

    @property
    def name(self) -> str:
        return self.destination.environment

    @property
    def sandbox(self) -> bool:
        return self.destination.sandbox

    @property
    def api_url(self) -> str | None:
        return self.destination.api_url


def choice_of(flag: str | None, origin: str, environ: Mapping[str, str]) -> Choice | None:
    """The flag's environment, else OCTOPLAN_ENV's, else None (the file decides)."""
    if flag:
        return Choice(flag, origin)
    named = environ.get(ENV_VAR, "").strip()
    return Choice(named, ENV_VAR) if named else None


def known_names(config: ProjectConfig) -> list[str]:
    return sorted({DEFAULT, SANDBOX, *config.environments})


def chosen_name(config: ProjectConfig, choice: Choice | None) -> str:
    """The environment's name; an unknown one is refused with the names there are."""
    if choice is None:
        return config.default_environment or DEFAULT
    known = known_names(config)
    if choice.name not in known:
        meant = meant_name(choice.name, known)
        hint = f"did you mean '{meant}'? " if meant else ""
        source = f"{ENV_VAR}={choice.name}" if choice.origin == ENV_VAR else choice.origin
        raise UsageError(
            f"no environment '{choice.name}' (asked by {source}); {hint}"
            f"known: {', '.join(known)} (declare one under `environments:` in octoplan.yaml)"
        )
    return choice.name


def meant_name(name: str, known: list[str]) -> str | None:
    """The environment a typo meant: the one name it begins, else the closest."""
    from octoplan.suggest import closest  # errors only

    prefixed = [k for k in known if k.startswith(name.lower())]
    return prefixed[0] if len(prefixed) == 1 else closest(name, known)


def resolve(config: ProjectConfig, name: str, environ: Mapping[str, str]) -> Target:
    """The Target of environment `name` (known to exist: see chosen_name)."""
    settings = config.environments.get(name)
    if name == DEFAULT and settings is None:
        return Target(
            Destination(DEFAULT, environ.get(BASE_URL_VAR, "").strip() or config.api.base_url),
            environ.get(STATE_VAR, "").strip() or config.state,
        )
    from octoplan.model import Environment

    declared = settings or Environment()
    note = None
    if environ.get(STATE_VAR, "").strip():
        note = (
            f"{STATE_VAR} is not used for environment {name}, which keeps its own state "
            f"({declared.state or _own_state(name)})"
        )
    if name == SANDBOX or declared.sandbox:
        return Target(
            Destination(name, None, sandbox=True),
            declared.state or _own_state(name),
            sandbox_data=SANDBOX_DATA if name == SANDBOX else f".octoplan/{name}-sandbox.db",
            settings=settings,
            note=note,
        )
    url = declared.api.base_url or environ.get(BASE_URL_VAR, "").strip() or config.api.base_url
    credentials = declared.credentials
    return Target(
        Destination(name, url),
        declared.state or _own_state(name),
        login_var=credentials.login if credentials else LOGIN_VAR,
        key_var=credentials.key if credentials else KEY_VAR,
        settings=settings,
        note=note,
    )


def _own_state(name: str) -> str:
    return SANDBOX_STATE if name == SANDBOX else f".octoplan/{name}-state.db"
