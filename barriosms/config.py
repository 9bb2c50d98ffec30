"""Read barriosms.ini once into a validated, frozen Settings object.

The file looks like a gammurc on purpose: technicians who know Gammu recognise `[modem] device`
and `connection`, and any other key in `[modem]` is handed to Gammu untouched.
Every problem names the file, the key and the fix; all problems are reported at once so a
technician does not have to fix them one run at a time.
"""

from __future__ import annotations

import configparser
import datetime as dt
import difflib
import math
import os
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

# QuietHours is a value of the domain's rules; it is re-exported here beside the other settings.
from barriosms.domain.guard import Limits, QuietHours
from barriosms.domain.phones import DEFAULT_REGION

# Declared by the modem (which must not import the configuration); read and checked here.
from barriosms.modem.settings import ModemSettings

ENV_VAR = "BARRIOSMS_CONFIG"
DEFAULT_LOCATIONS = (Path("barriosms.ini"), Path("/etc/barriosms/barriosms.ini"))

# Keys of [modem] that barriosms itself interprets; everything else goes to the gammurc.
_MODEM_OWN_KEYS = {"device", "connection", "pin", "smsc", "usb_reset_command", "operator"}
# [modem NAME] names: they end up in the database and in `barriosms modem status`.
_MODEM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
# Gammu keys we set ourselves: letting a config override them would break notifications.
_MODEM_FORBIDDEN = {"model": "barriosms always uses model = at (the generic AT driver); remove the key"}


@dataclass(frozen=True)
class Range:
    """The values a numeric setting accepts, inclusive; README and the example config show them.

    Every number has an upper bound too: an unbounded one (``inf``, ``1e308``) passed a check of
    the minimum only, then overflowed a ``timedelta`` or a timer deep inside the daemon.
    """

    low: float
    high: float
    whole: bool = False
    unit: str = ""
    # What 0 means when it is allowed and special ("no limit", "off").
    zero: str = ""

    def describe(self) -> str:
        """ "1 to 10080 minutes", "0 to 1000; 0 = no limit": what README and the example config say."""
        text = f"{_plain(self.low)} to {_plain(self.high)}" + (f" {self.unit}" if self.unit else "")
        if self.zero:
            text += f"; 0 = {self.zero}"
        return text

    def fix(self, key: str, default: float) -> str:
        """What to write instead of a refused value."""
        kind = "a whole number" if self.whole else "a number"
        return (f"write {kind} from {self.describe()} (at least {_plain(self.low)}, at most {_plain(self.high)}), "
                f"e.g. {key} = {default:g}")


def _plain(number: float) -> str:
    """10000000, not 1e+07: people copy these into a config file."""
    return str(int(number)) if number == int(number) else f"{number:g}"


RANGES: Mapping[tuple[str, str], Range] = MappingProxyType({
    ("gateway", "poll_seconds"): Range(0.5, 3600, unit="seconds"),
    ("gateway", "multipart_timeout"): Range(0, 86400, unit="seconds", zero="hand over at once"),
    ("gateway", "send_attempts"): Range(1, 100, whole=True),
    ("gateway", "retry_base_seconds"): Range(0.1, 86400, unit="seconds"),
    ("gateway", "retry_max_seconds"): Range(1, 604800, unit="seconds"),
    ("gateway", "heartbeat_seconds"): Range(1, 3600, unit="seconds"),
    ("gateway", "modem_timeout"): Range(5, 3600, unit="seconds"),
    ("gateway", "balance_check_hours"): Range(0.1, 720, unit="hours"),
    ("gateway", "balance_warn_below"): Range(0, 10_000_000, unit="(the operator's currency)"),
    ("service", "pending_report_minutes"): Range(1, 10080, unit="minutes"),
    ("service", "reopen_days"): Range(0, 3650, unit="days", zero="no reopening by SMS"),
    ("service", "replies_per_hour"): Range(0, 1000, whole=True, zero="no limit"),
    ("service", "replies_per_day"): Range(0, 10000, whole=True, zero="no limit"),
    ("service", "cases_per_phone_hour"): Range(0, 1000, whole=True, zero="no limit"),
    ("service", "daily_sms_budget"): Range(0, 1_000_000, whole=True, zero="no limit"),
    ("service", "loop_repeats"): Range(2, 100, whole=True),
    ("service", "loop_window_minutes"): Range(1, 10080, unit="minutes"),
    ("service", "loop_fast_seconds"): Range(0, 60, unit="seconds", zero="off"),
    ("service", "loop_typing_chars_per_second"): Range(0, 100, unit="characters a second", zero="off"),
    ("service", "loop_mute_hours"): Range(0.1, 8760, unit="hours"),
    ("service", "answer_window_hours"): Range(0.1, 8760, unit="hours"),
    ("service", "satisfaction_days"): Range(0.1, 3650, unit="days"),
    ("service", "practice_days"): Range(0.1, 3650, unit="days"),
    ("backup", "keep"): Range(1, 10000, whole=True),
    ("web", "submissions_per_hour"): Range(1, 100_000, whole=True),
    ("web", "submissions_per_day"): Range(1, 1_000_000, whole=True),
    ("web", "trusted_proxies"): Range(0, 10, whole=True, zero="no proxy"),
    ("web", "threads"): Range(1, 64, whole=True),
})

