"""A large, realistic database for the benchmarks (bench/web_rps.py, bench/store_scale.py).

Cases over the last year in every neighbourhood, category and status, with valid unique tracking
numbers (7 digits, then longer ones as the real allocation grows them, and the per-length counts
it keeps), some merged duplicates and web reports with their own point, their case_event rows
(created, status changes with public notes, internal notes) and, with `messages=True`, the SMS
each case came from, the reply it got, its reporters and the satisfaction questions asked once
it was resolved. Rows go in with sqlite3's executemany in one
transaction: the benchmarks measure the commands, not the seeding.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from peewee import Model

from barriosms.domain.statuses import STATUSES
from barriosms.domain.tracking import is_valid_tracking, length_to_draw, new_tracking
from barriosms.store import database as store
from barriosms.store.models import (
    Case,
    CaseEvent,
    CaseQuestion,
    CaseReporter,
    InboundMessage,
    Neighborhood,
    OutboundMessage,
)
from barriosms.templates.loader import load_categories

# Older cases are further along: (weights of STATUSES) for cases younger / older than 60 days.
YOUNG = (30, 15, 25, 15, 10, 5)
OLD = (3, 2, 8, 22, 55, 10)
PUBLIC_NOTES = ("La cuadrilla ira el lunes", "Material solicitado al almacen central",
                "Trabajo programado para esta semana", "Se reviso el lugar, falta presupuesto",
                "Reparado, gracias por avisar")
INTERNAL_NOTES = ("Llamar al dirigente vecinal", "Ver con EPSAS", "Duplicado probable")
TEAMS = ("Cuadrilla vial Sur", "Cuadrilla vial Centro", "Alumbrado", "Aseo urbano", "EPSAS enlace")
STREETS = ("calle 3", "avenida Buenos Aires", "pasaje Los Andes", "calle Illampu", "plaza principal",
           "calle 21", "avenida Arce", "el mercado")
SURVEY = "Su reclamo fue resuelto. Ya esta arreglado? Responda 1 si, 2 no."
REPLY = "Su reclamo fue registrado con el numero {t}. Para saber como va, envie {t} a este numero."


def _insert(conn: sqlite3.Connection, model: type[Model], columns: Sequence[str], rows: Iterator[tuple]) -> int:
    """Insert `rows` (values of `columns`) into `model`'s table; every other column gets the
    model's default, as the application would write it."""
    rest = [f for f in model._meta.sorted_fields if f.column_name not in columns and f.column_name != "id"]
    extra = tuple(f.db_value(f.default() if callable(f.default) else f.default) for f in rest)
    names = [*columns, *(f.column_name for f in rest)]
    quoted = ", ".join('"' + n + '"' for n in names)
    marks = ", ".join("?" * len(names))
    sql = f'INSERT INTO "{model._meta.table_name}" ({quoted}) VALUES ({marks})'
    count = 0
    batch: list[tuple] = []
    for row in rows:
        batch.append(row + extra)
        if len(batch) == 5000:
            conn.executemany(sql, batch)
            count += len(batch)
            batch.clear()
    conn.executemany(sql, batch)
    return count + len(batch)


def _stamp(when: dt.datetime | None) -> str | None:
    # peewee's SQLite format for DateTimeField, so the application reads them back as it wrote them.
    return None if when is None else when.strftime("%Y-%m-%d %H:%M:%S.%f")


