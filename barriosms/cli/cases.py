from __future__ import annotations

from typing import Protocol
from zoneinfo import ZoneInfo

import click

from barriosms.cases import casework, editing
from barriosms.cli.common import (
    STATUS,
    STATUS_HELP,
    CliState,
    actor,
    audited,
    emit_json,
    json_option,
    limit_option,
    local_time,
    pass_state,
    phone_option,
    short_time,
    table,
    typed_phone,
    wide_option,
)
from barriosms.domain.errors import TemplateError
from barriosms.pipeline import conversations
from barriosms.store.models import Case, OutboundMessage
from barriosms.templates.loader import load_categories


def case_dict(case: Case, zone: ZoneInfo) -> dict:
    return {
        "tracking": case.tracking,
        "status": case.status,
        "merged_into": case.merged_into.tracking if case.merged_into_id else None,
        "assignee": case.assignee,
        "neighborhood": case.neighborhood.code,
        "neighborhood_name": case.neighborhood.name,
        "category": case.category,
        "channel": case.channel,
        "point": [case.lat, case.lon] if case.lat is not None else None,
        "phone": case.phone,
        "text": case.text,
        "created_at": local_time(case.created_at, zone),
        "updated_at": local_time(case.updated_at, zone),
        "resolved_at": local_time(case.resolved_at, zone),
        "awaiting_resident": case.awaiting_resident,
        "unseen_replies": case.unseen_replies,
    }


def change_dict(change: casework.CaseChange, zone: ZoneInfo) -> dict:
    data = case_dict(change.case, zone)
    data["notifications"] = [{"id": m.id, "to": m.recipient, "text": m.text, "status": m.status}
                             for m in change.notifications]
    data["not_notified"] = [{"phone": p, "why": why} for p, why in change.skipped.items()]
    return data


class _Told(Protocol):
    """What a case action queued: a CaseChange, or an edit's CaseEdit."""

    @property
    def notifications(self) -> list[OutboundMessage]: ...

    @property
    def skipped(self) -> dict[str, str]: ...


def echo_notifications(change: _Told) -> None:
    for m in change.notifications:
        click.echo(f"SMS queued to {m.recipient}: {m.text}")
    for phone, why in change.skipped.items():
        click.echo(f"no SMS to {phone}: {why}")
    if not change.notifications and not change.skipped:
        click.echo("no SMS: nobody to tell")


def _run(action):
    try:
        return action()
    except casework.CaseError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def cases() -> None:
    """Residents' reports: list, inspect, move along.

    Example: barriosms cases status 1234567 in_progress --note "Cuadrilla asignada"
    """


@cases.command("list")
@click.option("--status", type=STATUS, help=f"Only cases in this status: {STATUS_HELP}.")
@click.option("--neighborhood", metavar="CODE", help="Only cases of this neighbourhood code.")
@click.option("--category", metavar="C", help="Only cases of this category (vias, agua, ...).")
@click.option("--assignee", metavar="WHO", help="Only cases assigned to this team or person (\"\" for unassigned).")
@click.option("--has-new-replies", is_flag=True,
              help="Only cases with residents' answers not yet seen with `cases show`.")
@phone_option("Only cases this phone reported (first, or later as the same problem).")
@limit_option
@wide_option
@json_option
@pass_state
def list_(state: CliState, status: str | None, neighborhood: str | None, category: str | None,
          assignee: str | None, has_new_replies: bool, phone: str | None, limit: int | None, wide: bool,
          as_json: bool) -> None:
    """List cases, newest first.

    The REPLIES column: "2 new" answers from residents not yet seen, "waiting" while a question
    asked with `cases ask` has no answer. The table fits 80 columns (or the terminal): long texts
    are cut with …, and PHONE, ASSIGNEE, REPLIES are left out if need be (empty ones first);
    --wide shows everything.
    A status may be given in Spanish: en_proceso, "en revisión", ...

    Example: barriosms cases list --status recibido --neighborhood B12 --phone "7123 4567"
    """
    settings = state.open_db()
    number = typed_phone(phone, settings.gateway.region) if phone is not None else None
    if has_new_replies:
        rows = _with_new_replies(status, neighborhood, category, assignee, number, limit)
    else:
        rows = _run(lambda: casework.list_cases(status=status, neighborhood=neighborhood, category=category,
                                                assignee=assignee, phone=number, limit=limit))
    if as_json:
        emit_json([case_dict(c, settings.zone) for c in rows])
        return
    table(["tracking", "status", "hood", "category", "assignee", "created", "replies", "phone", "text"],
          [[c.tracking, c.status + (f" (-> {c.merged_into.tracking})" if c.merged_into_id else ""),
            c.neighborhood.code, c.category, c.assignee or "-", short_time(c.created_at, settings.zone),
            _replies_cell(c), c.phone, c.text] for c in rows],
          empty="no case has new replies" if has_new_replies else "no cases match",
          shrink=["text", "assignee", "status"], drop=["phone", "assignee", "replies"], wide=wide)


