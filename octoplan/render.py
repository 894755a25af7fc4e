"""The one Jinja2 environment, and rendering a campaign's text for one contact.

`make_environment` is the only place that configures Jinja: a `SandboxedEnvironment` whose
loader is confined to `templates/`, no autoescaping (SMS and e-mail text are not HTML), and an
undefined value that is an error when printed but fine to test (`if contact.city`,
`contact.city | default("")`, `is defined`). The sandbox refuses attribute escapes
(`''.__class__.__mro__`, `cycler.__init__.__globals__`...) and a few arithmetic bombs.

Contact values are passed as data: `{{ contact.first_name }}` prints `{{ 7*7 }}` as written.

Template files (a campaign's `template:`, and what it includes, imports or extends) are read
only from inside `templates/`: `..` is refused by Jinja, and a symbolic link leading out of the
folder is refused here, as are files over 1 MB, files that are not UTF-8 and control characters.

Errors point at the template line: the template file's own line, or for an inline `text:` the
campaign file's line (the caller says where the text starts). Messages name the campaign and the
recipient as written in the contact list: validate and render are local output, not plans, so
the number is shown in clear to let the user find the row.
"""

from __future__ import annotations

import operator
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import (
    BaseLoader,
    ChainableUndefined,
    Environment,
    Template,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.exceptions import SecurityError
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment

from octoplan.checks import too_large
from octoplan.errors import Diagnostic
from octoplan.yamlsource import unfit_character

INLINE_NAME = "<text>"
MAX_REPEAT = 10_000  # longest string or list a template may build with `*`
MAX_EXPONENT = 100
SANDBOX_HINT = "templates can read contact, vars and campaign values, not Python internals"


class Namespace(dict[str, Any]):
    """A dict that knows its name in templates, so errors say `contact.city is undefined`."""

    __slots__ = ("label",)

    def __init__(self, label: str, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        self.label = label


class _PrintUndefined(ChainableUndefined):
    """Undefined that may be tested and chained, but never printed or concatenated."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        obj, name = self._undefined_obj, self._undefined_name
        if self._undefined_hint:
            return self._undefined_hint
        if isinstance(obj, Namespace):
            return f"{obj.label}.{name} is undefined"
        return super()._undefined_message

    def __str__(self) -> str:
        self._fail_with_undefined_error()

    __html__ = __str__


class _Sandbox(ImmutableSandboxedEnvironment):
    # Immutable: vars are shared by every contact's render, so no template may change them.
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"exponent {right} is too large (at most {MAX_EXPONENT})")
        if op == "*":
            for seq, times in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(times, int)
                if sized and len(seq) * times > MAX_REPEAT:
                    raise SecurityError(f"a repetition longer than {MAX_REPEAT:,} items")
        return {"*": operator.mul, "**": operator.pow}[op](left, right)


class TemplateFileError(TemplateError):
    """A template file that cannot be used: outside templates/, too large, not text."""

    def __init__(
        self, name: str, message: str, hint: str, line: int | None = None, col: int | None = None
    ) -> None:
        super().__init__(message)
        self.name, self.hint, self.line, self.col = name, hint, line, col


class _ConfinedLoader(BaseLoader):
    """Templates by name from one folder, never from outside it, even through a link."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Any]:
        file = self.directory.joinpath(*split_template_path(template))  # refuses '..'
        if not file.is_file():
            raise TemplateNotFound(template)
        try:
            file.resolve().relative_to(self.directory.resolve())
        except ValueError:
            raise TemplateFileError(
                template,
                f"template '{template}' is a link to a file outside templates/",
                "templates may only use files under templates/",
            ) from None
        large = too_large(template, file.stat().st_size)
        if large is not None:
            raise TemplateFileError(template, large, "is this the right file?")
        data = file.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            col = exc.start - data.rfind(b"\n", 0, exc.start)
            raise TemplateFileError(
                template,
                f"not UTF-8 text (byte 0x{data[exc.start]:02x})",
                "save the file as UTF-8",
                line,
                col,
            ) from None
        unfit = unfit_character(text)
        if unfit is not None:
            at = next(i for i, char in enumerate(text) if unfit_character(char))
            line = text.count("\n", 0, at) + 1
            raise TemplateFileError(template, *unfit, line, at - text.rfind("\n", 0, at))
        return text, os.path.normpath(file), lambda: True


def make_environment(templates_dir: Path) -> SandboxedEnvironment:
    return _Sandbox(
        loader=_ConfinedLoader(templates_dir),
        undefined=_PrintUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        auto_reload=False,
    )


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a campaign's template comes from, for diagnostics."""

    path: str  # the campaign file, as messages name it (project-relative)
    first_line: int = 1  # line of `path` where an inline text's line 1 is
    templates_dir: Path = Path("templates")  # the loader's directory...
    templates_prefix: str = "templates"  # ... and how messages name it

    def column(self, path: str, line: int, needles: Sequence[str], target: str = "") -> int | None:
        """Where `target` is in the first of `needles` found on `line` of `path` (a
        project-relative file: the template or the campaign file), for an error's column;
        None if not found."""
        root = self.templates_dir.parent if self.templates_prefix == "templates" else None
        if root is None:
            return None
        try:
            with (root / path).open(encoding="utf-8", errors="replace") as handle:
                text = next((t for n, t in enumerate(handle, start=1) if n == line), "")
        except OSError:
            return None
        for needle in needles:
            at = text.find(needle)
            if at >= 0:
                return at + max(needle.find(target), 0) + 1
        return None

    def locate(self, filename: str | None, line: int) -> tuple[str, int]:
        """(path, line) in the project for a line of the inline text or of a template file."""
        if filename in (None, INLINE_NAME, "<template>", "<unknown>"):
            return self.path, line + self.first_line - 1
        relative = os.path.relpath(filename, self.templates_dir)
        return f"{self.templates_prefix}/{Path(relative).as_posix()}", line


class RenderError(Exception):
    """Rendering failed; `diagnostic` says where and why. For an undefined value, `undefined`
    is the expression (`contact.frist_name`, `first_name`) and `who` the campaign and
    recipient, so that a caller who knows the contact list's columns can say more
    (octoplan/undefined.py)."""

    def __init__(
        self, diagnostic: Diagnostic, *, who: str = "", undefined: str | None = None
    ) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic
        self.who = who
        self.undefined = undefined


def compile_template(
    env: SandboxedEnvironment, origin: Origin, *, text: str | None = None, name: str | None = None
) -> Template:
    """The compiled template of an inline `text` or of a file `name` under templates/."""
    try:
        if name is not None:
            return env.get_template(name)
        return env.from_string(text or "")
    except TemplateSyntaxError as exc:
        path, line = origin.locate(exc.filename, exc.lineno)
        raise RenderError(_syntax_diagnostic(env, origin, exc, path, line)) from None
    except TemplateNotFound as exc:
        message = f"template '{exc.name}' not found under {origin.templates_prefix}/"
        raise RenderError(Diagnostic(origin.path, origin.first_line, None, message)) from None
    except TemplateFileError as exc:
        raise RenderError(_file_diagnostic(exc, origin, origin.path, origin.first_line)) from None
    except RecursionError:
        path, line = (origin.path, origin.first_line)
        if name is not None:
            path, line = f"{origin.templates_prefix}/{name}", 1
        message = "template syntax error: expressions nest too deeply"
        raise RenderError(Diagnostic(path, line, None, message)) from None


_UNKNOWN = re.compile(r"^No (filter|test) named '([^']+)'")


def _syntax_diagnostic(
    env: Environment, origin: Origin, exc: TemplateSyntaxError, path: str, line: int
) -> Diagnostic:
    """A syntax error; an unknown filter or test by name, at its column, with a did-you-mean."""
    unknown = _UNKNOWN.match(exc.message or "")
    if unknown is None:
        return Diagnostic(path, line, None, f"template syntax error: {exc.message}")
    from octoplan.suggest import closest

    kind, name = unknown.groups()
    known = env.filters if kind == "filter" else env.tests
    meant = closest(name, known)
    hint = (
        f"did you mean '{meant}'?"
        if meant is not None
        else f"the {kind}s of Jinja2 are listed at "
        f"https://jinja.palletsprojects.com/templates/#list-of-builtin-{kind}s"
    )
    col = origin.column(path, line, (f"| {name}", f"|{name}", f"is {name}", name), name)
    return Diagnostic(path, line, col, f"unknown {kind} '{name}'", hint)


def _file_diagnostic(
    exc: TemplateFileError, origin: Origin, path: str, line: int, who: str = ""
) -> Diagnostic:
    """Where the file itself is at fault (encoding, a character), else where it was named."""
    if exc.line is not None:
        path = f"{origin.templates_prefix}/{exc.name}"
        line = exc.line
    return Diagnostic(path, line, exc.col, f"{who}{exc}", exc.hint)


def _template_frame(tb: TracebackType | None) -> tuple[str | None, int]:
    """(file, line) of the innermost template frame: Jinja rewrites tracebacks so that each
    frame of template code carries the template's file name and source line."""
    found: tuple[str | None, int] = (None, 1)
    while tb is not None:
        if "__jinja_exception__" in tb.tb_frame.f_globals:
            found = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def undefined_expression(message: str) -> str | None:
    """`contact.city` of "contact.city is undefined", `first_name` of "'first_name' is
    undefined"; None for other messages."""
    if not message.endswith(" is undefined"):
        return None
    return message.removesuffix(" is undefined").strip("'")


def _undefined_hint(message: str) -> str | None:
    if not message.endswith(" is undefined"):
        return None
    expr = message.removesuffix(" is undefined").strip("'")
    return (
        f"test it ({{% if {expr} %}}...{{% endif %}}) or give it a default "
        f"({{{{ {expr} | default('') }}}})"
    )


def namespaced(label: str, values: Mapping[str, Any]) -> Namespace:
    """`values` as a Namespace, nested mappings too, so `vars.a.b` errors name themselves."""
    return Namespace(
        label,
        {
            key: namespaced(f"{label}.{key}", value) if isinstance(value, Mapping) else value
            for key, value in values.items()
        },
    )


class Renderer:
    """A campaign's compiled template, rendered once per contact."""

    def __init__(
        self,
        template: Template,
        origin: Origin,
        campaign_id: str,
        variables: Mapping[str, Any],
        campaign: Mapping[str, Any],
    ) -> None:
        self.template = template
        self.origin = origin
        self.campaign_id = campaign_id
        self.variables = namespaced("vars", variables)
        self.campaign = namespaced("campaign", campaign)
        self._base = {**template.globals, "vars": self.variables, "campaign": self.campaign}

    def __call__(self, fields: Mapping[str, str], recipient: str) -> str:
        # What Template.render does, minus merging the globals into a new dict per contact
        # (they are merged once, in __init__): this runs once or twice per contact.
        template = self.template
        variables = {**self._base, "contact": Namespace("contact", fields)}
        try:
            try:
                context = template.new_context(variables, shared=True)
                return "".join(template.root_render_func(context))
            except Exception:
                template.environment.handle_exception()  # re-raises with template lines
        except Exception as exc:  # a user's template: every failure is a diagnostic
            found = self._diagnostic(exc, recipient)
            if isinstance(found, RenderError):
                raise found from None
            raise RenderError(found) from None

    def _diagnostic(self, exc: Exception, recipient: str) -> Diagnostic | RenderError:
        path, line = self.origin.locate(*_template_frame(exc.__traceback__))
        who = f"campaign {self.campaign_id}, recipient {recipient}"
        if isinstance(exc, TemplateSyntaxError):
            path, line = self.origin.locate(exc.filename, exc.lineno)
            return _syntax_diagnostic(self.template.environment, self.origin, exc, path, line)
        elif isinstance(exc, TemplateFileError):
            return _file_diagnostic(exc, self.origin, path, line, f"{who}: ")
        elif isinstance(exc, TemplateNotFound):
            message = (
                f"{who}: template '{exc.name}' not found under {self.origin.templates_prefix}/"
            )
            hint = None
        elif isinstance(exc, SecurityError | OverflowError):
            message, hint = f"{who}: refused by the template sandbox: {exc}", SANDBOX_HINT
        elif isinstance(exc, UndefinedError):
            return self._undefined(exc, path, line, who)
        elif isinstance(exc, RecursionError):
            message, hint = f"{who}: template recursion is too deep", None
        else:
            message, hint = f"{who}: {type(exc).__name__}: {exc}", None
        return Diagnostic(path, line, None, message, hint)

    def _undefined(self, exc: UndefinedError, path: str, line: int, who: str) -> RenderError:
        from octoplan.suggest import closest

        message = exc.message or ""
        expr = undefined_expression(message)
        hint = _undefined_hint(message)
        col = None
        if expr is not None:
            label, _, name = expr.rpartition(".")
            col = self.origin.column(
                path, line, (expr, f"{label}['{name}']", f'{label}["{name}"]', name)
            )
            scope = {"vars": self.variables, "campaign": self.campaign}.get(label.split(".")[0])
            for part in label.split(".")[1:]:
                scope = scope.get(part) if isinstance(scope, Mapping) else None
            if isinstance(scope, Mapping):
                meant = closest(name, [str(k) for k in scope])
                if meant is not None:
                    hint = f"did you mean {label}.{meant}?"
        diagnostic = Diagnostic(path, line, col, f"{who}: {message}", hint)
        return RenderError(diagnostic, who=who, undefined=expr)
