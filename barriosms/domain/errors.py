"""Errors shared by the domain modules, and parsing the INI texts that produce them.

A technician edits the INI files under ``config/`` with a plain text editor, often over SSH on a
Raspberry Pi.  When the file is wrong the daemon must refuse to start with one sentence that says
*which file*, *which line/key* and *what to type instead* — a traceback is not an answer for them.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass

__all__ = ["TemplateError", "IniSource", "parse_ini", "check_sections"]


class TemplateError(ValueError):
    """A reply-template or category file is unusable (or a template cannot fit in one SMS).

    ``str(error)`` reads like: ``config/replies.es.ini: [replies] help: ... Fix: ...``
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        problem: str,
        fix: str,
        *,
        section: str | None = None,
        key: str | None = None,
    ) -> None:
        self.path = os.fspath(path) if path is not None else None
        self.section = section
        self.key = key
        self.problem = problem
        self.fix = fix
        where = self.path or "<templates>"
        if section is not None:
            where += f": [{section}]"
        if key is not None:
            where += f" {key}"
        super().__init__(f"{where}: {problem}. Fix: {fix}")


# --- parsing technician-edited INI files (used by categories.py and replies.py) ---------------


@dataclass(frozen=True)
class IniSource:
    """An INI file's text and the name to show in error messages (templates/loader.py reads it)."""

    name: str
    text: str


def parse_ini(source: IniSource) -> configparser.ConfigParser:
    """Parse strictly: duplicate sections/keys are errors, ``%`` is literal, no magic DEFAULT."""
    parser = configparser.ConfigParser(
        interpolation=None,  # "100%" in a template must not be an interpolation error
        strict=True,
        default_section="\x00no-default",  # a [DEFAULT] section is an ordinary (unknown) one
        comment_prefixes=("#", ";"),
        inline_comment_prefixes=None,  # "caso #123" in a template is text, not a comment
    )
    try:
        parser.read_string(source.text, source=source.name)
    except configparser.DuplicateOptionError as exc:
        raise TemplateError(
            source.name, f"the key appears twice (line {exc.lineno})",
            "keep only one line with this key", section=exc.section, key=exc.option,
        ) from exc
    except configparser.DuplicateSectionError as exc:
        raise TemplateError(
            source.name, f"the section appears twice (line {exc.lineno})",
            "merge the two sections into one", section=exc.section,
        ) from exc
    except configparser.MissingSectionHeaderError as exc:
        raise TemplateError(
            source.name, f"line {exc.lineno} comes before any [section] header",
            "start the file with a section header such as [replies] or [categories]",
        ) from exc
    except configparser.ParsingError as exc:
        lines = ", ".join(str(lineno) for lineno, _ in exc.errors)
        raise TemplateError(
            source.name, f"line(s) {lines} are not 'key = value'",
            "write each entry as 'name = text'; continue a long text on the next line indented "
            "with spaces; start comments with #",
        ) from exc
    return parser


def check_sections(
    parser: configparser.ConfigParser, source: IniSource, required: tuple[str, ...],
    optional: tuple[str, ...] = (),
) -> None:
    """Every required section present, no unknown (probably misspelt) ones."""
    for section in required:
        if not parser.has_section(section):
            raise TemplateError(
                source.name, "the section is missing",
                f"add a line [{section}] (check the spelling) followed by its entries; see the "
                "default file in barriosms/templates/", section=section,
            )
    known = set(required) | set(optional)
    for section in parser.sections():
        if section not in known:
            names = ", ".join(f"[{s}]" for s in (*required, *optional))
            raise TemplateError(
                source.name, "unknown section",
                f"rename it to one of {names} or delete it", section=section,
            )
