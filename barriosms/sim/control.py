"""Client of the simulated modem's control socket (JSON lines over a Unix socket).

One request per connection: a JSON object on one line, e.g. {"cmd": "text", "from": "+59171234567",
"text": "B12 hay un bache"}; the answer is one JSON line with "ok" true and the result's fields, or
"ok" false and "error". Commands: text, sent, status, signal, autoreply, commands, fault, faults, ussd, call.
"""

from __future__ import annotations

import json
import socket


class SimControlError(Exception):
    """The simulated modem could not be reached, or refused the request (the message says which)."""


def send_request(control_path: str, request: dict, timeout: float = 5) -> dict:
    """Send one request and return the answer (with "ok": true); SimControlError otherwise."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(control_path)
            sock.sendall(json.dumps(request).encode("utf-8") + b"\n")
            data = bytearray()
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except (TimeoutError, FileNotFoundError, ConnectionRefusedError, OSError) as exc:
        raise SimControlError(f"cannot reach the simulated modem at {control_path} ({exc}): "
                              "is `barriosms sim serve` running?") from exc
    try:
        answer = json.loads(data)
    except ValueError as exc:
        raise SimControlError(f"the simulated modem at {control_path} answered garbage: {bytes(data)[:200]!r}") from exc
    if not answer.get("ok"):
        raise SimControlError(answer.get("error", "the simulated modem refused the request"))
    return answer


def inject_text(control_path: str, sender: str, text: str) -> dict:
    return send_request(control_path, {"cmd": "text", "from": sender, "text": text})


def call(control_path: str, number: str, ring_seconds: float | None = None, interval: float | None = None) -> dict:
    """Make the modem ring with a call from `number` ("" withheld); the call as `status` lists it:
    number, withheld, state (ringing, ended), rings, started_epoch, ended_epoch, ended_by (modem:
    hung up by the client; caller: gave up)."""
    request: dict = {"cmd": "call", "from": number}
    if ring_seconds is not None:
        request["ring_seconds"] = ring_seconds
    if interval is not None:
        request["interval"] = interval
    return send_request(control_path, request)["call"]


def sent_messages(control_path: str) -> list[dict]:
    """Messages sent through AT+CMGS, concatenated parts joined: to, text, parts, expected_parts,
    at (ISO-8601 UTC of the first part's AT+CMGS), at_epoch, received_epoch (when the last part's
    PDU had fully arrived), references."""
    return send_request(control_path, {"cmd": "sent"})["messages"]


def status(control_path: str) -> dict:
    """used, total, pending, cnmi, echo, sent, smsc, faults, clip, crc, calls (oldest first, see `call`)."""
    answer = send_request(control_path, {"cmd": "status"})
    answer.pop("ok", None)
    return answer


def set_signal(control_path: str, rssi: int) -> int:
    """Set what AT+CSQ answers (27.007 <rssi>: 0-31, 99 unknown)."""
    return send_request(control_path, {"cmd": "signal", "rssi": rssi})["rssi"]


def set_autoresponder(control_path: str, number: str, text: str | None, delay: float = 1.0) -> dict:
    """Make `number` answer every SMS the modem sends it with `text` after `delay` s (None: stop)."""
    return send_request(control_path, {"cmd": "autoreply", "number": number, "text": text, "delay": delay})["autoresponders"]


def set_fault(control_path: str, name: str, **args) -> dict:
    return send_request(control_path, {"cmd": "fault", "on": name, "args": args})["active"]


def clear_fault(control_path: str, name: str | None = None) -> dict:
    request = {"cmd": "fault", "off": name} if name else {"cmd": "fault", "clear": True}
    return send_request(control_path, request)["active"]


def active_faults(control_path: str) -> dict:
    return send_request(control_path, {"cmd": "faults"})["active"]
