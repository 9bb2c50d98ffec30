"""`barriosms events`: what other systems were told ([events]), and what waits for a receiver."""

from __future__ import annotations

import json

import click

from barriosms.cases import events as case_events
from barriosms.cli.common import CliState, clip, emit_json, json_option, limit_option, local_time, pass_state, short_time, table
from barriosms.operations import eventdelivery
from barriosms.store.models import Event, EventCursor


@click.group("events")
def events_group() -> None:
    """Events for other systems: each change, delivered in order to [events] command and webhook.

    Example: barriosms events list --failed
    """


@events_group.command("list")
@click.option("--failed", is_flag=True, help="Only events a failing receiver has not taken yet.")
@limit_option
@json_option
@pass_state
def list_(state: CliState, failed: bool, limit: int | None, as_json: bool) -> None:
    """List events, newest first, with which receivers took each one.

    A receiver takes events in order: one that fails waits at its first untaken event (the
    error is shown) and is tried again by itself, with a growing pause; `barriosms events retry`
    tries at once. Events every receiver took are deleted after 30 days.

    Example: barriosms events list --limit 20
    """
    settings = state.open_db()
    zone = settings.zone
    targets = settings.events.targets
    # Read only: the running gateway starts a new receiver's cursor (with the events from then on).
    found = {t: EventCursor.get_or_none(EventCursor.target == t) for t in targets}
    cursors = {t: c for t, c in found.items() if c is not None}
    not_started = [t for t, c in found.items() if c is None]
    q = Event.select().order_by(Event.id.desc())
    if failed:
        stuck = [c.last_event_id for c in cursors.values() if c.last_error]
        if not stuck:
            q = q.where(Event.id < 0)
        else:
            q = q.where(Event.id > min(stuck))
    rows = list(q.limit(limit or 50))

    def taken_by(event: Event) -> dict[str, str]:
        state_of = {}
        for target, c in cursors.items():
            if event.id <= c.last_event_id:
                state_of[target] = "taken"
            elif c.last_error and event.id == c.last_event_id + 1:
                state_of[target] = f"failing: {c.last_error}"
            else:
                state_of[target] = "waiting"
        return state_of

    if as_json:
        emit_json({"not_started": not_started, "receivers": [{"target": t, "last_event_id": c.last_event_id, "attempts": c.attempts,
                                  "error": c.last_error or None, "failing_since": local_time(c.failing_since, zone),
                                  "next_attempt_at": local_time(c.next_attempt_at, zone),
                                  "waiting": eventdelivery.waiting(t)} for t, c in cursors.items()],
                   "events": [{**case_events.as_json(e), "receivers": taken_by(e)} for e in rows]})
        return
    if not targets:
        click.echo("no receiver is configured ([events] command, webhook_url): events are kept 30 days")
    for target in not_started:
        click.echo(f"{target}: not started yet (the gateway starts it when it runs with this configuration)")
    for target, c in cursors.items():
        line = f"{target}: {eventdelivery.waiting(target)} waiting"
        if c.last_error:
            line += (f"; failing since {short_time(c.failing_since, zone)} ({c.attempts} attempts): {c.last_error}; "
                     f"next try {short_time(c.next_attempt_at, zone)}")
        click.echo(line)
    table(["id", "at", "kind", "data", *cursors],
          [[e.id, short_time(e.at, zone), e.kind, clip(json.dumps(json.loads(e.payload), ensure_ascii=False), 50),
            *(clip(s, 30) for s in taken_by(e).values())] for e in rows],
          empty="no events" + (" a failing receiver waits for" if failed else ""), shrink=["data"])


@events_group.command()
@json_option
@pass_state
def retry(state: CliState, as_json: bool) -> None:
    """Try the failing receivers again now, instead of after their pause (the daemon does it).

    Example: barriosms events retry
    """
    state.open_db()
    count = eventdelivery.retry_now()
    if as_json:
        emit_json({"receivers_retried": count})
        return
    click.echo(f"{count} receiver(s) will be tried again within seconds by the running gateway" if count
               else "no receiver is waiting to be tried again")
