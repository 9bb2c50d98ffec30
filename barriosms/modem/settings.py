"""What the Gammu driver needs to open a modem: one `[modem]` section of barriosms.ini.

Declared here, beside the driver, so the modem depends on nothing above it; `barriosms.config`
reads and validates the section into this type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class ModemSettings:
    device: str
    connection: str = "at"
    pin: str | None = None
    smsc: str | None = None
    # Run after repeated failures to reconnect, e.g. "uhubctl -a cycle -l 1-1 -p 2" or "usbreset 12d1:1506".
    usb_reset_command: str | None = None
    # Extra Gammu keys (logfile, logformat, ...) copied into the generated gammurc.
    gammu_options: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # "default" for a lone [modem] section, NAME for [modem NAME].
    name: str = "default"
    # The operator of this SIM (Entel, Tigo, Viva): SMS that are not replies leave through a modem
    # of the recipient's operator when there is one (cheaper, and faster to deliver).
    operator: str | None = None
