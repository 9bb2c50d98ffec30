"""scripts/install.sh in --root mode (files under a temporary folder, system commands printed as
`would run:`), the systemd units (checked by systemd-analyze), the udev rule, and shellcheck.

A real installation changes the machine (user, systemd, udev) and is not done here; the installer
prints what it would run, and these tests check those lines.
"""

from __future__ import annotations

import fnmatch
import os
import pwd
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from barriosms import config as configuration
from barriosms.domain.categories import categorize
from barriosms.pipeline import intake
from barriosms.store.migrations import LATEST_VERSION, MIGRATIONS

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "scripts" / "install.sh"
SYSTEMD = ROOT / "systemd"
UNITS = ("barriosms.service", "barriosms-web.service", "barriosms-backup.service", "barriosms-backup.timer")
RULE = "99-barriosms-modem.rules"
# Things on this machine an installer in --root mode must not touch.
HOST_PATHS = (Path("/opt/barriosms"), Path("/etc/barriosms"), Path("/var/lib/barriosms"),
              Path("/etc/systemd/system/barriosms.service"), Path("/etc/udev/rules.d") / RULE)


def install(*args: str, env: dict[str, str] | None = None, code: int = 0) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in ("BARRIOSMS_SYSTEM_GAMMU", "PYTHON")}
    full_env.update({"BARRIOSMS_PYTHON": sys.executable, **(env or {})})
    proc = subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True, env=full_env,
                          timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == code, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def would_run(proc: subprocess.CompletedProcess) -> list[str]:
    return [line[len("would run: "):] for line in proc.stdout.splitlines() if line.startswith("would run: ")]


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Installed twice into one root, the configuration edited in between."""
    host_before = {p: p.exists() for p in HOST_PATHS}
    root = tmp_path_factory.mktemp("root")
    first = install("--root", str(root))
    config = root / "etc/barriosms/barriosms.ini"
    edited = config.read_text().replace("poll_seconds = 5", "poll_seconds = 7") + "; edited by the technician\n"
    config.write_text(edited)
    second = install("--root", str(root))
    return {"root": root, "first": first, "second": second, "edited": edited, "host_before": host_before}


# ---------------------------------------------------------------------------------------------
# --root installation


def test_files_in_place_with_their_modes(installed):
    root = installed["root"]
    data = root / "var/lib/barriosms"
    assert data.is_dir() and mode(data) == 0o750
    assert (data / "backups").is_dir() and mode(data / "backups") == 0o750
    assert mode(root / "etc/barriosms/barriosms.ini") == 0o640
    for name in ("barriosms.ini.example", "neighborhoods-lapaz.csv", "replies.es.ini", "categories.es.ini"):
        copy = root / "etc/barriosms" / name
        assert copy.read_bytes() == (ROOT / "config" / name).read_bytes(), name
        assert mode(copy) == 0o644
    for unit in UNITS:
        installed_unit = root / "etc/systemd/system" / unit
        assert installed_unit.read_bytes() == (SYSTEMD / unit).read_bytes(), unit
        assert mode(installed_unit) == 0o644
    assert (root / "etc/udev/rules.d" / RULE).read_bytes() == (SYSTEMD / RULE).read_bytes()
    assert (root / "opt/barriosms/README.md").is_file()
    assert "version=" in (root / "opt/barriosms/installed-from").read_text()
    # No venv without --with-venv, and it says so.
    assert not (root / "opt/barriosms/venv").exists()
    assert "skipping the venv in --root mode" in installed["first"].stdout


def test_config_is_written_from_the_example_once(installed):
    root = installed["root"]
    first = installed["first"].stdout
    assert "wrote " + str(root / "etc/barriosms/barriosms.ini") in first
    text = installed["edited"]
    # --root: the database path points into the root, the modem at the udev symlink.
    assert f"\npath = {root}/var/lib/barriosms/barriosms.db\n" in text
    assert "\ndevice = /dev/gsmmodem\n" in text
    assert "/dev/ttyUSB0\n" not in text.replace("; ", "")


def test_an_edited_config_is_never_overwritten(installed):
    config = installed["root"] / "etc/barriosms/barriosms.ini"
    assert config.read_text() == installed["edited"]
    assert "poll_seconds = 7" in config.read_text()
    assert "never overwrites" in installed["second"].stdout
    assert "wrote " not in installed["second"].stdout


def test_the_written_config_passes_config_check(installed):
    config = installed["root"] / "etc/barriosms/barriosms.ini"
    proc = subprocess.run([sys.executable, "-m", "barriosms", "--config", str(config), "config", "check"],
                          capture_output=True, text=True, cwd="/")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_written_config_uses_the_installed_templates(installed):
    """The installer puts editable texts and keywords in /etc/barriosms: the config must point at them."""
    root = installed["root"]
    text = installed["edited"]
    assert f"\nreplies = {root}/etc/barriosms/replies.es.ini\n" in text
    assert f"\ncategories = {root}/etc/barriosms/categories.es.ini\n" in text


def test_what_the_technician_edits_in_etc_is_what_runs(tmp_path):
    """Adding a keyword or changing a text in the installed copies used to change nothing."""
    install("--root", str(tmp_path))
    etc = tmp_path / "etc/barriosms"
    ini = etc / "barriosms.ini"
    rules = intake.rules_from_settings(configuration.load(ini))  # what the daemon builds at start-up
    assert rules.templates.render("help").startswith("Para reclamar, envie el codigo de su barrio y el problema.")
    assert categorize("hay un tronco caido en la plaza", rules.categories) == "otros"

    replies, categories = etc / "replies.es.ini", etc / "categories.es.ini"
    replies.write_text(replies.read_text(encoding="utf-8").replace(
        "help = Para reclamar, envie el codigo de su barrio y el problema.",
        "help = Alcaldia de La Paz: envie el codigo de su barrio y el problema."), encoding="utf-8")
    categories.write_text(categories.read_text(encoding="utf-8").replace(
        "vias = bache, hueco,", "vias = bache, tronco, hueco,"),
        encoding="utf-8")
    rules = intake.rules_from_settings(configuration.load(ini))
    assert rules.templates.render("help").startswith("Alcaldia de La Paz: envie el codigo de su barrio y el problema.")
    assert categorize("hay un tronco caido en la plaza", rules.categories) == "vias"

    proc = subprocess.run([sys.executable, "-m", "barriosms", "--config", str(ini), "config", "check"],
                          capture_output=True, text=True, cwd="/")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SMS texts:  {replies} (edited copy, [gateway] replies)" in proc.stdout
    assert f"categories: {categories} (edited copy, [gateway] categories)" in proc.stdout


def earlier_config(root: Path, gateway: str = "") -> Path:
    """/etc/barriosms/barriosms.ini as an earlier installer wrote it: the template keys commented out."""
    ini = root / "etc/barriosms/barriosms.ini"
    ini.parent.mkdir(parents=True)
    ini.write_text(f"[database]\npath = {root}/var/lib/barriosms/barriosms.db\n\n[modem]\ndevice = /dev/gsmmodem\n\n"
                   f"[gateway]\n;replies = replies.es.ini\n;categories = categories.es.ini\nlanguage = es\n{gateway}")
    return ini


def test_an_upgrade_keeps_an_earlier_config_and_says_what_to_add(tmp_path):
    ini = earlier_config(tmp_path)
    before = ini.read_bytes()
    proc = install("--root", str(tmp_path))
    assert ini.read_bytes() == before  # never rewritten, not even to help
    etc = tmp_path / "etc/barriosms"
    assert f"{ini} does not use the copies in {etc}" in proc.stderr
    assert f"replies = {etc}/replies.es.ini" in proc.stderr and f"categories = {etc}/categories.es.ini" in proc.stderr
    assert "[gateway]" in proc.stderr
    # The advice works: with the lines added, the installed copies are the ones that run.
    ini.write_text(ini.read_text() + f"replies = {etc}/replies.es.ini\ncategories = {etc}/categories.es.ini\n")
    settings = configuration.load(ini)
    assert (settings.gateway.replies, settings.gateway.categories) == (etc / "replies.es.ini",
                                                                      etc / "categories.es.ini")
    assert "does not use the copies" not in install("--root", str(tmp_path)).stderr


def test_an_upgrade_leaves_templates_of_the_technicians_choosing_alone(tmp_path):
    own = tmp_path / "home/tecnico/respuestas.ini"
    own.parent.mkdir(parents=True)
    own.write_text((ROOT / "config/replies.es.ini").read_text(encoding="utf-8"), encoding="utf-8")
    earlier_config(tmp_path, f"replies = {own}\n")
    proc = install("--root", str(tmp_path))
    # Only the key that is missing is mentioned.
    assert "does not use the copies" in proc.stderr
    assert "categories = " in proc.stderr and "replies = " not in proc.stderr


def test_the_database_is_migrated(installed):
    db = installed["root"] / "var/lib/barriosms/barriosms.db"
    with sqlite3.connect(db) as conn:
        versions = [v for (v,) in conn.execute('SELECT "version" FROM "schema_migration" ORDER BY 1')]
    assert versions == [m.version for m in MIGRATIONS]
    assert "applied migration(s)" in installed["first"].stdout
    assert "nothing to do" in installed["second"].stdout


def test_system_changes_are_printed_not_run(installed):
    for proc in (installed["first"], installed["second"]):
        lines = would_run(proc)
        useradd = [x for x in lines if x.startswith("useradd ")]
        assert useradd and "--system" in useradd[0] and "--groups dialout" in useradd[0]
        assert "--home-dir /var/lib/barriosms" in useradd[0] and "/usr/sbin/nologin" in useradd[0]
        assert useradd[0].endswith(" barriosms")
        assert "systemctl daemon-reload" in lines
        assert "systemctl enable --now barriosms.service barriosms-backup.timer" in lines
        assert "systemctl enable --now barriosms-web.service" in lines
        assert "udevadm control --reload" in lines
        assert any(x.startswith("udevadm trigger") for x in lines)
        if not (os.geteuid() == 0 and user_exists("barriosms")):  # else the chown is real
            assert any(x.startswith("chown -R barriosms:barriosms ") for x in lines)
    assert {p: p.exists() for p in HOST_PATHS} == installed["host_before"]


def test_uninstall_keeps_configuration_and_data(tmp_path):
    install("--root", str(tmp_path))
    proc = install("--root", str(tmp_path), "--uninstall")
    for unit in UNITS:
        assert not (tmp_path / "etc/systemd/system" / unit).exists()
    assert not (tmp_path / "etc/udev/rules.d" / RULE).exists()
    assert not (tmp_path / "opt/barriosms").exists()
    assert (tmp_path / "etc/barriosms/barriosms.ini").is_file()
    assert (tmp_path / "var/lib/barriosms/barriosms.db").is_file()
    assert "systemctl disable --now barriosms.service barriosms-backup.timer" in would_run(proc)
    assert "systemctl disable --now barriosms-web.service" in would_run(proc)
    assert f"database:      {tmp_path}/var/lib/barriosms/barriosms.db" in proc.stdout
    # Twice is harmless.
    install("--root", str(tmp_path), "--uninstall")


def test_dry_run_changes_nothing(tmp_path):
    target = tmp_path / "target"
    proc = install("--root", str(target), "--dry-run")
    assert not target.exists()
    lines = would_run(proc)
    assert any(x.startswith("install -d -m 0750 ") and "var/lib/barriosms" in x for x in lines)
    assert any(x.startswith("useradd ") for x in lines)
    assert any("-m barriosms --config" in x and x.endswith("db migrate") for x in lines)


def test_32_bit_uses_debians_python_gammu(tmp_path):
    proc = install("--root", str(tmp_path), env={"BARRIOSMS_SYSTEM_GAMMU": "1"})
    assert any(x.startswith("apt-get install -y") and "python3-gammu" in x for x in would_run(proc))


def test_help_and_bad_options():
    proc = install("--help")
    assert "--uninstall" in proc.stdout and "--root DIR" in proc.stdout and "--dry-run" in proc.stdout
    bad = install("--frobnicate", code=1)
    assert "unknown option: --frobnicate" in bad.stderr and "--help" in bad.stderr
    assert "--with-venv only goes with --root" in install("--with-venv", code=1).stderr
    assert "--root needs a folder" in install("--root", code=1).stderr


def test_a_missing_python_says_what_to_install(tmp_path):
    proc = install("--root", str(tmp_path), "--with-venv", env={"PYTHON": str(tmp_path / "no-python3")}, code=1)
    assert "not found. Install it: sudo apt-get install python3 python3-venv" in proc.stderr
    assert not (tmp_path / "opt").exists()  # stopped before changing anything


@pytest.mark.slow
def test_with_venv_installs_the_app_not_editable(tmp_path):
    proc = subprocess.run(["bash", str(INSTALL), "--root", str(tmp_path), "--with-venv"], capture_output=True,
                          text=True, timeout=900, stdin=subprocess.DEVNULL,
                          env={k: v for k, v in os.environ.items() if k != "BARRIOSMS_PYTHON"})
    if proc.returncode != 0 and "pip could not install" in proc.stderr:
        pytest.skip("pip could not download the dependencies (no package index reachable?)")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    venv_python = tmp_path / "opt/barriosms/venv/bin/python"
    where = subprocess.run([str(venv_python), "-c", "import barriosms; print(barriosms.__file__)"],
                           capture_output=True, text=True, cwd="/", check=True).stdout.strip()
    assert where.startswith(str(tmp_path / "opt/barriosms/venv/lib/")), where
    assert not any((tmp_path / "opt/barriosms/venv/lib").glob("python3*/site-packages/__editable__*"))
    assert (tmp_path / "opt/barriosms/venv/bin/barriosms").is_file()
    # The migrations ran with that venv (no BARRIOSMS_PYTHON given).
    with sqlite3.connect(tmp_path / "var/lib/barriosms/barriosms.db") as conn:
        assert conn.execute('SELECT MAX("version") FROM "schema_migration"').fetchone()[0] == LATEST_VERSION
    # The clone is left clean: the build happened in a copy.
    assert not (ROOT / "build").exists()


# ---------------------------------------------------------------------------------------------
# The systemd units


def unit_entries(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) for every setting, in order (keys may repeat, e.g. DeviceAllow)."""
    entries, section = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def test_service_unit_settings():
    entries = unit_entries(SYSTEMD / "barriosms.service")
    svc = {}
    for section, key, value in entries:
        if section == "Service":
            svc.setdefault(key, []).append(value)
    expected = {
        "Type": "notify", "NotifyAccess": "main", "WatchdogSec": "60", "Restart": "on-failure", "RestartSec": "5",
        "RestartPreventExitStatus": "2", "ExecStart": "/opt/barriosms/venv/bin/barriosms run",
        "ExecReload": "/bin/kill -HUP $MAINPID", "KillSignal": "SIGTERM", "TimeoutStopSec": "90",
        "User": "barriosms", "SupplementaryGroups": "dialout",
        "Environment": "BARRIOSMS_CONFIG=/etc/barriosms/barriosms.ini", "NoNewPrivileges": "yes",
        "ProtectSystem": "strict", "ReadWritePaths": "/var/lib/barriosms", "PrivateTmp": "yes", "ProtectHome": "yes",
        "DevicePolicy": "closed", "ProtectKernelTunables": "yes", "ProtectControlGroups": "yes",
        "StateDirectory": "barriosms", "StateDirectoryMode": "0750",
    }
    for key, value in expected.items():
        assert svc.get(key) == [value], (key, svc.get(key))
    assert sorted(svc["DeviceAllow"]) == ["char-ttyACM rw", "char-ttyUSB rw"]
    assert "AF_UNIX" in svc["RestrictAddressFamilies"][0].split()
    assert ("Install", "WantedBy", "multi-user.target") in entries


