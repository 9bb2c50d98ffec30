"""The modem: the Gammu driver (with the simulator, the only importer of gammu), serial port
detection, and the SMS types the pipeline receives and sends.

May import: barriosms.domain only. Never barriosms.config, a service or an interface: the daemon
passes the modem's settings in.
"""
