"""Every key of barriosms.ini, declared once: its section, type, range or choices, default and help.

`barriosms.config` reads its ranges, defaults and known keys from here, and `barriosms config
example` prints config/barriosms.ini.example from here, so the validator, the settings and the
example a technician copies cannot disagree. What a key's value must look like beyond its type
(a time zone, a USSD code) is checked by config.py, which also words those fixes.

May import: the standard library and barriosms.domain only (config and the CLI import it).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from barriosms.domain.phones import DEFAULT_REGION

# What the reader turns a value into: a number, yes/no, text, a path relative to the config file,
# one of `choices`, a start-end window of local clock times, host:port, a URL, a comma-separated list.
Kind = Literal["float", "int", "bool", "str", "path", "choice", "clock-window", "host:port", "url", "list"]
# A default as the settings hold it; None: the key is unset (and `unset` says what that means).
Value = float | int | bool | str | None

# Comment lines are wrapped to this width, "; " included: the width of the hand-written example.
WIDTH = 100
# Written between words that must stay on one line ("[modem NAME]"); a plain space once wrapped.
NBSP = "\u00a0"


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
        text = f"{plain(self.low)} to {plain(self.high)}" + (f" {self.unit}" if self.unit else "")
        if self.zero:
            text += f"; 0 = {self.zero}"
        return text

    def fix(self, key: str, default: float) -> str:
        """What to write instead of a refused value."""
        kind = "a whole number" if self.whole else "a number"
        return (f"write {kind} from {self.describe()} (at least {plain(self.low)}, at most {plain(self.high)}), "
                f"e.g. {key} = {default:g}")


def plain(number: float) -> str:
    """10000000, not 1e+07: people copy these into a config file."""
    return str(int(number)) if number == int(number) else f"{number:g}"


@dataclass(frozen=True)
class Key:
    """One key of one section."""

    section: str
    name: str
    kind: Kind
    # One to three lines for a technician (wrapped in the example): what it does, not how it is coded.
    help: str
    default: Value = None
    range: Range | None = None
    choices: tuple[str, ...] = ()
    # The example's value when it is not the default: a site-specific one (a port, a code) to edit.
    sample: str | None = None
    # Whether the example's line is live; None: live when it holds a value that applies without
    # editing (the default, or a required value to replace), commented out when only a suggestion.
    live: bool | None = None
    # What leaving the key out means when there is no default value to show ("no balance check").
    unset: str = ""
    # A paragraph before the key that introduces it and the keys after it (the loop guard).
    lead: str = ""

    @property
    def shown(self) -> str:
        """The value on the example's line."""
        return self.sample if self.sample is not None else ini_text(self.default)

    @property
    def active(self) -> bool:
        if self.live is not None:
            return self.live
        return self.default not in (None, "")


@dataclass(frozen=True)
class Section:
    name: str
    # Comment text under the [name] line, and after the keys (wrapped like help; lines starting
    # with ";" are kept as they are: commented-out example lines).
    intro: str = ""
    outro: str = ""
    # [name NAME] sections with the same keys may stand instead of [name] (one per modem).
    repeats: bool = False
    # Keys not declared here are passed on (to Gammu's gammurc) instead of refused.
    free_keys: bool = False
    # Keys that may not be set: the fix to give.
    refused: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


HEADER = """\
barriosms configuration. Copy to /etc/barriosms/barriosms.ini (or ./barriosms.ini) and edit.
Check it with:  barriosms config check
Relative paths are relative to this file.
`barriosms config example` prints this example afresh (with any keys an upgrade added)."""