def test_web_unit_settings():
    entries = unit_entries(SYSTEMD / "barriosms-web.service")
    svc: dict[str, list[str]] = {}
    for section, key, value in entries:
        if section == "Service":
            svc.setdefault(key, []).append(value)
    expected = {
        "Type": "notify", "Restart": "on-failure", "RestartPreventExitStatus": "2",
        "ExecStart": "/opt/barriosms/venv/bin/barriosms web", "User": "barriosms",
        "Environment": "BARRIOSMS_CONFIG=/etc/barriosms/barriosms.ini", "NoNewPrivileges": "yes",
        "ProtectSystem": "strict", "ReadWritePaths": "/var/lib/barriosms", "DevicePolicy": "closed",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "CapabilityBoundingSet": "",
    }
    for key, value in expected.items():
        assert svc.get(key) == [value], (key, svc.get(key))
    # It never touches the modem: no serial devices, no dialout group, and no need for the daemon.
    assert "DeviceAllow" not in svc and "SupplementaryGroups" not in svc and "WatchdogSec" not in svc
    unit = {k: v for s, k, v in entries if s == "Unit"}
    assert "barriosms.service" not in unit.get("After", "") + unit.get("Requires", "") + unit.get("BindsTo", "")
    assert ("Install", "WantedBy", "multi-user.target") in entries


