"""Keeping the gateway running: health rows, doctor checks, backups, the run lock, clock checks,
USSD balance, systemd notify, logging set-up.

May import: barriosms.templates, barriosms.config, barriosms.store, barriosms.domain. Never a
service of the SMS pipeline or staff, never an interface.
"""
