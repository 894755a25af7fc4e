"""Write N synthetic French contacts as CSV: `python bench/gen_contacts.py N OUT.csv`.

Numbers are valid French mobiles in E.164 or national format, some rows lack a city, and each
has a per-contact code, so a benchmark exercises normalization, conditions and unique texts.
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

FIRST_NAMES = ("Axelle", "Bruno", "Chloé", "David", "Emma", "François", "Gaëlle", "Hugo")
CITIES = ("Paris", "Lyon", "Marseille", "Lille", "", "")


def main(count: int, out: Path) -> None:
    rng = random.Random(42)
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("phone_number", "first_name", "city", "code"))
        for index in range(count):
            digits = f"6{index:08d}"
            number = (
                f"+33{digits}"
                if index % 2
                else f"0{digits[0]} {digits[1:3]} {digits[3:5]} {digits[5:7]} {digits[7:]}"
            )
            writer.writerow((number, rng.choice(FIRST_NAMES), rng.choice(CITIES), f"C{index:07d}"))


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