def _with_new_replies(status: str | None, neighborhood: str | None, category: str | None, assignee: str | None,
                      phone: str | None, limit: int | None) -> list[Case]:
    """Cases with unseen answers (few), filtered as `casework.list_cases` filters."""
    code = neighborhood.strip().upper().replace("-", "").replace(" ", "") if neighborhood else None
    reported = {case_id for (case_id,) in casework.reported_by(phone).tuples()} if phone else None
    rows = [c for c in conversations.cases_with_new_replies()
            if (reported is None or c.id in reported)
            and (not status or c.status == status) and (not code or c.neighborhood.code == code)
            and (not category or c.category == category.strip().lower())
            and (assignee is None or c.assignee == assignee.strip())]
    return rows[:limit] if limit else rows


def _replies_cell(case: Case) -> str:
    marks = ([f"{case.unseen_replies} new"] if case.unseen_replies else []) + (
        ["waiting"] if case.awaiting_resident else [])
    return ", ".join(marks) or "-"


_DIRECTION = casework.DIRECTION


@cases.command()
@click.argument("tracking")
@click.option("--keep-unseen", is_flag=True, help="Leave the residents' answers counted as new (see `cases list "
              "--has-new-replies`).")
@json_option
@pass_state
def show(state: CliState, tracking: str, keep_unseen: bool, as_json: bool) -> None:
    """Show one case with its history, its conversation with the residents and every SMS in and out.

    Showing a case counts the residents' answers as seen: it leaves `cases list --has-new-replies`
    (unless --keep-unseen).

    Example: barriosms cases show 1234567
    """
    settings = state.open_db()
    zone = settings.zone
    try:
        case = casework.find_case(tracking)
    except casework.CaseError as exc:
        raise click.ClickException(str(exc)) from None
    events = casework.history(case)
    inbound, outbound = casework.messages(case)
    people = casework.reporters(case)
    asked = conversations.conversation(case)
    if case.unseen_replies and not keep_unseen:
        conversations.mark_seen(case)
    if as_json:
        data = case_dict(case, zone)
        data["reporters"] = [{"phone": r.phone, "how": r.how, "since": local_time(r.joined_at, zone)} for r in people]
        data["history"] = [{"at": local_time(e.at, zone), "kind": e.kind, "from": e.old_status, "to": e.new_status,
                            "note": e.note, "public": e.public, "by": e.actor, "direction": _DIRECTION.get(e.kind)}
                           for e in events]
        data["conversation"] = [{"kind": q.kind, "phone": q.phone, "text": q.text, "by": q.actor,
                                 "asked_at": local_time(q.asked_at, zone), "status": q.status,
                                 "expires_at": local_time(q.expires_at, zone),
                                 "answered_at": local_time(q.answered_at, zone), "answer": q.answer or None}
                                for q in asked]
        data["messages"] = (
            [{"direction": "in", "at": local_time(m.received_at, zone), "phone": m.phone, "text": m.text,
              "parts": m.parts, "incomplete": m.incomplete} for m in inbound]
            + [{"direction": "out", "at": local_time(m.sent_at or m.created_at, zone), "phone": m.recipient,
                "text": m.text, "status": m.status, "delivery": m.delivery or None, "attempts": m.attempts,
                "error": m.last_error}
               for m in outbound])
        # One list in time order for readers of the whole story; the keys above stay for existing scripts.
        data["timeline"] = [{"at": local_time(at, zone), **entry} for at, entry in casework.timeline(events, inbound, outbound)]
        emit_json(data)
        return
    click.echo(f"Case {case.tracking}  [{case.status}]")
    click.echo(f"  neighbourhood: {case.neighborhood.code} {case.neighborhood.name}")
    click.echo(f"  category:      {case.category}")
    point = f", point {case.lat:.5f},{case.lon:.5f}" if case.lat is not None and case.lon is not None else ""
    click.echo(f"  reported by:   {case.channel}{point}")
    click.echo(f"  reporters:     {', '.join(r.phone + ('' if r.how == 'reported' else f' ({r.how})') for r in people) or '-'}")
    click.echo(f"  assigned to:   {case.assignee or '-'}")
    if case.merged_into_id:
        click.echo(f"  merged into:   {case.merged_into.tracking}")
    click.echo(f"  opened:        {short_time(case.created_at, zone)}   updated: {short_time(case.updated_at, zone)}")
    click.echo(f"  text:          {case.text}")
    if case.unseen_replies or case.awaiting_resident:
        click.echo(f"  residents:     {_replies_cell(case).replace('new', 'new answer(s)')}"
                   + ("" if keep_unseen or not case.unseen_replies else " (now seen)"))
    if asked:
        click.echo("Questions and messages to residents:")
        for q in asked:
            outcomes = {"open": f"open until {short_time(q.expires_at, zone)}", "expired": "no answer in time",
                        "answered": f"answered {short_time(q.answered_at, zone)}: \"{q.answer}\""}
            outcome = outcomes.get(q.status, q.status)
            click.echo(f"  {short_time(q.asked_at, zone)}  out  {q.kind} to {q.phone} by {q.actor or '-'}: "
                       f"\"{q.text}\"  [{outcome}]")
    click.echo("Timeline (history and SMS, oldest first):")
    for at, entry in casework.timeline(events, inbound, outbound):
        click.echo(f"  {short_time(at, zone)}  {_timeline_line(entry)}")


