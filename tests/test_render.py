from __future__ import annotations

from pathlib import Path

import pytest

from octoplan.render import Origin, Renderer, RenderError, compile_template, make_environment

CONTACT = {"phone_number": "+33612345678", "first_name": "Axelle"}


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    root = tmp_path / "templates"
    (root / "macros").mkdir(parents=True)
    (root / "promo.j2").write_text(
        '{% from "macros/greet.j2" import greet %}{{ greet(contact) }}\n'
        "Offre {{ vars.brand }}\n{{ contact.code }}\n",
        encoding="utf-8",
    )
    (root / "macros" / "greet.j2").write_text(
        "{% macro greet(c) %}Bonjour {{ c.first_name | default('') }}{% endmacro %}",
        encoding="utf-8",
    )
    (root / "broken.j2").write_text("Hi\n{% if %}\n", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("s3cret", encoding="utf-8")
    return root


def render(
    templates: Path,
    text: str | None = None,
    name: str | None = None,
    contact: dict[str, str] | None = None,
) -> str:
    env = make_environment(templates)
    origin = Origin("campaigns/promo.yaml", 4, templates)
    template = compile_template(env, origin, text=text, name=name)
    renderer = Renderer(
        template,
        origin,
        "promo",
        {"brand": "ShopX", "shop": {"city": "Lyon"}},
        {"id": "promo", "channel": "sms"},
    )
    return renderer(CONTACT if contact is None else contact, "+33612345678")


def error(templates: Path, text: str | None = None, name: str | None = None) -> str:
    with pytest.raises(RenderError) as caught:
        render(templates, text, name)
    return caught.value.diagnostic.format()


def test_context_holds_contact_vars_and_campaign(templates: Path) -> None:
    text = "{{ contact.first_name }} {{ vars.brand }} {{ vars.shop.city }} {{ campaign.id }}"
    assert render(templates, text) == "Axelle ShopX Lyon promo"


def test_contact_data_is_never_evaluated(templates: Path) -> None:
    contact = {"first_name": "{{ 7*7 }} {% if 1 %}x{% endif %}"}
    assert render(templates, "Hi {{ contact.first_name }}", contact=contact) == (
        "Hi {{ 7*7 }} {% if 1 %}x{% endif %}"
    )


def test_testing_an_undefined_value_is_allowed(templates: Path) -> None:
    text = (
        "{% if contact.city %}A{% endif %}{{ contact.city | default('B') }}"
        "{% if contact.city is defined %}C{% else %}D{% endif %}"
        "{{ contact.city.zip | default('E') }}"
    )
    assert render(templates, text) == "BDE"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Hi\n{{ contact.city }}", "contact.city is undefined"),
        ("Hi\n{{ contact.city ~ '!' }}", "contact.city is undefined"),
        ("Hi\n{{ contact.city | upper }}", "contact.city is undefined"),
        ("Hi\n{{ vars.shop.zip }}", "vars.shop.zip is undefined"),
        ("Hi\n{{ brand }}", "'brand' is undefined"),
    ],
)
def test_printing_an_undefined_value_is_an_error(templates: Path, text: str, message: str) -> None:
    expr = message.removesuffix(" is undefined").strip("'")
    assert error(templates, text) == (
        f"campaigns/promo.yaml:5: error: campaign promo, recipient +33612345678: {message}\n"
        f"  hint: test it ({{% if {expr} %}}...{{% endif %}}) or give it a default "
        f"({{{{ {expr} | default('') }}}})"
    )


def test_undefined_in_a_template_file_points_at_its_line(templates: Path) -> None:
    assert error(templates, name="promo.j2") == (
        "templates/promo.j2:3:4: error: campaign promo, recipient +33612345678: "
        "contact.code is undefined\n"
        "  hint: test it ({% if contact.code %}...{% endif %}) or give it a default "
        "({{ contact.code | default('') }})"
    )


