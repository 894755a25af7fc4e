"""Fuzzing templates (hypothesis): Jinja token soup (tags, filters, tests, sandbox-escape
attributes, includes of paths in and out of templates/), random template files (bytes), and
random contact data. Compiling and rendering must give text or a positioned RenderError, never
another exception; contact data is printed as written, never evaluated.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from octoplan.render import Origin, Renderer, RenderError, compile_template, make_environment
from tests.fuzzing import FUZZ, check_diagnostics

# Small numbers only: nested loops over range(10**5) would be slow, not wrong (a template is
# project code, reviewed like code; its CPU use is not bounded, see docs/security.md).
TOKENS = [
    *("{{", "}}", "{%", "%}", "{#", "#}", "{%-", "-%}", "{{-", "-}}", " ", "\n", "\t"),
    *("if", "elif", "else", "endif", "for", "in", "endfor", "set", "endset", "=", "with"),
    *("macro", "endmacro", "call", "endcall", "include", "import", "from", "as", "extends"),
    *("block", "endblock", "raw", "endraw", "filter", "endfilter", "do", "not", "and", "or"),
    *("is", "defined", "undefined", "none", "True", "loop", "self", "super()", "caller()"),
    *("contact", "vars", "campaign", ".", "first_name", "city", "id", "brand", "x", "y"),
    *("|", "default", "upper", "join", "format", "replace", "truncate", "center", "indent"),
    *("attr", "map", "select", "sort", "batch", "slice", "dictsort", "tojson", "int", "float"),
    *("(", ")", "[", "]", "'", '"', ",", ":", "~", "+", "-", "*", "**", "/", "//", "%"),
    *("range", "2", "3", "10", "-1", "1e309", "0.5", "'x'", "'%s'", "'{}'", "[1, 2]"),
    *("__class__", "__globals__", "__mro__", "__subclasses__", "__init__", "mro", "_x"),
    *("cycler", "joiner", "namespace", "lipsum", "dict", "'a.j2'", "'../secret.txt'"),
    *("'/etc/passwd'", "'link.j2'", "'outside/secret.txt'", "'nope.j2'", "'a.j2' ignore missing"),
]
CONTACT_TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=40)


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz") / "templates"
    root.mkdir()
    (root / "a.j2").write_text("{% macro x(y) %}[{{ y }}]{% endmacro %}A{{ vars.brand }}")
    (root.parent / "secret.txt").write_text("s3cret")
    (root / "link.j2").symlink_to(root.parent / "secret.txt")
    (root / "outside").symlink_to(root.parent)
    return root


def render(
    templates: Path, text: str | None, fields: dict[str, str], name: str | None = None
) -> str:
    env = make_environment(templates)
    origin = Origin("campaigns/c.yaml", 3, templates)
    template = compile_template(env, origin, text=text, name=name)
    renderer = Renderer(template, origin, "c", {"brand": "ShopX"}, {"id": "c", "channel": "sms"})
    return renderer(fields, "+33612345678")


def check_render(
    templates: Path, text: str | None, fields: dict[str, str], name: str | None = None
) -> None:
    try:
        output = render(templates, text, fields, name)
    except RenderError as exc:
        check_diagnostics([exc.diagnostic], {"campaigns/c.yaml", f"templates/{name}"})
        return
    assert isinstance(output, str)
    assert "s3cret" not in output


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join))
def test_jinja_token_soup(templates: Path, text: str) -> None:
    check_render(templates, text, {"phone_number": "+33612345678", "first_name": "Ana"})


LITERALS = st.sampled_from(
    [
        *("1", "0", "-3", "2.5", "1e309", "'x'", "'%s %d'", "'{0}'", "[1, 'a']", "{'k': 2}"),
        *("none", "True", "contact", "contact.first_name", "contact.city", "vars", "loop"),
        *("vars.brand", "campaign.id", "range(3)", "cycler", "namespace()", "lipsum", "x", "y.z"),
    ]
)
FILTERS = st.sampled_from(
    [
        *("default('-')", "upper", "join(',')", "format(1)", "replace('a', 'b')", "int"),
        *("float", "truncate(3)", "center(3)", "indent(2)", "attr('__class__')", "map('upper')"),
        *("list", "select", "sort", "batch(2)", "slice(2)", "dictsort", "tojson", "length"),
        *("first", "sum", "round", "abs", "string", "trim", "wordcount", "reverse", "unique"),
        "items",
    ]
)
EXPRESSIONS = st.recursive(
    LITERALS,
    lambda inner: st.one_of(
        st.tuples(inner, FILTERS).map(lambda t: f"{t[0]}|{t[1]}"),
        st.tuples(
            inner, st.sampled_from(["+", "-", "*", "/", "//", "%", "~", "**", "and"]), inner
        ).map(" ".join),
        st.tuples(inner, st.sampled_from(["first_name", "__class__", "items", "keys", "x"])).map(
            ".".join
        ),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
        inner.map(lambda e: f"({e})"),
        inner.map(lambda e: f"{e}()"),
        st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} if {t[1]} else {t[2]}"),
    ),
    max_leaves=6,
)
BLOCKS = st.recursive(
    st.one_of(
        EXPRESSIONS.map(lambda e: "{{ " + e + " }}"),
        st.sampled_from(["text ", "{% include 'a.j2' %}", "{% include 'link.j2' %}", "\n"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map("".join),
        st.tuples(EXPRESSIONS, inner).map(lambda t: "{% if " + t[0] + " %}" + t[1] + "{% endif %}"),
        st.tuples(EXPRESSIONS, inner).map(
            lambda t: "{% for x in " + t[0] + " %}" + t[1] + "{% endfor %}"
        ),
        st.tuples(EXPRESSIONS, inner).map(lambda t: "{% set y = " + t[0] + " %}" + t[1]),
    ),
    max_leaves=5,
)


@FUZZ
@given(BLOCKS)
def test_well_formed_templates(templates: Path, text: str) -> None:
    check_render(templates, text, {"phone_number": "+33612345678", "first_name": "Ana"})


@FUZZ
@given(st.text(max_size=200))
def test_any_text(templates: Path, text: str) -> None:
    check_render(templates, text, {"phone_number": "+33612345678"})


@FUZZ
@given(st.binary(max_size=300))
def test_template_files_of_random_bytes(templates: Path, data: bytes) -> None:
    (templates / "random.j2").write_bytes(data)
    check_render(templates, None, {"phone_number": "+33612345678"}, name="random.j2")


@FUZZ
@given(CONTACT_TEXT, CONTACT_TEXT)
def test_contact_data_is_printed_as_written(templates: Path, first: str, city: str) -> None:
    fields = {"phone_number": "+33612345678", "first_name": first, "city": city}
    text = "{{ contact.first_name }}|{{ contact.city | default('-') }}"
    assert render(templates, text, fields) == f"{first}|{city}"
