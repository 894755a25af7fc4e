"""octoplan: campaigns-as-code for the Octopush messaging API."""

from __future__ import annotations

__version__ = "0.1.0"
