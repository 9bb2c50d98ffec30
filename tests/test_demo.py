"""`./scripts/demo`: without a terminal it plays its scripted conversation and cleans up after itself;
it deletes only what it made itself and refuses, touching nothing, a folder it did not make."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from barriosms.operations import runlock
from barriosms.sim import demo


def run_demo(*args: str, cwd: Path | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "barriosms.sim.demo", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, cwd=cwd)


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under `folder` with its content (a symlink: its target), to prove nothing changed."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_symlink():
            found[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            found[rel] = path.read_bytes()
        else:
            found[rel] = "dir"
    return found


@pytest.mark.slow
def test_scripted_demo_runs_and_exits_0(tmp_path):
    folder = tmp_path / "demo"
    proc = run_demo("--folder", str(folder))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    tracking = re.search(r"Numero: (\d{7})", out).group(1)
    assert f"resident +59171234567 | {tracking}" in out  # the status query
    assert "in_progress" in out and "La cuadrilla ira el lunes" in out
    assert "falta el barrio" in out  # the two-step report, completed by the name "Sopocachi"
    assert len(re.findall(r"Numero: \d{7}", out)) == 2 and "Barrio Sopocachi (residuos)" in out
    # The web report: the number shown on the page is the one that arrived by SMS.
    web = re.search(r"website \| \S+/caso/(\d{7})\?nuevo=1&sms=1: numero (\d{7})", out)
    assert web and web.group(1) == web.group(2)
    assert f"gateway -> +59170000123 | Alcaldia: recibimos su reclamo web, numero {web.group(1)}" in out
    assert "exit codes {'web': 0, 'daemon': 0, 'sim': 0}" in out
    assert not (folder / "modem").exists() and not (folder / "modem.control").exists()
    # The folder is marked as the demo's, so that the next run may clear it.
    assert (folder / demo.MARKER).is_file()


# -- the folder: only ever delete what the demo made ------------------------------------------------


def test_a_non_empty_folder_the_demo_did_not_make_is_refused_and_left_alone(tmp_path):
    folder = tmp_path / "mine"
    (folder / "sub").mkdir(parents=True)
    (folder / "barriosms.db").write_bytes(b"the technician's real database")
    (folder / "notes.txt").write_text("keep me")
    (folder / "sub" / "photo.jpg").write_bytes(b"\xff\xd8")
    before = snapshot(folder)
    proc = run_demo("--folder", str(folder), timeout=60)
    assert proc.returncode != 0
    assert str(folder) in proc.stderr and "not made by the demo" in proc.stderr
    assert "--folder" in proc.stderr  # what to do instead
    assert snapshot(folder) == before
    assert "demo folder:" not in proc.stdout  # refused before anything started


def test_folder_dot_in_a_checkout_is_refused(tmp_path):
    """`./scripts/demo --folder .` used to delete the folder it was run in (the whole checkout)."""
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    (checkout / "README.md").write_text("# barriosms\n")
    (checkout / "scripts" / "demo").write_text("#!/usr/bin/env bash\n")
    before = snapshot(checkout)
    proc = run_demo("--folder", ".", cwd=checkout, timeout=60)
    assert proc.returncode != 0 and str(checkout) in proc.stderr
    assert snapshot(checkout) == before


def test_a_file_given_as_the_folder_is_refused(tmp_path):
    target = tmp_path / "barriosms.ini"
    target.write_text("[database]\n")
    proc = run_demo("--folder", str(target), timeout=60)
    assert proc.returncode != 0 and str(target) in proc.stderr and "not a folder" in proc.stderr
    assert target.read_text() == "[database]\n"


def test_a_new_or_empty_folder_is_used_and_marked(tmp_path):
    new = tmp_path / "a" / "new"
    demo.prepare_folder(new)
    assert sorted(p.name for p in new.iterdir()) == [demo.MARKER]
    empty = tmp_path / "empty"
    empty.mkdir()
    demo.prepare_folder(empty)
    assert (empty / demo.MARKER).is_file()


def test_its_own_folder_is_cleared_of_what_the_demo_made_and_nothing_else(tmp_path):
    folder = tmp_path / "demo"
    demo.prepare_folder(folder)
    made = ["barriosms.ini", "barriosms.db", "barriosms.db-wal", "barriosms.db-shm", "daemon.log", "sim.log",
            "web.log"]
    for name in made:
        (folder / name).write_text("from the last run")
    (folder / "modem").symlink_to("/dev/pts/99")
    (folder / "notes.txt").write_text("put here by a person")
    (folder / "copy").mkdir()
    demo.prepare_folder(folder)
    left = sorted(p.name for p in folder.iterdir())
    assert left == sorted([demo.MARKER, "copy", "notes.txt"])
    assert (folder / "notes.txt").read_text() == "put here by a person"


def test_its_own_folder_is_refused_while_a_daemon_still_runs_there(tmp_path):
    folder = tmp_path / "demo"
    demo.prepare_folder(folder)
    (folder / "barriosms.db").write_text("in use")
    with runlock.hold(folder / "barriosms.db"):
        with pytest.raises(demo.FolderRefused, match="still runs") as refused:
            demo.prepare_folder(folder)
    assert str(os.getpid()) in str(refused.value)
    assert (folder / "barriosms.db").read_text() == "in use"


def test_a_symlinked_marker_does_not_make_a_folder_the_demos(tmp_path):
    """The marker must be a file the demo wrote, not a link someone (or a copy) left there."""
    folder = tmp_path / "other"
    folder.mkdir()
    (tmp_path / "elsewhere").write_text("")
    (folder / demo.MARKER).symlink_to(tmp_path / "elsewhere")
    (folder / "barriosms.db").write_text("precious")
    with pytest.raises(demo.FolderRefused):
        demo.prepare_folder(folder)
    assert (folder / "barriosms.db").read_text() == "precious"
