"""barriosms: an SMS gateway that turns residents' texts into tracked municipal cases."""

__version__ = "0.1.0"