def test_macros_and_imports_work(templates: Path) -> None:
    contact = {**CONTACT, "code": "X1"}
    assert render(templates, name="promo.j2", contact=contact) == "Bonjour Axelle\nOffre ShopX\nX1"


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        (
            "Hi\n\n{% if %}",
            None,
            "campaigns/promo.yaml:6: error: template syntax error: "
            "Expected an expression, got 'end of statement block'",
        ),
        (
            "Hi {{ contact.first_name }",
            None,
            "campaigns/promo.yaml:4: error: template syntax error: unexpected '}'",
        ),
        (
            "{% for x in y %}",
            None,
            "campaigns/promo.yaml:4: error: template syntax error: Unexpected end of template. "
            "Jinja was looking for the following tags: 'endfor' or 'else'. The innermost block "
            "that needs to be closed is 'for'.",
        ),
        (
            None,
            "broken.j2",
            "templates/broken.j2:2: error: template syntax error: "
            "Expected an expression, got 'end of statement block'",
        ),
        (
            None,
            "nope.j2",
            "campaigns/promo.yaml:4: error: template 'nope.j2' not found under templates/",
        ),
        (
            None,
            "../secret.txt",
            "campaigns/promo.yaml:4: error: template '../secret.txt' not found under templates/",
        ),
    ],
)
def test_template_errors(
    templates: Path, text: str | None, name: str | None, expected: str
) -> None:
    assert error(templates, text, name) == expected


ESCAPES = [
    (
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "access to attribute '__class__' of 'str' object is unsafe.",
    ),
    (
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "access to attribute '__init__' of 'type' object is unsafe.",
    ),
    (
        "{{ joiner.__init__.__globals__ }}",
        "access to attribute '__init__' of 'type' object is unsafe.",
    ),
    (
        "{{ lipsum.__globals__['os'] }}",
        "access to attribute '__globals__' of 'function' object is unsafe.",
    ),
    (
        "{{ namespace.__init__.__globals__ }}",
        "access to attribute '__init__' of 'type' object is unsafe.",
    ),
    (
        "{{ ().__class__.__base__.__subclasses__() }}",
        "access to attribute '__class__' of 'tuple' object is unsafe.",
    ),
    (
        "{{ self.__init__.__globals__ }}",
        "access to attribute '__init__' of 'TemplateReference' object is unsafe.",
    ),
    (
        "{{ contact.__class__.__mro__ }}",
        "access to attribute '__class__' of 'Namespace' object is unsafe.",
    ),
    (
        "{{ ''.format.__globals__ }}",
        "access to attribute '__globals__' of 'function' object is unsafe.",
    ),
    ("{{ vars.clear() }}", "access to attribute 'clear' of 'Namespace' object is unsafe."),
    (
        "{{ contact.update({'first_name': 'x'}) }}",
        "access to attribute 'update' of 'Namespace' object is unsafe.",
    ),
    ("{{ 'a' * 100000 }}", "a repetition longer than 10,000 items"),
    ("{{ 9 ** 99999 }}", "exponent 99999 is too large (at most 100)"),
    (
        "{% for x in range(10**9) %}{% endfor %}",
        "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).",
    ),
]


@pytest.mark.parametrize(("payload", "reason"), ESCAPES)
def test_sandbox_escapes_are_refused(templates: Path, payload: str, reason: str) -> None:
    assert error(templates, payload) == (
        "campaigns/promo.yaml:4: error: campaign promo, recipient +33612345678: "
        f"refused by the template sandbox: {reason}\n"
        "  hint: templates can read contact, vars and campaign values, not Python internals"
    )


def test_other_runtime_errors_are_diagnostics(templates: Path) -> None:
    assert error(templates, "x\n{{ 1 / 0 }}") == (
        "campaigns/promo.yaml:5: error: campaign promo, recipient +33612345678: "
        "ZeroDivisionError: division by zero"
    )
    assert error(templates, "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}") == (
        "campaigns/promo.yaml:4: error: campaign promo, recipient +33612345678: "
        "template recursion is too deep"
    )


def test_no_trailing_newline_and_no_autoescape(templates: Path) -> None:
    assert render(templates, "<b>{{ contact.first_name }} & co</b>\n") == "<b>Axelle & co</b>"


# -- only files under templates/ --------------------------------------------------------------

WHO = "campaign promo, recipient +33612345678"


