"""The tables barriosms keeps, as peewee models.

The schema itself is created and changed only by the numbered migrations in
`barriosms.store.migrations`; these models describe the newest schema and a test checks that the
two agree. All datetimes are naive UTC (see `utcnow`); they are shown in the configured zone.
"""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from peewee import (
    AutoField,
    CharField,
    DatabaseProxy,
    DateField,
    DateTimeField,
    DeferredForeignKey,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    ModelDelete,
    SqliteDatabase,
    TextField,
)

# Pragmas are applied by peewee on every new connection (foreign_keys and synchronous are
# per-connection). synchronous=FULL: an SMS is deleted from the SIM right after the transaction that
# stored it commits, so that commit must be on disk, not only in the WAL buffer.
PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "full",
    "busy_timeout": 10000,
}

# Which database is used is decided once the config is read (store.database.open_database):
# SQLite, or PostgreSQL when several gateways share one.
database = DatabaseProxy()


def write_tx() -> AbstractContextManager[Any]:
    """A transaction that will write.

    On SQLite BEGIN IMMEDIATE takes the write lock first, so two writers never both hold a read
    lock they then try to upgrade (one would fail at once with "database is locked"); PostgreSQL
    locks rows as it goes and needs nothing special.
    """
    if isinstance(database.obj, SqliteDatabase):
        return database.atomic("IMMEDIATE")
    return database.atomic()


class BooleanField(IntegerField):
    """A yes/no stored as 0/1 in both SQLite and PostgreSQL (one frozen schema for both).

    Compare it explicitly in queries (`Model.flag == True`): PostgreSQL refuses an integer where
    it expects a condition.
    """

    def db_value(self, value: object) -> int | None:
        return None if value is None else int(bool(value))

    def python_value(self, value: object) -> bool | None:
        return None if value is None else bool(value)


