"""Project files to validated models: `load_project()` is the one entry point.

Every value keeps where it was written, so any later stage (rendering, contacts, policies) can
report `file:line:col` through `CampaignSource.where(...)`. Loading never stops at the first bad
file: all diagnostics are gathered and raised together as one ValidationFailed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from octoplan import rules, translate
from octoplan.checks import check_campaign
from octoplan.errors import Diagnostic, ValidationFailed
from octoplan.model import ENVIRONMENT_NAME, Campaign, CampaignFields, ProjectConfig
from octoplan.project import CONFIG_NAME
from octoplan.source import CampaignSource, SourceMap, Where
from octoplan.target import DEFAULT, SANDBOX, Choice, chosen_name, meant_name
from octoplan.yamlsource import Loc, YamlDocument, read_yaml

CAMPAIGNS_DIR = "campaigns"
CAMPAIGN_SUFFIXES = (".yaml", ".yml")


@dataclass(slots=True)
class Project:
    """A loaded project. `campaigns` is sorted by path; commands may narrow it."""

    root: Path
    config: ProjectConfig
    campaigns: list[CampaignSource]
    config_path: str | None = None  # "octoplan.yaml" when the project has one
    config_document: YamlDocument | None = None  # where each of its values was written
    environment: str = DEFAULT  # the environment loaded (its audience and vars applied)
    # Jinja environments by templates directory, shared by the campaigns of this load only
    # (desired.build_campaign): they cache compiled templates without looking at the files
    # again, so they must not outlive the load (a second load in the same process, after a
    # template was edited, would render the old text).
    template_environments: dict[Path, Any] = field(default_factory=dict, repr=False, compare=False)

    def config_where(self, *keys: str | int) -> Where:
        """(path, line, col) of a value of octoplan.yaml (its nearest written ancestor)."""
        if self.config_document is None:
            return CONFIG_NAME, None, None
        line, col = self.config_document.value_pos(keys)
        return CONFIG_NAME, line, col

    def campaign(self, campaign_id: str) -> CampaignSource | None:
        return next((c for c in self.campaigns if c.id == campaign_id), None)


def display_path(root: Path, file: Path) -> str:
    try:
        return file.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(file)


def _validate(model: type[BaseModel], data: Any, doc: YamlDocument, diags: list[Diagnostic]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        locate = partial(_where, doc)
        diags.extend(translate.diagnostics(exc, model, locate, doc.raw.get, doc.keys))
        return None


def _not_mapping(doc: YamlDocument, what: str) -> Diagnostic:
    line, col = doc.value_pos(())
    got = translate.describe(doc.data)
    return Diagnostic(doc.path, line, col, f"{what} must be a mapping of keys (got {got})")


class _DefaultsBlock(BaseModel):
    """octoplan.yaml seen only for its `defaults`, so messages say `defaults.<field>`."""

    model_config = ConfigDict(extra="ignore", defer_build=True)
    defaults: CampaignFields


@dataclass(frozen=True, slots=True)
class _Config:
    config: ProjectConfig
    document: YamlDocument | None = None
    # The defaults campaigns inherit: known fields with valid values only, so that an error in
    # defaults is reported once, in octoplan.yaml, rather than once per campaign.
    defaults: dict[str, Any] = field(default_factory=dict)
    # The chosen environment's audience as written (recipients, contacts), replacing every
    # campaign's; None: campaigns keep their own.
    environment: str = DEFAULT
    audience: dict[str, Any] | None = None


# Campaign keys that say something of one campaign only: never inherited from defaults.
_PER_CAMPAIGN = {
    "id": ("id cannot have a default: each campaign has its own", "remove id from defaults"),
    "renamed_from": (
        "renamed_from cannot have a default: it names one campaign's earlier ids",
        "move it to the file of the campaign that was renamed",
    ),
    "allow_repeat": (
        "allow_repeat cannot have a default: the guard against sending a text twice is set "
        "aside campaign by campaign",
        "set allow_repeat: true in the campaign that repeats a text on purpose",
    ),
    "rollout": (
        "rollout cannot have a default: a campaign's stages, cohorts and gates are its own",
        "move it to the campaigns to release in stages",
    ),
}


def _valid_defaults(doc: YamlDocument, diags: list[Diagnostic]) -> dict[str, Any]:
    defaults = doc.data.get("defaults")
    if not isinstance(defaults, dict):
        return {}
    bad = set(_PER_CAMPAIGN).intersection(defaults)
    for key in sorted(bad, key=list(defaults).index):
        line, col = doc.key_pos(("defaults", key))
        message, hint = _PER_CAMPAIGN[key]
        diags.append(Diagnostic(CONFIG_NAME, line, col, message, hint))
    if defaults.get("purpose") == "alert":
        # An omitted purpose is marketing everywhere (SPEC §7): a project-wide alert would let
        # a promotion pass as transactional, without STOP mention, at night.
        bad.add("purpose")
        line, col = doc.value_pos(("defaults", "purpose"))
        diags.append(
            Diagnostic(
                CONFIG_NAME,
                line,
                col,
                "defaults.purpose cannot be alert: a campaign without purpose is marketing "
                "(wholesale)",
                "remove it, and write purpose: alert in each transactional campaign",
            )
        )
    block = {"defaults": {k: v for k, v in defaults.items() if k not in bad}}
    try:
        _DefaultsBlock.model_validate(block)
    except ValidationError as exc:
        bad.update(str(e["loc"][1]) for e in exc.errors() if len(e["loc"]) > 1)
        diags.extend(
            translate.diagnostics(exc, _DefaultsBlock, partial(_where, doc), doc.raw.get, doc.keys)
        )
    return {k: v for k, v in defaults.items() if k not in bad}


def _where(doc: YamlDocument, loc: Loc, at_key: bool) -> Where:
    line, col = doc.key_pos(loc) if at_key else doc.value_pos(loc)
    return doc.path, line, col


def _config_document(root: Path, diags: list[Diagnostic]) -> YamlDocument | None:
    file = root / CONFIG_NAME
    if not file.is_file():
        return None
    try:
        doc = read_yaml(file, CONFIG_NAME)
    except ValidationFailed as exc:
        diags.extend(exc.diagnostics)
        return None
    if doc.data is None:
        doc.data = {}
    if not isinstance(doc.data, dict):
        diags.append(_not_mapping(doc, CONFIG_NAME))
        return None
    return doc


def _load_config(root: Path, diags: list[Diagnostic], choice: Choice | None) -> _Config:
    doc = _config_document(root, diags)
    if doc is None:
        if choice is not None and not diags:
            chosen_name(ProjectConfig(), choice)  # `default` and `sandbox` exist without a file
        return _Config(ProjectConfig(), environment=choice.name if choice else DEFAULT)
    found = len(diags)
    config = _validate(ProjectConfig, doc.data, doc, diags)
    defaults = _valid_defaults(doc, diags)
    if config is None:
        return _Config(ProjectConfig(), doc, defaults)
    diags.extend(environment_problems(config, doc))
    if len(diags) > found:
        return _Config(config, doc, defaults)
    name = chosen_name(config, choice)
    settings = config.environments.get(name)
    if settings is None:
        return _Config(config, doc, defaults, name)
    if settings.vars:
        config = config.model_copy(update={"vars": {**config.vars, **settings.vars}})
    audience = None
    if settings.replaces_audience:
        written = doc.data["environments"][name]
        audience = {key: written.get(key) or [] for key in ("recipients", "contacts")}
    return _Config(config, doc, defaults, name, audience)


def environment_problems(config: ProjectConfig, doc: YamlDocument) -> Iterator[Diagnostic]:
    """What `environments:` and `default_environment` say that cannot be: a name that is no
    name, a default that names no environment, a sandbox that also names an API."""
    pattern = re.compile(ENVIRONMENT_NAME)
    for name, settings in config.environments.items():
        at = ("environments", name)
        if not pattern.fullmatch(name):
            line, col = doc.key_pos(at)
            yield Diagnostic(
                CONFIG_NAME,
                line,
                col,
                f"environment name '{name}' must be 1 to 32 lower-case letters, digits, '_' or "
                "'-', starting with a letter or digit",
                "it names the environment on the command line (--env NAME) and its state file",
            )
        if name == DEFAULT:
            line, col = doc.key_pos(at)
            yield Diagnostic(
                CONFIG_NAME,
                line,
                col,
                "'default' is the project's top-level settings (state, api), not an "
                "environment to declare",
                "give it another name, e.g. production, or move its keys to the top level",
            )
        if name == SANDBOX or settings.sandbox:
            what = "the built-in sandbox environment" if name == SANDBOX else "sandbox: true"
            for key, declared in (
                (("api", "base_url"), settings.api.base_url is not None),
                (("credentials",), settings.credentials is not None),
            ):
                if declared:
                    line, col = doc.key_pos((*at, *key))
                    yield Diagnostic(
                        CONFIG_NAME,
                        line,
                        col,
                        f"environment {name}: {what} sends to the embedded local sandbox, which "
                        f"needs no {'.'.join(key)}",
                        f"remove {'.'.join(key)}; to send to a sandbox you started with "
                        "`octoplan sandbox`, declare its URL in an environment without "
                        "sandbox: true",
                    )
    default = config.default_environment
    if default is not None and default not in (DEFAULT, SANDBOX, *config.environments):
        line, col = doc.value_pos(("default_environment",))
        meant = meant_name(default, [*config.environments, SANDBOX])
        known = ", ".join(sorted({DEFAULT, SANDBOX, *config.environments}))
        yield Diagnostic(
            CONFIG_NAME,
            line,
            col,
            f"default_environment '{default}' names no environment (known: {known})",
            f"did you mean '{meant}'?" if meant else "declare it under `environments:`",
        )


# The keys that say where a command sends and keeps state: all a command that only reads state
# needs of octoplan.yaml (`state`, `status`, `receive` work while a campaign is being edited).
TARGET_KEYS = ("region", "state", "api", "environments", "default_environment")


def load_target_config(root: Path, choice: Choice | None) -> tuple[ProjectConfig, str]:
    """octoplan.yaml's target keys only, validated, and the chosen environment's name."""
    diags: list[Diagnostic] = []
    doc = _config_document(root, diags)
    config = ProjectConfig()
    if doc is not None:
        subset = {key: doc.data[key] for key in TARGET_KEYS if key in doc.data}
        config = _validate(ProjectConfig, subset, doc, diags) or config
        if not diags:
            diags.extend(environment_problems(config, doc))
    if diags:
        raise ValidationFailed(sorted(diags, key=lambda d: (d.line or 0, d.col or 0)))
    return config, chosen_name(config, choice)


def _applies(option: str, channel: Any) -> bool:
    channels = rules.OPTION_CHANNELS.get(option)
    return channels is None or channel in channels


def _merge_defaults(data: dict[str, Any], defaults: dict[str, Any]) -> set[Loc]:
    """Fill `data` from `defaults` in place; return the locations taken from defaults.

    Mappings merge key by key (so defaults.metadata and a campaign's metadata combine); other
    values are replaced. Channel options that do not apply to the campaign's channel are not
    inherited, so one defaults block can serve voice and e-mail campaigns alike.
    """
    channel = data.get("channel", defaults.get("channel"))
    metadata = data.get("metadata")
    meta_keys = set(metadata) if isinstance(metadata, dict) else set()
    taken: set[Loc] = set()
    for key, value in defaults.items():
        if not _applies(key, channel) or key in meta_keys:
            continue
        if isinstance(value, dict) and isinstance(data.get(key, {}), dict):
            target = data.setdefault(key, {})
            for sub, sub_value in value.items():
                if sub in target or (key == "metadata" and not _applies(sub, channel)):
                    continue
                if key == "metadata" and sub in data:
                    continue  # declared at the top level of the campaign
                target[sub] = sub_value
                taken.add((key, sub))
        elif key not in data:
            data[key] = value
            taken.add((key,))
    return taken


def campaign_files(root: Path, paths: Sequence[Path] | None, diags: list[Diagnostic]) -> list[Path]:
    def collect(directory: Path) -> Iterable[Path]:
        return (p for p in directory.rglob("*") if p.suffix in CAMPAIGN_SUFFIXES and p.is_file())

    if paths is None:
        base = root / CAMPAIGNS_DIR
        files: Iterable[Path] = collect(base) if base.is_dir() else []
    else:
        found: list[Path] = []
        for given in paths:
            path = given if given.is_absolute() else root / given
            if path.is_dir():
                found.extend(collect(path))
            elif path.is_file():
                found.append(path)
            else:
                diags.append(
                    Diagnostic(display_path(root, path), None, None, "no such file or directory")
                )
        files = found
    unique = {f.resolve(): f for f in files}
    return sorted(unique.values(), key=lambda f: display_path(root, f))


def _load_campaign(
    root: Path, file: Path, config: _Config, diags: list[Diagnostic]
) -> CampaignSource | None:
    path = display_path(root, file)
    try:
        doc = read_yaml(file, path)
    except ValidationFailed as exc:
        diags.extend(exc.diagnostics)
        return None
    if not isinstance(doc.data, dict):
        if doc.data is None:
            diags.append(
                Diagnostic(path, 1, 1, "campaign file is empty", "start with channel: sms")
            )
        else:
            diags.append(_not_mapping(doc, "a campaign file"))
        return None
    data = dict(doc.data)
    taken: set[Loc] = set()
    if config.defaults:
        data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
        taken = _merge_defaults(data, config.defaults)
    data.setdefault("id", file.stem)
    audience: tuple[str, ...] = ()
    if config.audience is not None:
        # The environment's seed list replaces the campaign's audience (exclude lists stay).
        data.update(config.audience)
        taken = {loc for loc in taken if loc[:1] not in (("recipients",), ("contacts",))}
        audience = ("environments", config.environment)

    positions = SourceMap(doc, config.document, frozenset(taken), audience)

    def locate(loc: Loc, at_key: bool) -> Where:
        return positions.key_where(*loc) if at_key else positions.where(*loc)

    try:
        campaign = Campaign.model_validate(data)
    except ValidationError as exc:
        diags.extend(translate.diagnostics(exc, Campaign, locate, doc.raw.get, doc.keys))
        return None
    return CampaignSource(campaign, path, positions)


def _rename_conflicts(campaigns: list[CampaignSource]) -> Iterator[Diagnostic]:
    """A campaign's earlier ids are its history: never its own id, never a campaign that
    still has a file, never claimed by two campaigns."""
    files = {source.id: source.path for source in campaigns}
    claimed: dict[str, CampaignSource] = {}
    for source in campaigns:
        for index, old in enumerate(source.campaign.renamed_from):
            at = ("renamed_from", index)
            first = claimed.setdefault(old, source)
            if old == source.id:
                yield source.diagnostic(
                    at, f"campaign {old} cannot be renamed from itself", "remove it from the list"
                )
            elif old in files:
                yield source.diagnostic(
                    at,
                    f"renamed_from '{old}': campaign {old} still has its own file ({files[old]})",
                    f"if {source.id} is {old} renamed, delete {files[old]}; otherwise remove "
                    f"'{old}' from renamed_from",
                )
            elif first is not source:
                yield source.diagnostic(
                    at,
                    f"renamed_from '{old}': campaign {first.id} ({first.path}) claims it too",
                    "the history of a campaign can follow one campaign only: keep it in one "
                    "renamed_from list",
                )


def _unique(diags: list[Diagnostic]) -> list[Diagnostic]:
    # An error in defaults would otherwise be reported once per campaign inheriting it.
    return list(dict.fromkeys(diags))


def load_project(
    root: Path, paths: Sequence[Path] | None = None, choice: Choice | None = None
) -> Project:
    """Load octoplan.yaml and the campaign files: all of campaigns/, or `paths`, as the
    environment `choice` (None: octoplan.yaml's default_environment, else `default`) sees them.

    `paths` are files or directories, absolute or relative to `root`. Raises ValidationFailed
    with every diagnostic found, across all files, sorted by file and position.
    """
    diags: list[Diagnostic] = []
    config = _load_config(root, diags, choice)
    campaigns: list[CampaignSource] = []
    first_file: dict[str, str] = {}
    for file in campaign_files(root, paths, diags):
        source = _load_campaign(root, file, config, diags)
        if source is None:
            continue
        if source.id in first_file:
            diags.append(
                source.diagnostic(
                    ("id",),
                    f"duplicate campaign id '{source.id}' (also used by {first_file[source.id]})",
                    "ids are identities in state: give each campaign its own id:",
                )
            )
            continue
        first_file[source.id] = source.path
        diags.extend(check_campaign(source, root))
        campaigns.append(source)
    diags.extend(_rename_conflicts(campaigns))
    errors = sorted(_unique(diags), key=lambda d: (d.path, d.line or 0, d.col or 0))
    if errors:
        raise ValidationFailed(errors)
    config_path = CONFIG_NAME if config.document is not None else None
    return Project(root, config.config, campaigns, config_path, config.document, config.environment)
