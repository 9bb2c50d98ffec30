"""Dials the USSD codes queued in the database (`barriosms modem ussd`, the balance job) and records the answers."""

from __future__ import annotations

import logging

from barriosms.modem.interface import Modem, ModemError
from barriosms.operations import ussd

# The daemon's lines keep the logger name they always had: journal filters and docs use it.
log = logging.getLogger("barriosms.daemon.process")


class UssdRunner:
    """Runs queued USSD requests on one modem, one at a time, and warns when the SIM's credit is low."""

    def __init__(self, modem_name: str = "default"):
        self.modem_name = modem_name  # its health row, where the balance goes; its requests

    def queue_balance(self, code: str) -> None:
        ussd.queue(code, purpose="balance", modem=self.modem_name)

    def run(self, modem: Modem, balance_warn_below: float | None) -> None:
        """Dial every queued request; a lost connection (ModemError with reconnect) is raised after it is recorded."""
        if ussd.next_queued(self.modem_name) is None:
            return  # the common case, every second: a read, no write (SD cards wear out)
        ussd.cancel_stale()
        while (request := ussd.next_queued(self.modem_name)) is not None:
            if not ussd.take(request):
                continue  # another gateway on the database dials it
            try:
                answer = modem.ussd(request.code)
            except ModemError as exc:
                ussd.finish(request, error=str(exc))
                if exc.reconnect:
                    raise
                log.warning("USSD %s failed: %s", request.code, exc)
                continue
            ussd.finish(request, answer=answer)
            log.info("USSD %s answered: %s", request.code, answer)
            if request.purpose == "balance":
                self._check_balance(answer, balance_warn_below)

    def _check_balance(self, answer: str, limit: float | None) -> None:
        value = ussd.record_balance(answer, modem=self.modem_name)
        if value is None:
            log.warning("could not read an amount in the balance answer %r", answer)
        elif limit is not None and value < limit:
            log.warning("SIM credit is low: %.2f (warning below %.2f); recharge it or replies will stop", value, limit)
