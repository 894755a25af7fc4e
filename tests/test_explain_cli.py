"""`octoplan explain` (octoplan/explain.py) agrees with `plan` on the frequency cap: a recipient
the next apply skips for the cap is "capped", not "to send"; once the window has passed, it is
to send again. The real CLI and sandbox."""

from __future__ import annotations

from octoplan.sandbox import SandboxServer
from tests.fixtures.project import MakeProject, run_cli, write_files

CONFIG = "region: FR\ndefaults: {sender: ShopX}\npolicies:\n  frequency_cap: {max: 1, days: 7}\n"
PROMO = 'channel: sms\ntext: "Promo -30% STOP au 30101"\ncontacts: [contacts/customers.csv]\n'
TUESDAY = "2026-11-24T10:00:00+01:00"


def test_explain_says_capped_where_plan_skips_for_the_cap(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(
        {"campaigns/a.yaml": PROMO, "contacts/customers.csv": "phone_number\n+33612340000\n"},
        CONFIG,
    )
    env = {**sandbox.env(), "OCTOPLAN_NOW": TUESDAY}
    assert run_cli("apply", "--auto-approve", cwd=root, env=env).returncode == 0
    write_files(root, {"campaigns/b.yaml": PROMO.replace("-30%", "-50%")})
    plan = run_cli("plan", cwd=root, env=env)
    assert "1 skipped (frequency cap)" in plan.stdout, plan.stdout

    explained = run_cli("explain", "06 12 34 00 00", cwd=root, env=env)
    assert explained.returncode == 0, explained.stderr
    assert explained.stdout.endswith(
        "b (sms, marketing; campaigns/b.yaml): capped\n"
        "    over the frequency cap (1 marketing message in 7 days): the next apply skips it\n"
    )
    later = {**env, "OCTOPLAN_NOW": "2026-12-02T10:00:00+01:00"}  # eight days on
    assert "skipped" not in run_cli("plan", cwd=root, env=later).stdout
    again = run_cli("explain", "+33612340000", cwd=root, env=later)
    assert again.stdout.endswith(
        "b (sms, marketing; campaigns/b.yaml): to send\n"
        "    in the audience: the next apply sends it\n"
    )
