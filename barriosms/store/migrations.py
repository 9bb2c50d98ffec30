"""Numbered schema migrations.

Each migration is frozen SQL (never generated from the current models, which move on) applied in
one transaction together with the row that records it, so a power cut leaves the database either
before or after a migration, never half-way. Add a new migration at the end; never edit one that
has shipped.
"""

from __future__ import annotations

import logging
import re
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from peewee import Database, DatabaseProxy, SqliteDatabase

from barriosms.store.models import utcnow

log = logging.getLogger(__name__)

# The migrations run on a database or on the proxy the models are bound to (store.models.database).
AnyDatabase = Database | DatabaseProxy


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", (
        """CREATE TABLE "neighborhood" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "code" VARCHAR(255) NOT NULL,
            "name" VARCHAR(255) NOT NULL,
            "district" VARCHAR(255) NOT NULL,
            "lat" REAL,
            "lon" REAL,
            "created_at" DATETIME NOT NULL)""",
        'CREATE UNIQUE INDEX "neighborhood_code" ON "neighborhood" ("code")',
        """CREATE TABLE "inbound_message" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "dedupe_key" VARCHAR(255) NOT NULL,
            "sender" VARCHAR(255) NOT NULL,
            "phone" VARCHAR(255) NOT NULL,
            "text" TEXT NOT NULL,
            "smsc_time" DATETIME,
            "received_at" DATETIME NOT NULL,
            "parts" INTEGER NOT NULL,
            "incomplete" INTEGER NOT NULL,
            "coding" VARCHAR(255) NOT NULL,
            "intent" VARCHAR(255) NOT NULL,
            "needs_staff" INTEGER NOT NULL,
            "case_id" INTEGER,
            FOREIGN KEY ("case_id") REFERENCES "case" ("id"))""",
        'CREATE UNIQUE INDEX "inbound_message_dedupe_key" ON "inbound_message" ("dedupe_key")',
        'CREATE INDEX "inbound_message_phone" ON "inbound_message" ("phone")',
        'CREATE INDEX "inbound_message_needs_staff" ON "inbound_message" ("needs_staff")',
        'CREATE INDEX "inbound_message_case_id" ON "inbound_message" ("case_id")',
        """CREATE TABLE "sms_part" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "dedupe_key" VARCHAR(255) NOT NULL,
            "sender" VARCHAR(255) NOT NULL,
            "concat_ref" INTEGER NOT NULL,
            "part_number" INTEGER NOT NULL,
            "total_parts" INTEGER NOT NULL,
            "text" TEXT NOT NULL,
            "smsc_time" DATETIME,
            "received_at" DATETIME NOT NULL,
            "message_id" INTEGER,
            FOREIGN KEY ("message_id") REFERENCES "inbound_message" ("id"))""",
        'CREATE UNIQUE INDEX "sms_part_dedupe_key" ON "sms_part" ("dedupe_key")',
        'CREATE INDEX "sms_part_message_id" ON "sms_part" ("message_id")',
        'CREATE INDEX "sms_part_group" ON "sms_part" ("sender", "concat_ref", "total_parts")',
        """CREATE TABLE "case" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "tracking" VARCHAR(255) NOT NULL,
            "neighborhood_id" INTEGER NOT NULL,
            "category" VARCHAR(255) NOT NULL,
            "text" TEXT NOT NULL,
            "phone" VARCHAR(255) NOT NULL,
            "status" VARCHAR(255) NOT NULL,
            "created_at" DATETIME NOT NULL,
            "updated_at" DATETIME NOT NULL,
            "source_message_id" INTEGER,
            FOREIGN KEY ("neighborhood_id") REFERENCES "neighborhood" ("id"),
            FOREIGN KEY ("source_message_id") REFERENCES "inbound_message" ("id"))""",
        'CREATE UNIQUE INDEX "case_tracking" ON "case" ("tracking")',
        'CREATE INDEX "case_neighborhood_id" ON "case" ("neighborhood_id")',
        'CREATE INDEX "case_category" ON "case" ("category")',
        'CREATE INDEX "case_phone" ON "case" ("phone")',
        'CREATE INDEX "case_status" ON "case" ("status")',
        # One case per source message: the database itself refuses a duplicate case even if the
        # same SMS were processed twice.
        'CREATE UNIQUE INDEX "case_source_message_id" ON "case" ("source_message_id")',
        """CREATE TABLE "case_event" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "case_id" INTEGER NOT NULL,
            "at" DATETIME NOT NULL,
            "kind" VARCHAR(255) NOT NULL,
            "old_status" VARCHAR(255),
            "new_status" VARCHAR(255),
            "note" TEXT NOT NULL,
            "public" INTEGER NOT NULL,
            "actor" VARCHAR(255) NOT NULL,
            FOREIGN KEY ("case_id") REFERENCES "case" ("id") ON DELETE CASCADE)""",
        'CREATE INDEX "case_event_case_id" ON "case_event" ("case_id")',
        """CREATE TABLE "outbound_message" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "recipient" VARCHAR(255) NOT NULL,
            "text" TEXT NOT NULL,
            "status" VARCHAR(255) NOT NULL,
            "kind" VARCHAR(255) NOT NULL,
            "attempts" INTEGER NOT NULL,
            "next_attempt_at" DATETIME NOT NULL,
            "last_error" TEXT NOT NULL,
            "modem_reference" VARCHAR(255) NOT NULL,
            "parts" INTEGER NOT NULL,
            "case_id" INTEGER,
            "in_reply_to_id" INTEGER,
            "created_at" DATETIME NOT NULL,
            "sent_at" DATETIME,
            FOREIGN KEY ("case_id") REFERENCES "case" ("id"),
            FOREIGN KEY ("in_reply_to_id") REFERENCES "inbound_message" ("id"))""",
        'CREATE INDEX "outbound_message_recipient" ON "outbound_message" ("recipient")',
        'CREATE INDEX "outbound_message_status" ON "outbound_message" ("status")',
        'CREATE INDEX "outbound_message_next_attempt_at" ON "outbound_message" ("next_attempt_at")',
        'CREATE INDEX "outbound_message_case_id" ON "outbound_message" ("case_id")',
        'CREATE INDEX "outbound_message_in_reply_to_id" ON "outbound_message" ("in_reply_to_id")',
        """CREATE TABLE "modem_health" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "updated_at" DATETIME NOT NULL,
            "connected" INTEGER NOT NULL,
            "since" DATETIME,
            "last_contact_at" DATETIME,
            "manufacturer" VARCHAR(255) NOT NULL,
            "model" VARCHAR(255) NOT NULL,
            "imei" VARCHAR(255) NOT NULL,
            "operator" VARCHAR(255) NOT NULL,
            "network_state" VARCHAR(255) NOT NULL,
            "signal_percent" INTEGER,
            "signal_dbm" INTEGER,
            "sim_used" INTEGER,
            "sim_total" INTEGER,
            "received_count" INTEGER NOT NULL,
            "sent_count" INTEGER NOT NULL,
            "last_error" TEXT NOT NULL,
            "pid" INTEGER)""",
    )),
)

