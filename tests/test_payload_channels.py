"""The request bodies of e-mail, RCS and live-chat campaigns (octoplan/payload.py), planned and
sent through the real CLI to the real sandbox, which keeps every body it receives: each is
asserted whole, byte for byte the body apply journaled before sending it. Then a scheduled
e-mail send is cancelled through multi-channel/cancel, which needs its channel.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from octoplan.sandbox import SandboxServer
from octoplan.state.base import BatchStatus
from octoplan.state.open import open_state
from tests.fixtures.project import MakeProject, run_cli, write_files
from tests.fixtures.sandbox import SandboxFactory

CONFIG = "region: FR\ndefaults: {sender: ShopX}\n"
NEWSLETTER = """\
channel: email
purpose: wholesale
text: "Bonjour {{ contact.first_name | default('à vous') }}, les nouveautés"
recipients:
  - {email: axelle.martin@example.com, first_name: Axelle}
  - {email: bruno.petit@example.com}
metadata:
  emailing_service: gateway
  email_from: news@shopx.example
  name_from: ShopX
  subject: Les nouveautés de décembre
  body_format: plain_text
  language: fr
"""
RCS = """\
channel: rcs
purpose: alert
sender: ShopX Officiel
text: "Bienvenue {{ contact.first_name }} !"
recipients:
  - {phone_number: "07 81 23 45 67", first_name: Fanny}
metadata:
  with_replies: true
  message_type: simple_text
  actions:
    - {type: url, title: Voir la boutique, url: "https://shopx.example"}
    - {type: reply, title: Me rappeler}
"""
CHAT = """\
channel: live_chat
purpose: alert
text: "Bonjour, votre échange est accepté."
recipients:
  - {conversation_id: 3f1c2a9e-8b7d-4c5e-9f0a-1b2c3d4e5f60}
  - {phone_number: "06 56 78 90 12", email: gilles.robert@example.com}
