from __future__ import annotations

from octoplan import signals

signals.install()  # before the heavier imports below

from octoplan.cli import main  # noqa: E402

main()