MIGRATIONS += (
    Migration(2, "modem health: IMSI, device, time of the last error", (
        'ALTER TABLE "modem_health" ADD COLUMN "imsi" VARCHAR(255) NOT NULL DEFAULT \'\'',
        'ALTER TABLE "modem_health" ADD COLUMN "device" VARCHAR(255) NOT NULL DEFAULT \'\'',
        'ALTER TABLE "modem_health" ADD COLUMN "last_error_at" DATETIME',
    )),
)

MIGRATIONS += (
    Migration(3, "delivery reports on outbound messages", (
        # '' not asked for, pending, delivered, undelivered
        'ALTER TABLE "outbound_message" ADD COLUMN "delivery" VARCHAR(255) NOT NULL DEFAULT \'\'',
        # the modem references of the parts whose report has not come yet
        'ALTER TABLE "outbound_message" ADD COLUMN "awaiting_reports" VARCHAR(255) NOT NULL DEFAULT \'\'',
        'ALTER TABLE "outbound_message" ADD COLUMN "delivered_at" DATETIME',
    )),
)

MIGRATIONS += (
    Migration(4, "USSD requests (balance checks) and the last balance seen", (
        """CREATE TABLE "ussd_request" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "code" VARCHAR(255) NOT NULL,
            "purpose" VARCHAR(255) NOT NULL,
            "status" VARCHAR(255) NOT NULL,
            "answer" TEXT NOT NULL,
            "error" TEXT NOT NULL,
            "created_at" DATETIME NOT NULL,
            "finished_at" DATETIME)""",
        'CREATE INDEX "ussd_request_status" ON "ussd_request" ("status")',
        'ALTER TABLE "modem_health" ADD COLUMN "balance" REAL',
        'ALTER TABLE "modem_health" ADD COLUMN "balance_text" TEXT NOT NULL DEFAULT \'\'',
        'ALTER TABLE "modem_health" ADD COLUMN "balance_at" DATETIME',
    )),
)