def test_backup_units_settings():
    svc = {k: v for s, k, v in unit_entries(SYSTEMD / "barriosms-backup.service") if s == "Service"}
    assert svc["Type"] == "oneshot"
    assert svc["ExecStart"] == "/opt/barriosms/venv/bin/barriosms backup"
    assert svc["User"] == "barriosms" and svc["ReadWritePaths"] == "/var/lib/barriosms"
    timer = {k: v for s, k, v in unit_entries(SYSTEMD / "barriosms-backup.timer") if s == "Timer"}
    assert timer == {"OnCalendar": "daily", "Persistent": "true", "RandomizedDelaySec": "30min",
                     "Unit": "barriosms-backup.service"}


def test_units_run_commands_that_exist():
    import click

    from barriosms.cli import cli

    ctx = click.Context(cli)

    for unit, command in (("barriosms.service", "run"), ("barriosms-web.service", "web"),
                          ("barriosms-backup.service", "backup")):
        exec_start = next(v for s, k, v in unit_entries(SYSTEMD / unit) if k == "ExecStart")
        assert exec_start.split()[0].endswith("/bin/barriosms")  # no shell wrapper: signals reach it
        assert exec_start.split()[1] == command
        assert cli.get_command(ctx, command) is not None, f"{unit} runs `barriosms {command}`, which the CLI does not have"


