"""End to end, a report made on the website: the real `barriosms web` beside the real daemon
(`barriosms run`) on the simulated modem (real Gammu over a pseudo-terminal), both on one config
and one SQLite database, as separate processes.

A phone given on the form gets the tracking number by SMS, then every status change, and can ask
for the status by SMS like any SMS reporter: a web case is a first-class case. The website only
writes to the store (the outbox); the daemon owns the modem, so the website never opens it.
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import SAMPLE_CSV

from barriosms.domain.tracking import is_valid_tracking
from barriosms.sim.rig import Rig

pytestmark = pytest.mark.slow

PHONE_TYPED = "71234567"  # as a resident writes it on the form
PHONE = "+59171234567"  # as the gateway stores and texts it
FOLLOW_URL = re.compile(r"^/caso/(\d{7})$")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the caller looks at the 303 itself


_OPENER = urllib.request.build_opener(_NoRedirect)


def request(rig: Rig, method: str, path: str, form: dict[str, str] | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """(status, headers, body) of one request to the rig's website; redirects are returned, not followed."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(urllib.parse.urljoin(rig.web_url, path), data=data, method=method,
                                 headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with _OPENER.open(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read().decode("utf-8", errors="replace")


def web_log(rig: Rig) -> str:
    return rig.web_log.read_text(errors="replace")[-3000:]


def page(rig: Rig, path: str) -> str:
    """The HTML of a page that must answer 200."""
    status, _, html = request(rig, "GET", path)
    assert status == 200, f"GET {path} answered {status}:\n{html[:1500]}\n{web_log(rig)}"
    return html


class _Page(HTMLParser):
    """The form fields (name -> value, from the first form that has a `wanted` field) and the text of
    the elements with an id, of one HTML page."""

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                      "wbr"})

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.fields: dict[str, str] = {}
        self.texts: dict[str, str] = {}
        self._open: list[tuple[str, str | None]] = []  # (tag, id) of the open elements
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag in ("input", "select", "textarea") and a.get("name"):
            self.fields.setdefault(a["name"], a.get("value", ""))
        if tag not in self.VOID:
            self._open.append((tag, a.get("id")))
            if a.get("id"):
                self.texts.setdefault(a["id"], "")

    def handle_endtag(self, tag):
        for i in range(len(self._open) - 1, -1, -1):  # tolerate unclosed <p>, <li>, ...
            if self._open[i][0] == tag:
                del self._open[i:]
                break

    def handle_data(self, data):
        for _, ident in self._open:
            if ident:
                self.texts[ident] += data

    def text(self, ident: str) -> str:
        assert ident in self.texts, f"no element with id {ident!r} on the page"
        return " ".join(self.texts[ident].split())


def handles(pid: int) -> set[str]:
    """What the process has open (the targets of /proc/PID/fd/*)."""
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            found.add(os.readlink(fd))
        except OSError:
            pass  # closed meanwhile
    return found


def terminals(pid: int) -> list[str]:
    """The terminal devices the process holds (a modem is one; the simulated one is a pseudo-terminal),
    but for the terminal the tests run in, which every process they start inherits."""
    ours = handles(os.getpid())
    return sorted(h for h in handles(pid) if h.startswith(("/dev/pts/", "/dev/ptmx", "/dev/tty")) and h not in ours)


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    """The daemon on the simulated modem, and the website on the same config and database."""
    r = Rig(tmp_path_factory.mktemp("web-e2e"), poll_seconds=5)
    try:
        r.setup(SAMPLE_CSV)
        r.start_sim()
        r.start_daemon()
        r.start_web()
        yield r
    finally:
        codes = r.stop()
    assert codes["web"] == 0, web_log(r)
    assert codes["daemon"] == 0, r.daemon_log.read_text(errors="replace")[-3000:]


def submit_report(rig: Rig, **fields: str) -> str:
    """Fill in /reportar as a browser would (its token, same-origin POST); the tracking number shown."""
    form = _Page(page(rig, "/reportar")).fields
    for name in ("barrio", "categoria", "descripcion", "telefono", "lat", "lon", "token"):
        assert name in form, f"/reportar has no field {name!r} (fields: {sorted(form)})"
    assert form["token"], "the form carries a token"
    form.update(fields)
    origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(rig.web_url))
    status, headers, body = request(rig, "POST", "/reportar", form, headers={"Origin": origin})
    assert status == 303, f"POST /reportar answered {status}:\n{body[:1500]}\n{web_log(rig)}"
    location = urllib.parse.urlsplit(headers["Location"])
    match = FOLLOW_URL.match(location.path)
    assert match and urllib.parse.parse_qs(location.query).get("nuevo") == ["1"], headers["Location"]
    shown = re.sub(r"\D", "", _Page(page(rig, headers["Location"])).text("numero-seguimiento"))
    assert shown == match.group(1) and is_valid_tracking(shown), (shown, headers["Location"])
    return shown


def estado(rig: Rig, tracking: str) -> str:
    return _Page(page(rig, f"/caso/{tracking}")).text("estado").lower()


def test_a_web_report_with_a_phone_is_followed_by_sms_like_any_other_case(rig):
    tracking = submit_report(rig, barrio="Sopocachi", categoria="",
                             descripcion="Hay un bache grande frente al mercado de la calle 20",
                             telefono=PHONE_TYPED)
    [(channel, phone, hood)] = rig.query(
        'SELECT c.channel, c.phone, n.code FROM "case" c JOIN neighborhood n ON n.id = c.neighborhood_id '
        "WHERE c.tracking = ?", (tracking,))
    assert (channel, phone, hood) == ("web", PHONE, "B02")

    # The daemon sends the tracking number the website queued (the resident is looking at the page).
    [received] = rig.sent_to(PHONE, 1, timeout=30)
    assert tracking in received["text"], received
    assert terminals(rig.web_proc.pid) == [], "the website holds no modem while its SMS goes out"

    # Staff move the case on: the same phone hears about it, and the page says so.
    rig.cli("cases", "status", tracking, "in_progress")
    update = rig.sent_to(PHONE, 2, timeout=30)[1]
    assert tracking in update["text"] and "en proceso" in update["text"], update
    assert estado(rig, tracking) == "en proceso"

    # The resident asks by SMS with the number the website gave: the gateway knows the case.
    rig.text(PHONE, tracking)
    answer = rig.sent_to(PHONE, 3, timeout=30)[2]
    assert tracking in answer["text"] and "en proceso" in answer["text"], answer
    assert [m["to"] for m in rig.sent()].count(PHONE) == 3


def test_a_web_report_without_a_phone_sends_no_sms(rig):
    tracking = submit_report(rig, barrio="B05", descripcion="Hay basura acumulada en la esquina del mercado")
    assert estado(rig, tracking) == "recibido"
    assert rig.query("SELECT COUNT(*) FROM outbound_message WHERE case_id = "
                     '(SELECT id FROM "case" WHERE tracking = ?)', (tracking,)) == [(0,)]


def test_the_website_never_opens_the_modem(rig):
    page(rig, "/casos?estado=todos")  # the site has done real work: its database is open
    pty = os.path.realpath(rig.device)
    assert pty.startswith("/dev/pts/"), pty
    # The check can see a modem handle: the daemon, which owns the modem, has one.
    assert pty in handles(rig.daemon_proc.pid)
    web = handles(rig.web_proc.pid)
    assert os.path.realpath(rig.database) in web, f"the website has the database open: {sorted(web)}"
    assert pty not in web and terminals(rig.web_proc.pid) == [], "the website holds terminal devices"

