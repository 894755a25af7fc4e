"""Project files to validated models: `load_project()` is the one entry point.

Every value keeps where it was written, so any later stage (rendering, contacts, policies) can
report `file:line:col` through `CampaignSource.where(...)`. Loading never stops at the first bad
file: all diagnostics are gathered and raised together as one ValidationFailed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from octoplan import rules, translate
from octoplan.checks import check_campaign
from octoplan.errors import Diagnostic, ValidationFailed
from octoplan.model import Campaign, CampaignFields, ProjectConfig
from octoplan.project import CONFIG_NAME
from octoplan.source import CampaignSource, SourceMap, Where
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


def _load_config(root: Path, diags: list[Diagnostic]) -> _Config:
    file = root / CONFIG_NAME
    if not file.is_file():
        return _Config(ProjectConfig())
    try:
        doc = read_yaml(file, CONFIG_NAME)
    except ValidationFailed as exc:
        diags.extend(exc.diagnostics)
        return _Config(ProjectConfig())
    if doc.data is None:
        doc.data = {}
    if not isinstance(doc.data, dict):
        diags.append(_not_mapping(doc, CONFIG_NAME))
        return _Config(ProjectConfig())
    config = _validate(ProjectConfig, doc.data, doc, diags)
    return _Config(config or ProjectConfig(), doc, _valid_defaults(doc, diags))


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

    positions = SourceMap(doc, config.document, frozenset(taken))

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


def load_project(root: Path, paths: Sequence[Path] | None = None) -> Project:
    """Load octoplan.yaml and the campaign files: all of campaigns/, or `paths`.

    `paths` are files or directories, absolute or relative to `root`. Raises ValidationFailed
    with every diagnostic found, across all files, sorted by file and position.
    """
    diags: list[Diagnostic] = []
    config = _load_config(root, diags)
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
    return Project(root, config.config, campaigns, config_path, config.document)