# ASCII only: float() and int() also take "١٢", "1_000" or "infinity", which nobody means in a config.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WHOLE = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True)
class Problem:
    file: str
    section: str
    key: str | None
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"[{self.section}]" + (f" {self.key}" if self.key else "")
        return f"{self.file}: {where}: {self.message}. Fix: {self.fix}"


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class DatabaseSettings:
    # The SQLite file; with a url, only where this machine keeps its run lock (and backups folder).
    path: Path
    # postgresql://user:password@host:port/name: one database shared by several gateways and tools.
    url: str | None = None

    @property
    def target(self) -> str | Path:
        """What store.open_database takes: the URL of a shared database, else the file."""
        return self.url or self.path

    @property
    def shared(self) -> bool:
        return self.url is not None


@dataclass(frozen=True)
class GatewaySettings:
    poll_seconds: float = 5.0
    multipart_timeout: float = 600.0
    send_attempts: int = 5
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 1800.0
    heartbeat_seconds: float = 30.0
    # A single modem operation running longer than this is aborted and the modem reopened.
    modem_timeout: float = 60.0
    # Ask the network for a status report on every SMS sent, to show delivered/undelivered.
    delivery_reports: bool = True
    # Prepaid credit check by USSD (e.g. *105#), every balance_check_hours; a warning below the threshold.
    balance_ussd: str | None = None
    balance_check_hours: float = 24.0
    balance_warn_below: float | None = None
    timezone: str = "America/La_Paz"
    region: str = DEFAULT_REGION
    replies: Path | None = None
    categories: Path | None = None
    # Language of the SMS texts and keywords: the package's replies.<language>.ini and
    # categories.<language>.ini (es ships; ay or qu files can be added beside it).
    language: str = "es"


@dataclass(frozen=True)
class ServiceSettings:
    """How the service treats residents: two-step reports, reopening, budgets, loops, quiet hours."""

    # A report without a neighbourhood waits this long for the same phone to send the code.
    pending_report_minutes: float = 60.0
    # A resolved case may be reopened by SMS (REABRIR <numero>) within this many days.
    reopen_days: float = 30.0
    # Replies one phone may get (0: no limit); beyond them its messages are stored, not answered.
    replies_per_hour: int = 6
    replies_per_day: int = 20
    # SMS the gateway may send in one (local) day, all kinds (0: no limit); beyond it they wait.
    daily_sms_budget: int = 500
    # New cases one phone may open in an hour (0: no limit); its further reports wait for staff in
    # `inbox list --unmatched` (reason case_limit), never dropped.
    cases_per_phone_hour: int = 10
    # Auto-reply loops with another machine (see domain/guard.py): loop_repeats messages in a row that
    # no person could have written (within loop_fast_seconds of our reply, faster than
    # loop_typing_chars_per_second on a keypad, or our own text sent back), or the same text
    # loop_repeats times within loop_window_minutes, withhold replies to the phone for
    # loop_mute_hours. Its messages are still acted on (cases, answers, BAJA), only not answered.
    loop_repeats: int = 3
    loop_window_minutes: float = 60.0
    loop_fast_seconds: float = 2.0
    loop_typing_chars_per_second: float = 6.0
    loop_mute_hours: float = 24.0
    quiet_hours: QuietHours | None = None
    # A reporter's SMS within this many hours of a staff question or message is its answer
    # (attached to the case), unless it starts with a neighbourhood code (a new report).
    answer_window_hours: float = 72.0
    # When a case is resolved, ask its reporters once whether it was really fixed (1 yes, 2 no);
    # an answer counts within satisfaction_days, and "no" reopens the case.
    satisfaction_survey: bool = True
    satisfaction_days: float = 7.0
    # Practice reports (PRUEBA ...) are deleted after this many days.
    practice_days: float = 14.0

    def limits(self) -> Limits:
        """The per-phone limits of ``domain.guard.reply_decision`` these settings ask for."""
        return Limits(
            replies_per_hour=self.replies_per_hour,
            replies_per_day=self.replies_per_day,
            loop_repeats=self.loop_repeats,
            loop_window=dt.timedelta(minutes=self.loop_window_minutes),
            loop_fast=dt.timedelta(seconds=self.loop_fast_seconds),
            loop_typing=self.loop_typing_chars_per_second,
        )