MIGRATIONS += (
    Migration(5, "the service for residents and staff: aliases, reporters, phones, pending reports, "
                 "assignment, merging, budgets and broadcasts", (
        'ALTER TABLE "neighborhood" ADD COLUMN "aliases" TEXT NOT NULL DEFAULT \'\'',
        'ALTER TABLE "case" ADD COLUMN "assignee" VARCHAR(255) NOT NULL DEFAULT \'\'',
        'ALTER TABLE "case" ADD COLUMN "merged_into_id" INTEGER REFERENCES "case" ("id")',
        'ALTER TABLE "case" ADD COLUMN "resolved_at" DATETIME',
        'CREATE INDEX "case_merged_into_id" ON "case" ("merged_into_id")',
        # Everyone who reported the problem of a case: the first reporter, and the reporters of
        # duplicates merged into it. All of them are told when the case changes.
        """CREATE TABLE "case_reporter" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "case_id" INTEGER NOT NULL,
            "phone" VARCHAR(255) NOT NULL,
            "message_id" INTEGER,
            "how" VARCHAR(255) NOT NULL,
            "joined_at" DATETIME NOT NULL,
            FOREIGN KEY ("case_id") REFERENCES "case" ("id") ON DELETE CASCADE,
            FOREIGN KEY ("message_id") REFERENCES "inbound_message" ("id"))""",
        'CREATE UNIQUE INDEX "case_reporter_case_id_phone" ON "case_reporter" ("case_id", "phone")',
        'CREATE INDEX "case_reporter_phone" ON "case_reporter" ("phone")',
        'INSERT INTO "case_reporter" ("case_id", "phone", "message_id", "how", "joined_at") '
        'SELECT "id", "phone", "source_message_id", \'reported\', "created_at" FROM "case"',
        # Per-phone state: opted out of status SMS (BAJA/ALTA), silenced as a suspected machine.
        """CREATE TABLE "phone_state" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "phone" VARCHAR(255) NOT NULL,
            "opted_out" INTEGER NOT NULL,
            "opted_out_at" DATETIME,
            "muted_until" DATETIME,
            "mute_reason" TEXT NOT NULL,
            "updated_at" DATETIME NOT NULL)""",
        'CREATE UNIQUE INDEX "phone_state_phone" ON "phone_state" ("phone")',
        # A report waiting for its neighbourhood (or for the choice between several) from the same phone.
        """CREATE TABLE "pending_report" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "phone" VARCHAR(255) NOT NULL,
            "message_id" INTEGER NOT NULL,
            "description" TEXT NOT NULL,
            "candidates" VARCHAR(255) NOT NULL,
            "created_at" DATETIME NOT NULL,
            "expires_at" DATETIME NOT NULL,
            "closed_at" DATETIME,
            "outcome" VARCHAR(255) NOT NULL,
            FOREIGN KEY ("message_id") REFERENCES "inbound_message" ("id"))""",
        'CREATE UNIQUE INDEX "pending_report_message_id" ON "pending_report" ("message_id")',
        'CREATE INDEX "pending_report_phone" ON "pending_report" ("phone")',
        # Why a message got no answer (budget, loop, ...): staff see it in `inbox list`.
        'ALTER TABLE "inbound_message" ADD COLUMN "unanswered" TEXT NOT NULL DEFAULT \'\'',
        """CREATE TABLE "broadcast" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "neighborhood_id" INTEGER NOT NULL,
            "text" TEXT NOT NULL,
            "recipients" INTEGER NOT NULL,
            "parts" INTEGER NOT NULL,
            "urgent" INTEGER NOT NULL,
            "actor" VARCHAR(255) NOT NULL,
            "created_at" DATETIME NOT NULL,
            FOREIGN KEY ("neighborhood_id") REFERENCES "neighborhood" ("id"))""",
        # Replies are urgent (the resident is waiting); status SMS and notices are not, unless
        # staff say so: those wait out the quiet hours. hold_reason says why a queued SMS waits.
        'ALTER TABLE "outbound_message" ADD COLUMN "urgent" INTEGER NOT NULL DEFAULT 0',
        'ALTER TABLE "outbound_message" ADD COLUMN "hold_reason" TEXT NOT NULL DEFAULT \'\'',
        'ALTER TABLE "outbound_message" ADD COLUMN "broadcast_id" INTEGER REFERENCES "broadcast" ("id")',
        'UPDATE "outbound_message" SET "urgent" = 1 WHERE "kind" = \'reply\'',
        'CREATE INDEX "outbound_message_broadcast_id" ON "outbound_message" ("broadcast_id")',
        'CREATE INDEX "outbound_message_sent_at" ON "outbound_message" ("sent_at")',
        'CREATE INDEX "inbound_message_received_at" ON "inbound_message" ("received_at")',
    )),
)

MIGRATIONS += (
    Migration(6, "outbox claims: who is sending a message, since when", (
        # Several senders (modems of one daemon, daemons sharing a database) claim a queued SMS with
        # one conditional UPDATE; after a crash each recovers only its own claims, or stale ones.
        'ALTER TABLE "outbound_message" ADD COLUMN "claimed_by" VARCHAR(255) NOT NULL DEFAULT \'\'',
        'ALTER TABLE "outbound_message" ADD COLUMN "claimed_at" DATETIME',
    )),
)

MIGRATIONS += (
    Migration(7, "several modems: a health row per modem, the modem each SMS came in on and leaves through", (
        'ALTER TABLE "modem_health" ADD COLUMN "name" VARCHAR(255) NOT NULL DEFAULT \'default\'',
        'CREATE UNIQUE INDEX "modem_health_name" ON "modem_health" ("name")',
        'ALTER TABLE "inbound_message" ADD COLUMN "modem" VARCHAR(255) NOT NULL DEFAULT \'\'',
        # '' any modem; a name: the modem a reply must leave through (the one the report came in on).
        'ALTER TABLE "outbound_message" ADD COLUMN "modem" VARCHAR(255) NOT NULL DEFAULT \'\'',
    )),
)