def _timeline_line(entry: dict) -> str:
    """One entry of the timeline as staff read it (the `at` is printed before it)."""
    if entry["type"] == "sms":
        if entry["direction"] == "in":
            return f"SMS in   {entry['phone']}: {entry['text']}"
        sent = f"{entry['status']}, {entry['delivery']}" if entry["delivery"] else entry["status"]
        return (f"SMS out  [{sent}] {entry['phone']}: {entry['text']}"
                + (f"  (error: {entry['error']})" if entry["error"] else ""))
    kind = entry["kind"]
    change = f"{entry['from'] or '-'} -> {entry['to']}" if kind in ("status", "reopen", "merge") else kind
    if kind in ("reopen", "merge"):
        change = f"{kind}: {change}"
    elif kind in _DIRECTION:
        change = f"{kind} ({'to' if _DIRECTION[kind] == 'out' else 'from'} resident)"
    visibility = "" if entry["public"] or not entry["note"] else "  (internal)"
    return f"{change}  {entry['by']}" + (f"  \"{entry['note']}\"" if entry["note"] else "") + visibility


@cases.command()
@click.argument("tracking")
@click.argument("status", type=STATUS)
@click.option("--note", default="", help="Public note: sent to the residents and given to status queries.")
@click.option("--internal-note", default="", help="Note for staff only: never sent.")
@json_option
@pass_state
def status(state: CliState, tracking: str, status: str, note: str, internal_note: str, as_json: bool) -> None:
    """Change a case's status and queue an SMS to each of its reporters.

    Only the natural moves are allowed (received -> reviewing -> in_progress -> resolved ->
    closed, rejected, and back when a case is reopened); the error says what is possible.
    STATUS in English or Spanish: received (recibido), reviewing (en_revision), in_progress
    (en_proceso), resolved (resuelto), closed (cerrado), rejected (rechazado); any case, with a
    space or hyphen, with or without accents ("en revisión"). JSON keeps the English names.
    The daemon sends the SMS; this command only writes to the database.
    Resolving asks each reporter, once per case, whether it is really fixed (1 yes, 2 no; a "no"
    reopens it), unless [service] satisfaction_survey = no.

    Example: barriosms cases status 1234567 in_progress --note "La cuadrilla ira el lunes"
    """
    settings = state.open_db()
    templates = state.templates()
    with audited("cases.status", tracking) as entry:
        change = _run(lambda: casework.change_status(tracking, status, templates, note=note, internal_note=internal_note,
                                                     actor=actor(), region=settings.gateway.region,
                                                     service=settings.service))
        entry.target = change.case.tracking
        entry.detail = f"{change.event.old_status} -> {status}" + (f"; note: {note}" if note else "") + (
            f"; internal note: {internal_note}" if internal_note else "")
    if as_json:
        emit_json({**change_dict(change, settings.zone), "survey_asked": list(change.surveyed)})
        return
    click.echo(f"case {change.case.tracking}: {change.event.old_status} -> {status}")
    echo_notifications(change)
    for phone in change.surveyed:
        click.echo(f"asked {phone} whether it is really fixed (answers within "
                   f"{settings.service.satisfaction_days:g} days count; 2 = no reopens the case)")


