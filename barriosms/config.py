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
import ipaddress
import math
import os
import re
import shlex
import socket
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from barriosms import configkeys

# Declared with the keys (configkeys), re-exported here beside the settings they bound.
from barriosms.configkeys import Range

# QuietHours is a value of the domain's rules; it is re-exported here beside the other settings.
from barriosms.domain.guard import Limits, QuietHours

# Declared by the modem (which must not import the configuration); read and checked here.
from barriosms.modem.settings import ModemSettings

ENV_VAR = "BARRIOSMS_CONFIG"
DEFAULT_LOCATIONS = (Path("barriosms.ini"), Path("/etc/barriosms/barriosms.ini"))

# [modem NAME] names: they end up in the database and in `barriosms modem status`.
_MODEM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")

# The numeric keys and their ranges, as declared in configkeys (tests and README name them).
RANGES: Mapping[tuple[str, str], Range] = MappingProxyType(
    {(k.section, k.name): k.range for k in configkeys.KEYS if k.range is not None})


def _default(section: str, key: str) -> Any:
    """A settings field's default: the declared one, so hand-built settings and an empty file agree."""
    return configkeys.key(section, key).default


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
    """[gateway]: polling, retries, the modem's health and balance, time zone, texts and language.

    What each key means, its range and default: barriosms.configkeys (the defaults below are read
    from there).
    """

    poll_seconds: float = _default("gateway", "poll_seconds")
    multipart_timeout: float = _default("gateway", "multipart_timeout")
    send_attempts: int = _default("gateway", "send_attempts")
    retry_base_seconds: float = _default("gateway", "retry_base_seconds")
    retry_max_seconds: float = _default("gateway", "retry_max_seconds")
    heartbeat_seconds: float = _default("gateway", "heartbeat_seconds")
    modem_timeout: float = _default("gateway", "modem_timeout")
    delivery_reports: bool = _default("gateway", "delivery_reports")
    balance_ussd: str | None = _default("gateway", "balance_ussd")
    balance_check_hours: float = _default("gateway", "balance_check_hours")
    balance_warn_below: float | None = _default("gateway", "balance_warn_below")
    timezone: str = _default("gateway", "timezone")
    region: str = _default("gateway", "region")
    # None: the files built into the package (replies.<language>.ini, categories.<language>.ini).
    replies: Path | None = _default("gateway", "replies")
    categories: Path | None = _default("gateway", "categories")
    language: str = _default("gateway", "language")
    # None: the only gateway on its database (see Settings.gateway_id).
    name: str | None = _default("gateway", "name")
    claim_lease_seconds: float = _default("gateway", "claim_lease_seconds")


@dataclass(frozen=True)
class ServiceSettings:
    """How the service treats residents: two-step reports, reopening, budgets, loops, quiet hours.

    What each key means, its range and default: barriosms.configkeys. A limit of 0 means no limit.
    """

    pending_report_minutes: float = _default("service", "pending_report_minutes")
    reopen_days: float = _default("service", "reopen_days")
    replies_per_hour: int = _default("service", "replies_per_hour")
    replies_per_day: int = _default("service", "replies_per_day")
    daily_sms_budget: int = _default("service", "daily_sms_budget")
    cases_per_phone_hour: int = _default("service", "cases_per_phone_hour")
    # The loop guard's thresholds (see domain/guard.py), handed over by limits().
    loop_repeats: int = _default("service", "loop_repeats")
    loop_window_minutes: float = _default("service", "loop_window_minutes")
    loop_fast_seconds: float = _default("service", "loop_fast_seconds")
    loop_typing_chars_per_second: float = _default("service", "loop_typing_chars_per_second")
    loop_mute_hours: float = _default("service", "loop_mute_hours")
    quiet_hours: QuietHours | None = _default("service", "quiet_hours")
    answer_window_hours: float = _default("service", "answer_window_hours")
    satisfaction_survey: bool = _default("service", "satisfaction_survey")
    satisfaction_days: float = _default("service", "satisfaction_days")
    practice_days: float = _default("service", "practice_days")
    callback_window_hours: float = _default("service", "callback_window_hours")

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
    level: str = _default("logging", "level")


@dataclass(frozen=True)
class BackupSettings:
    """Where `barriosms backup` writes its copies, and how many it keeps there."""

    # None (only when Settings is built by hand): the `backups` folder beside the database.
    folder: Path | None = _default("backup", "folder")
    keep: int = _default("backup", "keep")