def analyze(folder: Path, units=UNITS) -> list[str]:
    """systemd-analyze verify on copies in folder; the lines that name a unit (problems)."""
    proc = subprocess.run(["systemd-analyze", "verify", *(f"./{u}" for u in units)], cwd=folder,
                          capture_output=True, text=True, timeout=60)
    lines = (proc.stdout + proc.stderr).splitlines()
    problems = [x for x in lines if "barriosms" in x]
    if proc.returncode != 0 and not problems:
        problems = lines or [f"exit {proc.returncode}"]
    return problems


def unit_copies(folder: Path) -> Path:
    """The units with ExecStart pointed at an executable that exists here."""
    fake = folder / "barriosms"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    for unit in UNITS:
        text = (SYSTEMD / unit).read_text().replace("/opt/barriosms/venv/bin/barriosms", str(fake))
        (folder / unit).write_text(text)
    return folder


needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze is not installed (Debian package systemd)")


@needs_analyze
def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    assert analyze(unit_copies(tmp_path)) == []


@needs_analyze
@pytest.mark.parametrize("unit, good, bad", [
    ("barriosms.service", "RestartSec=5", "RestatSec=5"),
    ("barriosms.service", "ProtectSystem=strict", "ProtectSystem=strickt"),
    ("barriosms.service", "[Service]", "[Servce]"),
    ("barriosms-backup.timer", "Persistent=true", "Persistant=true"),
    ("barriosms-web.service", "DevicePolicy=closed", "DevicePolicy=closd"),
])
def test_systemd_analyze_catches_a_misspelt_unit(tmp_path, unit, good, bad):
    folder = unit_copies(tmp_path)
    path = folder / unit
    assert good in path.read_text()
    path.write_text(path.read_text().replace(good, bad))
    assert analyze(folder), f"{bad} in {unit} went unnoticed"


