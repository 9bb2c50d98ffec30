"""The rules CI enforces: ruff (pyproject.toml), mypy and import-linter's contracts (setup.cfg).

Each tool runs from the venv running the tests (`./scripts/test` installs them: setup.cfg's `test`
extra), in the project folder, and must exit 0; on failure the test shows what the tool printed.
mypy keeps its cache in ./.mypy_cache (git ignores it): about 4 s the first time, well under 1 s
after, so these are not marked slow.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def tool(name: str, *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    exe = BIN / name
    if not exe.exists():
        pytest.fail(f"{name} is not installed in {BIN}: run ./scripts/test (it installs setup.cfg's [test] extra)")
    # wide enough that import-linter (rich) does not wrap contract names
    env = {**(env if env is not None else os.environ), "COLUMNS": "200"}
    return subprocess.run([str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def shown(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"


def test_ruff() -> None:
    proc = tool("ruff", "check", ".")
    assert proc.returncode == 0, shown(proc)


def test_mypy() -> None:
    proc = tool("mypy")  # what to check and how strictly: [mypy] in setup.cfg
    assert proc.returncode == 0, shown(proc)


def test_import_contracts() -> None:
    proc = tool("lint-imports")
    assert proc.returncode == 0, shown(proc)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The package and setup.cfg in a temporary folder, to break a contract in."""
    shutil.copytree(ROOT / "barriosms", tmp_path / "barriosms", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "setup.cfg", tmp_path / "setup.cfg")
    return tmp_path


def lint_copy(folder: Path, contract: str) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH: the copy, not the installed barriosms, is the one analysed
    env = {**os.environ, "PYTHONPATH": str(folder)}
    return tool("lint-imports", "--no-cache", "--contract", contract, cwd=folder, env=env)


@pytest.mark.parametrize(("module", "contract", "name", "edge"), [
    ("domain/tracking.py", "domain-pure", "Domain imports nothing of barriosms outside domain, and no framework",
     "barriosms.domain.tracking -> barriosms.config"),
    ("store/models.py", "store-modem-no-services", "Store and modem import no service and no interface",
     "barriosms.store.models -> barriosms.pipeline.intake"),
])
def test_a_forbidden_import_breaks_its_contract(copy: Path, module: str, contract: str, name: str, edge: str) -> None:
    target = copy / "barriosms" / module
    imported = edge.split(" -> ")[1]
    target.write_text(target.read_text(encoding="utf-8") + f"\nimport {imported}  # noqa: E402, F401\n",
                      encoding="utf-8")
    proc = lint_copy(copy, contract)
    assert proc.returncode == 1, shown(proc)
    assert f"{name} BROKEN" in proc.stdout, shown(proc)
    assert edge in proc.stdout, shown(proc)


def test_the_store_contract_holds_before_the_breach(copy: Path) -> None:
    """The breach above is what breaks it: the untouched copy keeps the contract."""
    proc = lint_copy(copy, "store-modem-no-services")
    assert proc.returncode == 0, shown(proc)
    assert "Store and modem import no service and no interface KEPT" in proc.stdout, shown(proc)
