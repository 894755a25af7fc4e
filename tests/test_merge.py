"""Server-side merge: what `field_use` sees in a template, and proof that merged messages are
exactly the ones a full render per contact gives, on tricky data.

The reference is the same campaign with `{% if contact %}{% endif %}` in front of its template:
a use of the whole `contact` mapping, which the merge declines, so every contact is rendered in
full. That line prints nothing, so both must give the same texts, costs and errors, and the
API's own substitution of each request text must deliver each text.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from octoplan.desired import DesiredCampaign, build_campaign
from octoplan.errors import Diagnostic
from octoplan.loader import load_project
from octoplan.merge import FieldUse, Skeleton, field_use, make_skeleton, sentinel
from octoplan.placeholders import apply_placeholders
from octoplan.render import make_environment
from octoplan.sms import auto_optimize

CONFIG = "region: FR\nvars: {brand: ShopX}\npricing: {currency: EUR, sms: {FR: 0.045}}\n"
DECLINE = "{% if contact %}{% endif %}"


def use(source: str) -> FieldUse | None:
    return field_use(make_environment(Path("templates")), source)


@pytest.mark.parametrize(
    ("source", "printed", "tested", "valued"),
    [
        ("Bonjour {{ contact.first_name }}", {"first_name"}, set(), set()),
        ("{{ contact['code'] }} {{ contact.code }}", {"code"}, set(), set()),
        ("{{ contact.first_name | default('client') }}", {"first_name"}, set(), set()),
        ("{% if contact.city %}{{ contact.city }}{% endif %}", {"city"}, set(), set()),
        ("{% if contact.vip is defined %}VIP{% endif %}", set(), {"vip"}, set()),
        ("{% if not contact.a and contact.b %}x{% endif %}", set(), {"a", "b"}, set()),
        ("{{ 'x' if contact.a else 'y' }}", set(), {"a"}, set()),
        ("{% if contact.tier == 'gold' %}Or{% endif %}", set(), set(), {"tier"}),
        ("{{ contact.name | upper }}", set(), set(), {"name"}),
        ("{{ contact.a ~ '!' }}", set(), set(), {"a"}),
        ("{{ contact.a or 'x' }}", set(), set(), {"a"}),
        ("{% set n = contact.a %}{{ n }}", set(), set(), {"a"}),
        ("{% filter upper %}{{ contact.a }}{% endfilter %}", set(), set(), {"a"}),
        ("{% macro m() %}{{ contact.a }}{% endmacro %}{{ m() }}", set(), set(), {"a"}),
        ("{% for i in range(2) %}{{ contact.a }}{% endfor %}", {"a"}, set(), set()),
        ("{{ contact.a }}{% if contact.a == 'x' %}!{% endif %}", set(), set(), {"a"}),
    ],
)
def test_field_use_sorts_every_use_of_a_contact_field(
    source: str, printed: set[str], tested: set[str], valued: set[str]
) -> None:
    assert use(source) == FieldUse(frozenset(printed), frozenset(tested), frozenset(valued))


@pytest.mark.parametrize(
    "source",
    [
        "{% for k in contact %}{{ k }}{% endfor %}",
        "{{ contact }}",
        "{{ contact[vars.field] }}",
        "{{ contact.items() }}",
        "{{ contact.values }}",
        "{% set contact = vars %}{{ contact.a }}",
        "{% include 'footer.j2' %}",
        "{{ [1, 2] | random }}",
        "{{ contact._private }}",
    ],
)
def test_field_use_declines_what_it_does_not_model(source: str) -> None:
    assert use(source) is None


TEMPLATES = {
    "printed": (
        "Bonjour {{ contact.first_name }}, code {{ contact.code }} : -20% chez {{ vars.brand }}. "
        "STOP au 30101"
    ),
    "optional": (
        "{% if contact.city %}{{ contact.city }} : {% endif %}"
        "{{ contact.first_name | default('client') }}, {{ contact.code }}. STOP au 30101"
    ),
    "valued": (
        "{% if contact.tier == 'gold' %}Cher {{ contact.first_name }}{% else %}Bonjour{% endif %}"
        " {{ contact.code }}  ({{ contact.last_name }}) STOP au 30101"
    ),
    "many_slots": (
        "{{ contact.first_name }} {{ contact.last_name }} {{ contact.code }} {{ contact.city }} "
        "{{ contact.tier }} {{ contact.param1 }} {{ contact.param2 }} {{ contact.extra }} "
        "{{ contact.code }} STOP au 30101"
    ),
    "braces": "{first_name} dit {{ contact.first_name }} {{ contact.code }} STOP au 30101",
}
FIELDS = ("first_name", "last_name", "code", "city", "tier", "param1", "param2", "extra")

TRICKY = st.sampled_from(
    [
        "",
        "Zoé",
        "François",
        "Gaëlle",
        "Chloé’s",
        "{param1}",
        "{first_name}",
        "{{ 7*7 }}",
        "%s",
        "%(x)s",
        "100%",
        "a  b",
        "x" * 51,
        "y" * 50,
        "😀",
        "€uro",
        "[ok]",
        "l'été ç",
        ", .",
        "gold",
    ]
)
VALUES = st.one_of(
    TRICKY, st.text(st.characters(codec="utf-8", exclude_characters="\r\x00"), max_size=60)
)


def _csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("phone_number", *FIELDS))
    for index, row in enumerate(rows):
        writer.writerow((f"+3361{index:07d}", *(row.get(f, "") for f in FIELDS)))
    return out.getvalue()


_names = itertools.count()


def _build(root: Path, template: str) -> DesiredCampaign:
    # A new file name each time: templates are compiled once per file name and process.
    name = f"t{next(_names)}.sms.j2"
    (root / "templates" / name).write_text(template, encoding="utf-8")
    (root / "campaigns" / "c.yaml").write_text(
        "channel: sms\npurpose: wholesale\nsender: ShopX\n"
        f"template: {name}\ncontacts: [contacts/c.csv]\n",
        encoding="utf-8",
    )
    project = load_project(root)
    return build_campaign(project, project.campaigns[0])


def _shown(diagnostics: list[Diagnostic]) -> list[str]:
    # Without columns: the full render's template starts with DECLINE, which moves them.
    return [
        re.sub(r"templates/t[0-9]+\.sms\.j2(:\d+):\d+:", r"templates/T\1:", d.format())
        for d in diagnostics
    ]


def _compare(root: Path, template: str) -> tuple[DesiredCampaign, DesiredCampaign]:
    merged = _build(root, template)
    full = _build(root, DECLINE + template)
    assert _shown(merged.errors) == _shown(full.errors)
    assert _shown(merged.warnings) == _shown(full.warnings)
    assert [(m.key, m.text, m.segments, m.encoding, m.cost) for m in merged.messages] == [
        (m.key, m.text, m.segments, m.encoding, m.cost) for m in full.messages
    ]
    assert merged.cost == pytest.approx(full.cost)
    for message in merged.messages:
        # What the API delivers: its substitution, then its auto_optimize_text.
        delivered = auto_optimize(apply_placeholders(message.request_text, message.fields))
        assert delivered == message.text, message
        assert all(len(v) <= 50 for k, v in message.fields.items() if k != "phone_number")
    return merged, full


@pytest.fixture
def merge_root(tmp_path: Path) -> Path:
    root = tmp_path / "merge"
    (root / "templates").mkdir(parents=True)
    (root / "contacts").mkdir()
    (root / "campaigns").mkdir()
    (root / "octoplan.yaml").write_text(CONFIG, encoding="utf-8")
    return root


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(st.fixed_dictionaries({f: VALUES for f in FIELDS}), min_size=1, max_size=25),
    name=st.sampled_from(sorted(TEMPLATES)),
)
def test_merged_messages_are_exactly_the_full_renders(
    merge_root: Path, rows: list[dict[str, str]], name: str
) -> None:
    (merge_root / "contacts" / "c.csv").write_text(_csv(rows), encoding="utf-8")
    _compare(merge_root, TEMPLATES[name])


def test_the_merge_puts_groups_of_contacts_in_one_request_text(merge_root: Path) -> None:
    names = ["Zoé", "François", "Gaëlle", "{param1}", "x" * 60, "Ana"]
    rows = [
        {"first_name": names[i % len(names)], "code": f"C{i:04d}", "city": "Lyon" * (i % 2)}
        for i in range(120)
    ]
    (merge_root / "contacts" / "c.csv").write_text(_csv(rows), encoding="utf-8")
    merged, full = _compare(merge_root, TEMPLATES["optional"])
    texts = {m.request_text for m in merged.messages}
    # Two groups (with and without a city), plus one text per contact whose value cannot
    # travel in a slot: the `{param1}` ones (the API would substitute it) and 60-character
    # names (the API refuses values over 50): 40 contacts.
    assert len(texts) == 2 + 40
    assert len({m.request_text for m in full.messages}) == 120
    # A `{param1}` name is data, delivered as written: its own request text carries it in
    # the first_name slot (one pass: the API does not substitute what it puts there).
    braced = [m for m in merged.messages if m.fields.get("first_name") == "{param1}"]
    assert {m.text for m in braced} == {
        f"{'Lyon : ' if i % 2 else ''}{{param1}}, C{i:04d}. STOP au 30101" for i in range(3, 120, 6)
    }
    assert {t for t in texts if "{" in t} == {
        "{param1} : {first_name}, {param2}. STOP au 30101",
        "{first_name}, {param1}. STOP au 30101",
        *(m.request_text for m in braced),
    }
    assert all("{first_name}" in m.request_text for m in braced)


def test_a_skeleton_is_the_text_cut_at_its_holes_and_cannot_change_once_made() -> None:
    """One skeleton serves every contact of a group (desired.py reads its parts for each): a
    frozen value, equal (and hashing equal) for the same rendered text."""
    rendered = f"Hello {sentinel(0)}, code {sentinel(1)} at 100% {sentinel(0)}"
    skeleton = make_skeleton(rendered, ["first_name", "code"])
    assert skeleton == Skeleton(
        printed=("first_name", "code", "first_name"),
        literals=("Hello ", ", code ", " at 100% ", ""),
        text_format="Hello %s, code %s at 100%% %s",
        slotted=("first_name", "code"),
        slots=("first_name", "param1"),
        inlined=(),
        request_text="Hello {first_name}, code {param1} at 100% {first_name}",
        request_format="Hello {first_name}, code {param1} at 100%% {first_name}",
    )
    assert skeleton.text_format % ("Ann", "X1", "Ann") == "Hello Ann, code X1 at 100% Ann"
    assert hash(skeleton) == hash(make_skeleton(rendered, ["first_name", "code"]))
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'slots'"):
        skeleton.slots = ()  # type: ignore[misc]
