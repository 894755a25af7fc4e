"""Numbers that replied STOP, at plan time: never sent marketing again.

A STOP reply (received by `octoplan receive`, see octoplan/events.py) opts the number out of
every later marketing send of the project (purpose `wholesale`, or omitted) on every channel
that reaches it by its number: sms, voice_sms and rcs. Transactional sends (`purpose: alert`),
e-mail and live chat are not affected. `exclude:` lists keep working beside it.

The planner reads the opted-out numbers once per plan (`StateStore.opted_out`) and takes them
out of what a campaign would send; with no opt-out in state this costs nothing, and with some
it is two passes at C speed over the recipients still to send.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from datetime import datetime
from itertools import compress

from octoplan.mask import mask_recipient
from octoplan.phones import PHONE_CHANNELS
from octoplan.words import plural

SHOWN = 5  # opted-out recipients named in a note (all are counted)


def applies(marketing: bool, channel: str) -> bool:
    return marketing and channel in PHONE_CHANNELS


def without_opted_out(
    keys: Sequence[str], to_send: Sequence[int], opted_out: Mapping[str, datetime]
) -> tuple[Sequence[int], list[tuple[str, datetime]]]:
    """(`to_send` without the opted-out recipients, those recipients with their STOP date)."""
    if not opted_out or not to_send:
        return to_send, []
    flags = bytearray(map(opted_out.__contains__, keys))  # one pass at C speed
    if 1 not in flags:
        return to_send, []
    # `to_send` is in ascending order: as long as `keys`, it is every recipient.
    chosen = flags if len(to_send) == len(keys) else bytes(map(flags.__getitem__, to_send))
    kept = list(compress(to_send, map(operator.not_, chosen)))
    hits = [keys[i] for i in compress(to_send, chosen)]
    return kept, sorted((key, opted_out[key]) for key in hits)


def stop_day(moment: datetime) -> str:
    """The date of a STOP as the people who sent it saw it (Europe/Paris, like callbacks)."""
    from octoplan.events import CALLBACK_TIMEZONE  # only with opt-outs to tell of

    return moment.astimezone(CALLBACK_TIMEZONE).date().isoformat()


def note(opted: Sequence[tuple[str, datetime]]) -> str:
    """The plan's note, recipients masked: "2 recipients opted out by STOP reply: ..." """
    shown = [f"{mask_recipient(key)} on {stop_day(at)}" for key, at in opted[:SHOWN]]
    more = f" and {len(opted) - SHOWN:,} more" if len(opted) > SHOWN else ""
    if len(opted) == 1:
        key, at = opted[0]
        return (
            f"1 recipient opted out by STOP reply on {stop_day(at)} ({mask_recipient(key)}): "
            "not sent"
        )
    return (
        f"{plural(len(opted), 'recipient')} opted out by STOP reply: "
        f"{', '.join(shown)}{more}: not sent"
    )
