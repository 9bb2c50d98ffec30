"""The long-running gateway process: the one thread that owns the modem, the scheduled jobs, signals.

An interface like cli and web: may import every service package (pipeline, cases, operations),
barriosms.modem, barriosms.config, barriosms.store, barriosms.domain. Only cli and sim import it.
"""
