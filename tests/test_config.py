from __future__ import annotations

from pathlib import Path

import pytest

from barriosms import config

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "barriosms.ini"
    p.write_text(text, encoding="utf-8")
    return p


def test_example_config_is_valid():
    settings = config.load(ROOT / "config" / "barriosms.ini.example")
    assert settings.modem.device == "/dev/ttyUSB0"
    assert settings.gateway.timezone == "America/La_Paz"
    assert settings.gateway.poll_seconds == 5
    assert settings.gateway.language == "es"
    assert str(settings.service.quiet_hours) == "21:00-07:00"
    assert (settings.service.replies_per_hour, settings.service.daily_sms_budget) == (6, 500)


def test_service_defaults_and_no_quiet_hours(tmp_path):
    s = config.load(write(tmp_path, "[database]\npath = b.db\n[modem]\ndevice = /dev/x\n[service]\nquiet_hours = none\n"))
    assert s.service.quiet_hours is None
    assert s.service == config.ServiceSettings()
    night = config.load(write(tmp_path, "[database]\npath = b.db\n[modem]\ndevice = /dev/x\n[service]\nquiet_hours = 22-6:30\n"))
    assert str(night.service.quiet_hours) == "22:00-06:30"


def test_a_language_file_added_to_the_package_becomes_selectable(tmp_path, monkeypatch):
    from barriosms.domain import errors

    monkeypatch.setattr(errors, "available_languages", lambda: ("ay", "es"))
    s = config.load(write(tmp_path, "[database]\npath = b.db\n[modem]\ndevice = /dev/x\n[gateway]\nlanguage = AY\n"))
    assert s.gateway.language == "ay"
    monkeypatch.undo()
    assert errors.available_languages() == ("es",)  # what the package ships today


def test_templates_of_a_language_without_files_name_the_missing_file():
    from barriosms.domain.errors import TemplateError
    from barriosms.domain.replies import Templates

    with pytest.raises(TemplateError, match="replies.qu.ini"):
        Templates.load(None, "qu")


def test_defaults_and_relative_paths(tmp_path):
    p = write(tmp_path, "[database]\npath = data/b.db\n[modem]\ndevice = /dev/ttyUSB2\n")
    s = config.load(p)
    assert s.database.path == tmp_path / "data" / "b.db"
    assert s.modem.connection == "at"
    assert s.gateway.multipart_timeout == 600
    assert s.gateway.send_attempts == 5


def test_settings_are_frozen(tmp_path):
    s = config.load(write(tmp_path, "[database]\npath = b.db\n[modem]\ndevice = /dev/x\n"))
    with pytest.raises(AttributeError):
        s.gateway.poll_seconds = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.modem.gammu_options["x"] = "y"  # type: ignore[index]


def test_extra_modem_keys_go_to_gammu(tmp_path):
    s = config.load(write(tmp_path, "[database]\npath = b.db\n[modem]\ndevice = /dev/x\nlogformat = textall\n"))
    assert dict(s.modem.gammu_options) == {"logformat": "textall"}


