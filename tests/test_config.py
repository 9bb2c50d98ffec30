from __future__ import annotations

from pathlib import Path

import pytest
from fakemodem import FakeModem

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
    monkeypatch.setattr(config, "available_languages", lambda: ("ay", "es"))
    s = config.load(write(tmp_path, "[database]\npath = b.db\n[modem]\ndevice = /dev/x\n[gateway]\nlanguage = AY\n"))
    assert s.gateway.language == "ay"
    monkeypatch.undo()
    assert config.available_languages() == ("es",)  # what the package ships today


def test_templates_of_a_language_without_files_name_the_missing_file():
    from barriosms.domain.errors import TemplateError
    from barriosms.templates.loader import load_templates

    with pytest.raises(TemplateError, match="replies.qu.ini"):
        load_templates(None, "qu")


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


# -- every numeric key has a range, and no value breaks the gateway (issue 11) ---------------------

import itertools
import math
import random
import re

from conftest import BIG
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

NUMERIC_KEYS = sorted(config.RANGES)
# Values people have written, and those that broke the gateway before: a config check passed them.
EXTREMES = ["nan", "NaN", "inf", "-inf", "infinity", "1e308", "-1e308", "1e-308", "6000000000", "-6000000000",
            "0", "-0", "-1", "0.0001", "99999999999999999999999", "1_000", "0x10", "١٢", "10 s", "5,5", ".5", "5.",
            "+3", "1e3", "2.5e1", "  7  "]


def _config_with(tmp_path: Path, section: str, key: str, raw: str) -> Path:
    sections = {"database": {"path": str(tmp_path / "b.db")}, "modem": {"device": "/dev/ttyUSB0"}}
    sections.setdefault(section, {})[key] = raw
    return write(tmp_path, "".join(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items())
                                   for name, keys in sections.items()))


_phones = itertools.count(10_000)


def _one_intake_turn(settings: config.Settings) -> None:
    """What the daemon does with settings: its jobs are scheduled, and SMS stored and acted on."""
    from barriosms.daemon.process import Daemon
    from barriosms.modem.interface import ReceivedSms
    from barriosms.pipeline.intake import Intake, rules_from_settings
    from barriosms.store.models import InboundMessage

    daemon = Daemon(settings, modem_factory=lambda s: FakeModem())
    daemon._schedule()  # every interval job built from the settings (an infinite one overflowed here)
    daemon.scheduler.remove_all_jobs()
    intake = Intake(rules_from_settings(settings), rng=random.Random(1))
    phone = f"+5917{next(_phones):07d}"
    before = InboundMessage.select().count()
    for text in ("hay un bache grande en la calle 3", "B12 hay un bache grande", "B12", "2408917"):
        assert intake.store(ReceivedSms(location=1, sender=phone, text=text))
    stored = list(InboundMessage.select().where(InboundMessage.phone == phone))
    assert InboundMessage.select().count() == before + 4 and len(stored) == 4
    assert not [m for m in stored if m.intent == "error"], [(m.text, m.triage) for m in stored]
    intake.expire_pending()
    intake.flush_expired_parts()


def _check_value(tmp_path: Path, key: tuple[str, str], raw: str) -> None:
    section, name = key
    allowed = config.RANGES[key]
    p = _config_with(tmp_path, section, name, raw)
    try:
        settings = config.load(p)
    except config.ConfigError as err:
        [problem] = err.problems
        assert problem.file == str(p) and problem.section == section, problem
        if problem.key != name:
            # A value in range that another key must follow (retry_max_seconds >= retry_base_seconds, the
            # daily limits >= the hourly ones): the problem is on the other key and names this one.
            assert name in problem.message, problem
            return
        if any(word in problem.message for word in ("minimum", "maximum", "finite", "not a")):
            assert f"at least {allowed.low:g}, at most {int(allowed.high)}" in problem.fix, problem
        else:  # a value in range that disagrees with another key: the fix names that key
            assert problem.fix and any(other in problem.message for (_, other) in NUMERIC_KEYS if other != name)
        return
    value = _value_of(settings, section, name)
    if raw.strip():
        assert math.isfinite(value) and allowed.low <= value <= allowed.high, (raw, value)
        if allowed.whole:
            assert value == int(value)
    _one_intake_turn(settings)


