from __future__ import annotations

from octoplan.cli import main

main()