@cases.command()
@click.argument("tracking")
@click.argument("text")
@click.option("--internal", is_flag=True, help="For staff only: never sent to the residents.")
@json_option
@pass_state
def note(state: CliState, tracking: str, text: str, internal: bool, as_json: bool) -> None:
    """Add a note to a case: public notes are sent to its reporters by SMS, internal ones are not.

    Example: barriosms cases note 1234567 "El material llega el jueves"
    """
    settings = state.open_db()
    templates = state.templates()
    with audited("cases.note", tracking) as entry:
        change = _run(lambda: casework.add_note(tracking, text, templates, public=not internal, actor=actor(),
                                                region=settings.gateway.region))
        entry.target = change.case.tracking
        entry.detail = f"{'internal' if internal else 'public'}: {text}"
    if as_json:
        emit_json(change_dict(change, settings.zone))
        return
    click.echo(f"case {change.case.tracking}: {'internal' if internal else 'public'} note added")
    if not internal:
        echo_notifications(change)


@cases.command()
@click.argument("tracking")
@click.argument("assignee")
@json_option
@pass_state
def assign(state: CliState, tracking: str, assignee: str, as_json: bool) -> None:
    """Assign a case to a team or a person ("" to unassign); residents are not told.

    Example: barriosms cases assign 1234567 "Cuadrilla vial Sur"
    """
    settings = state.open_db()
    with audited("cases.assign", tracking) as entry:
        change = _run(lambda: casework.assign(tracking, assignee, actor=actor()))
        entry.target = change.case.tracking
        entry.detail = change.case.assignee or "(nobody)"
    if as_json:
        emit_json(change_dict(change, settings.zone))
        return
    click.echo(f"case {change.case.tracking}: assigned to {change.case.assignee or 'nobody'}")


@cases.command()
@click.argument("duplicate")
@click.argument("into")
@json_option
@pass_state
def merge(state: CliState, duplicate: str, into: str, as_json: bool) -> None:
    """Merge a DUPLICATE report into the case INTO that stays.

    The duplicate is closed; its reporters follow INTO (each gets an SMS with its number) and
    are told of every later change, like INTO's own reporter.

    Example: barriosms cases merge 2408917 5550126
    """
    settings = state.open_db()
    templates = state.templates()
    with audited("cases.merge", duplicate) as entry:
        change = _run(lambda: casework.merge(duplicate, into, templates, actor=actor(), region=settings.gateway.region))
        entry.target = change.case.tracking
        entry.detail = f"into {change.case.merged_into.tracking}"
    if as_json:
        emit_json(change_dict(change, settings.zone))
        return
    click.echo(f"case {change.case.tracking} merged into {change.case.merged_into.tracking}")
    echo_notifications(change)


@cases.command()
@click.argument("tracking")
@click.option("--category", metavar="C", help="The right category (one of `barriosms categories list`).")
@click.option("--neighborhood", metavar="CODE", help="The right neighbourhood, by its code (B12).")
@click.option("--note", default="", help="Why (internal): kept with the correction, never sent.")
@click.option("--notify/--no-notify", default=False, show_default=True,
              help="SMS the reporters that the case moved to another neighbourhood (never for a category).")