MIGRATIONS += (
    Migration(8, "the website: where a case came from and its point, web submissions, municipal projects", (
        # sms, web or open311; a point the resident put on the map (else the neighbourhood's).
        'ALTER TABLE "case" ADD COLUMN "channel" VARCHAR(255) NOT NULL DEFAULT \'sms\'',
        'ALTER TABLE "case" ADD COLUMN "lat" REAL',
        'ALTER TABLE "case" ADD COLUMN "lon" REAL',
        # The public map and lists count cases per neighbourhood and status.
        'CREATE INDEX "case_neighborhood_id_status" ON "case" ("neighborhood_id", "status")',
        'CREATE INDEX "case_created_at" ON "case" ("created_at")',
        'CREATE INDEX "case_updated_at" ON "case" ("updated_at")',
        # One row per web form sent: the form's one-time token makes a double submit one case.
        """CREATE TABLE "web_submission" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "token" VARCHAR(255) NOT NULL,
            "case_id" INTEGER NOT NULL,
            "created_at" DATETIME NOT NULL,
            FOREIGN KEY ("case_id") REFERENCES "case" ("id") ON DELETE CASCADE)""",
        'CREATE UNIQUE INDEX "web_submission_token" ON "web_submission" ("token")',
        'CREATE INDEX "web_submission_case_id" ON "web_submission" ("case_id")',
        # Municipal works in a neighbourhood, shown on its public page and managed from the CLI.
        """CREATE TABLE "project" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "neighborhood_id" INTEGER NOT NULL,
            "title" VARCHAR(255) NOT NULL,
            "description" TEXT NOT NULL,
            "status" VARCHAR(255) NOT NULL,
            "budget" REAL,
            "start_date" DATE,
            "end_date" DATE,
            "lat" REAL,
            "lon" REAL,
            "created_at" DATETIME NOT NULL,
            "updated_at" DATETIME NOT NULL,
            FOREIGN KEY ("neighborhood_id") REFERENCES "neighborhood" ("id"))""",
        'CREATE INDEX "project_neighborhood_id" ON "project" ("neighborhood_id")',
        # Secrets generated once and shared by every process using the database (the web forms' signing key).
        """CREATE TABLE "site_secret" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "name" VARCHAR(255) NOT NULL,
            "value" VARCHAR(255) NOT NULL,
            "created_at" DATETIME NOT NULL)""",
        'CREATE UNIQUE INDEX "site_secret_name" ON "site_secret" ("name")',
    )),
)

