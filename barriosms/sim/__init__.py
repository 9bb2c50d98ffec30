"""The simulated AT modem on a pseudo-terminal (`barriosms sim`), and beside it a whole gateway on
it for the demo, benchmarks and tests (rig, demo).

An interface: may import the services and everything below them (today barriosms.operations and
barriosms.domain); never cli, daemon or web: it starts them as processes. Only cli imports it.
"""
