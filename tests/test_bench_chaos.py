"""bench/chaos.py in a small configuration, so the script CI does not run large keeps working:
a hundred recipients, a few SIGKILLs and a SIGTERM, faults on (4xx after lost answers, a key
rotated); it exits 0 only with 0 duplicates and 0 lost, and every SIGTERMed apply exiting 143
(or with its own 0 or 1, when it was already ending).
(tests/test_apply_crash.py runs the same drill on both backends; the large run's figures are in
the notes.)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Kills land 0.3 to 0.9 s into an apply: a whole apply of 100 recipients can take about a
# second, so an apply may finish before its kill (the script then stops killing).
# The key is rotated during every third apply, so that a small run rotates it too.
SMALL = [
    "--recipients", "100", "--kills", "3", "--batch", "10", "--kill-after", "0.3", "0.9",
    "--rotate-every", "3",
]  # fmt: skip


def test_small_chaos_run_delivers_each_message_exactly_once() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "chaos.py"), *SMALL],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    figures = dict(re.findall(r"^(\S.*?)\s{2,}(.*)$", result.stdout, re.MULTILINE))
    assert figures["recipients"] == "100"
    kills = re.search(r"\((\d+) SIGKILLed", figures["apply runs"])
    assert kills is not None and int(kills.group(1)) >= 1, figures["apply runs"]
    assert (figures["duplicates"], figures["lost"], figures["wrong text"]) == ("0", "0", "0")
    # Each SIGTERMed apply exited 143, or its own 0/1 when it was already ending, never else.
    terms = re.fullmatch(
        r"(\d+) of (\d+) with 143 \((\d+) ended on their own first\)", figures["SIGTERM exits"]
    )
    assert terms is not None, figures["SIGTERM exits"]
    assert int(terms.group(1)) + int(terms.group(3)) == int(terms.group(2))
