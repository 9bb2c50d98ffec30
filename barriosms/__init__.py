"""barriosms: an SMS gateway that turns residents' texts into tracked municipal cases.

May import: nothing of its own packages (it holds the version, which any of them may import).
The layers, top to bottom (setup.cfg's import-linter contracts): cli > daemon | web | sim > staff >
pipeline > reporting | operations > cases > templates > config > store | modem | configkeys >
domain (configkeys: the declaration of every config key).
"""

__version__ = "0.1.0"