"""
CHAT_TEXT = "Bonjour, votre échange est accepté."
EMAIL_OPTIONS = {
    "body_format": "plain_text",
    "email_from": "news@shopx.example",
    "emailing_service": "gateway",
    "language": "fr",
    "name_from": "ShopX",
    "subject": "Les nouveautés de décembre",
}


def journal(root: Path) -> dict[str, tuple[str, str]]:
    """request_id -> (campaign, the body journaled before it was sent)."""
    store = open_state(".octoplan/state.db", root)
    try:
        return {b.request_id: (b.campaign_id, store.payload(b.request_id)) for b in store.batches()}
    finally:
        store.close()


def sent(server: SandboxServer, path: str) -> dict[str, bytes]:
    """request_id -> the body the sandbox received on `path`."""
    found: dict[str, bytes] = {}
    for method, where, raw in server.bodies():
        if (method, where) == ("POST", f"/v1/public/{path}"):
            found[json.loads(raw)["metadata"]["request_id"]] = raw
    return found


@pytest.fixture
def channels(make_project: MakeProject) -> Path:
    return make_project(
        {
            "campaigns/news.yaml": NEWSLETTER,
            "campaigns/rcs.yaml": RCS,
            "campaigns/chat.yaml": CHAT,
        },
        CONFIG,
    )


def test_email_rcs_and_live_chat_bodies_are_sent_as_planned_and_journaled(
    channels: Path, sandbox_factory: SandboxFactory
) -> None:
    server = sandbox_factory(keep_bodies=True)
    plan = run_cli("plan", "--format", "json", cwd=channels)
    assert plan.returncode == 0, plan.stderr
    planned = {
        b["request_id"]: c["id"] for c in json.loads(plan.stdout)["campaigns"] for b in c["batches"]
    }
    applied = run_cli("apply", "--auto-approve", cwd=channels, env=server.env())
    assert applied.returncode == 0, applied.stdout + applied.stderr

    journaled = journal(channels)
    received = sent(server, "multi-channel/send")
    # What was planned is what was journaled is what was sent, byte for byte.
    assert {rid: campaign for rid, (campaign, _) in journaled.items()} == planned
    assert received == {rid: body.encode() for rid, (_, body) in journaled.items()}

    def body_of(campaign: str, recipients: list[dict[str, str]]) -> dict[str, Any]:
        matches: list[dict[str, Any]] = [
            json.loads(raw)
            for rid, raw in received.items()
            if planned[rid] == campaign and json.loads(raw)["recipients"] == recipients
        ]
        [found] = matches
        return found

    def rid(body: dict[str, Any]) -> str:
        value: str = body["metadata"]["request_id"]
        assert value.startswith("op-") and planned[value]
        return value

    axelle = body_of("news", [{"email": "axelle.martin@example.com"}])
    assert axelle == {
        "channel": "email",
        "metadata": {**EMAIL_OPTIONS, "request_id": rid(axelle)},
        "purpose": "wholesale",
        "recipients": [{"email": "axelle.martin@example.com"}],
        "sender": "ShopX",
        "text": "Bonjour Axelle, les nouveautés",
    }
    bruno = body_of("news", [{"email": "bruno.petit@example.com"}])
    assert bruno == {
        "channel": "email",
        "metadata": {**EMAIL_OPTIONS, "request_id": rid(bruno)},
        "purpose": "wholesale",
        "recipients": [{"email": "bruno.petit@example.com"}],
        "sender": "ShopX",
        "text": "Bonjour à vous, les nouveautés",
    }
    rcs = body_of("rcs", [{"phone_number": "+33781234567"}])
    assert rcs == {
        "channel": "rcs",
        "metadata": {
            "actions": [
                {"title": "Voir la boutique", "type": "url", "url": "https://shopx.example"},
                {"title": "Me rappeler", "type": "reply"},
            ],
            "message_type": "simple_text",
            "request_id": rid(rcs),
            "with_replies": True,
        },
        "purpose": "alert",
        "recipients": [{"phone_number": "+33781234567"}],
        "sender": "ShopX Officiel",
        "text": "Bienvenue Fanny !",
    }
    # Live chat: contact data (first_name...) never travels; each address does, normalized.
    chat_recipients = [
        {"email": "gilles.robert@example.com", "phone_number": "+33656789012"},
        {"conversation_id": "3f1c2a9e-8b7d-4c5e-9f0a-1b2c3d4e5f60"},
    ]
    chat = body_of("chat", chat_recipients)
    assert chat == {
        "channel": "live_chat",
        "metadata": {"request_id": rid(chat)},
        "purpose": "alert",
        "recipients": chat_recipients,
        "sender": "ShopX",
        "text": "Bonjour, votre échange est accepté.",
    }
    delivered = {(d.channel, d.recipient, d.text) for d in server.deliveries()}
    assert delivered == {
        ("email", "axelle.martin@example.com", "Bonjour Axelle, les nouveautés"),
        ("email", "bruno.petit@example.com", "Bonjour à vous, les nouveautés"),
        ("rcs", "+33781234567", "Bienvenue Fanny !"),
        ("live_chat", "3f1c2a9e-8b7d-4c5e-9f0a-1b2c3d4e5f60", CHAT_TEXT),
        ("live_chat", "+33656789012", CHAT_TEXT),
    }
    # Applied again: nothing planned, nothing sent.
    again = run_cli("apply", "--auto-approve", cwd=channels, env=server.env())
    assert again.returncode == 0, again.stderr
    assert len(sent(server, "multi-channel/send")) == 4


def test_a_scheduled_email_is_cancelled_with_its_channel(
    make_project: MakeProject, sandbox_factory: SandboxFactory
) -> None:
    later = NEWSLETTER + "send_at: 2026-11-27T10:00:00+01:00\n"
    root = make_project({"campaigns/news.yaml": later}, CONFIG)
    server = sandbox_factory(keep_bodies=True)
    assert run_cli("apply", "--auto-approve", cwd=root, env=server.env()).returncode == 0
    tickets = sorted(d.ticket or "" for d in server.deliveries())
    assert len(set(tickets)) == 2 and all(t.startswith("email_") for t in tickets)

    write_files(root, {"campaigns/news.yaml": later + "enabled: false\n"})
    result = run_cli("apply", "--auto-approve", cwd=root, env=server.env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 scheduled requests cancelled." in result.stdout
    cancels = [
        json.loads(raw)
        for method, path, raw in server.bodies()
        if (method, path) == ("DELETE", "/v1/public/multi-channel/cancel")
    ]
    assert sorted(cancels, key=lambda b: b["ticket_number"]) == [
        {"channel": "email", "ticket_number": ticket} for ticket in tickets
    ]
    assert {d.status for d in server.deliveries()} == {"cancelled"}
    store = open_state(".octoplan/state.db", root)
    try:
        assert {b.status for b in store.batches("news")} == {BatchStatus.CANCELLED}
    finally:
        store.close()
