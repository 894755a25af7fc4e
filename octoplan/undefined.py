"""An undefined contact field, explained with the contact list's columns in hand.

The renderer only sees one contact's values; the builder knows the columns of the list the
contact came from, so it can tell a typo of a column that exists (`contact.frist_name`: did
you mean `contact.first_name`?, and no advice to paper over it with `default('')`), a column
that exists but is empty for this contact, and a column that no contact has.
"""

from __future__ import annotations

from collections.abc import Sequence

from octoplan.errors import Diagnostic
from octoplan.render import RenderError
from octoplan.suggest import closest


def _test_or_default(expr: str) -> str:
    return (
        f"test it ({{% if {expr} %}}...{{% endif %}}) or give it a default "
        f"({{{{ {expr} | default('') }}}})"
    )


def explain(exc: RenderError, columns: Sequence[str], source: str, csv: bool) -> Diagnostic:
    """The diagnostic of `exc`, said with `columns` (the names of the list `source`, a CSV
    file when `csv`) when it is about an undefined contact field."""
    diagnostic, expr = exc.diagnostic, exc.undefined
    if expr is None:
        return diagnostic
    label, _, name = expr.rpartition(".")
    if label == "":
        # `{{ first_name }}`: a column printed without `contact.`
        if name not in columns:
            return diagnostic
        message, hint = diagnostic.message, f"did you mean contact.{name}?"
    elif label != "contact":
        return diagnostic  # vars and campaign: the renderer knows them
    elif name in columns:
        if csv:
            detail = f"contact.{name} is empty: this row's {name} cell is empty"
        else:
            detail = f"contact.{name} is undefined: this recipient has no {name} (others do)"
        message, hint = f"{exc.who}: {detail}", _test_or_default(expr)
    else:
        meant = closest(name, columns)
        where = f"column '{name}' in {source}" if csv else f"recipient in {source} with '{name}'"
        message = f"{exc.who}: contact.{name} is undefined: there is no {where}"
        if meant is not None:
            hint = f"did you mean contact.{meant}?"
        else:
            kind = "column" if csv else "field"
            hint = (
                f"add a {name} {kind} to {source}, test it ({{% if {expr} %}}...{{% endif %}}), "
                f"or give it a default ({{{{ {expr} | default('') }}}})"
            )
    return Diagnostic(
        diagnostic.path, diagnostic.line, diagnostic.col, message, hint, diagnostic.severity
    )
