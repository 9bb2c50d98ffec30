"""The public website and the Open311 API (`barriosms web`): reads and writes the store, never the modem.

An interface: may import the services (staff, pipeline, reporting, operations, cases),
barriosms.templates, barriosms.config, barriosms.store, barriosms.domain; never barriosms.modem
directly, nor the other interfaces (cli, daemon, sim). Only cli imports it.
"""

from barriosms.web.app import create_app

__all__ = ["create_app"]
