"""The public website and the Open311 API (`barriosms web`): reads and writes the store, never the modem."""

from barriosms.web.app import create_app

__all__ = ["create_app"]
