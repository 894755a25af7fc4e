"""octoplan: campaigns-as-code for the Octopush messaging API."""

from __future__ import annotations

# The one place the version is written: pyproject.toml reads it (dynamic version), `octoplan
# --version` prints it, plan files record it. Bump it with a CHANGELOG.md section.
__version__ = "0.1.0"