def _value_of(settings: config.Settings, section: str, name: str) -> float:
    holder = {"gateway": settings.gateway, "service": settings.service, "backup": settings.backup,
              "web": settings.web, "staff": settings.staff, "events": settings.events}[section]
    value = getattr(holder, name)
    return 0.0 if value is None else float(value)


def _raw_values(key: tuple[str, str]):
    allowed = config.RANGES[key]
    edges = [allowed.low, allowed.high, allowed.low - 1, allowed.high + 1, allowed.low - 1e-9, allowed.high * 10]
    return st.one_of(
        st.sampled_from(EXTREMES + [f"{v:g}" for v in edges] + [repr(float(v)) for v in edges]),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.integers(min_value=-10**20, max_value=10**20).map(str),
        st.floats(min_value=allowed.low, max_value=allowed.high).map(repr),
        st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=12)
          .filter(lambda t: not t.strip().startswith(("[", ";", "#"))),
    )


@st.composite
def key_and_value(draw):
    key = draw(st.sampled_from(NUMERIC_KEYS))
    return key, draw(_raw_values(key))


@pytest.mark.parametrize("key", NUMERIC_KEYS, ids=lambda k: f"{k[0]}.{k[1]}")
@pytest.mark.parametrize("raw", ["nan", "inf", "1e308", "6000000000", "-1"])
def test_the_values_that_broke_the_gateway_are_refused_naming_the_key(tmp_path, key, raw):
    p = _config_with(tmp_path, key[0], key[1], raw)
    with pytest.raises(config.ConfigError) as err:
        config.load(p)
    [problem] = err.value.problems
    assert (problem.section, problem.key) == key and "at most" in problem.fix


def test_pending_report_minutes_inf_and_poll_seconds_inf_are_refused_by_every_command(tmp_path):
    # The two defects of issue 11: `config check` called them OK, then the daemon died.
    from click.testing import CliRunner

    from barriosms.cli import cli

    for section, key in (("service", "pending_report_minutes"), ("gateway", "poll_seconds")):
        p = _config_with(tmp_path, section, key, "inf")
        for args in (["config", "check"], ["run"], ["cases", "list"]):
            result = CliRunner().invoke(cli, ["--config", str(p), *args])
            assert result.exit_code != 0, (args, result.output)
            assert f"[{section}] {key}: 'inf' is not a number" in result.output, (args, result.output)
            assert "Traceback" not in result.output


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(key_and_value())
@example((("service", "pending_report_minutes"), "inf"))
@example((("gateway", "poll_seconds"), "1e308"))
def test_any_value_of_any_numeric_key_is_refused_or_runs_an_intake_turn(hoods, tmp_path, kv):
    _check_value(tmp_path, *kv)


