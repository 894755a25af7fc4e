"""apply (octoplan/apply.py) when the state is lost while a cancellation is on the wire: the
API cancelled the scheduled send, the state file is gone before that could be recorded. What
the open connection held is written back, the apply stops there and says the cancellation is
not recorded, and nothing new is sent, then or by the next apply, until `octoplan state resolve
REQUEST --cancelled` settles it (then the replacement goes out once).

The real CLI and sandbox; the state file deleted for real while the sandbox holds the answer.
"""

from __future__ import annotations

from pathlib import Path

from octoplan.sandbox import SandboxServer
from octoplan.state.base import BatchRecord, BatchStatus
from octoplan.state.open import open_state
from tests.fixtures.project import MakeProject, run_cli, write_files
from tests.test_apply_edges import start_apply, wait_until

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"
PROMO = 'channel: sms\ntext: "Promo -30% STOP au 30101"\ncontacts: [contacts/customers.csv]\n'
NUMBERS = ["+33612340000", "+33612340001"]
THREE = [*NUMBERS, "+33612340002"]


def test_a_cancellation_the_state_could_not_record_is_told_and_nothing_new_is_sent(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(
        {
            "campaigns/promo.yaml": PROMO + "send_at: 2026-11-26T10:00:00+01:00\n",
            "contacts/customers.csv": "phone_number\n" + "".join(f"{n}\n" for n in NUMBERS),
        },
        CONFIG,
    )
    first = run_cli("apply", "--auto-approve", cwd=root, env=sandbox.env())
    assert first.returncode == 0, first.stdout + first.stderr
    [old] = {d.request_id for d in sandbox.deliveries()}
    write_files(root, {"campaigns/promo.yaml": PROMO + "send_at: 2026-11-27T11:00:00+01:00\n"})

    sandbox.set_faults(latency=2.0)  # each answer held 2 s: time to delete the state
    process = start_apply(root, sandbox.env(), "--auto-approve")
    wait_until(lambda: any(r.method == "DELETE" for r in sandbox.requests()), "the cancel request")
    (root / ".octoplan" / "state.db").unlink()
    out, err = process.communicate(timeout=120)
    sandbox.set_faults(latency=0.0)

    state = root / ".octoplan" / "state.db"
    assert process.returncode == 1, out + err
    assert (
        f"error: {state}: the state file was deleted while octoplan was using it; everything "
        "recorded up to then was written back to it from the open copy, and this command "
        "stopped there. Everything recorded before is kept in it: "
    ) in err
    assert (
        "Apply stopped: the state could not be written: 0 messages sent and recorded in 0 "
        "requests, cost 0.00 EUR.\n"
    ) in out
    assert (
        "  1 request (2 messages) cancelled by the API could not be recorded: the next apply "
        "tries to cancel them again, which the API refuses (they are cancelled already): once "
        "the Octopush account shows them cancelled, `octoplan state resolve REQUEST "
        "--cancelled` lets their recipients be sent again.\n"
    ) in out
    assert "  1 request not started: run `octoplan apply` again.\n" in out
    assert [r.method for r in sandbox.requests()].count("POST") == 1  # only the first apply's
    assert {(d.request_id, d.status) for d in sandbox.deliveries()} == {(old, "cancelled")}

    # The next apply asks again; the API answers that it cannot cancel (it did already). The
    # replacement still waits: a send it cannot prove cancelled is never doubled.
    rerun = run_cli("apply", "--auto-approve", cwd=root, env=sandbox.env())
    assert rerun.returncode == 1, rerun.stdout + rerun.stderr
    assert (
        f"  refused: promo request {old} (2 recipients): HTTP 400 code 132: Campaign can no "
        "longer be cancelled.\n"
        "    the scheduled send stays as state knows it, and this campaign's new sends wait. "
        "If the Octopush account shows it cancelled (an apply that could not record its cancel "
        f"leaves it so), run `octoplan state resolve {old} --cancelled`: the next apply sends "
        "to its recipients again\n"
        "  1 request not started: run `octoplan apply` again.\n"
    ) in rerun.stdout
    assert [r.method for r in sandbox.requests()].count("POST") == 1
    assert [d for d in sandbox.deliveries() if d.status != "cancelled"] == []

    # Settled by hand once the account shows it cancelled: the replacement goes out, once.
    resolved = run_cli("state", "resolve", old, "--cancelled", cwd=root)
    assert resolved.returncode == 0, resolved.stdout + resolved.stderr
    assert resolved.stdout == (
        f"Request {old} marked cancelled: the next plan sends to its recipients again.\n"
    )
    for _ in range(2):  # the second apply finds nothing left to do
        again = run_cli("apply", "--auto-approve", cwd=root, env=sandbox.env())
        assert again.returncode == 0, again.stdout + again.stderr
    assert [r.method for r in sandbox.requests()].count("DELETE") == 2  # no third cancel
    sent = [d for d in sandbox.deliveries() if d.status != "cancelled"]
    assert sorted(d.recipient for d in sent) == NUMBERS
    assert len({d.request_id for d in sent}) == 1 and old not in {d.request_id for d in sent}


def test_a_state_file_replaced_mid_apply_is_written_beside_it_and_the_lock_is_not_retried(
    make_project: MakeProject, sandbox: SandboxServer
) -> None:
    root = make_project(
        {
            "campaigns/promo.yaml": PROMO.replace("channel: sms", "batch_size: 1\nchannel: sms"),
            "contacts/customers.csv": "phone_number\n" + "".join(f"{n}\n" for n in THREE),
        },
        CONFIG,
    )
    sandbox.set_faults(latency=2.0)
    process = start_apply(root, sandbox.env(), "--auto-approve", "--concurrency", "1")
    wait_until(lambda: any(r.method == "POST" for r in sandbox.requests()), "the first send")
    state = root / ".octoplan" / "state.db"
    # The second request is journaled while the first is on the wire: its intent is on disk
    # before the file is replaced, so it leaves as the first answer comes in. The write that
    # records that answer (and journals the third) finds the fault: the third never leaves.
    wait_until(lambda: len(_batches(root)) == 2, "the second request journaled")
    other = root / "other.db"
    other.write_bytes(b"")  # another file takes the state's name: an empty one
    other.replace(state)
    out, err = process.communicate(timeout=120)
    sandbox.set_faults(latency=0.0)

    [spare] = sorted((root / ".octoplan").glob("state.db.recovered-*"))
    assert process.returncode == 1, out + err
    assert (
        f"error: {state}: the state file was replaced by another file while octoplan was using "
        f"it; everything this state recorded up to then was written to {spare}, and this "
        "command stopped there. Compare the two before going on. Everything recorded before is "
        "kept in it: "
    ) in err
    assert "Traceback" not in err and "internal error" not in err
    assert out.endswith(
        "Apply stopped: the state could not be written: 0 messages sent and recorded in 0 "
        "requests, cost 0.00 EUR.\n"
        f"  Environment: default, {sandbox.base_url}.\n"
        "  2 requests (2 messages) accepted by the API could not be recorded: the next apply "
        "resends them under the same request_id and the API confirms them as already received, "
        "without sending them again (within 23 h of their first attempt; after that they are in "
        "doubt, for `octoplan state resolve`).\n"
        "  1 request not started: run `octoplan apply` again.\n"
    )
    assert state.read_bytes() == b""  # the file put there is left as it was
    assert [d.recipient for d in sandbox.deliveries()] == THREE[:2]
    # Both left with their intent on disk: the copy holds them, to be resent under the same
    # request_id (and confirmed) if it is put back.
    sent = {d.request_id for d in sandbox.deliveries()}
    assert {(b.request_id, b.status) for b in _batches(root, spare)} == {
        (rid, BatchStatus.INTENT) for rid in sent
    }


def _batches(root: Path, path: Path | None = None) -> list[BatchRecord]:
    """The promo campaign's batches in a state file, read through a connection of its own."""
    store = open_state(str(path or root / ".octoplan" / "state.db"), root)
    try:
        return store.batches("promo")
    finally:
        store.close()