@pytest.fixture
def links(templates: Path) -> Path:
    """templates/ holding links out of it: to a file, and to a folder."""
    (templates / "evil.j2").symlink_to(templates.parent / "secret.txt")
    (templates / "outside").symlink_to(templates.parent)
    (templates / "inside.j2").symlink_to(templates / "promo.j2")
    return templates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "{% include '../secret.txt' %}",
            f"campaigns/promo.yaml:4: error: {WHO}: template '../secret.txt' not found under "
            "templates/",
        ),
        (
            "{% import '../../../../../../etc/passwd' as p %}",
            f"campaigns/promo.yaml:4: error: {WHO}: template '../../../../../../etc/passwd' not "
            "found under templates/",
        ),
        (
            "\n{% extends 'macros/../../secret.txt' %}",
            f"campaigns/promo.yaml:5: error: {WHO}: template 'macros/../../secret.txt' not found "
            "under templates/",
        ),
        (
            "{% include '/etc/passwd' %}",
            f"campaigns/promo.yaml:4: error: {WHO}: template '/etc/passwd' not found under "
            "templates/",
        ),
        (
            "{% include 'evil.j2' %}",
            f"campaigns/promo.yaml:4: error: {WHO}: template 'evil.j2' is a link to a file "
            "outside templates/\n  hint: templates may only use files under templates/",
        ),
        (
            "{% from 'outside/secret.txt' import x %}",
            f"campaigns/promo.yaml:4: error: {WHO}: template 'outside/secret.txt' is a link to a "
            "file outside templates/\n  hint: templates may only use files under templates/",
        ),
        (
            "{% include ['nope.j2', 'evil.j2'] %}",
            f"campaigns/promo.yaml:4: error: {WHO}: template 'evil.j2' is a link to a file "
            "outside templates/\n  hint: templates may only use files under templates/",
        ),
    ],
    ids=[
        "include-dotdot",
        "import-etc-passwd",
        "extends-dotdot",
        "absolute",
        "link",
        "dir-link",
        "select",
    ],
)
def test_included_files_stay_under_templates(links: Path, text: str, expected: str) -> None:
    assert error(links, text) == expected


def test_a_link_inside_templates_is_fine(links: Path) -> None:
    contact = {**CONTACT, "code": "X1"}
    assert render(links, "{% include 'inside.j2' %}", contact=contact).startswith("Bonjour")


def test_a_template_named_through_a_link_out_is_refused(links: Path) -> None:
    assert error(links, name="evil.j2") == (
        "campaigns/promo.yaml:4: error: template 'evil.j2' is a link to a file outside "
        "templates/\n  hint: templates may only use files under templates/"
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b"Bonjour\ncaf\xe9",
            "templates/bad.j2:2:4: error: not UTF-8 text (byte 0xe9)\n"
            "  hint: save the file as UTF-8",
        ),
        (
            b"Bonjour\n{{ x }}\x00",
            "templates/bad.j2:2:8: error: control character U+0000 is not allowed\n"
            "  hint: remove it: messages and contact fields are plain text",
        ),
        (
            b"x" * (1024 * 1024 + 1),
            "campaigns/promo.yaml:4: error: template 'bad.j2' is 1.0 MB; templates are "
            "limited to 1 MB\n  hint: is this the right file?",
        ),
    ],
    ids=["not-utf8", "nul", "too-large"],
)
def test_template_files_that_are_not_templates(templates: Path, data: bytes, expected: str) -> None:
    (templates / "bad.j2").write_bytes(data)
    assert error(templates, name="bad.j2") == expected
    included = error(templates, "{% include 'bad.j2' %}")
    prefix, _, rest = expected.partition(": error: ")
    assert included == f"{prefix}: error: {WHO}: {rest}"


@pytest.mark.parametrize(
    "text",
    [
        "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
        "{{ 1" + " + 1" * 20000 + " }}",
        "{% if 1 %}" * 3000,
    ],
    ids=["parentheses", "long-sum", "nested-ifs"],
)
def test_expressions_nested_too_deeply(templates: Path, text: str) -> None:
    assert error(templates, text) == (
        "campaigns/promo.yaml:4: error: template syntax error: expressions nest too deeply"
    )