# ---------------------------------------------------------------------------------------------
# The udev rule

UDEV_ASSIGN = {"GROUP", "MODE", "SYMLINK", "GOTO", "LABEL", "IMPORT", "ENV", "OWNER", "TAG"}
UDEV_MATCH = {"ACTION", "SUBSYSTEM", "SUBSYSTEMS", "KERNEL", "ENV"}
TOKEN = re.compile(r'\s*([A-Z]+)(?:\{([^}]*)\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(?:,|$)')


def parse_rules(text: str) -> list[list[tuple[str, str | None, str, str]]]:
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        tokens, pos = [], 0
        while pos < len(line):
            m = TOKEN.match(line, pos)
            assert m, f"{RULE}:{number}: cannot parse {line[pos:]!r}"
            key, attr, op, value = m.groups()
            known = UDEV_MATCH if op in ("==", "!=") else UDEV_ASSIGN
            assert key in known, f"{RULE}:{number}: unknown key {key} with {op}"
            tokens.append((key, attr, op, value))
            pos = m.end()
        rules.append(tokens)
    return rules


def udev_matches(pattern: str, value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, alt) for alt in pattern.split("|"))


def apply_rules(kernel: str, env: dict[str, str], action: str = "add", usb: bool = True) -> dict:
    """Just enough of udev's semantics for this file: what a tty device ends up with."""
    rules = parse_rules((SYSTEMD / RULE).read_text())
    device = {"ACTION": action, "SUBSYSTEM": "tty", "KERNEL": kernel, "SUBSYSTEMS": "usb" if usb else "pnp"}
    env = dict(env)
    result: dict = {"symlinks": [], "env": env}
    goto = None
    for tokens in rules:
        if goto is not None:
            if tokens[0][:1] == ("LABEL",) and tokens[0][3] == goto:
                goto = None
            continue
        matched = True
        for key, attr, op, value in tokens:
            if op not in ("==", "!="):
                continue
            actual = env.get(attr, "") if key == "ENV" else device[key]
            if udev_matches(value, actual) != (op == "=="):
                matched = False
                break
        if not matched:
            continue
        for key, attr, op, value in tokens:
            if op in ("==", "!="):
                continue
            if key == "GOTO":
                goto = value
            elif key == "SYMLINK":
                result["symlinks"].append(value)
            elif key == "ENV":
                env[attr] = value
            elif key in ("GROUP", "MODE"):
                result[key] = value
    return result


