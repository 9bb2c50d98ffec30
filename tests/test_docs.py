"""The code layout the docs describe is the one in the tree, so the docs cannot drift.

README.md's "Code layout" part (from the paragraph starting "Code layout" to the next `## ` heading)
has a table with one row per package: `barriosms/<package>/`, its job, and its main modules in
backquotes. docs/architecture.md names every package in backquotes (its table of what each may
import). Adding, renaming or moving a package or a named module means updating both.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP = ROOT / "barriosms"
README = ROOT / "README.md"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

# A file named in the layout table: `intake.py`, `replies.es.ini`, `barriosms/config.py`.
FILE = re.compile(r"^[\w./-]+\.(?:py|ini)$")


def packages() -> list[str]:
    """Every package below barriosms/ (a folder with an __init__.py), as `cases` or `web/sub`."""
    return sorted(p.parent.relative_to(TOP).as_posix() for p in TOP.rglob("__init__.py") if p.parent != TOP)


def layout_section() -> str:
    lines = README.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Code layout")]
    assert starts, 'README.md has no paragraph starting "Code layout" (the table of packages)'
    start = starts[0]
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[start:end])


def layout_rows() -> list[tuple[str, list[str]]]:
    """(first cell, files named in the row) for each table row whose first cell is a barriosms path."""
    rows = []
    for line in layout_section().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        first = re.fullmatch(r"`(barriosms/[^`]*)`", cells[0]) if line.startswith("|") else None
        if first is None:
            continue
        named = [t for cell in cells[1:] for t in re.findall(r"`([^`]+)`", cell) if FILE.match(t)]
        rows.append((first.group(1), named))
    return rows


def test_there_are_packages_and_layout_rows() -> None:
    # Guards the tests below against passing on nothing (a moved README paragraph, a new table form).
    assert len(packages()) >= 10, packages()
    assert len(layout_rows()) >= len(packages()), layout_section()


@pytest.mark.parametrize("package", packages())
def test_every_package_is_in_the_readme_layout(package: str) -> None:
    assert f"`barriosms/{package}/`" in layout_section(), (
        f"barriosms/{package}/ is a package but README.md's code layout table has no row `barriosms/{package}/`")


@pytest.mark.parametrize("package", packages())
def test_every_package_is_in_the_architecture_page(package: str) -> None:
    assert f"`{package}`" in ARCHITECTURE.read_text(encoding="utf-8"), (
        f"barriosms/{package}/ is a package but docs/architecture.md never names `{package}`: add it to the "
        "layer picture and to the table of what each package may import")


def test_every_path_the_readme_layout_names_exists() -> None:
    missing = []
    for first, named in layout_rows():
        if not (ROOT / first).exists():
            missing.append(first)
        # A bare name is a module of the row's package; a name with a slash is from the project folder.
        base = ROOT / first if first.endswith("/") else ROOT
        missing.extend(f"{name} (in the row of {first})" for name in named
                       if not ((ROOT / name) if "/" in name else (base / name)).is_file())
    assert not missing, "README.md's code layout names files that do not exist:\n" + "\n".join(
        f"  {m}" for m in missing)


def test_every_package_row_of_the_readme_names_its_modules() -> None:
    bare = [first for first, named in layout_rows() if first.endswith("/") and not named]
    assert not bare, f"package rows of README.md's code layout that name none of their modules: {bare}"
