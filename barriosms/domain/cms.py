"""What a `+CMS ERROR` code from the modem means for an SMS we tried to send.

Gammu folds most of these codes into ERR_UNKNOWN, so the code is read from Gammu's trace and
classified here: a permanent error will fail again however often we try (the number does not
exist, the operator refuses it); a transient one may pass later (network busy, no coverage).
Sources: 3GPP TS 24.011 annex E (RP causes 1-127) and TS 27.005 3.2.5 (300-511).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CmsError:
    code: int
    description: str
    permanent: bool

    @property
    def network(self) -> bool:
        """The network or the SIM, not this message, is at fault: every send would fail now."""
        return self.code in NETWORK_CODES


# While the network is out or the SIM has no SMS centre, sending waits instead of using up the
# attempts of every queued reply: an hour without coverage must not turn into failed replies.
NETWORK_CODES = frozenset({17, 38, 41, 42, 47, 300, 310, 311, 313, 314, 330, 331, 332})


_KNOWN: dict[int, tuple[str, bool]] = {
    1: ("unassigned (unallocated) number", True),
    8: ("operator determined barring", True),
    10: ("call barred", True),
    17: ("network failure", False),
    21: ("short message transfer rejected", True),
    22: ("memory capacity exceeded", False),
    27: ("destination out of order", False),
    28: ("unidentified subscriber", True),
    29: ("facility rejected", True),
    30: ("unknown subscriber", True),
    38: ("network out of order", False),
    41: ("temporary failure", False),
    42: ("congestion", False),
    47: ("resources unavailable", False),
    50: ("requested facility not subscribed", True),
    69: ("requested facility not implemented", True),
    81: ("invalid short message reference value", False),
    95: ("invalid message, unspecified", True),
    96: ("invalid mandatory information", True),
    97: ("message type non-existent or not implemented", True),
    98: ("message not compatible with short message protocol state", False),
    99: ("information element non-existent or not implemented", True),
    111: ("protocol error, unspecified", False),
    127: ("interworking, unspecified", False),
    300: ("ME failure", False),
    301: ("SMS service of ME reserved", False),
    302: ("operation not allowed", False),
    303: ("operation not supported", True),
    304: ("invalid PDU mode parameter", True),
    305: ("invalid text mode parameter", True),
    310: ("SIM not inserted", False),
    311: ("SIM PIN required", False),
    313: ("SIM failure", False),
    314: ("SIM busy", False),
    322: ("memory full", False),
    # The SIM has no SMS centre: every message fails until [modem] smsc is set, so keep them queued.
    330: ("SMSC address unknown", False),
    331: ("no network service", False),
    332: ("network timeout", False),
    340: ("no +CNMA acknowledgement expected", False),
    500: ("unknown error", False),
}


def classify(code: int) -> CmsError:
    description, permanent = _KNOWN.get(code, ("manufacturer specific" if code >= 512 else "unknown cause", False))
    return CmsError(code, description, permanent)