MIGRATIONS += (
    Migration(9, "conversations about a case: staff questions and messages, answers, satisfaction, practice", (
        # Waiting for the resident's answer to a staff question; answers staff have not looked at.
        'ALTER TABLE "case" ADD COLUMN "awaiting_resident" INTEGER NOT NULL DEFAULT 0',
        'ALTER TABLE "case" ADD COLUMN "unseen_replies" INTEGER NOT NULL DEFAULT 0',
        'CREATE INDEX "case_unseen_replies" ON "case" ("unseen_replies")',
        # An SMS from staff to a reporter that the reporter may answer: a question, a free message,
        # or the satisfaction question after resolving (kind survey; answer yes or no).
        """CREATE TABLE "case_question" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "case_id" INTEGER NOT NULL,
            "phone" VARCHAR(255) NOT NULL,
            "kind" VARCHAR(255) NOT NULL,
            "text" TEXT NOT NULL,
            "actor" VARCHAR(255) NOT NULL,
            "asked_at" DATETIME NOT NULL,
            "expires_at" DATETIME NOT NULL,
            "status" VARCHAR(255) NOT NULL,
            "answered_at" DATETIME,
            "answer" TEXT NOT NULL,
            "answer_message_id" INTEGER,
            "outbound_id" INTEGER,
            FOREIGN KEY ("case_id") REFERENCES "case" ("id") ON DELETE CASCADE,
            FOREIGN KEY ("answer_message_id") REFERENCES "inbound_message" ("id"),
            FOREIGN KEY ("outbound_id") REFERENCES "outbound_message" ("id"))""",
        'CREATE INDEX "case_question_case_id" ON "case_question" ("case_id")',
        'CREATE INDEX "case_question_phone_status" ON "case_question" ("phone", "status")',
        # The satisfaction question is asked once per case and reporter.
        'CREATE UNIQUE INDEX "case_question_survey_once" ON "case_question" ("case_id", "phone") '
        'WHERE "kind" = \'survey\'',
        # Practice (workshops): cases kept apart from the real ones, purged after a while.
        """CREATE TABLE "practice_case" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "tracking" VARCHAR(255) NOT NULL,
            "phone" VARCHAR(255) NOT NULL,
            "neighborhood_id" INTEGER NOT NULL,
            "category" VARCHAR(255) NOT NULL,
            "text" TEXT NOT NULL,
            "status" VARCHAR(255) NOT NULL,
            "created_at" DATETIME NOT NULL,
            FOREIGN KEY ("neighborhood_id") REFERENCES "neighborhood" ("id"))""",
        'CREATE UNIQUE INDEX "practice_case_tracking" ON "practice_case" ("tracking")',
        """CREATE TABLE "practice_message" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "phone" VARCHAR(255) NOT NULL,
            "text" TEXT NOT NULL,
            "received_at" DATETIME NOT NULL,
            "outcome" VARCHAR(255) NOT NULL,
            "well_formed" INTEGER NOT NULL,
            "practice_case_id" INTEGER,
            "message_id" INTEGER,
            FOREIGN KEY ("practice_case_id") REFERENCES "practice_case" ("id") ON DELETE SET NULL,
            FOREIGN KEY ("message_id") REFERENCES "inbound_message" ("id") ON DELETE SET NULL)""",
        'CREATE INDEX "practice_message_phone" ON "practice_message" ("phone")',
        'CREATE INDEX "practice_message_received_at" ON "practice_message" ("received_at")',
    )),
    Migration(10, "why a message waits for staff", (
        # no_neighborhood, unknown_code, ambiguous, case_limit, or "error: ..." (see intake).
        'ALTER TABLE "inbound_message" ADD COLUMN "triage" TEXT NOT NULL DEFAULT \'\'',
    )),
    Migration(11, "staff corrections of what the gateway understood, and lessons staff made it forget", (
        # One row per field staff changed on a case (category or neighbourhood): the history, and
        # the labelled examples the categoriser learns from.
        """CREATE TABLE "case_correction" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "case_id" INTEGER NOT NULL,
            "field" VARCHAR(255) NOT NULL,
            "before" VARCHAR(255) NOT NULL,
            "after" VARCHAR(255) NOT NULL,
            "note" TEXT NOT NULL,
            "actor" VARCHAR(255) NOT NULL,
            "at" DATETIME NOT NULL,
            FOREIGN KEY ("case_id") REFERENCES "case" ("id") ON DELETE CASCADE)""",
        'CREATE INDEX "case_correction_case_id" ON "case_correction" ("case_id")',
        'CREATE INDEX "case_correction_field_at" ON "case_correction" ("field", "at")',
        # A word -> category lesson staff found wrong: the learner leaves it out from then on.
        """CREATE TABLE "forgotten_lesson" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "word" VARCHAR(255) NOT NULL,
            "category" VARCHAR(255) NOT NULL,
            "actor" VARCHAR(255) NOT NULL,
            "at" DATETIME NOT NULL)""",
        'CREATE UNIQUE INDEX "forgotten_lesson_word_category" ON "forgotten_lesson" ("word", "category")',
    )),
    Migration(12, "staff accounts and the audit trail", (
        # username is stored lower-case, so this index makes it unique whatever the case typed.
        """CREATE TABLE "staff_account" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "username" VARCHAR(255) NOT NULL,
            "full_name" VARCHAR(255) NOT NULL,
            "role" VARCHAR(255) NOT NULL,
            "password_hash" VARCHAR(255) NOT NULL,
            "disabled" INTEGER NOT NULL,
            "created_at" DATETIME NOT NULL,
            "updated_at" DATETIME NOT NULL)""",
        'CREATE UNIQUE INDEX "staff_account_username" ON "staff_account" ("username")',
        # One row per change by staff (and per web login, good or bad): who, when, from where, what.
        """CREATE TABLE "audit_entry" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "at" DATETIME NOT NULL,
            "actor" VARCHAR(255) NOT NULL,
            "source" VARCHAR(255) NOT NULL,
            "action" VARCHAR(255) NOT NULL,
            "target" VARCHAR(255) NOT NULL,
            "detail" TEXT NOT NULL)""",
        'CREATE INDEX "audit_entry_at" ON "audit_entry" ("at")',
        'CREATE INDEX "audit_entry_actor" ON "audit_entry" ("actor")',
        'CREATE INDEX "audit_entry_action" ON "audit_entry" ("action")',
    )),
    Migration(13, "staff back-office sessions and login throttling", (
        # id is the SHA-256 of the cookie's token: a copy of the database opens no session.
        """CREATE TABLE "staff_session" (
            "id" VARCHAR(255) NOT NULL PRIMARY KEY,
            "account_id" INTEGER NOT NULL,
            "csrf" VARCHAR(255) NOT NULL,
            "created_at" DATETIME NOT NULL,
            "last_seen" DATETIME NOT NULL,
            "expires_at" DATETIME NOT NULL,
            "address" VARCHAR(255) NOT NULL,
            FOREIGN KEY ("account_id") REFERENCES "staff_account" ("id") ON DELETE CASCADE)""",
        'CREATE INDEX "staff_session_account_id" ON "staff_session" ("account_id")',
        'CREATE INDEX "staff_session_expires_at" ON "staff_session" ("expires_at")',
        # Failed logins per account ("user:ana") and per address ("addr:10.0.0.5"), for the back-off.
        """CREATE TABLE "login_throttle" (
            "key" VARCHAR(255) NOT NULL PRIMARY KEY,
            "failures" INTEGER NOT NULL,
            "first_failure" DATETIME NOT NULL,
            "last_failure" DATETIME NOT NULL,
            "locked_until" DATETIME)""",
    )),
    Migration(14, "field crews, missed-call callbacks, and events for other systems", (
        # A crew's phone (E.164) and its PIN's hash; failures and the lock they earned.
        """CREATE TABLE "crew" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "phone" VARCHAR(255) NOT NULL,
            "name" VARCHAR(255) NOT NULL,
            "pin_hash" VARCHAR(255) NOT NULL,
            "created_at" DATETIME NOT NULL,
            "failures" INTEGER NOT NULL,
            "locked_until" DATETIME)""",
        'CREATE UNIQUE INDEX "crew_phone" ON "crew" ("phone")',
        # A resident's missed call: one row per request (repeated calls within a window count on it).
        """CREATE TABLE "callback" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "phone" VARCHAR(255) NOT NULL,
            "first_call_at" DATETIME NOT NULL,
            "last_call_at" DATETIME NOT NULL,
            "calls" INTEGER NOT NULL,
            "status" VARCHAR(255) NOT NULL,
            "sms_id" INTEGER,
            "done_at" DATETIME,
            "done_by" VARCHAR(255) NOT NULL,
            "note" TEXT NOT NULL,
            "case_id" INTEGER,
            FOREIGN KEY ("sms_id") REFERENCES "outbound_message" ("id"),
            FOREIGN KEY ("case_id") REFERENCES "case" ("id"))""",
        'CREATE INDEX "callback_phone" ON "callback" ("phone")',
        'CREATE INDEX "callback_status" ON "callback" ("status")',
        # What happened, for other systems: written in the transaction of the change it tells of.
        """CREATE TABLE "event" (
            "id" INTEGER NOT NULL PRIMARY KEY,
            "kind" VARCHAR(255) NOT NULL,
            "at" DATETIME NOT NULL,
            "payload" TEXT NOT NULL)""",
        # How far each receiver ([events] command, webhook) got, in order, and why it is stuck.
        """CREATE TABLE "event_cursor" (
            "target" VARCHAR(255) NOT NULL PRIMARY KEY,
            "last_event_id" INTEGER NOT NULL,
            "attempts" INTEGER NOT NULL,
            "next_attempt_at" DATETIME,
            "last_error" TEXT NOT NULL,
            "failing_since" DATETIME)""",
    )),
    Migration(15, "tracking numbers that grow a digit when half of a length is taken", (
        # How many numbers of each length cases and practice cases took (never decreases): the
        # length of the next one without counting a million rows.
        """CREATE TABLE "tracking_fill" (
            "length" INTEGER NOT NULL PRIMARY KEY,
            "used" INTEGER NOT NULL)""",
        """INSERT INTO "tracking_fill" ("length", "used")
            SELECT LENGTH("tracking"), COUNT(*) FROM (
                SELECT "tracking" FROM "case" UNION ALL SELECT "tracking" FROM "practice_case") AS "taken"
            GROUP BY LENGTH("tracking")""",
    )),
    Migration(16, "several gateways on one database: whose modem, who delivers the events, which SIM dials USSD", (
        # The machine a modem's daemon runs on: two gateways given one name are told apart.
        'ALTER TABLE "modem_health" ADD COLUMN "host" VARCHAR(255) NOT NULL DEFAULT \'\'',
        # The gateway delivering a receiver's events now, until when (renewed as it goes).
        'ALTER TABLE "event_cursor" ADD COLUMN "held_by" VARCHAR(255) NOT NULL DEFAULT \'\'',
        'ALTER TABLE "event_cursor" ADD COLUMN "held_until" DATETIME',
        # The modem a USSD code is for: each gateway dials its own SIM's balance.
        'ALTER TABLE "ussd_request" ADD COLUMN "modem" VARCHAR(255) NOT NULL DEFAULT \'\'',
    )),
    Migration(17, "indexes for what staff list and count at a million cases", (
        # `cases list` with one filter, newest first: the filter and the order from one index, so
        # a screenful reads 50 entries, not every case of the filter sorted (the rowid "id" ends
        # every SQLite index anyway; PostgreSQL needs it named).
        'CREATE INDEX "case_status_created_at" ON "case" ("status", "created_at", "id")',
        'CREATE INDEX "case_category_created_at" ON "case" ("category", "created_at", "id")',
        'CREATE INDEX "case_neighborhood_id_created_at" ON "case" ("neighborhood_id", "created_at", "id")',
        'CREATE INDEX "case_assignee_created_at" ON "case" ("assignee", "created_at", "id")',
        # ...of which the status and category ones make the single-column indexes redundant.
        'DROP INDEX "case_status"',
        'DROP INDEX "case_category"',
        # `cases list --has-new-replies`: only the few cases with unseen answers, newest first.
        'CREATE INDEX "case_new_replies" ON "case" ("created_at", "id") WHERE "unseen_replies" > 0',
        # `stats` and `report hotspots` count the live cases by status, category and neighbourhood
        # (stats the resolved ones too, hotspots their age) from this index alone, never reading
        # the cases themselves.
        'CREATE INDEX "case_live_counts" ON "case" ("merged_into_id", "status", "category", "neighborhood_id", '
        '"created_at", "resolved_at")',
        # The median time to resolve (overall and per category) is the middle entry of these,
        # reached by LIMIT/OFFSET in index order; the expression is store.database.seconds_between.
        'CREATE INDEX "case_resolve_seconds" ON "case" ("merged_into_id", '
        '((julianday("resolved_at") - julianday("created_at")) * 86400)) WHERE "resolved_at" IS NOT NULL',
        'CREATE INDEX "case_category_resolve_seconds" ON "case" ("merged_into_id", "category", '
        '((julianday("resolved_at") - julianday("created_at")) * 86400)) WHERE "resolved_at" IS NOT NULL',
        # `inbox list` newest first: the messages waiting for staff, those no SMS answered, and one
        # phone's (the first and last make the single-column indexes redundant).
        'CREATE INDEX "inbound_message_needs_staff_received_at" ON "inbound_message" ("needs_staff", "received_at", '
        '"id")',
        'DROP INDEX "inbound_message_needs_staff"',
        'CREATE INDEX "inbound_message_unanswered" ON "inbound_message" ("received_at", "id") '
        """WHERE "unanswered" <> ''""",
        'CREATE INDEX "inbound_message_phone_received_at" ON "inbound_message" ("phone", "received_at", "id")',
        'DROP INDEX "inbound_message_phone"',
    )),
    Migration(18, "indexes for the public case lists and counts at a million cases", (
        # The website's and Open311's lists: the cases not merged into another (a seek on
        # "merged_into_id" IS NULL, as for case_live_counts, so the planner weighs them alike),
        # newest first in the order of the index, with the status, category and neighbourhood they
        # are filtered on: a page, the cases a deep page skips and the count of a filter are read
        # from the index alone, never from the cases, and never sorted.
        'CREATE INDEX "case_public_created_at" ON "case" ("merged_into_id", "created_at", "id", "status", '
        '"category", "neighborhood_id") WHERE "merged_into_id" IS NULL',
        # ...and one neighbourhood's (its page, `/casos?barrio=`), its open and closed ones counted.
        'CREATE INDEX "case_public_neighborhood" ON "case" ("neighborhood_id", "merged_into_id", "created_at", '
        '"id", "status", "category") WHERE "merged_into_id" IS NULL',
    )),
    Migration(19, "stats and report hotspots from indexes at a million cases", (
        # How many phones reported each case (cases.reporters.add_reporter keeps it): `report
        # hotspots` weighs the waiting cases from case_live_counts alone, without reading every
        # case's reporters.
        'ALTER TABLE "case" ADD COLUMN "reporter_count" INTEGER NOT NULL DEFAULT 0',
        'UPDATE "case" SET "reporter_count" = (SELECT COUNT(*) FROM "case_reporter" '
        'WHERE "case_reporter"."case_id" = "case"."id")',
        'DROP INDEX "case_live_counts"',
        'CREATE INDEX "case_live_counts" ON "case" ("merged_into_id", "status", "category", "neighborhood_id", '
        '"created_at", "resolved_at", "reporter_count")',
        # Each question carries its case's category and district (cases.filing keeps them) and the
        # seconds to its answer: `stats` counts the satisfaction answers per category and district,
        # and takes the medians of the time to "yes" as the middle entries of an index, without
        # joining a million questions to their cases.
        'ALTER TABLE "case_question" ADD COLUMN "category" VARCHAR(255) NOT NULL DEFAULT \'\'',
        'ALTER TABLE "case_question" ADD COLUMN "district" VARCHAR(255) NOT NULL DEFAULT \'\'',
        'ALTER TABLE "case_question" ADD COLUMN "answer_seconds" REAL',
        # ...and the day its case was opened (which never changes), for `stats --since`.
        'ALTER TABLE "case_question" ADD COLUMN "case_created_at" DATETIME',
        'UPDATE "case_question" SET "category" = (SELECT "category" FROM "case" WHERE "case"."id" = '
        '"case_question"."case_id"), "district" = (SELECT "neighborhood"."district" FROM "case" JOIN "neighborhood" '
        'ON "neighborhood"."id" = "case"."neighborhood_id" WHERE "case"."id" = "case_question"."case_id"), '
        '"case_created_at" = (SELECT "created_at" FROM "case" WHERE "case"."id" = "case_question"."case_id")',
        'UPDATE "case_question" SET "answer_seconds" = (julianday("answered_at") - julianday("asked_at")) * 86400 '
        'WHERE "answered_at" IS NOT NULL',
        # The intake looks up the questions waiting for one phone (open, of a kind, not yet past
        # their time): with the phone, the status and the kind, this index always has more equal
        # columns than the counting ones below, so the planner, without ANALYZE, never reads a
        # whole kind's open questions instead of one phone's.
        'DROP INDEX "case_question_phone_status"',
        'CREATE INDEX "case_question_phone_status_kind_expires_at" ON "case_question" ("phone", "status", "kind", '
        '"expires_at")',
        # (The day the case was opened ends each: `stats --since` filters on it from the index.)
        'CREATE INDEX "case_question_survey_counts" ON "case_question" ("kind", "status", "answer", "category", '
        '"district", "expires_at", "answer_seconds", "case_created_at")',
        'CREATE INDEX "case_question_answer_seconds" ON "case_question" ("kind", "status", "answer", '
        '"answer_seconds", "case_created_at")',
        'CREATE INDEX "case_question_category_answer_seconds" ON "case_question" ("kind", "status", "answer", '
        '"category", "answer_seconds", "case_created_at")',
        'CREATE INDEX "case_question_district_answer_seconds" ON "case_question" ("kind", "status", "answer", '
        '"district", "answer_seconds", "case_created_at")',
        # `stats --since` counts the cases opened since a day, and their times to resolve, from the
        # public list's index (the cases not merged, by the day they were opened) with the time each
        # was resolved added at its end, instead of reading every case of the period.
        'DROP INDEX "case_public_created_at"',
        'CREATE INDEX "case_public_created_at" ON "case" ("merged_into_id", "created_at", "id", "status", '
        '"category", "neighborhood_id", "resolved_at") WHERE "merged_into_id" IS NULL',
    )),
)