@pytest.mark.parametrize("text, section, key, fix", [
    ("[modem]\ndevice = /dev/x\n", "database", "path", "path = /var/lib"),
    ("[database]\npath = b.db\n", "modem", "device", "barriosms modem detect"),
    ("[database]\npath=b.db\n[modem]\ndevice=/x\n[gateway]\npoll_seconds = often\n", "gateway", "poll_seconds", "write a number"),
    ("[database]\npath=b.db\n[modem]\ndevice=/x\n[gateway]\npoll_seconds = 0\n", "gateway", "poll_seconds", "at least"),
    ("[database]\npath=b.db\n[modem]\ndevice=/x\n[gateway]\npol_seconds = 3\n", "gateway", "pol_seconds", "did you mean 'poll_seconds'"),
    ("[database]\npath=b.db\n[modem]\ndevice=/x\n[gateway]\ntimezone = Mars/Olympus\n", "gateway", "timezone", "America/La_Paz"),
    ("[database]\npath=b.db\n[modem]\ndevice=/x\npin = 12ab\n", "modem", "pin", "PIN digits"),
    ("[database]\npath=b.db\n[modem]\ndevice=/x\nmodel = huawei\n", "modem", "model", "model = at"),
    ("[database]\npath=b.db\n[modem]\ndevice=/x\n[gateway]\nreplies = nowhere.ini\n", "gateway", "replies", "existing file"),
    ("[database]\npath=b.db\n[modem]\ndevice=/x\n[logging]\nlevel = LOUD\n", "logging", "level", "DEBUG, INFO"),
    ("[database]\npath=b.db\n[modem]\ndevice=/x\n[webb]\nport = 1\n", "webb", None, "use only"),
    ("[database]\npath=b.db\n[modem]\ndevice=/x\n[web]\nport = 1\n", "web", "port", "listen"),
    ("[database]\npath=b.db\n[modem]\ndevice=/x\n[gateway]\nlanguage = xx\n", "gateway", "language", "replies.xx.ini"),
    ("[database]\nurl = mysql://u:p@h/db\n[modem]\ndevice=/x\n", "database", "url", "postgresql://user:password@host"),
    ("[database]\npath=b.db\n[modem]\ndevice=/x\n[service]\nquiet_hours = 9pm-7am\n", "service", "quiet_hours", "21:00-07:00"),
    ("[database]\npath=b.db\n[modem]\ndevice=/x\n[service]\nquiet_hours = 25:00-07:00\n", "service", "quiet_hours", "24-hour"),
    ("[database]\npath=b.db\n[modem]\ndevice=/x\n[service]\nquiet_hours = 07:00-07:00\n", "service", "quiet_hours", "or none"),
    ("[database]\npath=b.db\n[modem]\ndevice=/x\n[service]\nreplies_per_hour = -1\n", "service", "replies_per_hour", "at least 0"),
    ("[database]\npath=b.db\n[modem]\ndevice=/x\n[service]\nreplies_per_hour = 10\nreplies_per_day = 5\n", "service", "replies_per_day", "at least replies_per_hour"),
    ("[database]\npath=b.db\n[modem]\ndevice=/x\n[service]\nloop_repeats = 1\n", "service", "loop_repeats", "at least 2"),
    ("[database]\npath=b.db\n[modem]\ndevice=/x\n[service]\nquiet_hour = none\n", "service", "quiet_hour", "did you mean 'quiet_hours'"),
])
def test_every_problem_names_file_key_and_fix(tmp_path, text, section, key, fix):
    p = write(tmp_path, text)
    with pytest.raises(config.ConfigError) as err:
        config.load(p)
    matching = [pr for pr in err.value.problems if pr.section == section and pr.key == key]
    assert matching, err.value.problems
    assert matching[0].file == str(p)
    assert fix in matching[0].fix
    assert str(p) in str(err.value)


def test_all_problems_reported_at_once(tmp_path):
    p = write(tmp_path, "[gateway]\npoll_seconds = x\nheartbeat_seconds = y\n")
    with pytest.raises(config.ConfigError) as err:
        config.load(p)
    keys = {(pr.section, pr.key) for pr in err.value.problems}
    assert {("database", "path"), ("modem", "device"), ("gateway", "poll_seconds"),
            ("gateway", "heartbeat_seconds")} <= keys


def test_unparseable_and_missing_files(tmp_path):
    with pytest.raises(config.ConfigError, match="does not exist"):
        config.load(tmp_path / "nope.ini")
    bad = tmp_path / "bad.ini"
    bad.write_text("path = x\n")
    with pytest.raises(config.ConfigError, match="cannot be parsed"):
        config.load(bad)


def test_locate_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(config.ENV_VAR, raising=False)
    assert config.locate("given.ini") == Path("given.ini")
    monkeypatch.setenv(config.ENV_VAR, "/env/b.ini")
    assert config.locate(None) == Path("/env/b.ini")
    monkeypatch.delenv(config.ENV_VAR)
    (tmp_path / "barriosms.ini").write_text("")
    assert config.locate(None) == Path("barriosms.ini")


def test_a_shared_database_url(tmp_path):
    s = config.load(write(tmp_path, "[database]\nurl = postgresql://gw:secreto@10.0.0.5:5432/barriosms\n"
                                    "[modem]\ndevice = /dev/x\n"))
    assert s.database.shared and s.database.target == "postgresql://gw:secreto@10.0.0.5:5432/barriosms"
    assert s.database.path == tmp_path / "barriosms.db"  # where this machine keeps its run lock
    with pytest.raises(config.ConfigError) as info:
        config.load(write(tmp_path, "[database]\nurl = postgresql://gw:secreto@\n[modem]\ndevice = /dev/x\n"))
    assert "secreto" not in str(info.value)