def utcnow() -> dt.datetime:
    """Now as naive UTC, the only form of time stored in the database."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class BaseModel(Model):
    if TYPE_CHECKING:
        # types-peewee declares Model.delete as a Self-typed class attribute, which mypy refuses
        # to read through the class ("Access to generic instance variables via class is ambiguous").
        @classmethod
        def delete(cls) -> ModelDelete: ...

    class Meta:
        database = database
        legacy_table_names = False


class Neighborhood(BaseModel):
    id = AutoField()
    code = CharField(unique=True)  # normalised: upper case, no separators ("B12")
    name = CharField()
    district = CharField(default="")
    lat = FloatField(null=True)
    lon = FloatField(null=True)
    created_at = DateTimeField(default=utcnow)
    # Other names residents use for it, separated by ";" (as in the CSV's aliases column).
    aliases = TextField(default="")

    @property
    def alias_list(self) -> list[str]:
        return [a.strip() for a in self.aliases.split(";") if a.strip()]


class InboundMessage(BaseModel):
    id = AutoField()
    dedupe_key = CharField(unique=True)
    sender = CharField()  # as the network wrote it
    phone = CharField()  # E.164 when the sender is a phone number, else the sender (indexed below)
    text = TextField()
    smsc_time = DateTimeField(null=True)
    received_at = DateTimeField(default=utcnow)
    parts = IntegerField(default=1)
    incomplete = BooleanField(default=False)
    coding = CharField(default="")
    # What barriosms made of it: report, status, help, unroutable, missing_description,
    # invalid_tracking, unknown_tracking, not_replyable.
    intent = CharField(default="")
    needs_staff = BooleanField(default=False)  # indexed with received_at (below)
    # Why it waits for staff (`inbox list --unmatched`): no_neighborhood, unknown_code, ambiguous,
    # case_limit, "error: ..." ("" for messages stored before migration 10: see their intent).
    triage = TextField(default="")
    # Why no SMS answered it ("" when answered or not meant to be): phone_budget, loop, muted, ...
    unanswered = TextField(default="")
    modem = CharField(default="")  # the modem ([modem NAME]) it came in on
    # Deferred: Case is declared below and refers back to its source message.
    case = DeferredForeignKey("Case", null=True, column_name="case_id", backref="messages")
    case_id: int | None  # set by peewee from case; declared for mypy

    class Meta:
        table_name = "inbound_message"


# `inbox list` by phone, --unmatched and --unanswered, newest first (migration 17).
InboundMessage.add_index(InboundMessage.index(InboundMessage.phone, InboundMessage.received_at, InboundMessage.id,
                                              name="inbound_message_phone_received_at"))
InboundMessage.add_index(InboundMessage.index(InboundMessage.needs_staff, InboundMessage.received_at, InboundMessage.id,
                                              name="inbound_message_needs_staff_received_at"))
InboundMessage.add_index(InboundMessage.index(InboundMessage.received_at, InboundMessage.id,
                                              where=(InboundMessage.unanswered != ""), name="inbound_message_unanswered"))


class SmsPart(BaseModel):
    """One part of a concatenated SMS, kept until its siblings arrive (or the wait runs out).

    Parts are stored before they are deleted from the SIM, so a SIM never fills up with halves of
    messages and a crash never loses one.
    """

    id = AutoField()
    dedupe_key = CharField(unique=True)
    sender = CharField()
    concat_ref = IntegerField()
    part_number = IntegerField()
    total_parts = IntegerField()
    text = TextField()
    smsc_time = DateTimeField(null=True)
    received_at = DateTimeField(default=utcnow)
    message = ForeignKeyField(InboundMessage, null=True, column_name="message_id", backref="sms_parts")
    message_id: int | None  # set by peewee from message; declared for mypy

    class Meta:
        table_name = "sms_part"


class Case(BaseModel):
    id = AutoField()
    tracking = CharField(unique=True)
    neighborhood = ForeignKeyField(Neighborhood, backref="cases", column_name="neighborhood_id")
    neighborhood_id: int  # set by peewee from neighborhood; declared for mypy
    category = CharField()  # indexed with created_at (below)
    text = TextField()
    phone = CharField(index=True)
    status = CharField(default="received")  # indexed with created_at (below)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    # unique: one case per source message, enforced by the database (see migration 1).
    source_message = ForeignKeyField(InboundMessage, null=True, unique=True,
                                     column_name="source_message_id", backref="opened_cases")
    source_message_id: int | None  # set by peewee from source_message; declared for mypy
    assignee = CharField(default="")  # the team or person working on it
    # A duplicate merged into another case: closed, and its reporters follow the surviving case.
    merged_into = ForeignKeyField("self", null=True, column_name="merged_into_id", backref="merged")
    merged_into_id: int | None  # set by peewee from merged_into; declared for mypy
    resolved_at = DateTimeField(null=True)  # the last time it became resolved (reopen window, stats)
    channel = CharField(default="sms")  # sms, web, open311: how the report reached us
    # A point the resident marked on the web map; None: the neighbourhood's coordinates stand for it.
    lat = FloatField(null=True)
    lon = FloatField(null=True)
    awaiting_resident = BooleanField(default=False)  # staff asked the reporter and wait for the answer
    unseen_replies = IntegerField(default=0, index=True)  # answers staff have not looked at (`cases show`)
    # How many phones reported it (its case_reporter rows, kept by cases.reporters.add_reporter):
    # `report hotspots` weighs a million cases from an index instead of counting their reporters.
    reporter_count = IntegerField(default=0)

    class Meta:
        indexes = ((("neighborhood", "status"), False),)


# Migration 17: each filter of `cases list` with its order (newest first), the cases with new
# replies, and the live cases counted by `stats` and `report hotspots` without reading the cases.
# The same migration's two indexes on the seconds from report to resolved (`stats`'s medians) are
# expressions of the dialect, in the migration only.
for _name, *_fields in (("case_status_created_at", Case.status, Case.created_at, Case.id),
                        ("case_category_created_at", Case.category, Case.created_at, Case.id),
                        ("case_neighborhood_id_created_at", Case.neighborhood, Case.created_at, Case.id),
                        ("case_assignee_created_at", Case.assignee, Case.created_at, Case.id),
                        ("case_live_counts", Case.merged_into, Case.status, Case.category, Case.neighborhood,
                         Case.created_at, Case.resolved_at, Case.reporter_count)):  # the count: migration 19
    Case.add_index(Case.index(*_fields, name=_name))
del _name, _fields
Case.add_index(Case.index(Case.created_at, Case.id, where=(Case.unseen_replies > 0), name="case_new_replies"))
# Migration 18: the public lists (website, Open311) newest first and their counts, of the cases
# not merged into another, read from these indexes alone.
Case.add_index(Case.index(Case.merged_into, Case.created_at, Case.id, Case.status, Case.category, Case.neighborhood,
                          Case.resolved_at,  # migration 19: `stats --since`
                          where=Case.merged_into.is_null(True), name="case_public_created_at"))
Case.add_index(Case.index(Case.neighborhood, Case.merged_into, Case.created_at, Case.id, Case.status, Case.category,
                          where=Case.merged_into.is_null(True), name="case_public_neighborhood"))


class CaseReporter(BaseModel):
    """A phone that reported the problem of a case (the first reporter, or one of a merged duplicate)."""

    id = AutoField()
    case = ForeignKeyField(Case, backref="reporters", column_name="case_id", on_delete="CASCADE")
    case_id: int  # set by peewee from case; declared for mypy
    phone = CharField(index=True)
    message = ForeignKeyField(InboundMessage, null=True, column_name="message_id")
    message_id: int | None  # set by peewee from message; declared for mypy
    how = CharField()  # reported, merged, assigned (staff routed it from the inbox)
    joined_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "case_reporter"
        indexes = ((("case", "phone"), True),)


class PhoneState(BaseModel):
    """What we know about one phone: opted out of status SMS, or silenced as a suspected machine."""

    id = AutoField()
    phone = CharField(unique=True)
    opted_out = BooleanField(default=False)
    opted_out_at = DateTimeField(null=True)
    muted_until = DateTimeField(null=True)
    mute_reason = TextField(default="")
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "phone_state"


class PendingReport(BaseModel):
    """A report waiting for its neighbourhood from the same phone (two steps instead of a lost report).

    candidates: "" when no neighbourhood was found, else the codes to choose from ("B04,B10").
    outcome: "" while open; completed, expired, routed (by staff), superseded.
    """

    id = AutoField()
    phone = CharField(index=True)
    message = ForeignKeyField(InboundMessage, unique=True, column_name="message_id", backref="pending")
    message_id: int  # set by peewee from message; declared for mypy
    description = TextField()
    candidates = CharField(default="")
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    closed_at = DateTimeField(null=True)
    outcome = CharField(default="")

    class Meta:
        table_name = "pending_report"


class CaseEvent(BaseModel):
    id = AutoField()
    case = ForeignKeyField(Case, backref="events", column_name="case_id", on_delete="CASCADE")
    case_id: int  # set by peewee from case; declared for mypy
    at = DateTimeField(default=utcnow)
    kind = CharField()  # created, status, note, assign, merge, merged_from, reopen, reporter, correction
    old_status = CharField(null=True)
    new_status = CharField(null=True)
    note = TextField(default="")
    public = BooleanField(default=True)
    actor = CharField(default="")

    class Meta:
        table_name = "case_event"


class Broadcast(BaseModel):
    """A notice staff sent to the residents who reported in one neighbourhood."""

    id = AutoField()
    neighborhood = ForeignKeyField(Neighborhood, column_name="neighborhood_id", backref="broadcasts")
    neighborhood_id: int  # set by peewee from neighborhood; declared for mypy
    text = TextField()
    recipients = IntegerField()
    parts = IntegerField()
    urgent = BooleanField(default=False)
    actor = CharField(default="")
    created_at = DateTimeField(default=utcnow)


class OutboundMessage(BaseModel):
    id = AutoField()
    recipient = CharField(index=True)
    text = TextField()
    status = CharField(default="queued", index=True)  # queued, sending, sent, failed
    kind = CharField(default="reply")  # reply, status_update, note, merged, broadcast, correction
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=utcnow, index=True)
    last_error = TextField(default="")
    modem_reference = CharField(default="")
    parts = IntegerField(default=0)
    case = ForeignKeyField(Case, null=True, backref="outbound", column_name="case_id")
    case_id: int | None  # set by peewee from case; declared for mypy
    in_reply_to = ForeignKeyField(InboundMessage, null=True, backref="replies", column_name="in_reply_to_id")
    in_reply_to_id: int | None  # set by peewee from in_reply_to; declared for mypy
    created_at = DateTimeField(default=utcnow)
    sent_at = DateTimeField(null=True)
    delivery = CharField(default="")  # '' (not asked), pending, delivered, undelivered
    awaiting_reports = CharField(default="")
    delivered_at = DateTimeField(null=True)
    # Replies are urgent; status SMS and notices wait out the quiet hours unless marked urgent.
    urgent = BooleanField(default=False)
    hold_reason = TextField(default="")  # why a queued SMS is waiting (quiet hours, daily budget)
    broadcast = ForeignKeyField(Broadcast, null=True, column_name="broadcast_id", backref="messages")
    broadcast_id: int | None  # set by peewee from broadcast; declared for mypy
    claimed_by = CharField(default="")  # the sender (host, modem) that took it for sending
    claimed_at = DateTimeField(null=True)
    modem = CharField(default="")  # "" any modem; else the one it must leave through

    class Meta:
        table_name = "outbound_message"


QUESTION_KINDS = ("question", "message", "survey")


class CaseQuestion(BaseModel):
    """An SMS from staff to a reporter that may be answered: a question, a free message, or the
    satisfaction question after resolving (kind survey, answer "yes" or "no").

    status: open (an answer within expires_at attaches to the case), answered, expired.
    """

    id = AutoField()
    case = ForeignKeyField(Case, column_name="case_id", backref="questions", on_delete="CASCADE")
    case_id: int  # set by peewee from case; declared for mypy
    phone = CharField()
    kind = CharField()
    text = TextField()
    actor = CharField(default="")
    asked_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    status = CharField(default="open")
    answered_at = DateTimeField(null=True)
    answer = TextField(default="")
    answer_message = ForeignKeyField(InboundMessage, null=True, column_name="answer_message_id")
    answer_message_id: int | None  # set by peewee from answer_message; declared for mypy
    outbound = ForeignKeyField(OutboundMessage, null=True, column_name="outbound_id")
    outbound_id: int | None  # set by peewee from outbound; declared for mypy
    # Copies of the case's category and its neighbourhood's district (kept by cases.filing), and
    # the seconds from asking to the answer: `stats` counts and takes the medians of a million
    # cases' satisfaction answers from indexes, without joining each to its case.
    category = CharField(default="")
    district = CharField(default="")
    answer_seconds = FloatField(null=True)
    case_created_at = DateTimeField(null=True)  # when its case was opened (`stats --since`)

    class Meta:
        table_name = "case_question"
        indexes = ((("phone", "status", "kind", "expires_at"), False),)  # migration 19; before: phone, status


# The satisfaction question is asked once per case and reporter (a partial unique index).
CaseQuestion.add_index(CaseQuestion.index(CaseQuestion.case, CaseQuestion.phone, unique=True,
                                          where=(CaseQuestion.kind == "survey")))
# Migration 19: `stats`' satisfaction counts, and the medians of the time to "yes" overall, per
# category and per district (the middle entries of these, in their order).
for _name, *_fields in (("case_question_survey_counts", CaseQuestion.kind, CaseQuestion.status, CaseQuestion.answer,
                         CaseQuestion.category, CaseQuestion.district, CaseQuestion.expires_at,
                         CaseQuestion.answer_seconds, CaseQuestion.case_created_at),
                        ("case_question_answer_seconds", CaseQuestion.kind, CaseQuestion.status, CaseQuestion.answer,
                         CaseQuestion.answer_seconds, CaseQuestion.case_created_at),
                        ("case_question_category_answer_seconds", CaseQuestion.kind, CaseQuestion.status,
                         CaseQuestion.answer, CaseQuestion.category, CaseQuestion.answer_seconds,
                         CaseQuestion.case_created_at),
                        ("case_question_district_answer_seconds", CaseQuestion.kind, CaseQuestion.status,
                         CaseQuestion.answer, CaseQuestion.district, CaseQuestion.answer_seconds,
                         CaseQuestion.case_created_at)):
    CaseQuestion.add_index(CaseQuestion.index(*_fields, name=_name))
del _name, _fields


class PracticeCase(BaseModel):
    """A case opened in practice mode (PRUEBA ...): answered like a real one, never shown with them."""

    id = AutoField()
    tracking = CharField(unique=True)
    phone = CharField()
    neighborhood = ForeignKeyField(Neighborhood, column_name="neighborhood_id")
    neighborhood_id: int  # set by peewee from neighborhood; declared for mypy
    category = CharField()
    text = TextField()
    status = CharField(default="received")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "practice_case"


class PracticeMessage(BaseModel):
    """One practice SMS and what it was (a report, a status query, a report without neighbourhood...)."""

    id = AutoField()
    phone = CharField(index=True)
    text = TextField()
    received_at = DateTimeField(default=utcnow, index=True)
    outcome = CharField()
    well_formed = BooleanField(default=False)
    practice_case = ForeignKeyField(PracticeCase, null=True, column_name="practice_case_id", on_delete="SET NULL")
    practice_case_id: int | None  # set by peewee from practice_case; declared for mypy
    message = ForeignKeyField(InboundMessage, null=True, column_name="message_id", on_delete="SET NULL")
    message_id: int | None  # set by peewee from message; declared for mypy

    class Meta:
        table_name = "practice_message"


class WebSubmission(BaseModel):
    """A web form that opened a case: its one-time token makes a second submit return the same case."""

    id = AutoField()
    token = CharField(unique=True)
    case = ForeignKeyField(Case, column_name="case_id", backref="web_submissions", on_delete="CASCADE")
    case_id: int  # set by peewee from case; declared for mypy
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "web_submission"


CORRECTED_FIELDS = ("category", "neighborhood")


class CaseCorrection(BaseModel):
    """Staff changed what the gateway understood of a case: `field` went from `before` to `after`
    (a category name, or a neighbourhood code). The case keeps its tracking number."""

    id = AutoField()
    case = ForeignKeyField(Case, column_name="case_id", backref="corrections", on_delete="CASCADE")
    case_id: int  # set by peewee from case; declared for mypy
    field = CharField()  # one of CORRECTED_FIELDS
    before = CharField()
    after = CharField()
    note = TextField(default="")
    actor = CharField(default="")
    at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "case_correction"
        indexes = ((("field", "at"), False),)


class ForgottenLesson(BaseModel):
    """A learnt word -> category pair staff found wrong; the categoriser's learner skips it."""

    id = AutoField()
    word = CharField()  # a stem, as domain.words.stem gives it
    category = CharField()
    actor = CharField(default="")
    at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "forgotten_lesson"
        indexes = ((("word", "category"), True),)


