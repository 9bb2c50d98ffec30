"""Fault profiles of the simulated modem: what real USB sticks do when they misbehave.

One registry: a fault is a name, its arguments with their defaults, and what it models. The AT
interpreter (atmodem.py) and the server (server.py, for `vanish`) look up `ATModem.faults`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Fault:
    name: str
    models: str
    defaults: dict[str, Any] = field(default_factory=dict)


FAULTS: dict[str, Fault] = {f.name: f for f in (
    Fault("flood", "Huawei sticks: ^RSSI, ^BOOT, ^MODE, ^DSFLOWRPT lines several times a second, unasked",
          {"interval": 0.2}),
    Fault("cmgl_error", "AT+CMGL answers ERROR (Gammu then reads slot by slot with AT+CMGR)"),
    Fault("cmgl_hang", "AT+CMGL never answers; later commands are answered"),
    Fault("cmgd_fail", "AT+CMGD fails and the message stays on the SIM (read again and again)"),
    Fault("no_cmti", "no +CMTI notifications: a full SIM, or notifications lost"),
    Fault("empty_smsc", "the SIM has no SMS centre number stored: sends without one fail with +CMS ERROR: 330"),
    Fault("send_error", "AT+CMGS answers +CMS ERROR: code (38 network out of order: transient; "
          "1 unassigned number: permanent); count > 0 clears it after that many sends", {"code": 38, "count": 0}),
    Fault("slow_send", "each AT+CMGS takes seconds to answer, as on Huawei sticks", {"seconds": 3.0}),
    Fault("hang", "the modem stops answering anything"),
    Fault("vanish", "the device disappears (USB unplugged: pty closed, link removed); off = plugged back"),
    Fault("pin", "the SIM asks for its PIN; SMS commands fail with +CME ERROR: 11 until AT+CPIN", {"pin": "1234"}),
    Fault("unregistered", "not registered, searching: no operator, no signal, sends fail with +CMS ERROR: 331"),
    Fault("delivery_reports", "the network sends a status report for each SMS that asked for one, after delay "
          "seconds, with TP-Status status (0 delivered, 0x45 failed)", {"delay": 1.0, "status": 0}),
)}


class FaultError(ValueError):
    pass


def normalise(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """The fault's arguments with defaults filled in and types checked against the defaults."""
    fault = FAULTS.get(name)
    if fault is None:
        raise FaultError(f"unknown fault {name!r}; known: {', '.join(sorted(FAULTS))}")
    unknown = set(args) - set(fault.defaults)
    if unknown:
        raise FaultError(f"fault {name} takes {', '.join(sorted(fault.defaults)) or 'no arguments'}, "
                         f"not {', '.join(sorted(unknown))}")
    values = dict(fault.defaults)
    for key, value in args.items():
        kind = type(fault.defaults[key])
        try:
            values[key] = kind(value) if kind is not int else int(str(value), 0)
        except (TypeError, ValueError):
            raise FaultError(f"fault {name}: {key} must be {kind.__name__}, not {value!r}") from None
    return values


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """`NAME[:key=value,key=value]`, as given to `sim serve --fault`."""
    name, _, rest = spec.partition(":")
    args: dict[str, str] = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise FaultError(f"{spec!r}: arguments are key=value")
        args[key.strip()] = value.strip()
    return name.strip(), args
