#!/usr/bin/env python3
"""Requests per second and latency of the public website on a database of 100,000 cases.

Run it with the project's venv:  .venv/bin/python bench/web_rps.py [--cases 100000] [--seconds 10] [--clients 4]
[--keep FOLDER]

1. A fresh SQLite database in a temporary folder (`barriosms db migrate`, the La Paz
   neighbourhoods), then CASES cases inserted in one transaction: every neighbourhood, every
   category and status, created over the last year, valid unique tracking numbers (seeded), some
   merged duplicates and web reports with their own point, and their case_event rows (created,
   status changes with public notes, internal notes). With --keep, in FOLDER instead, and kept: a
   folder already seeded with CASES cases (by this script or by bench/store_scale.py --keep, its
   `seeded.json` says so) is reused as it is, and the follow page then asks for the tracking
   numbers of every case in it. A fresh --keep folder is seeded with the SMS too, as
   store_scale.py seeds it, so either script can reuse it.
2. The real `barriosms web` as a subprocess with `[web] threads = 4`.
3. For each scenario: a warm-up, then CLIENTS threads, each with its own keep-alive
   http.client connection, send requests one after another for SECONDS. Every answer must be
   200; anything else (or a broken connection) is an error. Scenarios: the follow page
   /caso/<tracking> over random existing numbers, and the map data /mapa/datos.geojson without
   and with filters (one fixed filter, then filters that change on every request).
4. The other public pages one at a time (PAGES: the home page, the case list with and without
   filters and deep in its pages, a neighbourhood's page, the map page, Open311's request list):
   one untimed request each, then --page-runs timed ones, one after another on one connection.

The clients run in this Python process, on the same machine as the server: they compete with it
for the CPU, so the figures are a floor for what the server alone can do. Exits 1 when any request
failed.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import importlib.metadata
import json
import os
import platform
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import gammu  # noqa: E402
from reply_latency import machine, percentile  # noqa: E402
from seeding import fill  # noqa: E402

from barriosms.templates.loader import load_categories  # noqa: E402

CSV = ROOT / "config" / "neighborhoods-lapaz.csv"
THREADS = 4  # [web] threads of the server under test
HEADERS = {"Accept-Encoding": "gzip"}  # as browsers send it: pages and map data go compressed

# --- the database -------------------------------------------------------------------------------

def write_config(folder: Path, db: Path) -> Path:
    ini = folder / "web_rps.ini"  # not barriosms.ini: a rig's own config may be beside it (--keep)
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/ttyUSB0\n"
                   f"[web]\nlisten = 127.0.0.1:0\nthreads = {THREADS}\n[logging]\nlevel = WARNING\n")
    return ini


MARKER = "seeded.json"  # in a --keep folder: {"cases": N, "tracking": one of them}, as store_scale.py writes it


def prepare(folder: Path, cases: int, seed: int, keep: bool) -> tuple[Path, list[str]]:
    """The config (of this script, beside the database) and the cases' tracking numbers: the folder's
    database reused when it was seeded with `cases` cases (--keep), else a new one seeded now."""
    db = folder / "barriosms.db"
    ini = write_config(folder, db)
    marker = folder / MARKER
    if keep and marker.exists() and json.loads(marker.read_text()).get("cases") == cases:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            trackings = [t for (t,) in conn.execute('SELECT tracking FROM "case"')]
        print(f"reusing {db}: {len(trackings):,} cases")
        return ini, trackings
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"), marker):
        stale.unlink(missing_ok=True)
    barriosms(ini, "db", "migrate")
    barriosms(ini, "neighborhoods", "import", str(CSV))
    began = time.perf_counter()
    trackings = fill(db, cases, seed, messages=keep)
    print(f"inserted in {time.perf_counter() - began:.1f} s")
    if keep:
        marker.write_text(json.dumps({"cases": cases, "tracking": trackings[len(trackings) // 2]}))
    return ini, trackings


def barriosms(ini: Path, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "barriosms", "--config", str(ini), *args],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise SystemExit(f"barriosms {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")


# --- the server ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(ini: Path, port: int, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "barriosms", "--config", str(ini), "web",
                                 "--listen", f"127.0.0.1:{port}"], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"barriosms web exited ({proc.returncode}):\n{log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit(f"barriosms web did not listen on port {port} within 30 s; see {log}")


def stop_server(proc: subprocess.Popen) -> int | None:
    proc.terminate()  # SIGTERM: the server's own clean stop
    try:
        return proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


# --- the clients --------------------------------------------------------------------------------

@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    broken: int = 0  # connections that failed (reset, timeout)
    last_error: str = ""

    def add(self, other: Tally) -> None:
        self.latencies += other.latencies
        for code, n in other.statuses.items():
            self.statuses[code] = self.statuses.get(code, 0) + n
        self.broken += other.broken
        self.last_error = other.last_error or self.last_error

    @property
    def errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if code != 200) + self.broken


def client(port: int, paths: Callable[[random.Random], str], seed: int, deadline: float, tally: Tally) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.perf_counter() < deadline:
        path = paths(rng)
        began = time.perf_counter()
        try:
            conn.request("GET", path, headers=HEADERS)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            tally.broken += 1
            tally.last_error = f"{type(exc).__name__}: {exc}"
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        tally.latencies.append(time.perf_counter() - began)
        tally.statuses[response.status] = tally.statuses.get(response.status, 0) + 1
        if response.status != 200:
            tally.last_error = f"HTTP {response.status} for {path}"
    conn.close()


def load(port: int, paths: Callable[[random.Random], str], clients: int, seconds: float, seed: int) -> tuple[Tally, float]:
    """CLIENTS threads for SECONDS; what they saw and the time it took."""
    tallies = [Tally() for _ in range(clients)]
    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(port, paths, seed * 1000 + n, began + seconds, tallies[n]),
                                daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    total = Tally()
    for t in tallies:
        total.add(t)
    return total, elapsed


def first_requests(port: int, paths: list[str]) -> Tally:
    """One request per path, one after another on one connection (each the first of its kind)."""
    tally = Tally()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for path in paths:
        began = time.perf_counter()
        conn.request("GET", path, headers=HEADERS)
        response = conn.getresponse()
        response.read()
        tally.latencies.append(time.perf_counter() - began)
        tally.statuses[response.status] = tally.statuses.get(response.status, 0) + 1
        if response.status != 200:
            tally.last_error = f"HTTP {response.status} for {path}"
    conn.close()
    return tally


def pages(hood: str) -> list[str]:
    """The public pages timed one at a time (step 4), `hood` a neighbourhood's code."""
    return ["/", "/casos", "/casos?estado=abiertos", "/casos?categoria=agua", f"/casos?barrio={hood}",
            f"/casos?barrio={hood}&categoria=agua&estado=cerrados", "/casos?pagina=100", "/casos?pagina=2000",
            f"/barrio/{hood}", "/mapa", "/open311/v2/requests.json"]


