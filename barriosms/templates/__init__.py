"""Default Spanish SMS texts and keywords shipped in the package, and loading them (or the site's own).

May import: barriosms.config, barriosms.store, barriosms.modem, barriosms.domain. Never a service
or an interface.
"""