@pytest.mark.parametrize("vendor, interface", [
    ("12d1", "00"), ("19d2", "02"), ("1e0e", "02"), ("2c7c", "02"), ("1199", "03"), ("1546", "00")])
def test_udev_rule_names_the_at_port_of_known_modems(vendor, interface):
    kernel = "ttyACM0" if vendor == "1546" else "ttyUSB2"
    got = apply_rules(kernel, {"ID_VENDOR_ID": vendor, "ID_USB_INTERFACE_NUM": interface})
    assert got["symlinks"] == ["gsmmodem"]
    assert got["GROUP"] == "dialout" and got["MODE"] == "0660"
    assert got["env"]["ID_MM_DEVICE_IGNORE"] == "1"
    # The maker's other ports: the dialout group, but not /dev/gsmmodem.
    other = apply_rules(kernel, {"ID_VENDOR_ID": vendor, "ID_USB_INTERFACE_NUM": "01"})
    assert other["symlinks"] == [] and other["GROUP"] == "dialout"


def test_udev_rule_leaves_other_devices_alone():
    assert apply_rules("ttyUSB0", {"ID_VENDOR_ID": "0403", "ID_USB_INTERFACE_NUM": "00"}) == {
        "symlinks": [], "env": {"ID_VENDOR_ID": "0403", "ID_USB_INTERFACE_NUM": "00"}}  # an FTDI cable
    assert apply_rules("ttyS0", {}, usb=False)["symlinks"] == []
    assert apply_rules("ttyUSB0", {"ID_VENDOR_ID": "12d1", "ID_USB_INTERFACE_NUM": "00"},
                       action="remove")["symlinks"] == []
    assert apply_rules("sda", {"ID_VENDOR_ID": "12d1", "ID_USB_INTERFACE_NUM": "00"})["symlinks"] == []


