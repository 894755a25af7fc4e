"""Fuzzing campaign and config YAML (hypothesis): random text, YAML-looking token soup, mutations
of a valid campaign (lines deleted, duplicated, swapped, retyped, garbled), deep nesting, random
bytes. Loading must succeed or raise ValidationFailed with positioned diagnostics: never anything
else. The last step renders the campaigns, as `validate` does.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from octoplan.desired import build_all
from octoplan.errors import ValidationFailed
from octoplan.loader import load_project
from octoplan.yamlsource import parse_yaml, read_yaml
from tests.fuzzing import FUZZ, check_diagnostics

VALID = """\
id: promo-1
channel: sms
purpose: wholesale
sender: ShopX
send_at: 2026-11-27T09:00:00+01:00
text: "{{ contact.first_name | default('Bonjour') }}, -30% ! STOP au 30101"
vars: {discount: 30, tags: [a, b]}
recipients:
  - {phone_number: "+33612345678", first_name: Axelle, param1: VIP}
  - phone_number: "06 12 34 56 79"
    first_name: Bob
batch_size: 500
metadata:
  type: sms_premium
"""
CONFIG = """\
region: FR
defaults: {sender: ShopX}
vars: {brand: ShopX}
pricing: {currency: EUR, sms: {FR: 0.045, default: 0.06}}
policies:
  marketing_hours: {timezone: Europe/Paris, days: [mon, tue], start: "08:00", end: "20:00"}
  max_cost: 500
"""
TOKENS = [
    *("channel", "text", "recipients", "phone_number", "vars", "metadata", "id", "template"),
    *(":", ": ", " ", "  ", "\n", "\n  ", "- ", "-", ",", "[", "]", "{", "}", "?", "|", ">"),
    *("&a", "*a", "&b", "*b", "<<", "!!python/object:os.system", "!!str", "!custom", "!!map"),
    *("'", '"', "\\", "\\u0000", "\\ud800", "\\U00110000", "\\x07", "#", "\t", "---", "..."),
    *("%YAML 1.2", "%TAG ! tag:x,2000:", "0x1F", "1e309", ".nan", "~", "null", "yes", "08:00"),
    *("2026-11-27T09:00:00+01:00", "+33612345678", "sms", "email", "é", "😀", "\u202e", "\ufeff"),
    *("\x00", "\x1b", "\r", "\r\n", "\u2028", "{{", "}}", "{%", "%}", "9" * 50),
]
SCALARS = st.one_of(
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.text(max_size=30),
    st.sampled_from(["[]", "{}", "[1, [2]]", "{a: {b: c}}", "''", '"x"', "*a", "&a x"]),
)


def check_parse(text: str) -> None:
    try:
        parse_yaml(text, "campaigns/c.yaml")
    except ValidationFailed as exc:
        check_diagnostics(exc.diagnostics, {"campaigns/c.yaml"})


@FUZZ
@given(st.text(st.characters(exclude_categories=()), max_size=300))
def test_any_text(text: str) -> None:
    check_parse(text)


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map("".join))
def test_yaml_looking_token_soup(text: str) -> None:
    check_parse(text)


@FUZZ
@given(st.lists(st.sampled_from("[]{},:- \n\"'*&ab"), min_size=1, max_size=40), st.integers(1, 300))
def test_deep_nesting(pieces: list[str], depth: int) -> None:
    opener = "".join(pieces)
    check_parse("vars: " + opener * depth + "\n")
    check_parse("a:\n" + "".join("  " * i + "- b:\n" for i in range(depth)))


@st.composite
def mutated(draw: st.DrawFn, valid: str) -> str:
    lines = valid.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "retype", "insert", "indent"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "retype":
            key, sep, _ = lines[i].partition(":")
            if sep:
                value = draw(SCALARS)
                lines[i] = f"{key}: {value}\n"
        elif op == "insert":
            at = draw(st.integers(0, len(lines[i])))
            junk = draw(st.text(st.characters(exclude_categories=()), max_size=8))
            lines[i] = lines[i][:at] + junk + lines[i][at:]
        else:
            lines[i] = draw(st.sampled_from(["", " ", "  ", "\t", "- "])) + lines[i]
    return "".join(lines)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "campaigns").mkdir()
    (root / "templates").mkdir()
    (root / "templates" / "t.j2").write_text("Bonjour {{ contact.first_name }}", encoding="utf-8")
    return root


def check_project(root: Path) -> None:
    """load_project, then render everything, as `octoplan validate` does."""
    paths = {"campaigns/c.yaml", "octoplan.yaml", "templates/t.j2"}
    try:
        project = load_project(root)
    except ValidationFailed as exc:
        check_diagnostics(exc.diagnostics, paths)
        return
    for desired in build_all(project):
        check_diagnostics([*desired.errors, *desired.warnings], paths)


@FUZZ
@given(mutated(VALID))
def test_mutations_of_a_valid_campaign(project: Path, text: str) -> None:
    (project / "campaigns" / "c.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    (project / "octoplan.yaml").write_text(CONFIG, encoding="utf-8")
    check_project(project)


@FUZZ
@given(mutated(CONFIG))
def test_mutations_of_a_valid_config(project: Path, text: str) -> None:
    (project / "campaigns" / "c.yaml").write_text(VALID, encoding="utf-8")
    (project / "octoplan.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    check_project(project)


@FUZZ
@given(st.binary(max_size=300), st.sampled_from([b"", b"\xef\xbb\xbf", b"channel: sms\n"]))
def test_random_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes, prefix: bytes) -> None:
    file = tmp_path_factory.getbasetemp() / "random.yaml"
    file.write_bytes(prefix + data)
    try:
        read_yaml(file, "campaigns/c.yaml")
    except ValidationFailed as exc:
        check_diagnostics(exc.diagnostics, {"campaigns/c.yaml"})