SECTIONS: tuple[Section, ...] = (
    Section("database"),
    Section(
        "modem", repeats=True, free_keys=True,
        # Gammu keys barriosms sets itself: letting a config override them would break notifications.
        refused=MappingProxyType({"model": "barriosms always uses model = at (the generic AT driver); remove the key"}),
        outro="""\
Any other Gammu option is copied into the gammurc barriosms generates, e.g.:
;logfile = /var/log/barriosms/gammu.log
;logformat = textalldate
;
Several modems (one USB stick and SIM each, e.g. one per operator): instead of [modem], one \
[modem\u00a0NAME] section per stick, with the same keys and `operator =` its SIM's operator. Replies \
leave through the modem the report came in on; other SMS through a modem of the recipient's \
operator (by the number's prefix), or any working one. `barriosms modem status` shows each.
;[modem entel]
;device = /dev/serial/by-id/usb-HUAWEI_Mobile-if00-port0
;operator = Entel
;[modem tigo]
;device = /dev/serial/by-id/usb-ZTE_MF190-if02-port0
;operator = Tigo"""),
    Section("gateway"),
    Section("service"),
    Section("backup"),
    Section("web", intro="""\
The public website and Open311 API (`barriosms web`, barriosms-web.service; docs/website.md). \
It shares the database with the gateway and never touches the modem."""),
    Section("staff", intro="""\
The staff back-office (/personal/, docs/website.md): staff log in with the accounts of `barriosms \
staff add`. Served by `barriosms web` under /personal/ to the networks below, or on its own address \
(listen). Behind a reverse proxy with HTTPS, set [web] trusted_proxies and secure_cookie = yes."""),
    Section("events", intro="""\
Other systems hear what happens (message received, case opened, status changed, note, SMS sent, \
failed or delivered, callback requested, modem down or up): each event is delivered, in order and \
again until it is taken, to a command and/or a webhook (docs/events.md)."""),
    Section("logging"),
)

_LOOP_GUARD = (
    'Auto-reply loops with another machine (an "out of office" phone, another gateway) are judged by '
    "what no person can do: loop_repeats answers in a row to our SMS, each one within loop_fast_seconds "
    "of it, faster than loop_typing_chars_per_second on a phone keypad, or our own text sent back; or "
    "the same sentence loop_repeats times within loop_window_minutes while we answer. Then the phone "
    "gets no SMS back for loop_mute_hours, but everything it sends is still acted on (reports open "
    "cases, answers reach staff, BAJA counts). A person answering our questions, even quickly, is "
    "never silenced."
)

