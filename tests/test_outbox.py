"""The outbox claim: with several senders on one database (the modems of one daemon, daemons on
several machines) every queued SMS is taken by exactly one of them, and a restarted sender takes
back only what it had claimed (or what was abandoned long ago)."""

from __future__ import annotations

import datetime as dt
import threading

from barriosms.cases import outbox
from barriosms.store.models import OutboundMessage, database

T0 = dt.datetime(2026, 11, 24, 12, 0, 0)


def queue(n: int) -> list[OutboundMessage]:
    return [outbox.queue(f"+5917100{i:04d}", f"mensaje {i}", now=T0) for i in range(n)]


def test_a_claim_is_won_once(db):
    [msg] = queue(1)
    assert outbox.claim(msg, "pi-a/entel", now=T0)
    again = OutboundMessage.get_by_id(msg.id)
    assert not outbox.claim(again, "pi-b/tigo", now=T0)
    row = OutboundMessage.get_by_id(msg.id)
    assert (row.status, row.attempts, row.claimed_by, row.claimed_at) == ("sending", 1, "pi-a/entel", T0)


def test_racing_senders_never_take_the_same_sms(db):
    queue(60)
    wins: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    start = threading.Barrier(len(wins))

    def sender(name: str) -> None:
        with database.connection_context():  # each sender its own connection, as separate processes
            # A list, not an open cursor: a connection that still reads an old snapshot cannot write
            # (SQLite answers SQLITE_BUSY_SNAPSHOT at once), which is why outbox.due() returns lists.
            candidates = list(OutboundMessage.select().where(OutboundMessage.status == "queued")
                              .order_by(OutboundMessage.id))
            start.wait()
            for msg in candidates:
                if outbox.claim(msg, name, now=T0):
                    wins[name].append(msg.id)

    threads = [threading.Thread(target=sender, args=(n,)) for n in wins]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    taken = [i for ids in wins.values() for i in ids]
    assert sorted(taken) == sorted(set(taken)), "an SMS was claimed twice"
    assert len(taken) == 60
    assert OutboundMessage.select().where(OutboundMessage.attempts != 1).count() == 0


def test_recovery_takes_back_only_own_or_stale_claims(db):
    mine, theirs, abandoned, legacy = queue(4)
    outbox.claim(mine, "pi-a", now=T0)
    outbox.claim(theirs, "pi-b", now=T0)
    outbox.claim(abandoned, "pi-c", now=T0 - dt.timedelta(hours=1))
    outbox.mark_sending(legacy, "x")
    OutboundMessage.update(claimed_by="", claimed_at=None).where(OutboundMessage.id == legacy.id).execute()
    assert outbox.recover_interrupted("pi-a", now=T0 + dt.timedelta(minutes=1)) == 3
    status = {m.id: m.status for m in OutboundMessage.select()}
    assert status == {mine.id: "queued", theirs.id: "sending", abandoned.id: "queued", legacy.id: "queued"}
    # A process that died mid-send is not the message's fault: its attempt is given back.
    assert OutboundMessage.get_by_id(mine.id).attempts == 0


def test_a_daemon_takes_back_the_claims_of_all_its_modems(db):
    entel, tigo, other = queue(3)
    outbox.claim(entel, "pi-a/entel", now=T0)
    outbox.claim(tigo, "pi-a/tigo", now=T0)
    outbox.claim(other, "pi-ab/entel", now=T0)  # another machine whose name starts alike
    assert outbox.recover_interrupted("pi-a", now=T0) == 2
    assert OutboundMessage.get_by_id(other.id).status == "sending"


def test_a_modem_sends_its_replies_and_its_operators_sms(db):
    entel_reply = outbox.queue("+59171000001", "respuesta", now=T0, modem="entel")
    tigo_reply = outbox.queue("+59176000001", "respuesta", now=T0, modem="tigo")
    to_tigo = outbox.queue("+59176000002", "aviso", kind="status_update", now=T0)
    to_entel = outbox.queue("+59171000002", "aviso", kind="status_update", now=T0)
    to_viva = outbox.queue("+59170000003", "aviso", kind="status_update", now=T0)
    due = outbox.due(now=T0)
    both = {"entel": "Entel", "tigo": "Tigo"}
    picks = {}
    for modem in both:
        left = list(due)
        picks[modem] = []
        while (msg := outbox.for_modem(left, modem, both)) is not None:
            picks[modem].append(msg.id)
            left.remove(msg)
    assert picks["entel"] == [entel_reply.id, to_entel.id, to_viva.id]  # Viva: nobody serves it, any modem
    assert picks["tigo"] == [tigo_reply.id, to_tigo.id, to_viva.id]
    # The Tigo stick is down: everything falls back to the one that works, its replies included.
    only_entel = {"entel": "Entel"}
    assert outbox.for_modem([tigo_reply], "entel", only_entel) == tigo_reply
    assert outbox.for_modem([to_tigo], "entel", only_entel) == to_tigo
    # "Viva" in the config is Nuevatel in the numbering plan.
    assert outbox.for_modem([to_viva], "viva", {"viva": "Viva", "entel": "Entel"}) == to_viva
    assert outbox.for_modem([to_viva], "entel", {"viva": "Viva", "entel": "Entel"}) is None


