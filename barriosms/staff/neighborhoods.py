"""The neighbourhood table: imported from a CSV staff keep, all or nothing.

The optional ``aliases`` column holds other names residents use for a neighbourhood, separated by
";" ("Fatima; Villa Fatima").  An alias may not be the name or alias of another neighbourhood:
the matcher could then never tell the two apart.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from barriosms.cases.filing import refile_neighborhood
from barriosms.domain.matching import Place, is_generic, name_key
from barriosms.domain.parsing import normalize_code, valid_code
from barriosms.store.models import Neighborhood, utcnow, write_tx

COLUMNS = ("code", "name", "district", "lat", "lon", "aliases")
REQUIRED = ("code", "name")
ALIAS_SEPARATOR = ";"


class ImportProblem(Exception):
    """The file was not imported; `errors` lists every bad line (nothing was changed)."""

    def __init__(self, path: str, errors: list[str]):
        self.errors = errors
        super().__init__(f"{path}: nothing imported, {len(errors)} problem(s):\n" + "\n".join(errors))


@dataclass(frozen=True)
class Row:
    line: int
    code: str
    name: str
    district: str
    lat: float | None
    lon: float | None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportResult:
    added: int
    updated: int


def _coordinate(raw: str, low: float, high: float, what: str, line: int, errors: list[str]) -> float | None:
    raw = raw.strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        errors.append(f"line {line}: {what} {raw!r} is not a number (use a decimal point: -16.5)")
        return None
    if not math.isfinite(value) or not low <= value <= high:
        errors.append(f"line {line}: {what} {raw} is out of range ({low:g} to {high:g})")
        return None
    return value


def read_csv(path: str | os.PathLike) -> list[Row]:
    """Parse and validate the whole file; raise ImportProblem naming every bad line."""
    path = Path(path)
    try:
        # utf-8-sig: spreadsheets save a byte-order mark that would otherwise spoil the first header.
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip().lower() for h in (reader.fieldnames or [])]
            missing = [c for c in REQUIRED if c not in header]
            unknown = [h for h in header if h not in COLUMNS]
            if missing or unknown:
                msg = []
                if missing:
                    msg.append(f"line 1: missing column(s) {', '.join(missing)}")
                if unknown:
                    msg.append(f"line 1: unknown column(s) {', '.join(unknown)}")
                msg.append(f"line 1: the header must be: {','.join(COLUMNS)}")
                raise ImportProblem(str(path), msg)
            reader.fieldnames = header
            rows, errors = _validate(reader, errors=[])
    except FileNotFoundError:
        raise ImportProblem(str(path), ["the file does not exist"]) from None
    except UnicodeDecodeError as exc:
        raise ImportProblem(str(path), [f"not UTF-8 text ({exc.reason}); save the CSV as UTF-8"]) from None
    except csv.Error as exc:
        raise ImportProblem(str(path), [f"not a valid CSV file: {exc}"]) from None
    if errors:
        raise ImportProblem(str(path), errors)
    if not rows:
        raise ImportProblem(str(path), ["no neighbourhoods in the file"])
    return rows


def _validate(reader: csv.DictReader, errors: list[str]) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        if None in record:
            errors.append(f"line {line}: more fields than columns (a comma inside a name needs \"quotes\")")
            continue
        values = {k: (v or "").strip() for k, v in record.items()}
        if not any(values.values()):
            continue
        code = normalize_code(values.get("code", ""))
        if not valid_code(code):
            errors.append(f"line {line}: code {values.get('code', '')!r} is not valid "
                          "(1-4 letters then 1-4 digits, e.g. B12)")
        elif code in seen:
            errors.append(f"line {line}: code {code} already on line {seen[code]}")
        else:
            seen[code] = line
        name = values.get("name", "")
        if not name:
            errors.append(f"line {line}: the name is empty")
        lat = _coordinate(values.get("lat", ""), -90, 90, "lat", line, errors)
        lon = _coordinate(values.get("lon", ""), -180, 180, "lon", line, errors)
        aliases = _aliases(values.get("aliases", ""), line, errors)
        rows.append(Row(line, code, name, values.get("district", ""), lat, lon, aliases))
    errors.extend(_name_clashes(rows))
    return rows, errors


def _aliases(raw: str, line: int, errors: list[str]) -> tuple[str, ...]:
    aliases: list[str] = []
    for alias in (a.strip() for a in raw.split(ALIAS_SEPARATOR)):
        if not alias or any(name_key(alias) == name_key(a) for a in aliases):
            continue
        if is_generic(alias):
            errors.append(f"line {line}: alias {alias!r} is too general to name a neighbourhood "
                          "(write the whole name, e.g. 'Villa Fátima')")
        aliases.append(alias)
    return tuple(aliases)


_THE = {"name": "the name", "alias": "an alias"}


def _name_clashes(rows: Iterable[Row], stored: Iterable[Row] = ()) -> list[str]:
    """Every alias that is also the name or alias of another neighbourhood (accents, case aside).

    ``stored`` are neighbourhoods already imported that ``rows`` do not mention.  Two equal
    names are allowed (two zones may share one; residents then get asked which).
    """
    owners: dict[str, list[tuple[Row, str, str]]] = {}
    for row in (*stored, *rows):  # stored first, then in line order: the first of a pair is older
        for kind, spelling in (("name", row.name), *(("alias", a) for a in row.aliases)):
            owners.setdefault(name_key(spelling), []).append((row, kind, spelling))
    errors: list[tuple[int, str]] = []
    for same in owners.values():
        for older, newer in combinations(same, 2):
            (old, old_kind, old_spelling), (new, new_kind, new_spelling) = older, newer
            if old.code == new.code or old_kind == new_kind == "name" or new.line == 0:
                continue
            if old.line == 0:
                errors.append((new.line, f"line {new.line}: {new_kind} {new_spelling!r} is also {_THE[old_kind]} "
                                         f"of {old.code} (already imported, not in this file)"))
            elif new_kind == "alias":
                errors.append((new.line, f"line {new.line}: alias {new_spelling!r} is also {_THE[old_kind]} "
                                         f"of {old.code} on line {old.line}"))
            else:
                errors.append((old.line, f"line {old.line}: alias {old_spelling!r} is also the name "
                                         f"of {new.code} on line {new.line}"))
    return [message for _, message in sorted(errors)]


def import_rows(rows: list[Row], *, on_row: Callable[[], None] | None = None,
                source: str = "import") -> ImportResult:
    """Add new codes and update existing ones (aliases included), in one transaction.

    Raises ImportProblem (``source`` names the file) if an alias clashes with a neighbourhood
    already imported that ``rows`` do not mention.  ``on_row`` is called after each row.
    """
    added = updated = 0
    with write_tx():
        codes = {row.code for row in rows}
        stored = [_row(n) for n in Neighborhood.select() if n.code not in codes]
        clashes = _name_clashes(rows, stored)
        if clashes:
            raise ImportProblem(source, clashes)
        for row in rows:
            aliases = f"{ALIAS_SEPARATOR} ".join(row.aliases)
            existing = Neighborhood.get_or_none(Neighborhood.code == row.code)
            if existing is None:
                Neighborhood.create(code=row.code, name=row.name, district=row.district, lat=row.lat,
                                    lon=row.lon, aliases=aliases, created_at=utcnow())
                added += 1
            else:
                moved = existing.district != row.district
                existing.name, existing.district, existing.lat, existing.lon = row.name, row.district, row.lat, row.lon
                existing.aliases = aliases
                existing.save()
                if moved:
                    refile_neighborhood(existing)
                updated += 1
            if on_row is not None:
                on_row()
    return ImportResult(added, updated)


def import_csv(path: str | os.PathLike, *, on_row: Callable[[], None] | None = None) -> ImportResult:
    return import_rows(read_csv(path), on_row=on_row, source=str(path))


def _row(n: Neighborhood) -> Row:
    return Row(0, n.code, n.name, n.district, n.lat, n.lon, tuple(n.alias_list))


def list_all() -> list[Neighborhood]:
    return list(Neighborhood.select().order_by(Neighborhood.code))


def places() -> list[Place]:
    """Every stored neighbourhood as the matcher sees it (code, name, aliases)."""
    return [Place(n.code, n.name, tuple(n.alias_list)) for n in list_all()]