KEYS: tuple[Key, ...] = (
    # -- [database]
    Key("database", "path", "path",
        "The SQLite file with every message and case. Back it up. With url set, only where this "
        "machine keeps its run lock (and, by default, its backups folder).",
        sample="/var/lib/barriosms/barriosms.db", live=True),
    Key("database", "url", "url",
        "A PostgreSQL database shared by several gateways (or by the web and the gateway on different "
        "machines) instead of the file (pip install 'barriosms[postgresql]', or Debian's "
        "python3-psycopg2). Back it up with pg_dump on the server.",
        sample="postgresql://barriosms:PASSWORD@db.example:5432/barriosms", unset="the SQLite file at path"),
    # -- [modem] or [modem NAME]
    Key("modem", "device", "str",
        "The serial port that answers AT commands (`barriosms modem detect` will find it). Prefer the "
        "stable /dev/serial/by-id/... name: ttyUSB numbers change when sticks are replugged.",
        sample="/dev/ttyUSB0", live=True),
    Key("modem", "connection", "str",
        'Gammu connection type; "at" is right for USB sticks (at115200 to force a speed).',
        default="at"),
    Key("modem", "pin", "str", "SIM PIN, if the SIM asks for one (4 to 8 digits).",
        sample="1234", unset="the SIM asks for none"),
    Key("modem", "smsc", "str",
        "SMS centre number, only if the SIM has none stored (Entel: ask the operator).",
        sample="+59170000000", unset="the one stored on the SIM"),
    Key("modem", "usb_reset_command", "str",
        "A command that power-cycles the USB stick, run after 3 failed reconnections in a row (needs "
        "root or a udev rule; leave unset if you have none).",
        sample="uhubctl -a cycle -l 1-1 -p 2", unset="no power cycling"),
    Key("modem", "operator", "str",
        "The SIM's operator (Entel, Tigo, Viva): SMS that are not replies leave through a modem of the "
        "recipient's operator when there is one (cheaper, and faster to deliver).",
        sample="Entel", unset="any modem sends any SMS"),
    # -- [gateway]
    Key("gateway", "poll_seconds", "float",
        "Read the SIM at least this often, even when the modem announces nothing.",
        default=5.0, range=Range(0.5, 3600, unit="seconds")),
    Key("gateway", "multipart_timeout", "float",
        "How long to wait for the missing parts of a long SMS before handling it as it is.",
        default=600.0, range=Range(0, 86400, unit="seconds", zero="hand over at once")),
    Key("gateway", "send_attempts", "int",
        "Attempts to send one SMS before it is marked failed; the waits between them grow from "
        "retry_base_seconds to retry_max_seconds.",
        default=5, range=Range(1, 100, whole=True)),
    Key("gateway", "retry_base_seconds", "float", "The wait before the first retry of an SMS not sent.",
        default=30.0, range=Range(0.1, 86400, unit="seconds")),
    Key("gateway", "retry_max_seconds", "float",
        "The longest wait between two retries (at least retry_base_seconds).",
        default=1800.0, range=Range(1, 604800, unit="seconds")),
    Key("gateway", "heartbeat_seconds", "float",
        "Modem health written to the database this often (`barriosms modem status` reads it).",
        default=30.0, range=Range(1, 3600, unit="seconds")),
    Key("gateway", "delivery_reports", "bool",
        "Ask the network to report delivery of every SMS sent (shown in `outbox list` and `cases show`).",
        default=True),
    Key("gateway", "balance_ussd", "str",
        "Prepaid credit: the operator's balance code, checked every balance_check_hours; below "
        "balance_warn_below the log and `barriosms modem status` warn.",
        sample="*105#", unset="no balance check"),
    Key("gateway", "balance_check_hours", "float", "How often balance_ussd is dialled.",
        default=24.0, range=Range(0.1, 720, unit="hours"), live=False),
    Key("gateway", "balance_warn_below", "float", "The credit below which the balance is warned about.",
        range=Range(0, 10_000_000, unit="(the operator's currency)"), sample="10", unset="no warning"),
    Key("gateway", "modem_timeout", "float",
        "A modem operation taking longer than this is aborted and the modem reopened.",
        default=60.0, range=Range(5, 3600, unit="seconds")),
    Key("gateway", "name", "str",
        "This gateway's name on a PostgreSQL database shared with other gateways, a different one on "
        "each: its modem is recorded as NAME (a [modem X] as NAME/X), so `barriosms modem status` tells "
        "the gateways apart and their SMS, claims and health never mix.",
        sample="norte", unset="one gateway: its modem is called default, or by its [modem NAME]"),
    Key("gateway", "claim_lease_seconds", "float",
        "On a database shared by several gateways: an SMS a gateway took for sending (and its turn "
        "at delivering events) stays its own while it renews the claim, every few seconds; a gateway "
        "that stopped renewing (it died, or lost the database) loses them to the others after this "
        "long.",
        default=60.0, range=Range(10, 3600, unit="seconds")),
    Key("gateway", "timezone", "str", "Times are stored in UTC and shown in this zone (an IANA name).",
        default="America/La_Paz"),
    Key("gateway", "region", "str",
        "Country for phone numbers written without +591 (the two-letter code of the SIM's country).",
        default=DEFAULT_REGION),
    Key("gateway", "replies", "path",
        "An edited copy of the SMS texts (scripts/install.sh sets the one it puts in /etc/barriosms). "
        "After an edit: `barriosms config check`, then `sudo systemctl reload barriosms`. The copies "
        "are Spanish: with another language, point this at a copy in that language.",
        sample="replies.es.ini", unset="the texts built into barriosms"),
    Key("gateway", "categories", "path",
        "An edited copy of the category keywords, like replies (the website reads them at start: "
        "`sudo\u00a0systemctl\u00a0restart\u00a0barriosms-web`). `barriosms config check` and `barriosms doctor` "
        "name the files in use.",
        sample="categories.es.ini", unset="the keywords built into barriosms"),
    Key("gateway", "language", "str",
        "Language of the SMS texts and keywords: the package's replies.<language>.ini and "
        "categories.<language>.ini (es ships; add ay or qu files beside them for Aymara or Quechua).",
        default="es"),
    # -- [service]
    Key("service", "pending_report_minutes", "float",
        "A report without a neighbourhood waits this long for the same phone to send the code (or "
        "the name); after that it stays for staff in `barriosms inbox list --unmatched`.",
        default=60.0, range=Range(1, 10080, unit="minutes")),
    Key("service", "reopen_days", "float",
        "A resident may reopen a resolved case by SMS (REABRIR <numero>) within this many days.",
        default=30.0, range=Range(0, 3650, unit="days", zero="no reopening by SMS")),
    Key("service", "replies_per_hour", "int",
        "Replies one phone may get per hour. Beyond them its messages are still stored (and reports "
        "still open cases), but not answered: `barriosms inbox list --unanswered`.",
        default=6, range=Range(0, 1000, whole=True, zero="no limit")),
    Key("service", "replies_per_day", "int",
        "Replies one phone may get per day, as above (at least replies_per_hour).",
        default=20, range=Range(0, 10000, whole=True, zero="no limit")),
    Key("service", "daily_sms_budget", "int",
        "SMS the gateway may send in one local day, all kinds. Beyond it they wait for the next day, "
        "shown in `barriosms outbox list`.",
        default=500, range=Range(0, 1_000_000, whole=True, zero="no limit")),
    Key("service", "cases_per_phone_hour", "int",
        "New cases one phone may open in an hour. Its further reports are kept for staff, never "
        "dropped: `barriosms inbox list --unmatched` shows them (reason case_limit) and `barriosms "
        "inbox assign ID --neighborhood CODE` opens them; the phone is told so by SMS.",
        default=10, range=Range(0, 1000, whole=True, zero="no limit")),
    Key("service", "loop_repeats", "int", "How many such messages make a loop.",
        default=3, range=Range(2, 100, whole=True), lead=_LOOP_GUARD),
    Key("service", "loop_window_minutes", "float", "The window for the same sentence repeated.",
        default=60.0, range=Range(1, 10080, unit="minutes")),
    Key("service", "loop_fast_seconds", "float", "An answer this soon after our SMS is a machine's.",
        default=2.0, range=Range(0, 60, unit="seconds", zero="off")),
    Key("service", "loop_typing_chars_per_second", "float", "An answer typed faster than this is a machine's.",
        default=6.0, range=Range(0, 100, unit="characters a second", zero="off")),
    Key("service", "loop_mute_hours", "float",
        "How long a phone in a loop gets no SMS back (`barriosms phones unmute NUMBER` lifts it).",
        default=24.0, range=Range(0.1, 8760, unit="hours")),
    Key("service", "quiet_hours", "clock-window",
        "Status SMS, notes and notices wait out these local hours (replies to a resident who just "
        "wrote, and notices sent with --urgent, do not). none: no quiet hours.",
        sample="21:00-07:00", live=True, unset="none"),
    Key("service", "answer_window_hours", "float",
        "Conversations (`cases ask`, `cases message`): a reporter's SMS within this many hours is the "
        "answer, attached to the case (a message that starts with a neighbourhood code is a new report).",
        default=72.0, range=Range(0.1, 8760, unit="hours")),
    Key("service", "satisfaction_survey", "bool",
        "When a case becomes resolved, its reporters are asked once whether it was really fixed "
        '("Responda 1 si, 2 no"); "2" reopens the case.',
        default=True),
    Key("service", "satisfaction_days", "float", "An answer to that question counts within this many days.",
        default=7.0, range=Range(0.1, 3650, unit="days")),
    Key("service", "practice_days", "float",
        "Practice messages from workshops (PRUEBA B12 hay un bache...) are deleted after this many days.",
        default=14.0, range=Range(0.1, 3650, unit="days")),
    Key("service", "callback_window_hours", "float",
        "Missed calls (the gateway hangs up and records a callback request): calls from one phone within "
        "this many hours of its last call, while its request is pending, count on that request and get no "
        "second SMS.",
        default=24.0, range=Range(0.1, 8760, unit="hours")),
    # -- [backup]
    Key("backup", "folder", "path",
        "`barriosms backup` (run daily by barriosms-backup.timer) writes verified copies of the database "
        "here, named barriosms-YYYYmmdd-HHMMSS.db (UTC); `barriosms restore FILE` puts one back. Another "
        "disk survives an SD card that dies; the copies hold phone numbers: keep the folder private.",
        sample="/var/lib/barriosms/backups", unset="a backups folder beside the database"),
    Key("backup", "keep", "int",
        "How many backups to keep in the folder (the oldest beyond this are deleted; other files never).",
        default=14, range=Range(1, 10000, whole=True)),
    # -- [web]
    Key("web", "listen", "host:port",
        "Where it listens: 127.0.0.1:8080 (this machine only, behind a reverse proxy with HTTPS: the "
        "usual set-up) or 0.0.0.0:8080 (every machine of the office network).",
        default="127.0.0.1:8080"),
    Key("web", "public_url", "url",
        "The address people use, for Open311 discovery (never the Host header a client sends: "
        "docs/open311.md).",
        default="", sample="https://reclamos.lapaz.bo", unset="relative addresses, /open311/v2"),
    Key("web", "sms_number", "str", "The SIM's number residents write to, shown on the home page.",
        default="", sample="71234567", unset="not shown"),
    Key("web", "site_name", "str", "Shown in the page titles and footer, and as Open311's agency_responsible.",
        default="Alcaldia"),
    Key("web", "tile_url", "url",
        "Map tiles (the page stays useful, with its list and counts, when they cannot load). Use your "
        "own tile server for heavy use: tile.openstreetmap.org's usage policy allows light use only.",
        default="https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
    Key("web", "tile_attribution", "str", "The credit the map shows for its tiles.",
        default="© OpenStreetMap"),
    Key("web", "submissions_per_hour", "int",
        "Reports one address may send per hour (web form and Open311 together); beyond them the site "
        'answers "too many" (HTTP 429) until the hour is over.',
        default=5, range=Range(1, 100_000, whole=True)),
    Key("web", "submissions_per_day", "int",
        "Reports one address may send per day, as above (at least submissions_per_hour).",
        default=20, range=Range(1, 1_000_000, whole=True)),
    Key("web", "trusted_proxies", "int",
        "Behind a reverse proxy (nginx, Caddy) set how many there are, so that the limits count the "
        "resident's address from X-Forwarded-For and not the proxy's (0: the header is ignored).",
        default=0, range=Range(0, 10, whole=True, zero="no proxy")),
    Key("web", "threads", "int", "Requests served at the same time.",
        default=4, range=Range(1, 64, whole=True)),
    Key("web", "open311_api_keys", "list",
        "Keys an Open311 client must send (api_key) to create requests, separated by commas, each at "
        "least 16 characters long. Reading is always open.",
        sample="3q6ZwT1v8kS0pX2mN5bR7dY4", unset="anyone may create requests (as with the web form)"),
    Key("web", "show_descriptions", "bool",
        "Show what residents wrote on the public pages (phone numbers and e-mail addresses are masked; "
        "names are not: say no if residents often sign their reports).",
        default=True),
    # -- [staff]
    Key("staff", "enabled", "bool",
        "Serve the staff back-office at all (no: /personal/ does not exist; the CLI stays).",
        default=True),
    Key("staff", "networks", "list",
        "The networks (addresses or CIDR blocks, separated by commas) whose visitors may reach "
        "/personal/ on the public site; anyone else gets \"not found\". Behind a proxy the client's "
        "address counts ([web] trusted_proxies).",
        default="127.0.0.0/8, ::1/128", sample="127.0.0.0/8, ::1/128, 192.168.1.0/24"),
    Key("staff", "listen", "host:port",
        "Serve the back-office on its own address instead (e.g. the office network's side of the "
        "Pi); then the public site has no /personal/ at all.",
        sample="127.0.0.1:8081", unset="served under /personal/ by the public site, to the networks above"),
    Key("staff", "session_minutes", "int",
        "A session left idle this long ends (log in again); none lasts more than 12 hours.",
        default=60, range=Range(5, 720, whole=True, unit="minutes")),
    Key("staff", "secure_cookie", "bool",
        "Send the session cookie over HTTPS only. Say yes behind an HTTPS proxy (it is also Secure "
        "whenever the request came over HTTPS).",
        default=False),
    # -- [events]
    Key("events", "command", "str",
        "A program run once per event with the event as JSON on its standard input (written as on a "
        "command line; no shell). Exit status 0 means taken; anything else, or the time limit, is tried "
        "again later. Never run on the modem's thread.",
        sample="/usr/local/bin/avisar-cuadrillas --canal reclamos", unset="no command"),
    Key("events", "command_timeout_seconds", "float", "How long the command may take per event.",
        default=10.0, range=Range(1, 600, unit="seconds")),
    Key("events", "webhook_url", "url",
        "An address that receives each event as an HTTP POST of JSON, signed with webhook_secret "
        "(header X-Barriosms-Signature: sha256=HMAC of the body). A 2xx answer means taken.",
        sample="https://tickets.lapaz.bo/barriosms", unset="no webhook"),
    Key("events", "webhook_secret", "str",
        "The shared secret the webhook's signature is made with (at least 16 characters; required "
        "with webhook_url).", sample="cambie-esto-por-un-secreto-largo"),
    Key("events", "webhook_timeout_seconds", "float", "How long to wait for the webhook's answer.",
        default=10.0, range=Range(1, 120, unit="seconds")),
    Key("events", "retry_max_minutes", "float",
        "A receiver that fails is tried again after 5 s, then twice as long each time, up to this "
        "(the events wait in order in the database meanwhile, however long it is down).",
        default=30.0, range=Range(1, 1440, unit="minutes")),
    # -- [logging]
    Key("logging", "level", "choice", "How much the gateway writes to its log (the journal).",
        default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR")),
)

DECLARED: Mapping[tuple[str, str], Key] = MappingProxyType({(k.section, k.name): k for k in KEYS})
SECTION_NAMES: tuple[str, ...] = tuple(s.name for s in SECTIONS)


def key(section: str, name: str) -> Key:
    """The declaration of one key; [modem NAME] sections share the keys of [modem]."""
    return DECLARED[(section_kind(section), name)]


def section_kind(section: str) -> str:
    """ "modem" for [modem entel]: the declared section whose keys a section has."""
    head, _, _ = section.partition(" ")
    return head if any(s.name == head and s.repeats for s in SECTIONS) else section


def names(section: str) -> frozenset[str]:
    """The keys declared for a section ([modem NAME] included)."""
    kind = section_kind(section)
    return frozenset(k.name for k in KEYS if k.section == kind)


def ini_text(value: Value) -> str:
    """A value as a technician writes it: yes/no, 5 rather than 5.0, nothing for unset."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return plain(value)
    return value


# -- the example config ---------------------------------------------------------------------------

def example() -> str:
    """The commented example config: every section and key in declared order, with its help."""
    lines = _comment(HEADER)
    for section in SECTIONS:
        lines += ["", f"[{section.name}]", *_comment(section.intro)]
        for k in KEYS:
            if k.section == section.name:
                lines += _key_lines(k)
        lines += _comment(section.outro)
    return "\n".join(lines) + "\n"


def _key_lines(k: Key) -> list[str]:
    # The lead is about several keys: a bare ";" line parts it from the first key's own help.
    lines = (_comment(k.lead) + [";"] if k.lead else []) + _comment(k.help)
    default = ini_text(k.default) or k.unset
    # A line that does not show the default says what it is (nothing to say for a required value).
    if default and (k.shown != ini_text(k.default) or not k.active):
        lines += _comment(f"Default: {default}.")
    if k.choices:
        lines += _comment(f"One of: {', '.join(k.choices)}.")
    if k.range:
        lines += _comment(f"Range: {k.range.describe()}.")
    return lines + [f"{'' if k.active else ';'}{k.name} = {k.shown}"]


def _comment(text: str) -> list[str]:
    """Prose wrapped into "; " lines; a line that starts with ";" (a commented-out key) kept as it is."""
    out: list[str] = []
    for line in text.splitlines():
        if line.startswith(";"):
            out.append(line)
        else:
            wrapped = textwrap.wrap(line, WIDTH, initial_indent="; ", subsequent_indent="; ",
                                    break_long_words=False, break_on_hyphens=False)
            out += [w.replace(NBSP, " ") for w in wrapped]
    return out
