from __future__ import annotations

from typing import cast

import click

from barriosms.cases import outbox
from barriosms.cli.common import (
    CliState,
    emit_json,
    json_option,
    limit_option,
    local_time,
    pass_state,
    short_time,
    table,
    wide_option,
)
from barriosms.store.models import Case


@click.group("outbox")
def outbox_group() -> None:
    """SMS waiting to leave, sent, or failed.

    Example: barriosms outbox list --status failed
    """


@outbox_group.command("list")
@click.option("--status", type=click.Choice(outbox.STATUSES), help="Only messages in this state.")
@limit_option
@wide_option
@json_option
@pass_state
def list_(state: CliState, status: str | None, limit: int | None, wide: bool, as_json: bool) -> None:
    """List outgoing SMS, newest first, with attempts and the last error.

    The table fits 80 columns (or the terminal): texts are cut with …, and the least needed
    columns are left out if need be; --wide shows everything.

    Example: barriosms outbox list --status queued --json
    """
    settings = state.open_db()
    zone = settings.zone
    rows = outbox.list_messages(status, limit)
    if as_json:
        emit_json([{
            "id": m.id, "to": m.recipient, "text": m.text, "status": m.status, "kind": m.kind,
            "attempts": m.attempts, "next_attempt_at": local_time(m.next_attempt_at, zone),
            "delivery": m.delivery or None, "delivered_at": local_time(m.delivered_at, zone),
            "last_error": m.last_error, "modem_reference": m.modem_reference, "parts": m.parts,
            "case": cast(Case, m.case).tracking if m.case_id else None, "urgent": m.urgent,
            "held": m.hold_reason or None,
            "created_at": local_time(m.created_at, zone), "sent_at": local_time(m.sent_at, zone),
        } for m in rows])
        return
    table(["id", "status", "delivery", "to", "tries", "created", "sent", "text", "error / waiting"],
          [[m.id, m.status, m.delivery or "-", m.recipient, m.attempts, short_time(m.created_at, zone),
            short_time(m.sent_at, zone), m.text, m.last_error or m.hold_reason] for m in rows],
          empty="the outbox is empty", shrink=["text", "error / waiting"], drop=["created", "delivery", "sent", "tries", "error / waiting"],
          wide=wide)


@outbox_group.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--failed", "all_failed", is_flag=True, help="Every failed message.")
@json_option
@pass_state
def retry(state: CliState, ids: tuple[int, ...], all_failed: bool, as_json: bool) -> None:
    """Queue failed messages again, with a fresh count of attempts (after fixing the cause).

    Example: barriosms outbox retry --failed
    """
    if not ids and not all_failed:
        raise click.UsageError("name message ids (see `barriosms outbox list --status failed`) or use --failed")
    state.open_db()
    count = outbox.retry(list(ids), all_failed=all_failed)
    if ids and count < len(ids):
        raise click.ClickException(f"{count} of {len(ids)} queued again: the others do not exist or have not failed")
    if as_json:
        emit_json({"queued_again": count})
    else:
        click.echo(f"{count} message(s) queued again; the daemon sends them within a second")