LATEST_VERSION = MIGRATIONS[-1].version

_HISTORY_DDL = """CREATE TABLE IF NOT EXISTS "schema_migration" (
    "version" INTEGER NOT NULL PRIMARY KEY,
    "name" VARCHAR(255) NOT NULL,
    "applied_at" DATETIME NOT NULL)"""


def for_dialect(db: AnyDatabase, sql: str) -> str:
    """The frozen SQLite statement as the database in use needs it.

    The migrations are written once, for SQLite; PostgreSQL differs only in a few type names
    (yes/no columns are 0/1 integers in both, see models.BooleanField).
    """
    if isinstance(getattr(db, "obj", db), SqliteDatabase):
        return sql
    sql = sql.replace('"id" INTEGER NOT NULL PRIMARY KEY', '"id" SERIAL PRIMARY KEY')
    sql = re.sub(r"\bDATETIME\b", "TIMESTAMP", sql)
    # Seconds between two times (store.database.seconds_between): SQLite has no interval type.
    sql = _SECONDS_BETWEEN.sub(r"""date_part('epoch', "\1" - "\2")""", sql)
    return re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql)


_SECONDS_BETWEEN = re.compile(r'\(julianday\("(\w+)"\) - julianday\("(\w+)"\)\) \* 86400')


