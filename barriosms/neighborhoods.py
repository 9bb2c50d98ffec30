"""The neighbourhood table: imported from a CSV staff keep, all or nothing."""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

from .domain.parsing import normalize_code, valid_code
from .store.models import Neighborhood, database, utcnow

COLUMNS = ("code", "name", "district", "lat", "lon")
REQUIRED = ("code", "name")


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
        rows.append(Row(line, code, name, values.get("district", ""), lat, lon))
    return rows, errors


def import_rows(rows: list[Row]) -> ImportResult:
    """Add new codes and update existing ones, in one transaction."""
    added = updated = 0
    with database.atomic("IMMEDIATE"):
        for row in rows:
            existing = Neighborhood.get_or_none(Neighborhood.code == row.code)
            if existing is None:
                Neighborhood.create(code=row.code, name=row.name, district=row.district, lat=row.lat,
                                    lon=row.lon, created_at=utcnow())
                added += 1
            else:
                existing.name, existing.district, existing.lat, existing.lon = row.name, row.district, row.lat, row.lon
                existing.save()
                updated += 1
    return ImportResult(added, updated)


def import_csv(path: str | os.PathLike) -> ImportResult:
    return import_rows(read_csv(path))


def list_all() -> list[Neighborhood]:
    return list(Neighborhood.select().order_by(Neighborhood.code))