@pytest.mark.slow
@settings(max_examples=BIG, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(key_and_value())
def test_any_value_of_any_numeric_key_many_examples(hoods, tmp_path, kv):
    _check_value(tmp_path, *kv)


def test_every_numeric_key_is_read_with_its_range():
    # A key in a settings class without a range (or the other way round) is a key nobody checks.
    numeric = {(section, f.name)
               for section, cls in (("gateway", config.GatewaySettings), ("service", config.ServiceSettings),
                                    ("backup", config.BackupSettings), ("web", config.WebSettings),
                                    ("staff", config.StaffSettings),
                                    ("events", config.EventsSettings))
               for f in cls.__dataclass_fields__.values()
               if f.type in ("int", "float", "float | None") and f.name not in ("port",)}
    assert numeric == set(config.RANGES)


@pytest.mark.parametrize("region", ["XX", "ZZ", "B0", "BOL", "", "bo "])
def test_region_must_be_one_phonenumbers_knows(tmp_path, region):
    p = _config_with(tmp_path, "gateway", "region", region)
    if region.strip().upper() == "BO":
        assert config.load(p).gateway.region == "BO"
        return
    if not region:
        assert config.load(p).gateway.region == "BO", "empty means the default"
        return
    with pytest.raises(config.ConfigError) as err:
        config.load(p)
    [problem] = err.value.problems
    assert (problem.section, problem.key) == ("gateway", "region") and "BO" in problem.fix


def test_a_database_path_that_is_a_folder_or_not_sqlite_is_refused(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database")
    for target, why in ((folder, "is a folder"), (text_file, "is not an SQLite database")):
        p = write(tmp_path, f"[database]\npath = {target}\n[modem]\ndevice = /dev/x\n")
        with pytest.raises(config.ConfigError) as err:
            config.load(p)
        [problem] = err.value.problems
        assert (problem.section, problem.key) == ("database", "path") and why in problem.message
    empty = tmp_path / "new.db"
    empty.touch()
    assert config.load(write(tmp_path, f"[database]\npath = {empty}\n[modem]\ndevice = /dev/x\n")).database.path == empty


def test_the_example_config_and_the_readme_give_every_range():
    example = (ROOT / "config" / "barriosms.ini.example").read_text(encoding="utf-8").splitlines()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for (section, key), allowed in config.RANGES.items():
        at = next(i for i, line in enumerate(example) if re.match(rf";?{key}\s*=", line))
        assert example[at - 1] == f"; Range: {allowed.describe()}.", (section, key)
        row = f"| `[{section}] {key}` | {allowed.describe()} | {'yes' if allowed.whole else 'no'} |"
        assert row in readme, row


def test_loading_the_config_keeps_the_database_locks_of_this_process(tmp_path):
    # The daemon reads its config again on SIGHUP while its connection holds SQLite's locks. Opening
    # and closing the database file with open() (to look at its header) dropped every POSIX lock
    # the process held on it: a write of the daemon then stayed invisible to the staff commands.
    import sqlite3
    import subprocess
    import sys

    db = tmp_path / "b.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        config.load(write(tmp_path, f"[database]\npath = {db}\n[modem]\ndevice = /dev/x\n"))
        other = subprocess.run([sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], timeout=0);"
                                " c.execute('INSERT INTO t VALUES (1)'); c.commit()", str(db)],
                               capture_output=True, text=True)
        assert other.returncode != 0 and "database is locked" in other.stderr, "our lock was dropped"
    finally:
        holder.execute("ROLLBACK")
        holder.close()


# -- every other key, with values nobody meant (issue 11) -----------------------------------------

TEXT_KEYS = [("gateway", k) for k in ("timezone", "region", "replies", "categories", "language", "delivery_reports",
                                      "balance_ussd")] + \
            [("service", k) for k in ("quiet_hours", "satisfaction_survey")] + \
            [("web", k) for k in ("listen", "public_url", "sms_number", "site_name", "tile_url", "tile_attribution",
                                  "open311_api_keys", "show_descriptions")] + \
            [("backup", "folder"), ("logging", "level"), ("database", "url")] + \
            [("modem", k) for k in ("connection", "pin", "smsc", "operator", "usb_reset_command")]
NASTY_TEXTS = ["", " ", "\x00", "a" * 5000, "../../etc/passwd", "/dev/zero", "/proc/self/mem", "/proc", "/", ".",
               "99999999999999999999:00-07:00", "25:00-07:00", "7-7", "-", "21:00-", "١٢:٠٠-٠٧:٠٠", "UTC", "Etc/GMT+99",
               "America/La_Paz/../../x", "[::1]:99999", "0.0.0.0:0", "host:-1", "XX", "bo", "*105#", "#", "yes", "no",
               "2", "${HOME}", "%(x)s", "postgresql://", "postgresql://u:p@h/db name", "https://", "javascript:alert(1)",
               "{z}{x}{y}", "\u202e", "😀", "\ud800"]