def test_several_named_modems(tmp_path):
    s = config.load(write(tmp_path, "[database]\npath = b.db\n"
                                    "[modem entel]\ndevice = /dev/serial/by-id/huawei\noperator = Entel\nlogformat = textall\n"
                                    "[modem tigo]\ndevice = /dev/serial/by-id/zte\noperator = Tigo\npin = 1234\n"))
    assert [(m.name, m.device, m.operator) for m in s.all_modems] == [
        ("entel", "/dev/serial/by-id/huawei", "Entel"), ("tigo", "/dev/serial/by-id/zte", "Tigo")]
    assert s.modem.name == "entel" and dict(s.modems[0].gammu_options) == {"logformat": "textall"}
    assert s.modems[1].pin == "1234"
    single = config.load(write(tmp_path, "[database]\npath = b.db\n[modem]\ndevice = /dev/ttyUSB0\n"))
    assert [m.name for m in single.all_modems] == ["default"]


@pytest.mark.parametrize("text, where, hint", [
    ("[modem]\ndevice = /x\n[modem b]\ndevice = /y\n", "[modem]", "rename [modem] to [modem NAME]"),
    ("[modem a b]\ndevice = /x\n", "[modem a b]", "letters, digits"),
    ("[modem a]\ndevice = /x\n[modem b]\ndevice = /x\n", "[modem b] device", "its own port"),
    ("[modem a]\nconnection = at\n", "[modem a] device", "barriosms modem detect"),
])
def test_named_modem_mistakes(tmp_path, text, where, hint):
    with pytest.raises(config.ConfigError) as info:
        config.load(write(tmp_path, "[database]\npath = b.db\n" + text))
    assert where in str(info.value) and hint in str(info.value)


def test_locate_skips_a_place_it_may_not_look_at(monkeypatch, tmp_path):
    class Unreadable:
        def exists(self):
            raise PermissionError(13, "Permission denied")

    found = tmp_path / "etc.ini"
    found.write_text("")
    monkeypatch.delenv(config.ENV_VAR, raising=False)
    monkeypatch.setattr(config, "DEFAULT_LOCATIONS", (Unreadable(), found))
    assert config.locate() == found
    monkeypatch.setattr(config, "DEFAULT_LOCATIONS", (Unreadable(),))
    with pytest.raises(config.ConfigError, match="no configuration file found"):
        config.locate()


def test_web_section(tmp_path):
    base = "[database]\npath = b.db\n[modem]\ndevice = /dev/x\n"
    assert config.load(write(tmp_path, base)).web == config.WebSettings()
    s = config.load(write(tmp_path, base + "[web]\nlisten = [::1]:9000\nsms_number = 7123 4567\n"
                                           "public_url = https://reclamos.lapaz.bo/\ntrusted_proxies = 1\n"
                                           "open311_api_keys = aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbb\n"
                                           "show_descriptions = no\n"))
    w = s.web
    assert (w.host, w.port, w.sms_number, w.public_url) == ("::1", 9000, "7123 4567", "https://reclamos.lapaz.bo")
    assert w.open311_api_keys == ("aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbb") and not w.show_descriptions
    assert w.trusted_proxies == 1


@pytest.mark.parametrize("line, key, fix", [
    ("listen = 8080", "listen", "127.0.0.1:8080"),
    ("listen = localhost:99999", "listen", "127.0.0.1:8080"),
    ("public_url = reclamos.bo", "public_url", "https://"),
    ("sms_number = llamenos", "sms_number", "71234567"),
    ("tile_url = https://tiles.example/{z}/{x}.png", "tile_url", "{z}/{x}/{y}"),
    ("submissions_per_hour = 10\nsubmissions_per_day = 5", "submissions_per_day", "at least the hourly"),
    ("open311_api_keys = short", "open311_api_keys", "secrets.token_urlsafe"),
])
def test_web_section_problems_name_the_key_and_the_fix(tmp_path, line, key, fix):
    with pytest.raises(config.ConfigError) as err:
        config.load(write(tmp_path, f"[database]\npath = b.db\n[modem]\ndevice = /dev/x\n[web]\n{line}\n"))
    [problem] = err.value.problems
    assert (problem.section, problem.key) == ("web", key) and fix in problem.fix