_FOREIGN_KEY = re.compile(r',\s*FOREIGN KEY \("(\w+)"\) REFERENCES "(\w+)" \("(\w+)"\)(?: ON DELETE CASCADE)?')
_CREATE = re.compile(r'CREATE TABLE "(\w+)"')


def _statements(db: AnyDatabase, statements: tuple[str, ...]) -> list[str]:
    """A migration's statements for the database in use.

    SQLite accepts a foreign key to a table created later in the same migration; PostgreSQL does
    not, so there such a key is added by an ALTER TABLE at the end of the migration.
    """
    if isinstance(getattr(db, "obj", db), SqliteDatabase):
        return list(statements)
    existing = set(db.get_tables())
    created = {m.group(1) for sql in statements if (m := _CREATE.search(sql))}
    out, later = [], []
    for sql in statements:
        create = _CREATE.search(sql)
        if create:
            table = create.group(1)
            for fk in list(_FOREIGN_KEY.finditer(sql)):
                target = fk.group(2)
                if target not in existing and target != table and target in created:
                    sql = sql.replace(fk.group(0), "")
                    clause = fk.group(0).lstrip(", \n\t")
                    later.append(f'ALTER TABLE "{table}" ADD {clause}')
            existing.add(table)
        out.append(for_dialect(db, sql))
    return out + later