PROJECT_STATUSES = ("planned", "in_progress", "done", "suspended")


class Project(BaseModel):
    """Municipal works in a neighbourhood (title, status, budget in Bs, dates, place), shown on the website."""

    id = AutoField()
    neighborhood = ForeignKeyField(Neighborhood, column_name="neighborhood_id", backref="projects")
    neighborhood_id: int  # set by peewee from neighborhood; declared for mypy
    title = CharField()
    description = TextField(default="")
    status = CharField(default="planned")  # one of PROJECT_STATUSES
    budget = FloatField(null=True)
    start_date = DateField(null=True)
    end_date = DateField(null=True)
    lat = FloatField(null=True)
    lon = FloatField(null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)


class SiteSecret(BaseModel):
    """A random secret made once and shared by every process on this database."""

    id = AutoField()
    name = CharField(unique=True)
    value = CharField()
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "site_secret"


class ModemHealth(BaseModel):
    """One row per modem (by name) the daemon rewrites; the CLI reads it without touching the modem."""

    id = AutoField()
    name = CharField(unique=True, default="default")
    updated_at = DateTimeField(default=utcnow)
    connected = BooleanField(default=False)
    since = DateTimeField(null=True)
    last_contact_at = DateTimeField(null=True)
    manufacturer = CharField(default="")
    model = CharField(default="")
    imei = CharField(default="")
    operator = CharField(default="")
    network_state = CharField(default="")
    signal_percent = IntegerField(null=True)
    signal_dbm = IntegerField(null=True)
    sim_used = IntegerField(null=True)
    sim_total = IntegerField(null=True)
    received_count = IntegerField(default=0)
    sent_count = IntegerField(default=0)
    last_error = TextField(default="")
    pid = IntegerField(null=True)
    imsi = CharField(default="")
    device = CharField(default="")
    last_error_at = DateTimeField(null=True)
    balance = FloatField(null=True)
    balance_text = TextField(default="")
    balance_at = DateTimeField(null=True)
    host = CharField(default="")  # the machine its daemon runs on

    class Meta:
        table_name = "modem_health"