@dataclass(frozen=True)
class WebSettings:
    """The public website (`barriosms web`): where it listens, what it shows, how it limits abuse.

    What each key means and its default: barriosms.configkeys.
    """

    # The key `listen` (host:port), split; its declared default is checked against these by the tests.
    host: str = "127.0.0.1"
    port: int = 8080
    # "": relative Open311 addresses (/open311/v2), never built from the Host header a client sends.
    public_url: str = _default("web", "public_url")
    sms_number: str = _default("web", "sms_number")
    site_name: str = _default("web", "site_name")
    tile_url: str = _default("web", "tile_url")
    tile_attribution: str = _default("web", "tile_attribution")
    # Reports one address may submit (web form and Open311 together).
    submissions_per_hour: int = _default("web", "submissions_per_hour")
    submissions_per_day: int = _default("web", "submissions_per_day")
    trusted_proxies: int = _default("web", "trusted_proxies")
    threads: int = _default("web", "threads")
    # The key `open311_api_keys` split at its commas (); empty: no key needed.
    open311_api_keys: tuple[str, ...] = ()
    show_descriptions: bool = _default("web", "show_descriptions")


@dataclass(frozen=True)
class StaffSettings:
    """The staff back-office (/personal/): who may reach it and how long a login lasts.

    What each key means and its default: barriosms.configkeys.
    """

    enabled: bool = _default("staff", "enabled")
    # The key `networks`, parsed; the declared default is checked against it by the tests.
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (
        ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
    # The key `listen` split; None: served under /personal/ by the public site.
    listen: tuple[str, int] | None = None
    session_minutes: int = _default("staff", "session_minutes")
    secure_cookie: bool = _default("staff", "secure_cookie")

    def admits(self, address: str | None) -> bool:
        """Whether a visitor from `address` may reach /personal/ on the public site."""
        try:
            ip = ipaddress.ip_address((address or "").split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # a dual-stack socket writes 127.0.0.1 as ::ffff:127.0.0.1
        return any(ip in net for net in self.networks if net.version == ip.version)


@dataclass(frozen=True)
class EventsSettings:
    """Where events go ([events]); what each key means and its default: barriosms.configkeys."""

    # The key `command` split as a command line (shlex); empty: no command.
    command: tuple[str, ...] = ()
    command_timeout_seconds: float = _default("events", "command_timeout_seconds")
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_timeout_seconds: float = _default("events", "webhook_timeout_seconds")
    retry_max_minutes: float = _default("events", "retry_max_minutes")

    @property
    def targets(self) -> tuple[str, ...]:
        """The receivers configured: "command", "webhook"."""
        return (("command",) if self.command else ()) + (("webhook",) if self.webhook_url else ())


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
    staff: StaffSettings = field(default_factory=StaffSettings)
    events: EventsSettings = field(default_factory=EventsSettings)

    @property
    def all_modems(self) -> tuple[ModemSettings, ...]:
        return self.modems or (self.modem,)

    @property
    def gateway_id(self) -> str:
        """Who this daemon is among the gateways sharing its database: [gateway] name, else the host."""
        return self.gateway.name or socket.gethostname() or "localhost"

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

    def text(self, section: str, key: str) -> str:
        """A text key's value, or its declared default when absent or empty."""
        default = configkeys.key(section, key).default
        return self.get(section, key) or str(default)

    def number(self, section: str, key: str) -> float:
        """The value of a numeric key, checked against its declared range (its default if absent)."""
        declared = configkeys.key(section, key)
        allowed = declared.range
        assert allowed is not None, f"[{section}] {key} is declared without a range"
        # A key without a default (balance_warn_below) is only read when set; a refusal's example
        # then shows the lowest value allowed.
        default = allowed.low if declared.default is None else float(declared.default)
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
            why = f"{raw} is below the minimum {configkeys.plain(allowed.low)}"
        elif value > allowed.high:
            why = f"{raw} is above the maximum {configkeys.plain(allowed.high)}"
        else:
            return value
        self.problem(section, key, why, allowed.fix(key, default))
        return default

    def whole(self, section: str, key: str) -> int:
        """A whole-number key: :meth:`number`, which has checked that it is one."""
        return int(self.number(section, key))

    def flag(self, section: str, key: str) -> bool:
        default = bool(configkeys.key(section, key).default)
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

    def unknown_keys(self, section: str) -> None:
        """A problem for every key of the section that is not declared (a typo, an old name)."""
        if not self.parser.has_section(section):
            return
        known = configkeys.names(section)
        for key in self.parser.options(section):
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(known))}"
                self.problem(section, key, "unknown key", f"remove it or correct it ({hint})")