def test_udev_rule_parser_rejects_a_misspelt_key():
    with pytest.raises(AssertionError, match="unknown key SYMLNK"):
        parse_rules('KERNEL=="ttyUSB*", SYMLNK+="gsmmodem"')


def udevadm_test(rules_dir: Path) -> str:
    """udevadm's own parser on rules_dir, mounted over /etc/udev/rules.d in a private mount namespace."""
    tty = next((p for p in sorted(Path("/sys/class/tty").glob("tty*")) if (p / "dev").exists()), None)
    if tty is None:
        pytest.skip("no tty device in /sys/class/tty to run udevadm test on")
    script = f'mount --bind "{rules_dir}" /etc/udev/rules.d && exec udevadm test --action=add "{tty}"'
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=60)
    if "Reading rules file" not in proc.stdout + proc.stderr:
        pytest.skip(f"udevadm test does not run here: {(proc.stderr or proc.stdout).strip()[-200:]}")
    return proc.stdout + proc.stderr


needs_udevadm = pytest.mark.skipif(
    os.geteuid() != 0 or not (shutil.which("udevadm") and shutil.which("unshare"))
    or not Path("/etc/udev/rules.d").is_dir(),
    reason="udevadm's parser is run as root in a private mount namespace (needs root, udevadm, unshare)")


@needs_udevadm
def test_udevadm_parses_the_rule(tmp_path):
    shutil.copy(SYSTEMD / RULE, tmp_path / RULE)
    out = udevadm_test(tmp_path)
    assert f"/etc/udev/rules.d/{RULE}" in out
    assert [x for x in out.splitlines() if f"{RULE}:" in x] == []


@needs_udevadm
def test_udevadm_would_catch_a_broken_rule(tmp_path):
    (tmp_path / RULE).write_text((SYSTEMD / RULE).read_text().replace('SYMLINK+=', 'SYMLNK+=')
                                 .replace('GROUP="dialout"', 'GROUP=="dialout"'))
    out = udevadm_test(tmp_path)
    assert [x for x in out.splitlines() if f"{RULE}:" in x]


# ---------------------------------------------------------------------------------------------
# shellcheck


@pytest.mark.skipif(shutil.which("shellcheck") is None,
                    reason="shellcheck is not installed (sudo apt-get install shellcheck; ./scripts/test "
                           "installs it when run as root)")
@pytest.mark.parametrize("script", [
    "scripts/install.sh", "scripts/test", "scripts/demo",
    "scripts/_venv.sh",
])
def test_shellcheck(script):
    # -x -P SCRIPTDIR: follow `source "$(dirname "$0")/_venv.sh"` to the file beside the script.
    proc = subprocess.run(["shellcheck", "-x", "-P", "SCRIPTDIR", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