class UssdRequest(BaseModel):
    """A USSD code to dial (a balance check), asked by the CLI or the scheduler, run by the daemon."""

    id = AutoField()
    code = CharField()
    purpose = CharField(default="manual")  # manual, balance
    status = CharField(default="queued", index=True)  # queued, running, done, failed
    answer = TextField(default="")
    error = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)
    modem = CharField(default="")  # the modem to dial it on; "" the first daemon that takes it

    class Meta:
        table_name = "ussd_request"


class StaffAccount(BaseModel):
    """A person who may use the staff tools: one of domain.roles.ROLES, a password hash (never the
    password), and a disabled flag (a disabled account keeps its history but never logs in)."""

    id = AutoField()
    # Stored lower-case (staff.accounts normalises it), so "Ana" and "ana" are one account.
    username = CharField(unique=True)
    full_name = CharField(default="")
    role = CharField()
    password_hash = CharField()
    disabled = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "staff_account"


class AuditEntry(BaseModel):
    """Who changed what, when and from where (cli or web); written with the change it records."""

    id = AutoField()
    at = DateTimeField(default=utcnow, index=True)
    actor = CharField(index=True)
    source = CharField()  # cli or web
    action = CharField(index=True)  # cases.status, staff.add, login, login.failed, ...
    target = CharField(default="")  # a tracking number, a username, a project id, ...
    detail = TextField(default="")

    class Meta:
        table_name = "audit_entry"