_SECTIONS = set(configkeys.SECTION_NAMES)


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
    r.unknown_keys("database")

    gateway = _read_gateway(r)
    modems = _named_for_gateway(_read_modems(r), gateway.name)
    modem = modems[0]
    service = _read_service(r)
    backup = _read_backup(r, db_path)
    web = _read_web(r)
    staff = _read_staff(r, web)
    events = _read_events(r)

    level = _log_level(r)
    r.unknown_keys("logging")

    if r.problems:
        raise ConfigError(r.problems)
    return Settings(path, DatabaseSettings(db_path, db_url), modem, gateway, LoggingSettings(level), service, backup,
                    modems, web, staff, events)


def _log_level(r: _Reader) -> str:
    declared = configkeys.key("logging", "level")
    level = r.text("logging", "level").upper()
    if level not in declared.choices:
        *first, last = declared.choices
        r.problem("logging", "level", f"{level!r} is not a log level", f"use {', '.join(first)} or {last}")
        return str(declared.default)
    return level


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
    keep = r.whole("backup", "keep")
    r.unknown_keys("backup")
    return BackupSettings(folder, keep)


_LISTEN = re.compile(r"(\[[0-9a-fA-F:]+\]|[\w.-]+):(\d{1,5})")


def _host_port(listen: str) -> tuple[str, int] | None:
    m = _LISTEN.fullmatch(listen)
    if not m or not 0 <= int(m.group(2)) < 65536:
        return None
    return m.group(1).strip("[]"), int(m.group(2))


def _listen(r: _Reader) -> tuple[str, int]:
    """[web] listen as host and port; the declared default when absent or refused."""
    fallback = _host_port(str(configkeys.key("web", "listen").default))
    assert fallback is not None, "the declared [web] listen is not host:port"
    listen = r.get("web", "listen")
    if listen is None:
        return fallback
    found = _host_port(listen)
    if found is None:
        r.problem("web", "listen", f"{listen!r} is not host:port",
                  "write listen = 127.0.0.1:8080 (this machine only) or 0.0.0.0:8080 (the whole network)")
        return fallback
    return found


def _read_web(r: _Reader) -> WebSettings:
    host, port = _listen(r)
    public_url = r.text("web", "public_url").rstrip("/")
    if public_url and not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", public_url):
        r.problem("web", "public_url", f"{public_url!r} is not a web address",
                  "write the address people use, e.g. public_url = https://reclamos.lapaz.bo, or remove the key")
        public_url = ""
    sms_number = r.text("web", "sms_number")
    if sms_number and not re.fullmatch(r"\+?[0-9][0-9 -]{2,19}", sms_number):
        r.problem("web", "sms_number", f"{sms_number!r} is not a phone number",
                  "write the number residents send SMS to, e.g. sms_number = 71234567")
        sms_number = ""
    tile_url = r.text("web", "tile_url")
    if not re.fullmatch(r"https?://[^\s]+", tile_url) or not all(f"{{{k}}}" in tile_url for k in "zxy"):
        r.problem("web", "tile_url", f"{tile_url!r} is not a tile address with {{z}}, {{x}} and {{y}}",
                  "write e.g. tile_url = https://tile.openstreetmap.org/{z}/{x}/{y}.png (or your own tile server)")
        tile_url = str(configkeys.key("web", "tile_url").default)
    per_hour = r.whole("web", "submissions_per_hour")
    per_day = r.whole("web", "submissions_per_day")
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
        site_name=r.text("web", "site_name"),
        tile_url=tile_url,
        tile_attribution=r.text("web", "tile_attribution"),
        submissions_per_hour=per_hour, submissions_per_day=per_day,
        trusted_proxies=r.whole("web", "trusted_proxies"),
        threads=r.whole("web", "threads"),
        open311_api_keys=keys,
        show_descriptions=r.flag("web", "show_descriptions"),
    )
    r.unknown_keys("web")
    return web


