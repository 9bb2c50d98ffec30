"""USSD requests (balance checks): queued in the database, run by the daemon's modem thread.

The CLI never touches the modem, so `barriosms modem ussd` writes a request and waits for the
daemon to write the answer.
"""

from __future__ import annotations

import datetime as dt
import re
import time

from barriosms.store.models import ModemHealth, UssdRequest, utcnow, write_tx

# A USSD code is digits, * and #, as typed on a phone: *105#, *#100#, #123*1#.
_CODE = re.compile(r"^[*#0-9]{2,30}$")
# The first amount in an operator's answer: "Su saldo es Bs 12.50", "Saldo: 3,20 Bs. Vence..."
_AMOUNT = re.compile(r"(\d+(?:[.,]\d{1,2})?)")


class UssdError(Exception):
    pass


def valid_code(code: str) -> bool:
    return bool(_CODE.match(code)) and (code.startswith(("*", "#")) and code.endswith("#"))


def queue(code: str, purpose: str = "manual", modem: str = "") -> UssdRequest:
    code = code.strip()
    if not valid_code(code):
        raise UssdError(f"{code!r} is not a USSD code: it starts with * or #, ends with # and has only digits, * and #"
                        " (e.g. *105#)")
    with write_tx():
        return UssdRequest.create(code=code, purpose=purpose, created_at=utcnow(), modem=modem)


def wait(request_id: int, timeout: float, interval: float = 0.25) -> UssdRequest:
    deadline = time.monotonic() + timeout
    while True:
        row = UssdRequest.get_by_id(request_id)
        if row.status in ("done", "failed") or time.monotonic() > deadline:
            return row
        time.sleep(interval)


def next_queued(modem: str | None = None) -> UssdRequest | None:
    """The oldest request waiting for `modem` (its own, or one for any modem); None: for any."""
    mine = UssdRequest.status == "queued"
    if modem is not None:
        mine &= UssdRequest.modem.in_([modem, ""])
    return UssdRequest.select().where(mine).order_by(UssdRequest.id).first()


def take(row: UssdRequest) -> bool:
    """Mark a queued request as running; False when another daemon on the database took it first."""
    with write_tx():
        taken = (UssdRequest.update(status="running")
                 .where((UssdRequest.id == row.id) & (UssdRequest.status == "queued")).execute())
    if taken:
        row.status = "running"
    return taken == 1


def finish(row: UssdRequest, *, answer: str = "", error: str = "") -> None:
    with write_tx():
        row.status = "failed" if error else "done"
        row.answer, row.error, row.finished_at = answer, error, utcnow()
        row.save()


def cancel_stale(older_than: dt.timedelta = dt.timedelta(minutes=10)) -> int:
    """Requests nobody ran in time (the daemon was down) fail, instead of running hours later."""
    with write_tx():
        return (UssdRequest.update(status="failed", error="not run: the daemon did not pick it up in time",
                                   finished_at=utcnow())
                .where((UssdRequest.status.in_(["queued", "running"]))
                       & (UssdRequest.created_at < utcnow() - older_than)).execute())


def parse_balance(answer: str) -> float | None:
    match = _AMOUNT.search(answer)
    return float(match.group(1).replace(",", ".")) if match else None


def record_balance(answer: str, now: dt.datetime | None = None, modem: str = "default") -> float | None:
    value = parse_balance(answer)
    with write_tx():
        (ModemHealth.update(balance=value, balance_text=answer[:500], balance_at=now or utcnow())
         .where(ModemHealth.name == modem).execute())
    return value