class StaffSession(BaseModel):
    """A logged-in browser: the SHA-256 of its cookie's token (never the token), its account, the
    CSRF token its forms carry, and when it ends (idle or absolute, whichever comes first)."""

    id = CharField(primary_key=True)
    account = ForeignKeyField(StaffAccount, backref="sessions", on_delete="CASCADE")
    csrf = CharField()
    created_at = DateTimeField(default=utcnow)
    last_seen = DateTimeField(default=utcnow)
    expires_at = DateTimeField(index=True)
    address = CharField(default="")

    class Meta:
        table_name = "staff_session"


class LoginThrottle(BaseModel):
    """Failed logins for one account ("user:NAME") or one address ("addr:IP") and the lock they earned."""

    key = CharField(primary_key=True)
    failures = IntegerField(default=0)
    first_failure = DateTimeField(default=utcnow)
    last_failure = DateTimeField(default=utcnow)
    locked_until = DateTimeField(null=True)

    class Meta:
        table_name = "login_throttle"


class Crew(BaseModel):
    """A field crew's phone: PIN-protected SMS commands on the cases assigned to it (by its name)."""

    id = AutoField()
    phone = CharField(unique=True)  # E.164
    name = CharField()  # the assignee name staff use: `cases assign TRACKING "Cuadrilla 3"`
    pin_hash = CharField()  # werkzeug hash; the PIN itself is shown once and never stored
    created_at = DateTimeField(default=utcnow)
    failures = IntegerField(default=0)  # wrong PINs in a row
    locked_until = DateTimeField(null=True)


