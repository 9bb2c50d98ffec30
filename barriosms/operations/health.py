"""Reading the modem's health as the daemon last wrote it, and judging it, without the modem."""

from __future__ import annotations

import datetime as dt
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from barriosms.config import Settings
from barriosms.store.models import ModemHealth, utcnow, write_tx

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


def by_name(settings: Settings) -> bool:
    """Whether this gateway's modems are found by their names. A lone [modem] of the only gateway on
    its SQLite file reads the first row instead: a database from before named modems has one,
    "default"; with several modems, a [gateway] name or a shared database, names are needed."""
    return len(settings.all_modems) > 1 or settings.database.shared or bool(settings.gateway.name)


def configured(settings: Settings) -> list[tuple[str, ModemHealth | None]]:
    """This gateway's modems and their health rows, in the configuration's order."""
    named = by_name(settings)
    return [(m.name, read(m.name if named else None)) for m in settings.all_modems]


def healthy(heartbeat_seconds: float, now: dt.datetime | None = None) -> dict[str, str]:
    """The modems that are connected with a fresh heartbeat, by name, with the operator they report."""
    now = now or utcnow()
    limit = now - dt.timedelta(seconds=stale_after(heartbeat_seconds))
    return {row.name: row.operator for row in ModemHealth.select(ModemHealth.name, ModemHealth.operator)
            .where((ModemHealth.connected == True) & (ModemHealth.updated_at >= limit))}  # noqa: E712


def others(names: list[str]) -> list[ModemHealth]:
    """The health rows of modems not in `names`: other gateways sharing the database."""
    return list(ModemHealth.select().where(ModemHealth.name.not_in(names or [""])).order_by(ModemHealth.name))


class CannotForget(Exception):
    """A modem cannot be forgotten: its daemon still writes a heartbeat, or there is no such modem."""


def forget(name: str, heartbeat_seconds: float, now: dt.datetime | None = None) -> None:
    """Delete the health row of a modem (or gateway) that is gone for good."""
    row = read(name)
    if row is None:
        known = ", ".join(r.name for r in ModemHealth.select(ModemHealth.name).order_by(ModemHealth.name))
        raise CannotForget(f"no modem is called {name!r} on this database (known: {known or 'none'})")
    age = ((now or utcnow()) - row.updated_at).total_seconds()
    if age <= stale_after(heartbeat_seconds):
        raise CannotForget(f"the modem {name!r} wrote a heartbeat {age:.0f} s ago (pid {row.pid} on "
                         f"{row.host or 'an unknown machine'}): stop its daemon first (systemctl stop barriosms)")
    with write_tx():
        row.delete_instance()


MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")


@cache
def this_host(hostname: str | None = None, id_files: tuple[str, ...] = MACHINE_ID_FILES) -> str:
    """This machine as the health rows name it: its host name and the start of its machine-id.

    The machine-id tells apart two Raspberry Pis that both kept the host name "raspberrypi"; it
    does not change at a reboot, so a gateway back from a power cut is still itself. (`hostname`
    and `id_files` stand for the machine's own in tests.)
    """
    name = (socket.gethostname() if hostname is None else hostname) or "localhost"
    for path in id_files:
        try:
            machine = Path(path).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if machine:
            return f"{name} ({machine[:8]})"
    return name


def name_taken(names: list[str], heartbeat_seconds: float, host: str | None = None,
               now: dt.datetime | None = None) -> str | None:
    """Why this gateway must not start under these modem names, or None.

    Another machine's daemon wrote the health row of one of them within the heartbeat's limit: two
    gateways on one database under one name would mix their health, and each would take back the
    other's claims as its own at every start. Rows from before the host was recorded, and this
    machine's own (the same gateway restarting, e.g. after a power cut), never stop it.
    """
    host = host or this_host()
    now = now or utcnow()
    limit = now - dt.timedelta(seconds=stale_after(heartbeat_seconds))
    for row in ModemHealth.select().where(ModemHealth.name.in_(names) & (ModemHealth.updated_at >= limit)
                                          & (ModemHealth.host != "") & (ModemHealth.host != host)):
        return (f"the modem name {row.name!r} is in use on this database by the gateway on {row.host} (pid "
                f"{row.pid}, heartbeat {(now - row.updated_at).total_seconds():.0f} s ago): every gateway sharing "
                "a database needs its own name. Set [gateway] name = ... (a different one on each machine), "
                "then start barriosms again")
    return None