@dataclass(frozen=True)
class LoggingSettings:
    level: str = "INFO"


@dataclass(frozen=True)
class BackupSettings:
    """Where `barriosms backup` writes its copies, and how many it keeps there."""

    # None (only when Settings is built by hand): the `backups` folder beside the database.
    folder: Path | None = None
    keep: int = 14


@dataclass(frozen=True)
class WebSettings:
    """The public website (`barriosms web`): where it listens, what it shows, how it limits abuse."""

    host: str = "127.0.0.1"
    port: int = 8080
    # The address people use (https://reclamos.example.bo), for Open311 discovery; "" = relative
    # Open311 addresses (/open311/v2), never built from the Host header a client sends.
    public_url: str = ""
    # The municipal SMS number residents write to, shown on the home page ("" = not shown).
    sms_number: str = ""
    site_name: str = "Alcaldia"
    # Map tiles: the page stays useful (list and counts) when they cannot load.
    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tile_attribution: str = "© OpenStreetMap"
    # Reports one address may submit (web form and Open311 together).
    submissions_per_hour: int = 5
    submissions_per_day: int = 20
    # Reverse proxies in front of the site whose X-Forwarded-For may be believed (0: none).
    trusted_proxies: int = 0
    threads: int = 4
    # Keys an Open311 client must send to create requests (comma-separated; "" = none needed).
    open311_api_keys: tuple[str, ...] = ()
    # Show what residents wrote on public pages (phone numbers and e-mail addresses are masked).
    show_descriptions: bool = True


@dataclass(frozen=True)
class Settings:
    source: Path
    database: DatabaseSettings
    modem: ModemSettings
    gateway: GatewaySettings
    logging: LoggingSettings
    service: ServiceSettings = field(default_factory=ServiceSettings)
    backup: BackupSettings = field(default_factory=BackupSettings)
    # Every modem ([modem NAME] sections); empty when built by hand: then only `modem`.
    modems: tuple[ModemSettings, ...] = ()
    web: WebSettings = field(default_factory=WebSettings)

    @property
    def all_modems(self) -> tuple[ModemSettings, ...]:
        return self.modems or (self.modem,)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.gateway.timezone)


