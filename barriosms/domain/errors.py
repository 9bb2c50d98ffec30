"""Errors shared by the domain modules, and reading the INI files that produce them.

A technician edits the INI files under ``config/`` with a plain text editor, often over SSH on a
Raspberry Pi.  When the file is wrong the daemon must refuse to start with one sentence that says
*which file*, *which line/key* and *what to type instead* — a traceback is not an answer for them.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = ["TemplateError", "IniSource", "read_source", "parse_ini", "check_sections"]

PACKAGE_TEMPLATES = "barriosms.templates"


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


# --- reading technician-edited INI files (used by categories.py and replies.py) ---------------


@dataclass(frozen=True)
class IniSource:
    """An INI file's text and the name to show in error messages."""

    name: str
    text: str


def read_source(path: str | os.PathLike[str] | None, default_file: str) -> IniSource:
    """Read ``path``, or the package default ``barriosms/templates/<default_file>`` if None."""
    if path is None:
        resource = resources.files(PACKAGE_TEMPLATES).joinpath(default_file)
        name = str(resource)
        reader = resource.read_bytes
    else:
        name = os.fspath(path)
        reader = Path(name).read_bytes
    try:
        raw = reader()
    except OSError as exc:
        raise TemplateError(
            name, f"cannot read the file ({exc.strerror or exc})",
            "check the path in the configuration, or copy the default from "
            f"barriosms/templates/{default_file}",
        ) from exc
    try:
        # utf-8-sig: Windows Notepad puts a byte-order mark at the start of UTF-8 files.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TemplateError(
            name, f"line {line} is not UTF-8 text",
            "save the file with the encoding UTF-8 (in Notepad: Save as, Encoding: UTF-8)",
        ) from exc
    return IniSource(name, text)


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


def available_languages() -> tuple[str, ...]:
    """Languages with both SMS texts and category keywords in the package (replies.<lang>.ini)."""
    files = {p.name for p in resources.files(PACKAGE_TEMPLATES).iterdir()}
    return tuple(sorted(name[len("replies."):-len(".ini")] for name in files
                        if name.startswith("replies.") and name.endswith(".ini")
                        and f"categories.{name[len('replies.'):]}" in files))
