"""The hand-written script octoplan is compared with (issue 7): read the CSV, parse each number
with phonenumbers, render the Jinja2 template per contact, build one request per contact.

    python bench/baseline.py PROJECT_DIR

Prints `contacts N requests N`. It sends nothing: what is timed is the planning a script does.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import jinja2
import phonenumbers


def main(root: Path) -> None:
    template = jinja2.Environment().from_string(
        (root / "templates" / "promo.sms.j2").read_text(encoding="utf-8")
    )
    brand = {"brand": "ShopX"}
    requests = contacts = 0
    with (root / "contacts" / "big.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            contacts += 1
            number = phonenumbers.parse(row["phone_number"], "FR")
            if not phonenumbers.is_valid_number(number):
                continue
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            text = template.render(contact=row, vars=brand)
            body = {"text": text, "recipients": [{"phone_number": e164}], "sender": "ShopX"}
            json.dumps(body)
            requests += 1
    print(f"contacts {contacts} requests {requests}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
