"""`octoplan schema [--kind campaign|config]`: JSON Schema for editors' YAML language servers."""

from __future__ import annotations

import json
from typing import Literal

from octoplan.commands.context import AppContext
from octoplan.model import json_schema


def run(app: AppContext, kind: str) -> int:
    chosen: Literal["campaign", "config"] = "config" if kind == "config" else "campaign"
    app.echo(json.dumps(json_schema(chosen), indent=2, ensure_ascii=False))
    return 0
