"""Client of the simulated modem's control socket (JSON lines over a Unix socket)."""

from __future__ import annotations

import json
import socket


class SimControlError(Exception):
    pass


def send_request(control_path: str, request: dict, timeout: float = 5) -> dict:
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
    except (FileNotFoundError, ConnectionRefusedError, socket.timeout, OSError) as exc:
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


def sent_messages(control_path: str) -> list[dict]:
    return send_request(control_path, {"cmd": "sent"})["messages"]


def set_fault(control_path: str, name: str, **args) -> dict:
    return send_request(control_path, {"cmd": "fault", "on": name, "args": args})["active"]


def clear_fault(control_path: str, name: str | None = None) -> dict:
    request = {"cmd": "fault", "off": name} if name else {"cmd": "fault", "clear": True}
    return send_request(control_path, request)["active"]


def active_faults(control_path: str) -> dict:
    return send_request(control_path, {"cmd": "faults"})["active"]