TEXT_VALUES = st.one_of(
    st.sampled_from(NASTY_TEXTS),
    st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=60),
).map(lambda t: t.replace("\ud800", "?")).filter(lambda t: not t.strip().startswith(("[", ";", "#")))


def _check_text_value(tmp_path: Path, key: tuple[str, str], raw: str) -> None:
    from barriosms.domain.errors import TemplateError
    from barriosms.pipeline.intake import rules_from_settings

    section, name = key
    p = _config_with(tmp_path, section, name, raw)
    try:
        settings = config.load(p)
    except config.ConfigError as err:
        assert all(pr.file == str(p) for pr in err.problems)
        assert any(pr.key == name or (pr.key is None and pr.section == section) or name in pr.message
                   for pr in err.problems), err.problems
        return
    try:
        rules_from_settings(settings)
    except TemplateError:
        # A template file that cannot be used: `config check` and `run` say so, without a traceback.
        from click.testing import CliRunner

        from barriosms.cli import cli

        for args in (["config", "check"], ["run"]):
            result = CliRunner().invoke(cli, ["--config", str(p), *args])
            assert result.exit_code != 0 and "Fix:" in result.output and "Traceback" not in result.output, \
                (args, result.output)
        return
    _one_intake_turn(settings)


@st.composite
def text_key_and_value(draw):
    return draw(st.sampled_from(TEXT_KEYS)), draw(TEXT_VALUES)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text_key_and_value())
@example((("service", "quiet_hours"), "99999999999999999999:00-07:00"))
@example((("gateway", "timezone"), "a" * 5000))
@example((("gateway", "categories"), "/proc/self/mem"))
def test_any_text_in_any_other_key_is_refused_or_runs_an_intake_turn(hoods, tmp_path, kv):
    _check_text_value(tmp_path, *kv)


@pytest.mark.slow
@settings(max_examples=BIG, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text_key_and_value())
def test_any_text_in_any_other_key_many_examples(hoods, tmp_path, kv):
    _check_text_value(tmp_path, *kv)


# -- [staff]: who may reach the back-office ---------------------------------------------------------


def test_staff_defaults_admit_this_machine_only(tmp_path):
    staff = config.load(_config_with(tmp_path, "web", "threads", "4")).staff
    assert staff.enabled and staff.listen is None and staff.session_minutes == 60
    assert staff.admits("127.0.0.1") and staff.admits("::1") and staff.admits("::ffff:127.0.0.1")
    assert not staff.admits("192.168.1.20") and not staff.admits("") and not staff.admits(None)
    assert not staff.admits("unknown") and not staff.admits("::ffff:10.0.0.1")


def test_staff_networks_are_read_and_a_bad_one_is_named(tmp_path):
    staff = config.load(_config_with(tmp_path, "staff", "networks", "192.168.1.0/24, 10.0.0.7")).staff
    assert staff.admits("192.168.1.200") and staff.admits("10.0.0.7")
    assert not staff.admits("10.0.0.8") and not staff.admits("127.0.0.1")
    with pytest.raises(config.ConfigError) as err:
        config.load(_config_with(tmp_path, "staff", "networks", "192.168.1.0/24, oficina"))
    [problem] = err.value.problems
    assert (problem.section, problem.key) == ("staff", "networks") and "'oficina'" in problem.message
    assert "CIDR" in problem.fix


@pytest.mark.parametrize("listen,fix", [("8081", "127.0.0.1:8081"), ("127.0.0.1:8080", "its own port")])
def test_staff_listen_must_be_host_port_and_not_the_public_site(tmp_path, listen, fix):
    with pytest.raises(config.ConfigError) as err:
        config.load(_config_with(tmp_path, "staff", "listen", listen))
    [problem] = err.value.problems
    assert (problem.section, problem.key) == ("staff", "listen") and fix in problem.fix
    assert config.load(_config_with(tmp_path, "staff", "listen", "127.0.0.1:8081")).staff.listen == ("127.0.0.1", 8081)