def test_a_live_daemon_renews_its_claims_and_a_dead_ones_are_taken_over_after_the_lease(db):
    lease = dt.timedelta(seconds=60)
    alive, dead, legacy = queue(3)
    outbox.claim(alive, "norte/norte", now=T0)
    outbox.claim(dead, "sur/sur", now=T0)
    outbox.claim(legacy, "pi/default", now=T0)
    OutboundMessage.update(claimed_at=None).where(OutboundMessage.id == legacy.id).execute()
    later = T0 + dt.timedelta(seconds=50)
    assert outbox.renew_claims(["norte/norte"], now=later) == 1
    # Within the lease nothing changes hands; the claim with no time at all is nobody's.
    assert outbox.take_over_stale(["norte/norte"], lease, now=later) == 1
    assert OutboundMessage.get_by_id(legacy.id).status == "queued"
    # sur stopped renewing at T0: after the lease its SMS is queued again, its attempt given back;
    # norte renewed at T0+50 s, so it keeps its own, and a daemon never takes over its own claims.
    after = T0 + dt.timedelta(seconds=61)
    assert outbox.take_over_stale(["norte/norte"], lease, now=after) == 1
    rows = {m.id: (m.status, m.attempts, m.claimed_by) for m in OutboundMessage.select()}
    assert rows[alive.id] == ("sending", 1, "norte/norte")
    assert rows[dead.id] == ("queued", 0, "sur/sur")
    assert outbox.take_over_stale(["sur/sur"], lease, now=T0 + dt.timedelta(hours=1)) == 1
    assert OutboundMessage.get_by_id(alive.id).status == "queued"


def test_the_daily_budget_reads_the_days_sms_through_the_sent_at_index(db, caplog):
    # The planner reads what the query says; no timing here. With the status in the WHERE, SQLite
    # went through the status index: every SMS ever sent, for each queued SMS the daemon looked at.
    import logging

    since = dt.datetime(2026, 11, 24, 4, 0)
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        outbox.sent_parts_since(since)
    [(sql, params)] = [r.msg for r in caplog.records if r.name == "peewee" and "SUM" in str(r.msg)]
    plan = " ".join(str(row[3]) for row in database.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
    assert "outbound_message_sent_at" in plan, plan


def _wait_until_blocked(conn, timeout: float = 20) -> bool:
    """Whether another session of this PostgreSQL came to wait for a lock (the take-over's UPDATE)."""
    import time

    deadline = time.monotonic() + timeout
    with conn.cursor() as cur:
        while time.monotonic() < deadline:
            cur.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> "
                        "pg_backend_pid()")
            if cur.fetchone()[0]:
                return True
            time.sleep(0.02)
    return False


def _race_take_over_against_a_renewal(url: str, renewal_commits: bool) -> tuple[int, OutboundMessage, bool]:
    """sur looks for stale claims while norte's renewal of its claim is written but not committed.

    The take-over (here, on this test's connection) reads the claim as stale, since the renewal is
    not visible yet; its conditional UPDATE then waits for norte's row; once it waits, norte (its
    own session, in a thread) commits or rolls back. What the take-over did, the row, and whether
    the take-over was seen waiting.
    """
    import psycopg2

    lease = dt.timedelta(seconds=60)
    [msg] = queue(1)
    outbox.claim(msg, "norte/norte", now=T0)
    renewal, watcher = psycopg2.connect(url), psycopg2.connect(url)
    waited: list[bool] = []
    try:
        with renewal.cursor() as cur:  # norte's renewal, in its own session, not committed yet
            cur.execute("UPDATE outbound_message SET claimed_at = %s WHERE id = %s",
                        (T0 + dt.timedelta(seconds=70), msg.id))

        def norte() -> None:
            waited.append(_wait_until_blocked(watcher))
            (renewal.commit if renewal_commits else renewal.rollback)()

        thread = threading.Thread(target=norte)
        thread.start()
        taken = outbox.take_over_stale(["sur/sur"], lease, now=T0 + dt.timedelta(seconds=90))
        thread.join(30)
    finally:
        renewal.close()
        watcher.close()
    return taken, OutboundMessage.get_by_id(msg.id), waited == [True]


def test_a_claim_renewed_while_another_gateway_takes_it_over_stays_with_its_sender(pg_db):
    taken, row, waited = _race_take_over_against_a_renewal(pg_db, renewal_commits=True)
    assert waited, "the take-over never waited for the renewal's row: the race was not run"
    assert taken == 0
    assert (row.status, row.claimed_by, row.claimed_at) == ("sending", "norte/norte", T0 + dt.timedelta(seconds=70))


def test_a_renewal_that_never_committed_does_not_save_a_stale_claim(pg_db):
    # The counterpart, so the test above cannot pass by the take-over never acting: here it does.
    taken, row, waited = _race_take_over_against_a_renewal(pg_db, renewal_commits=False)
    assert waited
    assert taken == 1
    assert (row.status, row.claimed_by) == ("queued", "norte/norte")
