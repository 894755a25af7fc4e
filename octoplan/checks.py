"""Rules across fields of one campaign: what the model alone cannot say.

Each rule takes a loaded campaign and returns diagnostics at the offending value. Texts with
Jinja syntax are checked after rendering (octoplan.render), not here: only literal texts are
measured and searched for the STOP mention at load time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from octoplan import channels, rules
from octoplan.errors import Diagnostic
from octoplan.source import CampaignSource

Rule = Callable[[CampaignSource, Path], Iterator[Diagnostic]]
TEMPLATES_DIR = "templates"
MAX_TEMPLATE_BYTES = 1024 * 1024  # a message template is a few kilobytes
CONTACT_SUFFIXES = (".csv", ".json", ".yaml", ".yml", ".txt", ".tsv")


def too_large(name: str, size: int) -> str | None:
    """The message for a template file over the size limit, or None."""
    if size <= MAX_TEMPLATE_BYTES:
        return None
    limit = MAX_TEMPLATE_BYTES // 1024 // 1024
    return f"template '{name}' is {size / 1024 / 1024:.1f} MB; templates are limited to {limit} MB"


def _text(src: CampaignSource, root: Path) -> Iterator[Diagnostic]:
    c = src.campaign
    if c.text is not None and c.template is not None:
        yield src.diagnostic(
            ("template",),
            "set either text or template, not both",
            "keep text for a short message, template for a file under templates/",
            at_key=True,
        )
    elif c.text is None and c.template is None:
        yield src.diagnostic(
            (),
            "campaign has no text",
            'add text: "..." or template: <a file under templates/>',
        )
    if c.text is None or rules.has_jinja(c.text):
        return
    if len(c.text) > rules.TEXT_MAX:
        yield src.diagnostic(
            ("text",),
            f"text is {len(c.text)} characters; the API accepts at most {rules.TEXT_MAX}",
            "shorten it: 1224 characters is already 8 SMS parts",
        )
    if channels.get(c.channel).stop_mention and c.marketing and not rules.has_stop_mention(c.text):
        yield stop_missing(src)


def stop_missing(src: CampaignSource) -> Diagnostic:
    """The STOP-mention diagnostic, shared with the check on rendered texts."""
    keys = ("text",) if src.campaign.text is not None else ("template",)
    return src.diagnostic(
        keys,
        "marketing SMS (purpose: wholesale) must contain the opt-out mention "
        f'"{rules.STOP_MENTION}"',
        f'add "{rules.STOP_MENTION}" to the text, or set purpose: alert for a transactional '
        "message",
    )


def _sender(src: CampaignSource, root: Path) -> Iterator[Diagnostic]:
    sender = src.campaign.sender
    if sender is None:
        return
    if channels.get(src.campaign.channel).agent_sender:
        if not sender.strip():
            yield src.diagnostic(("sender",), "sender (the RCS agent name) must not be empty")
    elif not rules.SENDER_RE.match(sender):
        yield src.diagnostic(
            ("sender",),
            f"sender must be 3 to 11 letters or digits (got '{sender}')",
            "operators refuse or rewrite other senders: no spaces, accents or punctuation",
        )


def _options(src: CampaignSource, root: Path) -> Iterator[Diagnostic]:
    c = src.campaign
    channel = c.channel
    for name, applies_to in rules.OPTION_CHANNELS.items():
        top = getattr(c, name, None) if name != "on_list" else (c.on_list or None)
        meta = getattr(c.metadata, name, None)
        if top is not None and meta is not None:
            yield src.diagnostic(
                ("metadata", name),
                f"{name} is declared twice: at the top level and under metadata",
                "keep one of them",
                at_key=True,
            )
        for keys, value in (((name,), top), (("metadata", name), meta)):
            if value is not None and channel not in applies_to:
                yield src.diagnostic(
                    keys,
                    f"{'.'.join(keys)} applies to {rules.channels_phrase(applies_to)} only",
                    f"remove it: this campaign's channel is {channel}",
                    at_key=True,
                )
            elif name == "type" and value is not None:
                allowed = channels.get(channel).campaign_types
                if value not in allowed:
                    yield src.diagnostic(
                        keys,
                        f"{'.'.join(keys)} must be {' or '.join(allowed)} for the {channel} "
                        f"channel (got '{value}')",
                    )
    if c.on_list and channel in rules.OPTION_CHANNELS["on_list"] and not c.list_name:
        yield src.diagnostic(
            ("on_list",),
            "on_list: true needs list_name",
            "name the contact list the API will create, e.g. list_name: black-friday",
        )
    if c.optout_filtering is False and c.marketing:
        yield src.diagnostic(
            ("optout_filtering",),
            "optout_filtering: false is only allowed for transactional campaigns (purpose: alert)",
            "marketing messages must never reach contacts who opted out",
        )
    yield from _rcs(src)
    email_from = c.metadata.email_from
    applies = "email_from" in channels.get(channel).options
    if applies and email_from is not None and not rules.EMAIL_RE.match(email_from):
        yield src.diagnostic(
            ("metadata", "email_from"),
            f"metadata.email_from must be an e-mail address (got '{email_from}')",
        )


def _rcs(src: CampaignSource) -> Iterator[Diagnostic]:
    meta = src.campaign.metadata
    if src.campaign.channel != channels.RCS.name:  # its message types, cards and actions
        return
    kind = meta.message_type or "simple_text"
    if meta.cards is not None and kind != "rich_card":
        yield src.diagnostic(
            ("metadata", "cards"),
            "metadata.cards needs metadata.message_type: rich_card",
            at_key=True,
        )
    if meta.actions is not None and kind != "simple_text":
        yield src.diagnostic(
            ("metadata", "actions"),
            "metadata.actions applies to message_type simple_text only",
            "with rich_card, put buttons in the cards",
            at_key=True,
        )
    if kind == "rich_card" and not meta.cards:
        yield src.diagnostic(
            ("metadata", "message_type"), "metadata.message_type rich_card needs metadata.cards"
        )


def _recipients(src: CampaignSource, root: Path) -> Iterator[Diagnostic]:
    c = src.campaign
    if not c.recipients and not c.contacts:
        # At the empty list the user wrote (`recipients: []`), else at the top of the file.
        written = next((k for k in ("recipients", "contacts") if src.declared(k)), None)
        yield src.diagnostic(
            (written,) if written else (),
            "campaign has no recipients",
            "add recipients: (inline) or contacts: [contacts/<file>.csv]",
            at_key=written is not None,
        )
    kind = channels.get(c.channel)
    for i, recipient in enumerate(c.recipients):
        if not kind.several_identities:
            key = kind.identity_field
            if getattr(recipient, key) is None:
                yield src.diagnostic(
                    ("recipients", i),
                    f"recipients[{i}] has no {key} "
                    f"(the {c.channel} channel sends to {kind.addresses})",
                )
        elif not (recipient.phone_number or recipient.email or recipient.conversation_id):
            yield src.diagnostic(
                ("recipients", i),
                f"recipients[{i}] needs at least one of phone_number, email, conversation_id",
            )


def contained(root: Path, base: Path, name: str) -> str | None:
    """Why `name` is not a file inside `base` (the project `root` or a folder of it), or None.

    Symbolic links are followed, so a link pointing out of the folder counts as outside.
    """
    if Path(name).is_absolute():
        return "must be a path relative to the project"
    target = base / name
    try:
        target.resolve().relative_to(base.resolve())
    except ValueError:
        return "is outside the project" if base == root else f"is outside {base.name}/"
    if not target.is_file():
        return "not found"
    return None


def _meant(name: str, candidates: list[str], base: str) -> str | None:
    from octoplan.suggest import similar_file

    meant = similar_file(name, candidates)
    return f"did you mean '{meant}'? ({base})" if meant is not None else None


def _paths(src: CampaignSource, root: Path) -> Iterator[Diagnostic]:
    c = src.campaign
    contact_files: list[str] | None = None
    for key, names in (("contacts", c.contacts), ("exclude", c.exclude)):
        for i, name in enumerate(names):
            problem = contained(root, root, name)
            if problem is not None:
                hint = None
                if problem == "not found":
                    if contact_files is None:
                        from octoplan.suggest import files_under

                        contact_files = [
                            f
                            for f in files_under(root, CONTACT_SUFFIXES)
                            if not f.startswith(("campaigns/", "templates/"))
                            and f != "octoplan.yaml"
                            and not f.endswith(".schema.json")
                        ]
                    hint = _meant(name, contact_files, "paths are relative to the project")
                yield src.diagnostic((key, i), f"{key} file '{name}' {problem}", hint)
    if c.template is not None:
        problem = contained(root, root / TEMPLATES_DIR, c.template)
        hint = None
        if problem == "not found":
            problem = f"not found in {TEMPLATES_DIR}/"
            from octoplan.suggest import files_under

            templates = files_under(root / TEMPLATES_DIR, ("",))
            hint = _meant(c.template, templates, f"template names are relative to {TEMPLATES_DIR}/")
        if problem is not None:
            yield src.diagnostic(("template",), f"template '{c.template}' {problem}", hint)
            return
        size = (root / TEMPLATES_DIR / c.template).stat().st_size
        large = too_large(c.template, size)
        if large is not None:
            yield src.diagnostic(("template",), large)


def _rollout(src: CampaignSource, root: Path) -> Iterator[Diagnostic]:
    """Stages that can be followed: a seed first if any, growing percentages ending at 100, no
    condition on the first stage (nothing before it), now-sends only."""
    stages = src.campaign.rollout
    if stages is None:
        return
    if not stages:
        yield src.diagnostic(
            ("rollout",),
            "rollout has no stages",
            "list them, e.g. `- percent: 5` then `- percent: 100`; or remove rollout",
            at_key=True,
        )
        return
    c = src.campaign
    if c.send_at is not None:
        yield src.diagnostic(
            ("send_at",),
            "a campaign with rollout cannot have send_at: each stage is sent when an apply "
            "starts it",
            "remove send_at, and run `octoplan apply` when the first stage should go out",
            at_key=True,
        )
    if c.on_list:
        yield src.diagnostic(
            ("on_list",),
            "a campaign with rollout cannot use on_list: a list is sent to whole",
            "remove on_list (or rollout)",
            at_key=True,
        )
    previous: int | None = None
    for index, stage in enumerate(stages):
        at = ("rollout", index)
        name = f"rollout[{index}]"
        if (stage.seed is None) == (stage.percent is None):
            yield src.diagnostic(
                at,
                f"{name} must have either seed or percent"
                + (", not both" if stage.seed is not None else ""),
                "e.g. `- seed: contacts/seed.csv` or `- percent: 5`",
            )
            continue
        if index == 0 and (stage.wait is not None or stage.gate is not None):
            key = "wait" if stage.wait is not None else "gate"
            yield src.diagnostic(
                (*at, key),
                f"{name}.{key}: the first stage has no stage before it to wait for",
                f"move {key} to the stage it should hold back (rollout[1])",
                at_key=True,
            )
        if stage.seed is not None:
            if index != 0:
                yield src.diagnostic(
                    (*at, "seed"),
                    f"{name}: a seed stage must be the first stage",
                    "the seed list goes first, before any percentage of the audience",
                    at_key=True,
                )
            yield from _seed_file(src, root, stage.seed, (*at, "seed"))
            continue
        percent = stage.percent
        assert percent is not None
        if previous is not None and percent <= previous:
            yield src.diagnostic(
                (*at, "percent"),
                f"{name}.percent must be more than the stage before's {previous} (got {percent})",
                "each stage reaches a larger share of the audience",
            )
        previous = max(percent, previous or 0)
    last = stages[-1]
    if last.percent != 100 and (last.seed is None) != (last.percent is None):
        at = ("rollout", len(stages) - 1)
        yield src.diagnostic(
            (*at, "percent") if last.percent is not None else at,
            "the last stage of rollout must be percent: 100 (got "
            + (f"{last.percent})" if last.percent is not None else "a seed stage)"),
            "add `- percent: 100` at the end, so that the whole audience is reached",
        )


def _seed_file(
    src: CampaignSource, root: Path, name: str, at: tuple[str | int, ...]
) -> Iterator[Diagnostic]:
    problem = contained(root, root, name)
    if problem is None:
        return
    hint = None
    if problem == "not found":
        from octoplan.suggest import files_under

        candidates = [
            f
            for f in files_under(root, CONTACT_SUFFIXES)
            if not f.startswith(("campaigns/", "templates/")) and f != "octoplan.yaml"
        ]
        hint = _meant(name, candidates, "paths are relative to the project")
    yield src.diagnostic(at, f"seed file '{name}' {problem}", hint)


RULES: tuple[Rule, ...] = (_text, _sender, _options, _recipients, _paths, _rollout)


def check_campaign(src: CampaignSource, root: Path) -> list[Diagnostic]:
    return [d for rule in RULES for d in rule(src, root)]