def _read_staff(r: _Reader, web: WebSettings) -> StaffSettings:
    raw = r.get("staff", "networks")
    networks = []
    for item in (raw if raw is not None else str(configkeys.key("staff", "networks").default)).split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            r.problem("staff", "networks", f"{item!r} is not an address or a network",
                      "write addresses or CIDR blocks separated by commas, e.g. networks = 127.0.0.0/8, "
                      "192.168.1.0/24")
    listen = None
    raw_listen = r.get("staff", "listen")
    if raw_listen is not None:
        listen = _host_port(raw_listen)
        if listen is None:
            r.problem("staff", "listen", f"{raw_listen!r} is not host:port",
                      "write listen = 127.0.0.1:8081 (this machine only), or remove the key to serve the "
                      "back-office under /personal/")
        elif listen == (web.host, web.port) and listen[1] != 0:
            r.problem("staff", "listen", f"{raw_listen} is also [web] listen",
                      "give the back-office its own port (e.g. 8081), or remove the key to serve it under "
                      "/personal/ of the public site")
            listen = None
    staff = StaffSettings(
        enabled=r.flag("staff", "enabled"),
        networks=tuple(networks),
        listen=listen,
        session_minutes=r.whole("staff", "session_minutes"),
        secure_cookie=r.flag("staff", "secure_cookie"),
    )
    r.unknown_keys("staff")
    return staff


def _read_events(r: _Reader) -> EventsSettings:
    command: tuple[str, ...] = ()
    raw = r.get("events", "command")
    if raw is not None:
        try:
            command = tuple(shlex.split(raw))
        except ValueError as exc:
            r.problem("events", "command", f"{raw!r} cannot be read as a command line ({exc})",
                      "write the program and its arguments as on a command line, quoting arguments with spaces")
        if command and not os.path.isabs(command[0]):
            r.problem("events", "command", f"{command[0]!r} is not an absolute path",
                      "write the program's full path (the service runs with a minimal PATH), e.g. "
                      "command = /usr/local/bin/avisar-cuadrillas")
            command = ()
    url = r.get("events", "webhook_url") or ""
    if url and not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", url):
        r.problem("events", "webhook_url", f"{url!r} is not a web address",
                  "write e.g. webhook_url = https://tickets.lapaz.bo/barriosms, or remove the key")
        url = ""
    secret = r.get("events", "webhook_secret") or ""
    if url and len(secret) < 16:
        r.problem("events", "webhook_secret", "missing or shorter than 16 characters" if secret else "missing",
                  "set a long random secret shared with the receiver, e.g. from: "
                  "python3 -c 'import secrets; print(secrets.token_urlsafe(24))'")
    events = EventsSettings(
        command=command, command_timeout_seconds=r.number("events", "command_timeout_seconds"),
        webhook_url=url, webhook_secret=secret,
        webhook_timeout_seconds=r.number("events", "webhook_timeout_seconds"),
        retry_max_minutes=r.number("events", "retry_max_minutes"),
    )
    r.unknown_keys("events")
    return events


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
    connection = r.text(section, "connection")
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
    return ModemSettings(device, connection, pin, smsc, usb_reset, _gammu_options(r, section), name, operator)


def _gammu_options(r: _Reader, section: str) -> Mapping[str, str]:
    """The keys of a modem section barriosms does not declare: Gammu's, copied into its gammurc."""
    extra: dict[str, str] = {}
    if not r.parser.has_section(section):
        return MappingProxyType(extra)
    own = configkeys.names(section)
    refused = next(s for s in configkeys.SECTIONS if s.name == configkeys.section_kind(section)).refused
    for key in r.parser.options(section):
        if key in own:
            continue
        if key in refused:
            r.problem(section, key, "cannot be changed", refused[key])
            continue
        extra[key] = r.parser.get(section, key).strip()
    return MappingProxyType(extra)


def _ussd_code(r: _Reader) -> str | None:
    code = r.get("gateway", "balance_ussd")
    if code is not None and not re.fullmatch(r"[*#][*#0-9]{1,29}#", code):
        r.problem("gateway", "balance_ussd", f"{code!r} is not a USSD code",
                  "write the operator's balance code, e.g. balance_ussd = *105#")
        return None
    return code


def _gateway_name(r: _Reader) -> str | None:
    name = r.get("gateway", "name")
    if name is not None and not _MODEM_NAME.fullmatch(name):
        r.problem("gateway", "name", f"{name!r} is not a usable gateway name",
                  "use letters, digits, - and _ (e.g. name = norte), a different one on each gateway")
        return None
    return name


def _named_for_gateway(modems: tuple[ModemSettings, ...], gateway: str | None) -> tuple[ModemSettings, ...]:
    """The modems under the names the database knows them by: with [gateway] name, a lone [modem] is
    the gateway itself and a [modem X] is NAME/X, so two gateways' modems never share a name."""
    if not gateway:
        return modems
    return tuple(replace(m, name=gateway if m.name == "default" and len(modems) == 1 else f"{gateway}/{m.name}")
                 for m in modems)