def probe(port: int, path: str) -> tuple[int, dict[str, str], int, str]:
    """One request: status, headers, size on the wire and the text (uncompressed)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=HEADERS)
        response = conn.getresponse()
        body = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
        text = gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body
        return response.status, headers, len(body), text.decode("utf-8", "replace")
    finally:
        conn.close()


# --- the report ---------------------------------------------------------------------------------

def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def cores() -> str:
    try:
        logical = sum(1 for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("processor"))
    except OSError:
        logical = 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{logical or os.cpu_count()} logical CPU(s), {usable} usable by this process"


def versions() -> str:
    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"
    return (f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, waitress {version('waitress')}, "
            f"Flask {version('flask')}, peewee {version('peewee')}; Gammu {gammu.Version()[0]} "
            f"(python-gammu {gammu.Version()[1]})")


def map_cache() -> str:
    """Whether the website serves the map data from a cache (see barriosms/web/pages.py)."""
    from barriosms.web import pages

    seconds = getattr(pages, "MAP_CACHE_SECONDS", None)
    if seconds is None:
        return "map data: not cached (no MAP_CACHE_SECONDS in barriosms/web/pages.py)"
    return (f"map data: served from an in-process cache (barriosms/web/pages.py): the GeoJSON of each "
            f"(categoria, estado) is computed once per {seconds:g} s per server process and kept gzipped, so "
            f"the measured map rows are almost all cache hits; the 'first request per filter' row is the "
            f"uncached cost (a grouped COUNT over every case)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10, help="measured time per scenario")
    parser.add_argument("--clients", type=int, default=4, help="concurrent keep-alive connections")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds before each scenario")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the database in this folder")
    parser.add_argument("--page-runs", type=int, default=3, help="timed requests of each other page (step 4)")
    args = parser.parse_args()
    print(f"machine: {machine()}; {cores()}")
    print(f"software: {versions()}")
    print(f"server: barriosms web, [web] threads = {THREADS}; {args.clients} client thread(s) in this process, "
          f"keep-alive; {args.warmup:g} s warm-up, then {args.seconds:g} s per scenario")
    categories = load_categories().names
    with tempfile.TemporaryDirectory(prefix="barriosms-web-bench-") as tmp:
        folder = args.keep.resolve() if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "barriosms.db"
        ini, trackings = prepare(folder, args.cases, args.seed, keep=args.keep is not None)
        scenarios: list[tuple[str, Callable[[random.Random], str]]] = [
            ("follow page /caso/<random tracking>", lambda rng: f"/caso/{rng.choice(trackings)}"),
            ("map data, no filter", lambda rng: "/mapa/datos.geojson"),
            ("map data ?estado=abiertos&categoria=agua", lambda rng: "/mapa/datos.geojson?estado=abiertos&categoria=agua"),
            ("map data, random estado x categoria",
             lambda rng: f"/mapa/datos.geojson?estado={rng.choice(('abiertos', 'cerrados', 'todos'))}"
                         f"&categoria={rng.choice(categories)}"),
        ]
        port = free_port()
        log = folder / "web.log"
        server = start_server(ini, port, log)
        rows: list[tuple[str, Tally, float | None]] = []  # scenario, what it saw, seconds (None: not timed as a rate)
        try:
            first_requests(port, ["/salud"] * THREADS * 2)  # the server's very first requests are not timed
            rows.append(("map data, first request per filter (miss)",
                         first_requests(port, ["/mapa/datos.geojson"] + [
                             f"/mapa/datos.geojson?estado={state}&categoria={category}"
                             for state in ("abiertos", "cerrados", "todos") for category in categories]), None))
            status, headers, size, text = probe(port, "/mapa/datos.geojson")
            features = text.count('"Feature"') if status == 200 else 0
            print(f"{map_cache()}; a sample answer: HTTP {status}, {size:,} bytes "
                  f"({headers.get('content-encoding', 'not compressed')}), {features} neighbourhood point(s), "
                  f"Cache-Control {headers.get('cache-control', '-')}")
            status, headers, size, text = probe(port, f"/caso/{trackings[0]}")
            print(f"follow page: a sample answer: HTTP {status}, {size:,} bytes "
                  f"({headers.get('content-encoding', 'not compressed')}, {len(text):,} uncompressed), "
                  f"{'shows' if trackings[0] in text else 'does NOT show'} the tracking number")
            for name, paths in scenarios:
                load(port, paths, args.clients, args.warmup, args.seed + 7)
                tally, elapsed = load(port, paths, args.clients, args.seconds, args.seed)
                rows.append((name, tally, elapsed))
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                (hood,) = conn.execute("SELECT code FROM neighborhood ORDER BY code LIMIT 1").fetchone()
            for path in pages(hood):
                first_requests(port, [path])
                rows.append((f"{path} (one at a time)", first_requests(port, [path] * args.page_runs), None))
            if any(code >= 500 for _, tally, _ in rows for code in tally.statuses):
                print(f"server errors: the last lines of its log:\n{tail(log)}")
        finally:
            code = stop_server(server)
        failed = any(tally.errors for _, tally, _ in rows)
        for name, tally, _ in rows:
            if tally.errors:
                print(f"{name}: {tally.errors:,} error(s), the last: {tally.last_error}")
        if code not in (0, None):
            print(f"barriosms web exited with {code}; its log:\n{tail(log)}")
            failed = True
        size_mib = db.stat().st_size / 2**20
        wal = db.with_name(db.name + "-wal")
        if wal.exists():
            size_mib += wal.stat().st_size / 2**20
    print(f"database: {len(trackings):,} cases, {size_mib:.1f} MiB on disk")
    print()
    widths = (max(42, *(len(name) for name, _, _ in rows)), 9, 7, 9, 9, 9)
    heads = ("scenario", "requests", "errors", "req/s", "p50 ms", "p95 ms", "answers")
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(heads, widths)))
          + "  " + heads[-1])
    for name, tally, elapsed in rows:
        n = len(tally.latencies)
        rate = f"{n / elapsed:.1f}" if elapsed else "-"
        p50, p95 = (percentile(tally.latencies, p) * 1000 if n else float("nan") for p in (0.50, 0.95))
        answers = ", ".join(f"{code}: {k}" for code, k in sorted(tally.statuses.items()))
        print(f"{name:<{widths[0]}}  {n:>9,}  {tally.errors:>7,}  {rate:>9}  {p50:>9.2f}  {p95:>9.2f}  "
              f"{answers}{f', broken: {tally.broken}' if tally.broken else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
