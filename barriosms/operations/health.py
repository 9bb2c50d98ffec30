"""Reading the modem's health as the daemon last wrote it, and judging it, without the modem."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from barriosms.store.models import ModemHealth, utcnow

# The modem thread writes a heartbeat at least every heartbeat_seconds when connected and at every
# reconnection attempt (at most 60 s apart) when not: older than this, the daemon is gone or stuck.
MIN_STALE_SECONDS = 120

# Exit codes of `barriosms modem status`, for monitoring scripts.
OK, MODEM_DOWN, NO_DAEMON = 0, 1, 3


@dataclass(frozen=True)
class Assessment:
    state: str  # ok, modem_down, no_daemon, never_started
    exit_code: int
    problems: tuple[str, ...]
    heartbeat_age: float | None


def stale_after(heartbeat_seconds: float) -> float:
    return max(MIN_STALE_SECONDS, 3 * heartbeat_seconds)


def assess(row: ModemHealth | None, heartbeat_seconds: float, now: dt.datetime | None = None,
           balance_warn_below: float | None = None) -> Assessment:
    now = now or utcnow()
    if row is None:
        return Assessment("never_started", NO_DAEMON,
                          ("the daemon has never run on this database: start it (systemctl start barriosms)",), None)
    age = (now - row.updated_at).total_seconds()
    limit = stale_after(heartbeat_seconds)
    if age > limit:
        return Assessment("no_daemon", NO_DAEMON, (
            f"no heartbeat for {age:.0f} s (expected every {heartbeat_seconds:.0f} s): the daemon is not running "
            "or is stuck; check `systemctl status barriosms` and `journalctl -u barriosms`",), age)
    if not row.connected:
        return Assessment("modem_down", MODEM_DOWN, (
            f"the modem is not connected: {row.last_error or 'no reason recorded'}; check the USB stick, the "
            "SIM and [modem] device (`barriosms modem detect` lists the ports)",), age)
    problems = []
    if row.sim_total and row.sim_used is not None and row.sim_used >= row.sim_total:
        problems.append(f"the SIM is full ({row.sim_used}/{row.sim_total}): new SMS wait at the operator")
    if row.signal_percent is not None and row.signal_percent < 10:
        problems.append(f"very weak signal ({row.signal_percent}%): move the modem or use a USB extension cable")
    if balance_warn_below is not None and row.balance is not None and row.balance < balance_warn_below:
        problems.append(f"SIM credit is low: {row.balance:.2f} (warning below {balance_warn_below:.2f}): "
                        "recharge it or replies will stop")
    return Assessment("ok", OK, tuple(problems), age)


def read(name: str | None = None) -> ModemHealth | None:
    """The health row of one modem ([modem NAME]); None: the first one."""
    if name is None:
        return ModemHealth.select().order_by(ModemHealth.id).first()
    return ModemHealth.get_or_none(ModemHealth.name == name)


def healthy(heartbeat_seconds: float, now: dt.datetime | None = None) -> dict[str, str]:
    """The modems that are connected with a fresh heartbeat, by name, with the operator they report."""
    now = now or utcnow()
    limit = now - dt.timedelta(seconds=stale_after(heartbeat_seconds))
    return {row.name: row.operator for row in ModemHealth.select(ModemHealth.name, ModemHealth.operator)
            .where((ModemHealth.connected == True) & (ModemHealth.updated_at >= limit))}  # noqa: E712