def locate(explicit: str | os.PathLike | None = None) -> Path:
    """The config file to use: --config, then $BARRIOSMS_CONFIG, then the default locations."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    for candidate in DEFAULT_LOCATIONS:
        try:
            if candidate.exists():
                return candidate
        except OSError:
            continue  # e.g. run as the service user from a folder it may not read: not found here

    raise ConfigError([Problem(
        "barriosms.ini", "-", None,
        "no configuration file found (looked in ./barriosms.ini and /etc/barriosms/barriosms.ini)",
        "copy config/barriosms.ini.example to one of those places, or pass --config FILE "
        f"or set {ENV_VAR}",
    )])


class _Reader:
    """Collects problems while converting values, so every mistake is reported in one run."""

    def __init__(self, path: Path, parser: configparser.ConfigParser):
        self.path = path
        self.parser = parser
        self.problems: list[Problem] = []

    def problem(self, section: str, key: str | None, message: str, fix: str) -> None:
        self.problems.append(Problem(str(self.path), section, key, message, fix))

    def get(self, section: str, key: str, default: str | None = None) -> str | None:
        if self.parser.has_option(section, key):
            value = self.parser.get(section, key).strip()
            return value if value != "" else default
        return default

    def number(self, section: str, key: str, default: float) -> float:
        """The value of a numeric key, checked against its :data:`RANGES` entry (default if absent)."""
        allowed = RANGES[(section, key)]
        raw = self.get(section, key)
        if raw is None:
            return default
        if not (_WHOLE if allowed.whole else _DECIMAL).fullmatch(raw):
            self.problem(section, key, f"{raw!r} is not {'a whole number' if allowed.whole else 'a number'}",
                         allowed.fix(key, default))
            return default
        value = int(raw) if allowed.whole else float(raw)
        if not math.isfinite(value):
            why = f"{raw} is not a finite number"
        elif value < allowed.low:
            why = f"{raw} is below the minimum {_plain(allowed.low)}"
        elif value > allowed.high:
            why = f"{raw} is above the maximum {_plain(allowed.high)}"
        else:
            return value
        self.problem(section, key, why, allowed.fix(key, default))
        return default

    def flag(self, section: str, key: str, default: bool) -> bool:
        raw = self.get(section, key)
        if raw is None:
            return default
        value = raw.lower()
        if value in ("yes", "true", "on", "1"):
            return True
        if value in ("no", "false", "off", "0"):
            return False
        self.problem(section, key, f"{raw!r} is not yes or no", f"write {key} = yes or {key} = no")
        return default

    def path_value(self, section: str, key: str) -> Path | None:
        raw = self.get(section, key)
        if raw is None:
            return None
        p = Path(os.path.expanduser(raw))
        # Relative paths are relative to the config file, not to wherever the daemon was started.
        return p if p.is_absolute() else (self.path.parent / p)

    def unknown_keys(self, section: str, known: set[str]) -> None:
        if not self.parser.has_section(section):
            return
        for key in self.parser.options(section):
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(known))}"
                self.problem(section, key, "unknown key", f"remove it or correct it ({hint})")


_GATEWAY_KEYS = {f for f in GatewaySettings.__dataclass_fields__}
_SERVICE_KEYS = {f for f in ServiceSettings.__dataclass_fields__}
_SECTIONS = {"database", "modem", "gateway", "logging", "service", "backup", "web"}


def load(path: str | os.PathLike) -> Settings:
    """Parse and validate the file; raise ConfigError listing every problem."""
    path = Path(path)
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"))
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), "-", None, "the file does not exist",
                                   "create it from config/barriosms.ini.example or point --config at the right file")]) from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(str(path), "-", None, f"cannot be parsed: {exc}".replace("\n", " "),
                                   "fix the INI syntax (sections in [brackets], key = value lines)")]) from None
    r = _Reader(path, parser)
    for section in parser.sections():
        if section not in _SECTIONS and not section.startswith("modem "):
            r.problem(section, None, "unknown section", f"use only {', '.join(sorted(_SECTIONS))} (or [modem NAME])")

    db_url = r.get("database", "url")
    if db_url is not None and not re.fullmatch(r"postgres(ql)?://[^/\s]+/\w[\w-]*", db_url):
        r.problem("database", "url", f"{_hide_password(db_url)!r} is not a PostgreSQL URL",
                  "write url = postgresql://user:password@host:5432/barriosms, or remove it to use the SQLite file")
        db_url = None
    db_path = r.path_value("database", "path")
    if db_path is None:
        if db_url is None:
            r.problem("database", "path", "missing",
                      "set the SQLite file, e.g. path = /var/lib/barriosms/barriosms.db (or url = postgresql://...)")
        db_path = (r.path.parent / "barriosms.db") if db_url else Path("barriosms.db")
    elif db_url is None:
        _check_database_file(r, db_path)
    r.unknown_keys("database", {"path", "url"})

    modems = _read_modems(r)
    modem = modems[0]
    gateway = _read_gateway(r)
    service = _read_service(r)
    backup = _read_backup(r, db_path)
    web = _read_web(r)

    level = (r.get("logging", "level", "INFO") or "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        r.problem("logging", "level", f"{level!r} is not a log level", "use DEBUG, INFO, WARNING or ERROR")
        level = "INFO"
    r.unknown_keys("logging", {"level"})

    if r.problems:
        raise ConfigError(r.problems)
    return Settings(path, DatabaseSettings(db_path, db_url), modem, gateway, LoggingSettings(level), service, backup,
                    modems, web)


def _kind(path: Path) -> str:
    """ "file", "folder", "missing", "other" (a device, a socket) or "unusable as a path (why)".

    Path.exists() and friends raise on a name the system refuses (too long, a NUL in it).
    """
    try:
        if path.is_dir():
            return "folder"
        if path.is_file():
            return "file"
        return "other" if path.exists() else "missing"
    except (OSError, ValueError) as exc:
        return f"unusable as a path ({getattr(exc, 'strerror', None) or exc})"


def _check_database_file(r: _Reader, path: Path) -> None:
    """A database path that cannot be an SQLite file is refused here, not by the first SMS stored.

    A missing file is fine (`barriosms db migrate` creates it), and so is an empty one (SQLite
    writes its header on the first write). The file is looked at through SQLite itself, never
    opened with open(): closing any descriptor of a database file drops every POSIX lock this
    process holds on it (fcntl semantics), and the daemon reads its config again on SIGHUP while
    its own connection holds locks; SQLite's VFS knows to keep such a descriptor open until then.
    """
    fix = "point path at the SQLite database file (e.g. path = /var/lib/barriosms/barriosms.db), not at a folder or another file"
    kind = _kind(path)
    if kind == "folder":
        r.problem("database", "path", f"{path} is a folder", fix)
        return
    if kind.startswith("unusable"):
        r.problem("database", "path", f"{path} is {kind}", fix)
        return
    if kind != "file":
        return
    try:
        # immutable: only the header is read, with no lock, journal or -shm file.
        probe = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            probe.execute("PRAGMA schema_version").fetchone()
        finally:
            probe.close()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            r.problem("database", "path", f"{path} is not an SQLite database", fix)
        else:
            r.problem("database", "path", f"{path} cannot be read ({exc})",
                      "check the file's owner and permissions (the service runs as the barriosms user)")


def _hide_password(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def _read_backup(r: _Reader, db_path: Path) -> BackupSettings:
    folder = r.path_value("backup", "folder") or db_path.parent / "backups"
    kind = _kind(folder)
    if kind.startswith("unusable"):
        r.problem("backup", "folder", f"{folder} is {kind}", "point it at a folder, e.g. folder = /var/lib/barriosms/backups")
    elif kind not in ("folder", "missing"):
        r.problem("backup", "folder", f"{folder} is a file, not a folder",
                  "point it at a folder (it is created if missing), or remove the key for the backups folder "
                  "beside the database")
    keep = int(r.number("backup", "keep", BackupSettings.keep))
    r.unknown_keys("backup", {f for f in BackupSettings.__dataclass_fields__})
    return BackupSettings(folder, keep)


_WEB_KEYS = {"listen", "public_url", "sms_number", "site_name", "tile_url", "tile_attribution",
             "submissions_per_hour", "submissions_per_day", "trusted_proxies", "threads", "open311_api_keys",
             "show_descriptions"}


def _read_web(r: _Reader) -> WebSettings:
    d = WebSettings()
    host, port = d.host, d.port
    listen = r.get("web", "listen")
    if listen is not None:
        m = re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[\w.-]+):(\d{1,5})", listen)
        if not m or not 0 <= int(m.group(2)) < 65536:
            r.problem("web", "listen", f"{listen!r} is not host:port",
                      "write listen = 127.0.0.1:8080 (this machine only) or 0.0.0.0:8080 (the whole network)")
        else:
            host, port = m.group(1).strip("[]"), int(m.group(2))
    public_url = (r.get("web", "public_url", "") or "").rstrip("/")
    if public_url and not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", public_url):
        r.problem("web", "public_url", f"{public_url!r} is not a web address",
                  "write the address people use, e.g. public_url = https://reclamos.lapaz.bo, or remove the key")
        public_url = ""
    sms_number = r.get("web", "sms_number", "") or ""
    if sms_number and not re.fullmatch(r"\+?[0-9][0-9 -]{2,19}", sms_number):
        r.problem("web", "sms_number", f"{sms_number!r} is not a phone number",
                  "write the number residents send SMS to, e.g. sms_number = 71234567")
        sms_number = ""
    tile_url = r.get("web", "tile_url", d.tile_url) or d.tile_url
    if not re.fullmatch(r"https?://[^\s]+", tile_url) or not all(f"{{{k}}}" in tile_url for k in "zxy"):
        r.problem("web", "tile_url", f"{tile_url!r} is not a tile address with {{z}}, {{x}} and {{y}}",
                  "write e.g. tile_url = https://tile.openstreetmap.org/{z}/{x}/{y}.png (or your own tile server)")
        tile_url = d.tile_url
    per_hour = int(r.number("web", "submissions_per_hour", d.submissions_per_hour))
    per_day = int(r.number("web", "submissions_per_day", d.submissions_per_day))
    if per_day < per_hour:
        r.problem("web", "submissions_per_day", f"{per_day} is below submissions_per_hour ({per_hour})",
                  "make the daily limit at least the hourly one")
    keys = tuple(k.strip() for k in (r.get("web", "open311_api_keys", "") or "").split(",") if k.strip())
    for key in keys:
        if len(key) < 16:
            r.problem("web", "open311_api_keys", "a key is shorter than 16 characters",
                      "use long random keys, e.g. from: python3 -c 'import secrets; print(secrets.token_urlsafe(24))'")
            break
    web = WebSettings(
        host=host, port=port, public_url=public_url, sms_number=sms_number,
        site_name=r.get("web", "site_name", d.site_name) or d.site_name,
        tile_url=tile_url,
        tile_attribution=r.get("web", "tile_attribution", d.tile_attribution) or d.tile_attribution,
        submissions_per_hour=per_hour, submissions_per_day=per_day,
        trusted_proxies=int(r.number("web", "trusted_proxies", d.trusted_proxies)),
        threads=int(r.number("web", "threads", d.threads)),
        open311_api_keys=keys,
        show_descriptions=r.flag("web", "show_descriptions", d.show_descriptions),
    )
    r.unknown_keys("web", _WEB_KEYS)
    return web


def _read_modems(r: _Reader) -> tuple[ModemSettings, ...]:
    """One [modem] section, or several [modem NAME] sections (one USB stick and SIM each)."""
    named = [s for s in r.parser.sections() if s.startswith("modem ")]
    if named and r.parser.has_section("modem"):
        r.problem("modem", None, "both [modem] and [modem NAME] sections",
                  "with several modems name every one: rename [modem] to [modem NAME]")
    if not named:
        return (_read_modem(r, "modem", "default"),)
    modems: list[ModemSettings] = []
    devices: dict[str, str] = {}
    for section in named:
        name = section[len("modem "):].strip()
        if not _MODEM_NAME.fullmatch(name):
            r.problem(section, None, f"{name!r} is not a usable modem name",
                      "use letters, digits, - and _ (e.g. [modem entel])")
            continue
        modem = _read_modem(r, section, name)
        if modem.device and modem.device in devices:
            r.problem(section, "device", f"{modem.device} is also the device of [modem {devices[modem.device]}]",
                      "give each modem its own port (`barriosms modem detect` lists them)")
        devices.setdefault(modem.device, name)
        modems.append(modem)
    return tuple(modems) or (ModemSettings(""),)


def _read_modem(r: _Reader, section: str, name: str) -> ModemSettings:
    device = r.get(section, "device")
    if device is None:
        r.problem(section, "device", "missing",
                  "set the modem's serial port, e.g. device = /dev/ttyUSB0 (`barriosms modem detect` finds it)")
        device = ""
    connection = r.get(section, "connection", "at") or "at"
    if not connection.startswith("at") and connection != "none":
        r.problem(section, "connection", f"{connection!r} is not an AT connection",
                  "use at (or at115200 etc.) for a USB GSM modem")
    pin = r.get(section, "pin")
    if pin is not None and not (pin.isdigit() and 4 <= len(pin) <= 8):
        r.problem(section, "pin", "a SIM PIN is 4 to 8 digits", "write the PIN digits only, or remove the key")
    smsc = r.get(section, "smsc")
    if smsc is not None and not (smsc.startswith("+") and smsc[1:].isdigit() and 6 <= len(smsc) <= 16):
        r.problem(section, "smsc", f"{smsc!r} is not an international number",
                  "write the SMS centre as +591 followed by its digits, or remove the key")
    usb_reset = r.get(section, "usb_reset_command")
    operator = r.get(section, "operator")
    extra: dict[str, str] = {}
    if r.parser.has_section(section):
        for key in r.parser.options(section):
            if key in _MODEM_OWN_KEYS:
                continue
            if key in _MODEM_FORBIDDEN:
                r.problem(section, key, "cannot be changed", _MODEM_FORBIDDEN[key])
                continue
            extra[key] = r.parser.get(section, key).strip()
    return ModemSettings(device, connection, pin, smsc, usb_reset, MappingProxyType(extra), name, operator)


def _ussd_code(r: _Reader) -> str | None:
    code = r.get("gateway", "balance_ussd")
    if code is not None and not re.fullmatch(r"[*#][*#0-9]{1,29}#", code):
        r.problem("gateway", "balance_ussd", f"{code!r} is not a USSD code",
                  "write the operator's balance code, e.g. balance_ussd = *105#")
        return None
    return code


def _read_gateway(r: _Reader) -> GatewaySettings:
    d = GatewaySettings()
    tz = r.get("gateway", "timezone", d.timezone) or d.timezone
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long to be a file
        r.problem("gateway", "timezone", f"unknown time zone {tz!r}", "use an IANA name such as America/La_Paz")
        tz = d.timezone
    region = (r.get("gateway", "region", d.region) or d.region).upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        close = difflib.get_close_matches(region, sorted(phonenumbers.SUPPORTED_REGIONS), n=1)
        r.problem("gateway", "region", f"{region!r} is not a country whose phone numbers barriosms knows",
                  "use the two-letter country code of the SIM's numbers: BO for Bolivia"
                  + (f" (did you mean {close[0]}?)" if close else ""))
        region = d.region
    replies = r.path_value("gateway", "replies")
    categories = r.path_value("gateway", "categories")
    for key, p in (("replies", replies), ("categories", categories)):
        if p is not None and _kind(p) != "file":
            r.problem("gateway", key, f"{p} does not exist",
                      "point it at an existing file (see config/) or remove the key to use the defaults")
    g = GatewaySettings(
        poll_seconds=r.number("gateway", "poll_seconds", d.poll_seconds),
        multipart_timeout=r.number("gateway", "multipart_timeout", d.multipart_timeout),
        send_attempts=int(r.number("gateway", "send_attempts", d.send_attempts)),
        retry_base_seconds=r.number("gateway", "retry_base_seconds", d.retry_base_seconds),
        retry_max_seconds=r.number("gateway", "retry_max_seconds", d.retry_max_seconds),
        heartbeat_seconds=r.number("gateway", "heartbeat_seconds", d.heartbeat_seconds),
        modem_timeout=r.number("gateway", "modem_timeout", d.modem_timeout),
        delivery_reports=r.flag("gateway", "delivery_reports", d.delivery_reports),
        balance_ussd=_ussd_code(r),
        balance_check_hours=r.number("gateway", "balance_check_hours", d.balance_check_hours),
        balance_warn_below=(r.number("gateway", "balance_warn_below", 0.0)
                            if r.get("gateway", "balance_warn_below") is not None else None),
        timezone=tz,
        region=region,
        replies=replies,
        categories=categories,
        language=_language(r),
    )
    if g.retry_max_seconds < g.retry_base_seconds:
        r.problem("gateway", "retry_max_seconds", f"{g.retry_max_seconds:g} is below retry_base_seconds "
                  f"({g.retry_base_seconds:g})", "make the longest wait between retries at least the first one")
    r.unknown_keys("gateway", _GATEWAY_KEYS)
    return g


PACKAGE_TEMPLATES = "barriosms.templates"


def available_languages() -> tuple[str, ...]:
    """Languages with both SMS texts and category keywords in the package (replies.<lang>.ini)."""
    # Read as package data, not imported: the template loader sits above the configuration.
    files = {p.name for p in resources.files(PACKAGE_TEMPLATES).iterdir()}
    return tuple(sorted(name[len("replies."):-len(".ini")] for name in files
                        if name.startswith("replies.") and name.endswith(".ini")
                        and f"categories.{name[len('replies.'):]}" in files))


def _language(r: _Reader) -> str:
    language = (r.get("gateway", "language", "es") or "es").lower()
    known = available_languages()
    if language not in known:
        r.problem("gateway", "language", f"no SMS texts in the language {language!r}",
                  f"use one of {', '.join(known)}, or add barriosms/templates/replies.{language}.ini "
                  f"and categories.{language}.ini")
        return "es"
    return language


_CLOCK = re.compile(r"([0-9]{1,2})(?::([0-9]{2}))?")


def _clock(raw: str) -> dt.time:
    """ "21:00", "7", "06:30" (ASCII digits; ValueError otherwise, also for 25:00)."""
    m = _CLOCK.fullmatch(raw.strip())
    if m is None:
        raise ValueError(raw)
    return dt.time(int(m.group(1)), int(m.group(2) or 0))


def _quiet_hours(r: _Reader) -> QuietHours | None:
    raw = r.get("service", "quiet_hours")
    if raw is None or raw.lower() in ("none", "no", "off"):
        return None
    try:
        start, end = (_clock(p) for p in raw.split("-"))
    except ValueError:
        r.problem("service", "quiet_hours", f"{raw!r} is not a time window",
                  "write start-end in 24-hour local time, e.g. quiet_hours = 21:00-07:00, or none")
        return None
    if start == end:
        r.problem("service", "quiet_hours", "the window starts and ends at the same time",
                  "write start-end, e.g. quiet_hours = 21:00-07:00, or none for no quiet hours")
        return None
    return QuietHours(start, end)


def _read_service(r: _Reader) -> ServiceSettings:
    d = ServiceSettings()

    def whole(key: str, default: int) -> int:
        return int(r.number("service", key, default))

    s = ServiceSettings(
        pending_report_minutes=r.number("service", "pending_report_minutes", d.pending_report_minutes),
        reopen_days=r.number("service", "reopen_days", d.reopen_days),
        replies_per_hour=whole("replies_per_hour", d.replies_per_hour),
        replies_per_day=whole("replies_per_day", d.replies_per_day),
        cases_per_phone_hour=whole("cases_per_phone_hour", d.cases_per_phone_hour),
        daily_sms_budget=whole("daily_sms_budget", d.daily_sms_budget),
        loop_repeats=int(r.number("service", "loop_repeats", d.loop_repeats)),
        loop_window_minutes=r.number("service", "loop_window_minutes", d.loop_window_minutes),
        loop_fast_seconds=r.number("service", "loop_fast_seconds", d.loop_fast_seconds),
        loop_typing_chars_per_second=r.number("service", "loop_typing_chars_per_second",
                                              d.loop_typing_chars_per_second),
        loop_mute_hours=r.number("service", "loop_mute_hours", d.loop_mute_hours),
        quiet_hours=_quiet_hours(r),
        answer_window_hours=r.number("service", "answer_window_hours", d.answer_window_hours),
        satisfaction_survey=r.flag("service", "satisfaction_survey", d.satisfaction_survey),
        satisfaction_days=r.number("service", "satisfaction_days", d.satisfaction_days),
        practice_days=r.number("service", "practice_days", d.practice_days),
    )
    if s.replies_per_hour and s.replies_per_day and s.replies_per_day < s.replies_per_hour:
        r.problem("service", "replies_per_day", f"{s.replies_per_day} is below replies_per_hour ({s.replies_per_hour})",
                  "make replies_per_day at least replies_per_hour (0 means no limit)")
    r.unknown_keys("service", _SERVICE_KEYS)
    return s
