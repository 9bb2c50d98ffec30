"""The modem: the Gammu driver (with the simulator, the only importer of gammu), serial port
detection, and the SMS types the pipeline receives and sends.

May import: barriosms.domain only. Never barriosms.config, a service or an interface: the modem
declares its settings (modem/settings.py) and the configuration fills them.
"""