def current_version(db: AnyDatabase) -> int:
    """The newest migration applied to this database (0 for an empty one)."""
    if "schema_migration" not in db.get_tables():
        return 0
    row = db.execute_sql('SELECT MAX("version") FROM "schema_migration"').fetchone()
    return int(row[0] or 0)


def pending(db: AnyDatabase) -> list[Migration]:
    version = current_version(db)
    return [m for m in MIGRATIONS if m.version > version]


def _write(db: AnyDatabase) -> AbstractContextManager[Any]:
    # SQLite: take the write lock first (BEGIN IMMEDIATE); PostgreSQL: a plain transaction.
    return db.atomic("IMMEDIATE") if isinstance(getattr(db, "obj", db), SqliteDatabase) else db.atomic()


def migrate(db: AnyDatabase) -> list[Migration]:
    """Apply every pending migration, each in its own transaction with its history row."""
    applied: list[Migration] = []
    with _write(db):
        db.execute_sql(for_dialect(db, _HISTORY_DDL))
    for m in pending(db):
        with _write(db):
            # Re-check inside the write lock: another process may have migrated meanwhile.
            if current_version(db) >= m.version:
                continue
            for sql in _statements(db, m.statements):
                db.execute_sql(sql)
            p = db.param
            db.execute_sql(f'INSERT INTO "schema_migration" ("version", "name", "applied_at") VALUES ({p}, {p}, {p})',
                           (m.version, m.name, utcnow()))
        log.info("applied migration %d: %s", m.version, m.name)
        applied.append(m)
    return applied
