"""Write N synthetic French contacts as CSV: `python bench/gen_contacts.py N OUT.csv [--mixed]`.

Numbers are valid French mobiles, some rows lack a city, and each has a per-contact code, so a
benchmark exercises normalization, conditions and unique texts.

Two data sets (issue 20 asks for both in the reports):
- sorted (default): numbers in ascending order, half E.164, half national with spaces,
  sequential codes: the friendliest shape, comparable with every earlier figure;
- `--mixed`: what a real export looks like: four number formats mixed at random (E.164,
  `06…` without spaces, `+33 6 … ` with spaces, `0033…`), accented first and last names, empty
  cells (last name and city: the template of scale.py tests the city, a first name is never
  empty there), random alphanumeric codes and the rows in random order.
"""

from __future__ import annotations

import csv
import random
import string
import sys
from pathlib import Path

FIRST_NAMES = ("Axelle", "Bruno", "Chloé", "David", "Emma", "François", "Gaëlle", "Hugo")
CITIES = ("Paris", "Lyon", "Marseille", "Lille", "", "")

MIXED_FIRST = (
    *FIRST_NAMES, "Inès", "Jérôme", "Léa", "Maëlys", "Noé", "Océane", "Zoé", "Anaïs", "Benoît",
    "Cécile", "Élodie", "Hélène", "Loïc", "Mathéo", "Raphaël", "Stéphane", "Thaïs",
)  # fmt: skip
MIXED_LAST = (
    "Martin", "Bernard", "Dubois", "Lefèvre", "Mercier", "Girard", "Lemaître", "Faure",
    "Rousseau", "Gauthier", "Brûlé", "Perrot", "Chevalier", "Lefèbvre", "Château", "",
)  # fmt: skip
MIXED_CITIES = (*CITIES, "Saint-Étienne", "Besançon", "Nîmes", "Orléans", "Créteil", "")
CODE_ALPHABET = string.ascii_uppercase + string.digits


def _mixed_number(digits: str, rng: random.Random) -> str:
    """`digits` is the national number without its 0 ("6" + 8 digits), written as people do."""
    form = rng.randrange(4)
    if form == 0:
        return f"+33{digits}"
    if form == 1:
        return f"0{digits}"
    if form == 2:
        return f"+33 {digits[0]} {digits[1:3]} {digits[3:5]} {digits[5:7]} {digits[7:]}"
    return f"0033{digits}"


def main(count: int, out: Path, mixed: bool = False) -> None:
    rng = random.Random(42)
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if not mixed:
            writer.writerow(("phone_number", "first_name", "city", "code"))
            for index in range(count):
                digits = f"6{index:08d}"
                number = (
                    f"+33{digits}"
                    if index % 2
                    else f"0{digits[0]} {digits[1:3]} {digits[3:5]} {digits[5:7]} {digits[7:]}"
                )
                writer.writerow(
                    (number, rng.choice(FIRST_NAMES), rng.choice(CITIES), f"C{index:07d}")
                )
            return
        writer.writerow(("phone_number", "first_name", "last_name", "city", "code"))
        order = list(range(count))
        rng.shuffle(order)  # rows in random order; every number still appears once
        for index in order:
            code = "".join(rng.choices(CODE_ALPHABET, k=8))
            writer.writerow(
                (
                    _mixed_number(f"6{index:08d}", rng),
                    rng.choice(MIXED_FIRST),
                    rng.choice(MIXED_LAST),
                    rng.choice(MIXED_CITIES),
                    code,
                )
            )


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]), mixed="--mixed" in sys.argv[3:])
