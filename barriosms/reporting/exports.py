"""Cases as CSV or GeoJSON for spreadsheets and QGIS, and writing a file all at once.

The writers take `reports.CaseRow`s (any iterable, so the CLI can wrap them in a progress bar)
and write text; times are ISO 8601 in the configured zone with its offset, like the CLI's JSON.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from barriosms.reporting.reports import CaseRow

# In this order in the CSV and in each feature's properties; "phone" only when asked for.
FIELDS = ("tracking", "status", "category", "neighborhood", "neighborhood_name", "district", "created_at",
          "updated_at", "reporters", "assignee", "phone", "text")

# A cell starting with one of these is a formula to Excel and LibreOffice; residents write the texts.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ExportError(Exception):
    """The export was not written; the message says why."""


@dataclass(frozen=True)
class Written:
    cases: int
    without_coordinates: int = 0  # GeoJSON features with "geometry": null


def _iso(value: dt.datetime | None, zone: ZoneInfo) -> str | None:
    """A stored naive-UTC time in the zone, with its offset (as `cli.common.local_time` shows it)."""
    return None if value is None else value.replace(tzinfo=dt.UTC).astimezone(zone).isoformat(
        timespec="seconds")


@cache
def fields(include_phone: bool) -> tuple[str, ...]:
    return FIELDS if include_phone else tuple(f for f in FIELDS if f != "phone")


def record(row: CaseRow, zone: ZoneInfo, include_phone: bool = False) -> dict[str, Any]:
    """One case as the export's flat record (the CSV row, the GeoJSON properties)."""
    data = {
        "tracking": row.tracking,
        "status": row.status,
        "category": row.category,
        "neighborhood": row.code,
        "neighborhood_name": row.name,
        "district": row.district,
        "created_at": _iso(row.created_at, zone),
        "updated_at": _iso(row.updated_at, zone),
        "reporters": row.reporters,
        "assignee": row.assignee,
        "phone": row.phone,
        "text": row.text,
    }
    return {f: data[f] for f in fields(include_phone)}


def _cell(value: Any) -> Any:
    """Residents' text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(rows: Iterable[CaseRow], out: TextIO, zone: ZoneInfo, include_phone: bool = False) -> Written:
    """A header line, then one line per case. `out` should be opened with newline=""."""
    writer = csv.DictWriter(out, fieldnames=fields(include_phone))
    writer.writeheader()
    n = 0
    for row in rows:
        data = record(row, zone, include_phone)
        data["text"] = _cell(data["text"])
        writer.writerow(data)
        n += 1
    return Written(cases=n)


def feature(row: CaseRow, zone: ZoneInfo, include_phone: bool = False) -> dict[str, Any]:
    """A GeoJSON Point at the case's [lon, lat] (the neighbourhood's unless marked on the web map),
    or a null geometry when there is none."""
    geometry = ({"type": "Point", "coordinates": [row.lon, row.lat]}
                if row.lat is not None and row.lon is not None else None)
    return {"type": "Feature", "id": row.tracking, "geometry": geometry,
            "properties": record(row, zone, include_phone)}


def write_geojson(rows: Iterable[CaseRow], out: TextIO, zone: ZoneInfo, include_phone: bool = False) -> Written:
    """A FeatureCollection (RFC 7946: WGS 84 longitude, latitude), written one feature at a time."""
    out.write('{"type": "FeatureCollection", "features": [')
    n = nowhere = 0
    for row in rows:
        item = feature(row, zone, include_phone)
        out.write(("," if n else "") + "\n" + json.dumps(item, ensure_ascii=False))
        n += 1
        nowhere += item["geometry"] is None
    out.write("\n]}\n")
    return Written(cases=n, without_coordinates=nowhere)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_file(path: str | os.PathLike, *, force: bool = False) -> Iterator[TextIO]:
    """Write `path` all at once: into a temporary file beside it, renamed when the block succeeds.

    Readers never see half a file and a failure leaves the old file (or none). An existing file is
    replaced only with `force`; otherwise ExportError, also if the file appears meanwhile.
    """
    path = Path(path)
    if not force and path.exists():
        raise ExportError(f"{path} already exists (use --force to replace it)")
    if not path.parent.is_dir():
        raise ExportError(f"cannot write {path}: no folder {path.parent}")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # as a file the user created (mkstemp makes it private)
        _move_into_place(tmp, path, force)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _move_into_place(tmp: str, path: Path, force: bool) -> None:
    if force:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # fails if the name exists: no check-then-write race
    except FileExistsError:
        raise ExportError(f"{path} already exists (use --force to replace it)") from None
    except OSError:  # a file system without hard links (a FAT USB stick): check, then rename
        if path.exists():
            raise ExportError(f"{path} already exists (use --force to replace it)") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)
