"""`barriosms projects` (in progress: being written)."""

import click


@click.group()
def projects() -> None:
    """Municipal projects shown on the website.

    Example: barriosms projects list
    """