class Callback(BaseModel):
    """A resident's missed call to the municipal SIM: a request to be called back."""

    id = AutoField()
    phone = CharField(index=True)  # E.164 (or as the network gave it when it is not a number)
    first_call_at = DateTimeField(default=utcnow)
    last_call_at = DateTimeField(default=utcnow)
    calls = IntegerField(default=1)  # calls within the window, counted on this one request
    status = CharField(default="pending", index=True)  # pending, done
    sms = ForeignKeyField(OutboundMessage, null=True, column_name="sms_id")
    done_at = DateTimeField(null=True)
    done_by = CharField(default="")
    note = TextField(default="")
    case = ForeignKeyField(Case, null=True, column_name="case_id")


class Event(BaseModel):
    """Something other systems hear of (message received, case opened, ...), as JSON."""

    id = AutoField()
    kind = CharField()
    at = DateTimeField(default=utcnow)
    payload = TextField()


class EventCursor(BaseModel):
    """How far one receiver got: every event up to last_event_id was delivered, in order."""

    target = CharField(primary_key=True)  # command, webhook
    last_event_id = IntegerField(default=0)
    attempts = IntegerField(default=0)  # failed attempts at the next event
    next_attempt_at = DateTimeField(null=True)
    last_error = TextField(default="")
    failing_since = DateTimeField(null=True)
    # On a database shared by gateways: the one delivering now (claimed_by), until when (its lease).
    held_by = CharField(default="")
    held_until = DateTimeField(null=True)

    class Meta:
        table_name = "event_cursor"


class TrackingFill(BaseModel):
    """How many tracking numbers of one length were given (cases and practice cases)."""

    length = IntegerField(primary_key=True)
    used = IntegerField(default=0)

    class Meta:
        table_name = "tracking_fill"


ALL_MODELS = (Neighborhood, InboundMessage, SmsPart, Case, CaseReporter, PhoneState, PendingReport, CaseEvent,
              Broadcast, OutboundMessage, ModemHealth, UssdRequest, WebSubmission, Project, SiteSecret,
              CaseQuestion, PracticeCase, PracticeMessage, CaseCorrection, ForgottenLesson, StaffAccount, AuditEntry,
              StaffSession, LoginThrottle, Crew, Callback, Event, EventCursor, TrackingFill)
