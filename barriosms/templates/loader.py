"""Reading the SMS texts and category keywords: which files a configuration uses, and whether they load.

The domain only parses texts (``domain.replies``, ``domain.categories``); reading the files,
package default or edited copy, happens here.

Either the files built into the package (barriosms/templates/replies.<language>.ini and
categories.<language>.ini) or the edited copies `[gateway] replies` / `categories` name. A
technician who edits a copy the configuration does not name changes nothing, and `config check`
still says OK; so `config check` and `doctor` print the full path of each file in use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from barriosms.config import PACKAGE_TEMPLATES, available_languages
from barriosms.domain.categories import CategoryRules, parse_categories
from barriosms.domain.errors import IniSource, TemplateError
from barriosms.domain.replies import Templates

if TYPE_CHECKING:
    from barriosms.config import GatewaySettings

__all__ = ["PACKAGE_TEMPLATES", "read_source", "available_languages", "load_templates", "load_categories",
           "in_use", "check", "lines"]


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




def load_templates(path: str | os.PathLike[str] | None = None, language: str = "es") -> Templates:
    """Read templates from ``path`` (None: the package's ``replies.<language>.ini``)."""
    default_file = f"replies.{language}.ini"
    # The package's file first: an edited copy that lacks newer texts takes them from it.
    defaults = read_source(None, default_file)
    source = defaults if path is None else read_source(path, default_file)
    return Templates.parse(source, defaults)


def load_categories(path: str | os.PathLike[str] | None = None, language: str = "es") -> CategoryRules:
    """Read category rules from ``path`` (None: the package's ``categories.<language>.ini``).

    Raises :class:`TemplateError` naming the file, the key and the fix.
    """
    return parse_categories(read_source(path, f"categories.{language}.ini"))


# What each kind of file is called for people, in the order they are shown.
KINDS = {"replies": "SMS texts", "categories": "categories"}


@dataclass(frozen=True)
class TemplateFile:
    kind: str  # "replies" or "categories": also the [gateway] key that names an edited copy
    path: str  # the full path of the file that is read
    edited: bool  # True: the copy [gateway] <kind> names; False: the package's built-in file

    @property
    def key(self) -> str:
        return f"[gateway] {self.kind}"

    def describe(self) -> str:
        if self.edited:
            return f"{self.path} (edited copy, {self.key})"
        return f"{self.path} (built into the package; set {self.key} to use an edited copy)"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "edited": self.edited, "key": self.key}


@dataclass(frozen=True)
class TemplateCheck:
    files: tuple[TemplateFile, ...]
    problems: tuple[str, ...]  # each names the file, the section and key, and the fix
    notes: tuple[str, ...]  # information: texts an older copy lacks, taken from the package


def in_use(gateway: GatewaySettings) -> tuple[TemplateFile, ...]:
    found = []
    for kind in KINDS:
        edited = getattr(gateway, kind)
        if edited is not None:
            found.append(TemplateFile(kind, os.path.abspath(edited), True))
        else:
            builtin = resources.files(PACKAGE_TEMPLATES).joinpath(f"{kind}.{gateway.language}.ini")
            found.append(TemplateFile(kind, str(builtin), False))
    return tuple(found)


def check(gateway: GatewaySettings) -> TemplateCheck:
    """Load the files the way the daemon does (intake.rules_from_settings) and say what is wrong."""
    problems: list[str] = []
    notes: list[str] = []
    language = gateway.language
    try:
        templates = load_templates(gateway.replies, language)
        if templates.defaulted:
            notes.append(f"{templates.source}: has no {', '.join(templates.defaulted)}; the built-in "
                         f"text is used (copy it from barriosms/templates/replies.{language}.ini to change it)")
    except TemplateError as exc:
        problems.append(str(exc))
    try:
        load_categories(gateway.categories, language)
    except TemplateError as exc:
        problems.append(str(exc))
    return TemplateCheck(in_use(gateway), tuple(problems), tuple(notes))


def lines(files: tuple[TemplateFile, ...]) -> list[str]:
    """One line per file for people: `SMS texts:  PATH (edited copy, [gateway] replies)`."""
    width = max(len(label) for label in KINDS.values()) + 1
    return [f"{KINDS[f.kind] + ':':<{width}} {f.describe()}" for f in files]
