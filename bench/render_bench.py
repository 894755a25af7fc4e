"""Render and count N CSV contacts with a personalized template; print contacts/s and peak RSS.

    python bench/render_bench.py [N]      (default 200,000)

Builds a throwaway project (one SMS campaign, a template using contact.first_name, a condition
on contact.city and a per-contact code), then times `desired.build_campaign`: reading the CSV,
normalizing numbers, rendering, personalization, SMS counting, policies and cost.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gen_contacts import main as generate
from octoplan.desired import build_campaign
from octoplan.loader import load_project

TEMPLATE = (
    "Bonjour {{ contact.first_name }},\n"
    "{% if contact.city %}Votre magasin de {{ contact.city }} vous attend. {% endif %}"
    "Code {{ contact.code }} : -20% avec {{ vars.brand }}. STOP au 30101\n"
)


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "contacts").mkdir()
        (root / "templates").mkdir()
        (root / "campaigns").mkdir()
        (root / "octoplan.yaml").write_text("region: FR\nvars: {brand: ShopX}\n", encoding="utf-8")
        (root / "templates" / "promo.sms.j2").write_text(TEMPLATE, encoding="utf-8")
        (root / "campaigns" / "promo.yaml").write_text(
            "channel: sms\npurpose: wholesale\nsender: ShopX\ntemplate: promo.sms.j2\n"
            "contacts: [contacts/big.csv]\n",
            encoding="utf-8",
        )
        generate(count, root / "contacts" / "big.csv")
        project = load_project(root)
        start = time.perf_counter()
        desired = build_campaign(project, project.campaigns[0])
        elapsed = time.perf_counter() - start
    assert not desired.errors, desired.errors[:3]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    parts = sum(m.segments for m in desired.messages)
    print(f"contacts: {count:,}  messages: {len(desired.messages):,}  SMS parts: {parts:,}")
    print(f"time: {elapsed:.2f} s  rate: {count / elapsed:,.0f} contacts/s")
    print(f"peak RSS: {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
