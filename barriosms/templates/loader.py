"""Which SMS texts and category keywords a configuration runs with, and whether they load.

Either the files built into the package (barriosms/templates/replies.<language>.ini and
categories.<language>.ini) or the edited copies `[gateway] replies` / `categories` name. A
technician who edits a copy the configuration does not name changes nothing, and `config check`
still says OK; so `config check` and `doctor` print the full path of each file in use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from typing import Any

from barriosms.config import GatewaySettings
from barriosms.domain.errors import PACKAGE_TEMPLATES, TemplateError

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
    from barriosms.domain.categories import load_categories
    from barriosms.domain.replies import Templates

    problems: list[str] = []
    notes: list[str] = []
    language = gateway.language
    try:
        templates = Templates.load(gateway.replies, language)
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