def fill(db: Path, count: int, seed: int, *, messages: bool = False, out: TextIO = sys.stdout) -> list[str]:
    """Add `count` cases (with their events, and their SMS when `messages`) to a migrated database
    that has its neighbourhoods and no cases; their tracking numbers. Prints what it made to `out`
    (a script whose standard output is JSON passes sys.stderr)."""
    rng = random.Random(seed)
    categories = load_categories()
    keywords = {name: words[0] for name, words in categories.rules}
    names = categories.names
    store.open_database(db)
    hoods = list(Neighborhood.select())
    if not hoods:
        raise SystemExit(f"{db} has no neighbourhoods: import them first")
    store.close()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    trackings: list[str] = []
    seen: set[str] = set()
    used: dict[int, int] = {}
    cases, events, inbound, outbound, reporters, questions = [], [], [], [], [], []
    for i in range(count):
        case_id = i + 1
        length = length_to_draw(used)
        tracking = new_tracking(rng, length)
        while tracking in seen:
            tracking = new_tracking(rng, length)
        seen.add(tracking)
        used[length] = used.get(length, 0) + 1
        trackings.append(tracking)
        hood = hoods[i % len(hoods)] if i < len(hoods) else rng.choice(hoods)
        category = names[i % len(names)] if i < len(names) else rng.choice(names)
        created = now - dt.timedelta(seconds=rng.uniform(0, 365 * 86400))
        age = now - created
        status = STATUSES[i % len(STATUSES)] if i < len(STATUSES) else \
            rng.choices(STATUSES, YOUNG if age < dt.timedelta(days=60) else OLD)[0]
        updated = created if status == "received" else \
            created + dt.timedelta(seconds=rng.uniform(0, min(age, dt.timedelta(days=45)).total_seconds()))
        resolved = updated if status in ("resolved", "closed") else None
        merged_into = rng.randint(1, i) if status == "closed" and i > 100 and rng.random() < 0.05 else None
        channel = rng.choices(("sms", "web", "open311"), (85, 12, 3))[0]
        lat = lon = None
        if channel != "sms" and hood.lat is not None:
            lat, lon = hood.lat + rng.uniform(-0.005, 0.005), hood.lon + rng.uniform(-0.005, 0.005)
        word = keywords.get(category, "problema")
        text = f"{hood.code} hay {word} en {rng.choice(STREETS)}, por favor vengan"
        if rng.random() < 0.1:
            text += f" mi cel 7{rng.randint(0, 9999999):07d}"
        phone = f"+5917{rng.randint(0, 9999999):07d}"
        source = None
        reported = 0
        if messages and channel == "sms":
            source = len(inbound) + 1
            inbound.append((source, f"seed-{case_id}", phone, phone, text, _stamp(created), _stamp(created),
                            "report", case_id))
            outbound.append((phone, REPLY.format(t=tracking), "sent", "reply", 1, _stamp(created), case_id, source,
                             _stamp(created), _stamp(created + dt.timedelta(seconds=2)), 1))
            # Who reported it (every SMS case has its resident; one in twenty a neighbour too) and,
            # once resolved, most are asked whether it is really fixed.
            reporters.append((case_id, phone, source, "reported", _stamp(created)))
            reported = 1
            if rng.random() < 0.05:
                reporters.append((case_id, f"+5916{rng.randint(0, 9999999):07d}", None, "merged", _stamp(updated)))
                reported = 2
            if resolved is not None and rng.random() < 0.7:
                outcome = rng.choices(("yes", "no", "expired", "open"), (50, 12, 30, 8))[0]
                answered = resolved + dt.timedelta(hours=rng.uniform(0.2, 48)) if outcome in ("yes", "no") else None
                # Filed under the case's category and district, as cases.filing does (migration 19).
                questions.append((case_id, phone, "survey", SURVEY, _stamp(resolved),
                                  _stamp(resolved + dt.timedelta(days=7)),
                                  "answered" if answered else outcome, _stamp(answered),
                                  outcome if answered else "", category, hood.district,
                                  (answered - resolved).total_seconds() if answered else None, _stamp(created)))
        cases.append((case_id, tracking, hood.id, category, text, phone, status, _stamp(created), _stamp(updated),
                       _stamp(resolved), channel, lat, lon, "" if status == "received" else rng.choice(TEAMS),
                       merged_into, source, reported))
        events.append((case_id, _stamp(created), "created", None, "received", "", 1, "gateway"))
        if status != "received":
            note = rng.choice(PUBLIC_NOTES) if rng.random() < 0.6 else ""
            events.append((case_id, _stamp(updated), "status", "received", status, note, 1, "operador"))
        if rng.random() < 0.1:
            events.append((case_id, _stamp(updated), "note", None, None, rng.choice(INTERNAL_NOTES), 0, "operador"))
    assert all(is_valid_tracking(t) for t in trackings)
    conn = sqlite3.connect(db)
    try:
        with conn:
            _insert(conn, Case,
                    ("id", "tracking", "neighborhood_id", "category", "text", "phone", "status", "created_at",
                     "updated_at", "resolved_at", "channel", "lat", "lon", "assignee", "merged_into_id",
                     "source_message_id", "reporter_count"), iter(cases))
            _insert(conn, CaseEvent,
                    ("case_id", "at", "kind", "old_status", "new_status", "note", "public", "actor"), iter(events))
            _insert(conn, InboundMessage,
                    ("id", "dedupe_key", "sender", "phone", "text", "smsc_time", "received_at", "intent", "case_id"),
                    iter(inbound))
            _insert(conn, OutboundMessage,
                    ("recipient", "text", "status", "kind", "attempts", "next_attempt_at", "case_id", "in_reply_to_id",
                     "created_at", "sent_at", "parts"), iter(outbound))
            _insert(conn, CaseReporter, ("case_id", "phone", "message_id", "how", "joined_at"), iter(reporters))
            _insert(conn, CaseQuestion, ("case_id", "phone", "kind", "text", "asked_at", "expires_at", "status",
                                         "answered_at", "answer", "category", "district", "answer_seconds",
                                         "case_created_at"),
                    iter(questions))
            # The counts the allocation keeps (migration 15), as if these cases had been opened one by one.
            conn.executemany("INSERT INTO tracking_fill (length, used) VALUES (?, ?) "
                             "ON CONFLICT(length) DO UPDATE SET used = used + excluded.used", sorted(used.items()))
        (stored,) = conn.execute('SELECT COUNT(*) FROM "case"').fetchone()
        assert stored == count, f"{stored} cases stored, {count} made"
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    print(f"database: {count:,} cases ({', '.join(f'{n:,} of {k} digits' for k, n in sorted(used.items()))}), "
          f"{len(events):,} case events ({sum(1 for e in events if e[5] and e[6]):,} public notes), "
          f"{sum(1 for c in cases if c[14]):,} merged duplicates, {len(inbound):,} SMS in, {len(outbound):,} out, "
          f"{len(reporters):,} reporters, {len(questions):,} satisfaction questions", file=out)
    return trackings