@json_option
@pass_state
def edit(state: CliState, tracking: str, category: str | None, neighborhood: str | None, note: str, notify: bool,
         as_json: bool) -> None:
    """Correct what the gateway understood: the case's category and/or neighbourhood.

    The tracking number stays. Each change is kept (before -> after, who, when, --note) and shown
    in `cases show`; hotspots and statistics count the case where it now belongs at once. Closed
    cases can be corrected too. Residents are not told unless --notify and the neighbourhood
    changed. A value the case already has changes nothing: that is said, and the exit code is 0
    (so a script may repeat a correction); giving neither --category nor --neighborhood is an error.

    Example: barriosms cases edit 1234567 --neighborhood B12 --note "Es en Villa San Antonio" --notify
    """
    settings = state.open_db()
    templates = state.templates()
    g = settings.gateway
    try:
        rules = load_categories(g.categories, g.language)
    except TemplateError as exc:
        raise click.ClickException(f"{exc} (run `barriosms config check`)") from None
    with audited("cases.edit", tracking) as entry:
        done = _run(lambda: editing.edit_case(tracking, templates, rules, category=category, neighborhood=neighborhood,
                                              note=note, notify=notify, actor=actor(), region=g.region))
        entry.target = done.case.tracking
        entry.detail = "; ".join(c.describe() for c in done.changes) + (f"; note: {note}" if note else "")
        entry.skip = not done.changed  # a value the case already had: nothing changed, nothing to record
    if as_json:
        emit_json({"tracking": done.case.tracking,
                   "changed": {c.field: {"from": c.before, "to": c.after} for c in done.changes},
                   "unchanged": list(done.unchanged),
                   "sms_queued": len(done.notifications),
                   "notifications": [{"id": m.id, "to": m.recipient, "text": m.text, "status": m.status}
                                     for m in done.notifications],
                   "not_notified": [{"phone": p, "why": why} for p, why in done.skipped.items()]})
        return
    for c in done.changes:
        click.echo(f"case {done.case.tracking}: {c.describe()}")
    for field in done.unchanged:
        value = done.case.category if field == "category" else done.case.neighborhood.code
        name = "neighbourhood" if field == "neighborhood" else field
        click.echo(f"case {done.case.tracking}: {name} is already {value}; nothing to change")
    if not done.changed:
        return
    if any(c.field == "neighborhood" for c in done.changes) and notify:
        echo_notifications(done)
    else:
        click.echo("no SMS: residents are told of a new neighbourhood only with --notify" if any(
            c.field == "neighborhood" for c in done.changes) else "no SMS: a category is not sent to residents")


def _ask(state: CliState, tracking: str, text: str, kind: str, as_json: bool) -> None:
    settings = state.open_db()
    templates = state.templates()
    with audited("cases.ask" if kind == "question" else "cases.message", tracking) as entry:
        asked = _run(lambda: conversations.ask(tracking, text, templates, settings.service, actor=actor(),
                                               region=settings.gateway.region, kind=kind))
        entry.target = asked.case.tracking
        entry.detail = text
    if as_json:
        data = change_dict(asked, settings.zone)
        data["questions"] = [{"kind": q.kind, "phone": q.phone, "text": q.text,
                              "expires_at": local_time(q.expires_at, settings.zone)} for q in asked.questions]
        emit_json(data)
        return
    hours = f"{settings.service.answer_window_hours:g}"
    click.echo(f"case {asked.case.tracking}: {kind} to {len(asked.notifications)} reporter(s); their SMS within "
               f"{hours} h are attached to the case (see `barriosms cases list --has-new-replies`)")
    echo_notifications(asked)


@cases.command()
@click.argument("tracking")
@click.argument("text")
@json_option
@pass_state
def ask(state: CliState, tracking: str, text: str, as_json: bool) -> None:
    """Ask the case's reporters a question by SMS and wait for their answer.

    The SMS says to answer with an SMS; a reporter's next SMS within [service]
    answer_window_hours is attached to the case (unless it starts with a neighbourhood code: a new
    report) and shown by `cases show`. The text is never shortened: if it does not fit in one SMS
    the error says how many characters fit. Quiet hours and the daily budget apply.

    Example: barriosms cases ask 1234567 "¿El bache esta frente a la escuela o en la esquina?"
    """
    _ask(state, tracking, text, "question", as_json)


@cases.command()
@click.argument("tracking")
@click.argument("text")
@json_option
@pass_state
def message(state: CliState, tracking: str, text: str, as_json: bool) -> None:
    """Send the case's reporters a message by SMS (no question); an answer is attached to the case.

    Unlike a public note (`cases note`), the message is not given to status queries nor shown on
    the website. Quiet hours and the daily budget apply; the text is never shortened.

    Example: barriosms cases message 1234567 "La cuadrilla pasara el lunes por la manana"
    """
    _ask(state, tracking, text, "message", as_json)