def _read_gateway(r: _Reader) -> GatewaySettings:
    tz = r.text("gateway", "timezone")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long to be a file
        r.problem("gateway", "timezone", f"unknown time zone {tz!r}", "use an IANA name such as America/La_Paz")
        tz = str(configkeys.key("gateway", "timezone").default)
    region = r.text("gateway", "region").upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        close = difflib.get_close_matches(region, sorted(phonenumbers.SUPPORTED_REGIONS), n=1)
        r.problem("gateway", "region", f"{region!r} is not a country whose phone numbers barriosms knows",
                  "use the two-letter country code of the SIM's numbers: BO for Bolivia"
                  + (f" (did you mean {close[0]}?)" if close else ""))
        region = str(configkeys.key("gateway", "region").default)
    replies = r.path_value("gateway", "replies")
    categories = r.path_value("gateway", "categories")
    for key, p in (("replies", replies), ("categories", categories)):
        if p is not None and _kind(p) != "file":
            r.problem("gateway", key, f"{p} does not exist",
                      "point it at an existing file (see config/) or remove the key to use the defaults")
    g = GatewaySettings(
        poll_seconds=r.number("gateway", "poll_seconds"),
        multipart_timeout=r.number("gateway", "multipart_timeout"),
        send_attempts=r.whole("gateway", "send_attempts"),
        retry_base_seconds=r.number("gateway", "retry_base_seconds"),
        retry_max_seconds=r.number("gateway", "retry_max_seconds"),
        heartbeat_seconds=r.number("gateway", "heartbeat_seconds"),
        modem_timeout=r.number("gateway", "modem_timeout"),
        delivery_reports=r.flag("gateway", "delivery_reports"),
        balance_ussd=_ussd_code(r),
        balance_check_hours=r.number("gateway", "balance_check_hours"),
        balance_warn_below=(r.number("gateway", "balance_warn_below")
                            if r.get("gateway", "balance_warn_below") is not None else None),
        timezone=tz,
        region=region,
        replies=replies,
        categories=categories,
        language=_language(r),
        name=_gateway_name(r),
        claim_lease_seconds=r.number("gateway", "claim_lease_seconds"),
    )
    if g.retry_max_seconds < g.retry_base_seconds:
        r.problem("gateway", "retry_max_seconds", f"{g.retry_max_seconds:g} is below retry_base_seconds "
                  f"({g.retry_base_seconds:g})", "make the longest wait between retries at least the first one")
    r.unknown_keys("gateway")
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
    language = r.text("gateway", "language").lower()
    known = available_languages()
    if language not in known:
        r.problem("gateway", "language", f"no SMS texts in the language {language!r}",
                  f"use one of {', '.join(known)}, or add barriosms/templates/replies.{language}.ini "
                  f"and categories.{language}.ini")
        return str(configkeys.key("gateway", "language").default)
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
    s = ServiceSettings(
        pending_report_minutes=r.number("service", "pending_report_minutes"),
        reopen_days=r.number("service", "reopen_days"),
        replies_per_hour=r.whole("service", "replies_per_hour"),
        replies_per_day=r.whole("service", "replies_per_day"),
        cases_per_phone_hour=r.whole("service", "cases_per_phone_hour"),
        daily_sms_budget=r.whole("service", "daily_sms_budget"),
        loop_repeats=r.whole("service", "loop_repeats"),
        loop_window_minutes=r.number("service", "loop_window_minutes"),
        loop_fast_seconds=r.number("service", "loop_fast_seconds"),
        loop_typing_chars_per_second=r.number("service", "loop_typing_chars_per_second"),
        loop_mute_hours=r.number("service", "loop_mute_hours"),
        quiet_hours=_quiet_hours(r),
        answer_window_hours=r.number("service", "answer_window_hours"),
        satisfaction_survey=r.flag("service", "satisfaction_survey"),
        satisfaction_days=r.number("service", "satisfaction_days"),
        practice_days=r.number("service", "practice_days"),
        callback_window_hours=r.number("service", "callback_window_hours"),
    )
    if s.replies_per_hour and s.replies_per_day and s.replies_per_day < s.replies_per_hour:
        r.problem("service", "replies_per_day", f"{s.replies_per_day} is below replies_per_hour ({s.replies_per_hour})",
                  "make replies_per_day at least replies_per_hour (0 means no limit)")
    r.unknown_keys("service")
    return s
