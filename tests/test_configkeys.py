"""The declaration of the config keys (barriosms.configkeys) against what the reader and the example do.

Every key is declared once; these tests keep config.py's reader, the settings classes and
config/barriosms.ini.example from drifting away from it.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from barriosms import config, configkeys
from barriosms.cli import cli

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "config" / "barriosms.ini.example"


def printed_example() -> str:
    result = CliRunner().invoke(cli, ["config", "example"])
    assert result.exit_code == 0, result.output
    return result.output


def declared(section: str) -> set[str]:
    return {k.name for k in configkeys.KEYS if k.section == section}


def fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_the_shipped_example_is_what_config_example_prints():
    # If this fails after a change to configkeys.py: barriosms config example > config/barriosms.ini.example
    assert SHIPPED.read_text(encoding="utf-8") == printed_example()


def test_the_printed_example_loads_once_the_site_values_are_filled_in(tmp_path):
    # As the installer does (scripts/install.sh): the database path and the modem's port are the
    # two live lines a site replaces; the rest are defaults or commented-out suggestions.
    text = printed_example()
    text = re.sub(r"(?m)^path = .*$", f"path = {tmp_path / 'b.db'}", text, count=1)
    text = re.sub(r"(?m)^device = .*$", "device = /dev/gsmmodem", text, count=1)
    p = tmp_path / "barriosms.ini"
    p.write_text(text, encoding="utf-8")
    settings = config.load(p)
    assert settings.database.path == tmp_path / "b.db" and settings.modem.device == "/dev/gsmmodem"
    assert str(settings.service.quiet_hours) == "21:00-07:00"
    # Everything else in the example is the default.
    assert settings.gateway == config.GatewaySettings()
    assert dataclasses.replace(settings.service, quiet_hours=None) == config.ServiceSettings()
    assert settings.web == config.WebSettings()


def test_every_declared_key_is_in_the_example_in_its_section_with_its_help():
    sections = re.split(r"(?m)^\[(\w+)\]\n", printed_example())
    by_section = dict(zip(sections[1::2], sections[2::2]))
    assert tuple(by_section) == configkeys.SECTION_NAMES
    for k in configkeys.KEYS:
        body = by_section[k.section]
        assert re.search(rf"(?m)^;?{k.name} = {re.escape(k.shown)}$", body), (k.section, k.name)
        first_words = " ".join(k.help.split()[:4])
        assert first_words in " ".join(line.lstrip("; ") for line in body.splitlines()), (k.section, k.name)


def test_every_help_is_one_to_three_lines_and_the_example_fits_100_columns():
    for k in configkeys.KEYS:
        assert 1 <= len(configkeys._comment(k.help)) <= 3, (k.section, k.name)
    assert max(len(line) for line in printed_example().splitlines()) <= configkeys.WIDTH


def test_the_declared_keys_are_the_fields_of_the_settings():
    assert declared("database") == fields(config.DatabaseSettings)
    assert declared("modem") == fields(config.ModemSettings) - {"gammu_options", "name"}
    assert declared("gateway") == fields(config.GatewaySettings)
    assert declared("service") == fields(config.ServiceSettings)
    assert declared("backup") == fields(config.BackupSettings)
    # [web] listen is split into host and port.
    assert declared("web") == fields(config.WebSettings) - {"host", "port"} | {"listen"}
    assert declared("logging") == fields(config.LoggingSettings)
    assert set(configkeys.SECTION_NAMES) == {f.name for f in dataclasses.fields(config.Settings)} - {"source", "modems"}


def test_an_empty_config_gets_the_declared_defaults_as_hand_built_settings_do(tmp_path):
    p = tmp_path / "barriosms.ini"
    p.write_text("[database]\npath = b.db\n[modem]\ndevice = /dev/x\n", encoding="utf-8")
    s = config.load(p)
    assert (s.gateway, s.service, s.web, s.logging) == (config.GatewaySettings(), config.ServiceSettings(),
                                                        config.WebSettings(), config.LoggingSettings())
    assert s.backup.keep == config.BackupSettings().keep
    assert s.modem.connection == config.ModemSettings("/dev/x").connection == configkeys.key("modem", "connection").default
    assert f"{s.web.host}:{s.web.port}" == configkeys.key("web", "listen").default


def _every_key(tmp_path: Path) -> Path:
    """A config with every declared key set: to its example value, or a value unlike the default."""
    values = {k: k.shown for k in configkeys.KEYS}
    changed = {"path": str(tmp_path / "b.db"), "replies": str(ROOT / "config" / "replies.es.ini"),
               "categories": str(ROOT / "config" / "categories.es.ini"), "folder": str(tmp_path),
               "connection": "at115200", "listen": "0.0.0.0:9090", "level": "DEBUG", "language": "AY",
               "timezone": "America/Lima", "region": "PE", "site_name": "Municipio", "tile_attribution": "OSM",
               "tile_url": "https://tiles.example/{z}/{x}/{y}.png",
               "staff.listen": "127.0.0.1:9091"}
    lines: list[str] = []
    for section in configkeys.SECTION_NAMES:
        lines.append(f"[{section}]")
        for k in configkeys.KEYS:
            if k.section == section:
                value = changed.get(f"{section}.{k.name}", changed.get(k.name, values[k]))
                if k.range is not None and value == configkeys.ini_text(k.default):
                    value = configkeys.plain(k.range.low if k.range.low != k.default else k.range.high)
                elif k.kind == "bool":
                    value = "no" if k.default else "yes"
                lines.append(f"{k.name} = {value}")
    p = tmp_path / "barriosms.ini"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_every_declared_key_is_read_and_every_key_read_is_declared(tmp_path, monkeypatch):
    asked: set[tuple[str, str]] = set()
    get = config._Reader.get

    def recording(self, section, key, default=None):
        asked.add((configkeys.section_kind(section), key))
        return get(self, section, key, default)

    monkeypatch.setattr(config._Reader, "get", recording)
    # Only es ships; a second language makes [gateway] language a key that can differ from its default.
    monkeypatch.setattr(config, "available_languages", lambda: ("ay", "es"))
    p = _every_key(tmp_path)
    settings = config.load(p)  # every declared key is accepted: no "unknown key"
    assert asked == set(configkeys.DECLARED)
    # And each one changed what the settings hold: none is read and then dropped.
    default = config.load(_minimal(tmp_path))
    for section in ("gateway", "service", "backup", "web", "staff", "events", "logging", "database"):
        for f in dataclasses.fields(getattr(settings, section)):
            assert getattr(getattr(settings, section), f.name) != getattr(getattr(default, section), f.name), \
                (section, f.name)
    for name in declared("modem"):
        assert getattr(settings.modem, name) != getattr(default.modem, name), name


def _minimal(tmp_path: Path) -> Path:
    p = tmp_path / "minimal.ini"
    p.write_text(f"[database]\npath = {tmp_path / 'other.db'}\n[modem]\ndevice = /dev/x\n", encoding="utf-8")
    return p


@pytest.mark.parametrize("section", [s for s in configkeys.SECTION_NAMES if s != "modem"])
def test_a_key_not_declared_is_refused_in_every_section_but_the_modems(tmp_path, section):
    sections = {"database": "path = b.db\n", "modem": "device = /dev/x\nlogformat = textall\n"}
    sections[section] = sections.get(section, "") + "not_a_key = 1\n"
    p = tmp_path / "barriosms.ini"
    p.write_text("".join(f"[{name}]\n{body}" for name, body in sections.items()), encoding="utf-8")
    with pytest.raises(config.ConfigError) as err:
        config.load(p)
    [problem] = err.value.problems
    assert (problem.section, problem.key, problem.message) == (section, "not_a_key", "unknown key")
    assert ", ".join(sorted(declared(section))) in problem.fix or "did you mean" in problem.fix


def test_the_ranges_are_the_declared_ones():
    assert config.RANGES == {(k.section, k.name): k.range for k in configkeys.KEYS if k.range}
    assert config.Range is configkeys.Range


def test_a_number_has_a_range_and_a_choice_its_choices():
    for k in configkeys.KEYS:
        assert (k.range is not None) == (k.kind in ("float", "int")), (k.section, k.name)
        assert k.range is None or k.range.whole == (k.kind == "int"), (k.section, k.name)
        assert bool(k.choices) == (k.kind == "choice"), (k.section, k.name)
        assert k.kind != "bool" or isinstance(k.default, bool), (k.section, k.name)
