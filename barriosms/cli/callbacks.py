"""`barriosms callbacks`: residents who called the municipal SIM and wait for a call back."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import click

from barriosms.cases import callbacks
from barriosms.cli.common import (
    CliState,
    audited,
    emit_json,
    json_option,
    limit_option,
    local_time,
    pass_state,
    short_time,
    table,
    wide_option,
)
from barriosms.store.models import Callback, Case, OutboundMessage


def callback_dict(callback: Callback, zone: ZoneInfo) -> dict:
    sms: OutboundMessage | None = callback.sms
    case: Case | None = callback.case
    return {
        "id": callback.id,
        "phone": callback.phone or None,  # None: the caller withheld the number
        "calls": callback.calls,
        "first_call_at": local_time(callback.first_call_at, zone),
        "last_call_at": local_time(callback.last_call_at, zone),
        "status": callback.status,
        "sms": {"id": sms.id, "status": sms.status, "text": sms.text} if sms is not None else None,
        "done_at": local_time(callback.done_at, zone),
        "done_by": callback.done_by or None,
        "note": callback.note or None,
        "case": case.tracking if case is not None else None,
    }


def _sms_cell(callback: Callback) -> str:
    if callback.sms is not None:
        return callback.sms.status
    return "none (withheld)" if not callback.phone else "none"


def _run(action):
    try:
        return action()
    except callbacks.CallbackError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("callbacks")
def callbacks_group() -> None:
    """Missed calls: residents who called the municipal number and wait to be called back.

    The gateway hangs up (the call costs nothing), records the request and sends one SMS;
    repeated calls within [service] callback_window_hours count on the same request.

    Example: barriosms callbacks list --pending
    """


@callbacks_group.command("list")
@click.option("--pending", is_flag=True, help="Only the requests still to be called back.")
@limit_option
@wide_option
@json_option
@pass_state
def list_(state: CliState, pending: bool, limit: int | None, wide: bool, as_json: bool) -> None:
    """List callback requests, the newest call first: phone, calls, the SMS, who called back.

    Example: barriosms callbacks list --pending --json
    """
    settings = state.open_db()
    zone = settings.zone
    rows = callbacks.list_callbacks(pending=pending, limit=limit)
    if as_json:
        emit_json([callback_dict(c, zone) for c in rows])
        return
    table(["id", "phone", "calls", "first call", "last call", "status", "sms", "done by", "case", "note"],
          [[c.id, c.phone or "withheld", c.calls, short_time(c.first_call_at, zone), short_time(c.last_call_at, zone),
            c.status, _sms_cell(c), c.done_by or "-", c.case.tracking if c.case is not None else "-", c.note or "-"]
           for c in rows],
          empty="no callback request is pending" if pending else "no missed call yet",
          wide=wide, shrink=("note",), drop=("note", "case", "done by", "first call"))


@callbacks_group.command()
@click.argument("callback_id", metavar="ID", type=int)
@click.option("--note", default="", help="What was agreed on the phone (kept with the request).")
@click.option("--case", "tracking", metavar="TRACKING", help="The case the call led to (opened on the phone).")
@json_option
@pass_state
def done(state: CliState, callback_id: int, note: str, tracking: str | None, as_json: bool) -> None:
    """Mark a callback request done: staff called the resident back.

    Example: barriosms callbacks done 12 --note "bache en la calle 3, se abrio reclamo" --case 2408917
    """
    settings = state.open_db()
    with audited("callbacks.done", str(callback_id)) as entry:
        callback = _run(lambda: callbacks.mark_done(callback_id, actor=entry.actor, note=note, tracking=tracking))
        entry.target = f"{callback.id} {callback.phone or 'withheld'}"
        entry.detail = "; ".join(part for part in (f"case {tracking.strip()}" if tracking else "", callback.note) if part)
    if as_json:
        emit_json(callback_dict(callback, settings.zone))
        return
    linked = f", linked to case {callback.case.tracking}" if callback.case is not None else ""
    click.echo(f"callback request {callback.id} ({callback.phone or 'withheld number'}) done{linked}")
