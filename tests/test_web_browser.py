"""The website in a real browser: Debian's headless Chromium driven by Selenium through Debian's
chromedriver, against `barriosms web` as a process on a migrated SQLite database with the sample
neighbourhoods.

A resident reports on /reportar, follows the case by its number, sees staff move it on (the staff
CLI), finds it on the list, the map page and the neighbourhood page; the same form works with
JavaScript turned off, and no page is wider than a phone's screen. No page may log a Content
Security Policy violation or a script error: the only errors allowed are map tiles, which cannot
load here (Chromium resolves no host name but 127.0.0.1, so nothing leaves the machine). A
full-page PNG of every page is kept in $BARRIOSMS_TEST_ARTIFACTS, else test-artifacts/screenshots/,
for people to look at.

Needs Debian's chromium and chromium-driver (scripts/test installs them); skips, saying so, without.
"""

from __future__ import annotations

import base64
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE_CSV

from barriosms.domain.tracking import is_valid_tracking
from barriosms.sim.rig import Rig, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# The flags that work here as root, in a container with no display and a closed network.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars",
         # Every host name fails to resolve but our server's: no request leaves the machine.
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
TILE_HOST = "tile.openstreetmap.org"  # [web] tile_url's default, left as a real install has it
SMS_NUMBER = "70012345"
WAIT = 15  # seconds for a page, a redirect or the map to appear
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ENTER = "\ue007"  # selenium.webdriver.common.keys.Keys.ENTER: submits the form as a person does


def artifacts() -> Path:
    folder = Path(os.environ.get("BARRIOSMS_TEST_ARTIFACTS") or ROOT / "test-artifacts" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG file; fails the test if it is not a non-empty PNG."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 0 and height > 0 and len(data) > 1000, f"{path} is empty ({width}x{height}, {len(data)} bytes)"
    return width, height


@pytest.fixture(scope="module")
def chromium_installed() -> None:
    for binary, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not binary.exists():
            pytest.skip(f"{binary} is missing (Debian package {package}): "
                        "sudo apt-get install chromium chromium-driver")
    pytest.importorskip("selenium", reason="selenium is in the test extra: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def site(chromium_installed, tmp_path_factory):
    """`barriosms web` on a migrated database with the sample neighbourhoods (no modem, no daemon)."""
    rig = Rig(tmp_path_factory.mktemp("web-browser"))
    with open(rig.config, "a", encoding="utf-8") as config:
        config.write(f"\n[web]\nsite_name = Alcaldia de La Paz\nsms_number = {SMS_NUMBER}\n")
    try:
        rig.setup(SAMPLE_CSV)
        rig.start_web()
        yield rig
    finally:
        codes = rig.stop()
    assert codes["web"] == 0, rig.web_log.read_text(errors="replace")[-3000:]


class Browser:
    """One Chromium with its console log kept per page, and full-page screenshots."""

    def __init__(self, site: Rig, *, javascript: bool = True, phone: bool = False):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.site = site
        self.profile = tempfile.TemporaryDirectory(prefix="barriosms-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile.name}")
        options.add_argument("--window-size=1280,900")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        if not javascript:
            options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
        self.driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        if phone:  # a common phone's screen (headless windows are at least 500 px wide)
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                        {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        self.console: list[tuple[str, dict]] = []  # (page, entry)
        self.page = ""

    def _drain(self) -> None:
        self.console.extend((self.page, e) for e in self.driver.get_log("browser"))

    def open(self, path: str) -> None:
        self._drain()
        self.page = path
        self.driver.get(self.site.web_url + path)

    def arrived(self, path_pattern: str) -> re.Match:
        """Wait until the browser is on a page whose path matches; the match."""
        from urllib.parse import urlsplit

        from selenium.webdriver.support.ui import WebDriverWait

        pattern = re.compile(path_pattern)
        WebDriverWait(self.driver, WAIT).until(lambda d: pattern.fullmatch(urlsplit(d.current_url).path))
        url = urlsplit(self.driver.current_url)
        self._drain()
        self.page = url.path + (f"?{url.query}" if url.query else "")
        return pattern.fullmatch(url.path)

    def until(self, condition, timeout: float = WAIT):
        """Wait until condition(driver) is true (say, a form took us to another address)."""
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout).until(condition)

    def reload_until(self, path: str, found, timeout: float = 40):
        """Open `path` again every two seconds until found() is true; what it returned."""
        deadline = time.monotonic() + timeout
        while True:
            self.open(path)
            result = found()
            if result or time.monotonic() > deadline:
                assert result, f"{path} did not show it within {timeout:.0f} s:\n{self.body()[:1500]}"
                return result
            time.sleep(2)

    def find(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait_for(self, css: str, timeout: float = WAIT):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))

    def submit(self, css: str) -> None:
        """Press the button `css` and wait until the answer replaced this page: a form often answers
        with the same address (PRG), so the address alone cannot tell the old page from the new."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        page = self.driver.find_element(By.TAG_NAME, "html")
        self.find(css).click()
        WebDriverWait(self.driver, WAIT).until(ec.staleness_of(page))

    def text(self, css: str) -> str:
        return " ".join(self.find(css).text.split())

    def wait_text(self, text: str, timeout: float = WAIT) -> None:
        """Wait until the page says `text`: after a form is sent, the old page (with an element of
        the same kind) may still be there, or go away while it is read."""
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: text in " ".join(d.find_element(By.CSS_SELECTOR, "body").text.split()))

    def body(self) -> str:
        return self.text("body")

    def shot(self, name: str) -> Path:
        """A PNG of the whole page (not only the window), kept as artifacts()/NAME.png."""
        path = artifacts() / f"{name}.png"
        path.unlink(missing_ok=True)
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 12000), "scale": 1}
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot",
                                           {"format": "png", "captureBeyondViewport": True, "clip": clip})
        path.write_bytes(base64.b64decode(shot["data"]))
        png_size(path)
        return path

    def problems(self) -> list[str]:
        """Console entries that are errors or CSP violations, but for map tiles that cannot load here."""
        self._drain()
        bad = []
        for page, entry in self.console:
            message = entry["message"]
            if TILE_HOST in message:
                continue  # a map tile: no network here, as on a Pi whose uplink is down
            if entry["level"] == "SEVERE" or "Content Security Policy" in message or "Refused to" in message:
                bad.append(f"{page}: {entry['level']} {message}")
        return bad

    def quit(self, failed: bool, name: str) -> None:
        try:
            if failed:  # what the browser showed when the test failed, for whoever reads the report
                self.shot(f"failed-{name}")
                (artifacts() / f"failed-{name}.html").write_text(self.driver.page_source, encoding="utf-8")
        finally:
            self.driver.quit()
            self.profile.cleanup()


@pytest.fixture
def chromium(site, request):
    """Start a Browser(site, **options) (several per test if need be); all quit at the end."""
    failures = request.session.testsfailed
    for stale in artifacts().glob(f"failed-{request.node.name}-*"):
        stale.unlink()
    started: list[Browser] = []
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SE_OFFLINE", "true")  # Selenium Manager must never try to download a driver

        def start(on: Rig | None = None, **options) -> Browser:
            started.append(Browser(on or site, **options))
            return started[-1]
        yield start
    failed = request.session.testsfailed > failures  # the call phase is counted before teardown
    for i, browser in enumerate(started):
        browser.quit(failed, f"{request.node.name}-{i}")
    if failed:
        print(f"barriosms web's log ({site.web_log}):\n" + site.web_log.read_text(errors="replace")[-3000:])


def tracking_on_page(browser: Browser) -> str:
    number = re.sub(r"\D", "", browser.text("#numero-seguimiento"))
    assert is_valid_tracking(number), f"#numero-seguimiento shows {browser.text('#numero-seguimiento')!r}"
    return number


def stored_case(site: Rig, tracking: str) -> tuple:
    """(channel, neighbourhood code, category, phone or "") of a case, read from the database."""
    rows = site.query('SELECT c.channel, n.code, c.category, c.phone FROM "case" c '
                      "JOIN neighborhood n ON n.id = c.neighborhood_id WHERE c.tracking = ?", (tracking,))
    assert rows, f"case {tracking} is not in the database"
    return (*rows[0][:3], rows[0][3] or "")


def counted(browser: Browser, name: str) -> str:
    """The text of the first table row that names the neighbourhood ("" when none does)."""
    return next((r.text for r in browser.find_all("table tr") if name in r.text), "")


def fill_report(browser: Browser, barrio: str, descripcion: str, categoria: str | None = None) -> None:
    """Fill in /reportar (phone left empty) and press `enviar`."""
    from selenium.webdriver.support.ui import Select

    browser.find("[name=barrio]").send_keys(barrio)
    browser.find("[name=descripcion]").send_keys(descripcion)
    if categoria is not None:
        Select(browser.find("select[name=categoria]")).select_by_value(categoria)
    assert browser.find("[name=telefono]").get_attribute("value") == ""
    browser.submit("#enviar")


def test_report_follow_list_and_map_in_a_browser(site, chromium):
    browser = chromium()
    shots = []

    browser.open("/")
    assert SMS_NUMBER in re.sub(r"\D", "", browser.body()), "the home page shows the SMS number"
    shots.append(browser.shot("home"))
    home = browser.driver.current_url
    browser.find("input[name=q]").send_keys("sopocachi" + ENTER)
    browser.until(lambda d: d.current_url != home)
    on_hood = re.search(r"/barrio/B02$", browser.driver.current_url) or browser.find_all("a[href$='/barrio/B02']")
    assert on_hood, f"searching 'sopocachi' leads to Sopocachi: {browser.driver.current_url}\n{browser.body()[:500]}"

    # Report: neighbourhood by name with a typo, no category chosen ("no se"), no phone.
    browser.open("/reportar")
    for name in ("lat", "lon", "token"):
        assert browser.find(f"input[name={name}]").get_attribute("type") == "hidden", name
    assert browser.find("select[name=categoria]").get_attribute("value") == "", "'no sé' is the default"
    options = [o.text for o in browser.find_all("select[name=categoria] option")]
    assert options[0] == "No sé" and "Vías y aceras" in options and "vias" not in options, options
    shots.append(browser.shot("reportar"))
    # The optional map: Leaflet loads from our server, its tiles cannot (no network): it says so once.
    browser.find("#elegir-punto button").click()
    browser.wait_for("#elegir-punto .leaflet-container")
    note = browser.wait_for("#elegir-punto .nota-mapa")
    assert "No se pudo cargar el fondo del mapa" in note.text
    time.sleep(1)  # more tiles fail meanwhile: still one note
    assert len(browser.find_all(".nota-mapa")) == 1
    browser.shot("reportar-mapa")
    fill_report(browser, "sopocachy", "Hay un bache grande frente al mercado de la calle 20")
    match = browser.arrived(r"/caso/(\d{7})")
    assert "nuevo=1" in browser.driver.current_url
    tracking = tracking_on_page(browser)
    assert tracking == match.group(1)
    assert browser.text("#estado").lower() == "recibido"
    assert stored_case(site, tracking) == ("web", "B02", "vias", "")
    assert "Vías y aceras" in browser.body(), "the category's label, not its key"
    shots.append(browser.shot("caso"))

    # Follow it by its number.
    browser.open("/seguimiento")
    number = browser.find("input[name=numero]")
    number.send_keys(tracking)
    shots.append(browser.shot("seguimiento"))
    number.send_keys(ENTER)
    browser.wait_for("#estado")
    assert tracking_on_page(browser) == tracking
    assert browser.text("#estado").lower() == "recibido"

    # Staff start work on it; the page says so once reloaded.
    site.cli("cases", "status", tracking, "in_progress")
    browser.driver.refresh()
    assert browser.wait_for("#estado") and browser.text("#estado").lower() == "en proceso"

    # On the list of open cases, not on the closed ones.
    browser.open("/casos?estado=abiertos")
    assert browser.find_all(f"a[href$='/caso/{tracking}']") or tracking in browser.body(), browser.body()[:1000]
    shots.append(browser.shot("casos"))
    browser.open("/casos?estado=cerrados")
    assert not browser.find_all(f"a[href$='/caso/{tracking}']") and tracking not in browser.body()

    # The map page: its counts table names the neighbourhood, and Leaflet starts without tiles.
    # This process opened the case: the counts it keeps for a few seconds were dropped at once.
    browser.open("/mapa")
    row = counted(browser, "Sopocachi")
    assert re.search(r"\b[1-9]\d*\b", row), f"Sopocachi's row counts the case at once: {row!r}"
    browser.wait_for("#mapa.leaflet-container")
    browser.wait_for("#mapa .leaflet-marker-icon, #mapa .leaflet-interactive")  # the GeoJSON was drawn
    # Open cases are told apart without colour: their number is written in the circle.
    counts = browser.wait_for("#mapa .leaflet-tooltip.cuenta")
    assert re.fullmatch(r"[1-9]\d*", counts.text), counts.text
    assert browser.find("#leyenda").is_displayed() and "Borde de rayas" in browser.text("#leyenda")
    note = browser.wait_for(".nota-mapa")  # no tiles here: the map says so, once
    assert note.text == "No se pudo cargar el fondo del mapa; los círculos y la tabla siguen siendo correctos."
    assert len(browser.find_all(".nota-mapa")) == 1
    shots.append(browser.shot("mapa"))

    browser.open("/barrio/B02")
    assert "Sopocachi" in browser.body()
    shots.append(browser.shot("barrio"))

    assert [p.name for p in shots] == [f"{n}.png" for n in
                                       ("home", "reportar", "caso", "seguimiento", "casos", "mapa", "barrio")]
    for path in shots:
        assert path.is_file()
        png_size(path)
    assert browser.problems() == []
    # The console was read: the map's tiles failed there (no network), and nothing else did.
    assert any(TILE_HOST in entry["message"] for page, entry in browser.console if page == "/mapa")


def test_the_report_form_works_without_javascript(site, chromium):
    browser = chromium(javascript=False)
    browser.open("/reportar")
    fill_report(browser, "B05", "Hay basura acumulada en la esquina del mercado", categoria="residuos")
    browser.arrived(r"/caso/\d{7}")
    tracking = tracking_on_page(browser)
    assert browser.text("#estado").lower() == "recibido"
    assert stored_case(site, tracking) == ("web", "B05", "residuos", "")
    browser.shot("caso-sin-js")

    # JavaScript really is off: the map is not started, but the counts are there.
    browser.reload_until("/mapa", lambda: counted(browser, "Pampahasi"))
    assert browser.find_all(".leaflet-container") == []
    assert not browser.find("#leyenda").is_displayed(), "no map, so no legend for it"
    assert "círculo" not in browser.body().lower()
    browser.shot("mapa-sin-js")
    assert browser.problems() == []


def test_every_page_fits_a_phone_screen(site, chromium):
    """Residents mostly have phones: no page is wider than the screen (no sideways scrolling)."""
    browser = chromium(phone=True)
    browser.open("/reportar")
    fill_report(browser, "Villa Fatima", "Se cayo un poste de luz en la avenida principal")
    browser.arrived(r"/caso/\d{7}")
    pages = {"home": "/", "reportar": "/reportar", "caso": browser.page, "seguimiento": "/seguimiento",
             "casos": "/casos", "mapa": "/mapa", "barrio": "/barrio/B04"}
    for name, path in pages.items():
        browser.open(path)
        if name == "mapa":
            browser.wait_for("#mapa.leaflet-container")
        width, screen = browser.driver.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert width <= screen, f"{path} is {width} px wide on a {screen} px screen"
        assert png_size(browser.shot(f"movil-{name}"))[0] == screen
    assert browser.problems() == []


# -- the staff back-office (/personal/) ------------------------------------------------------------

STAFF_PASSWORD = "clave larga de Ana 2026"
RESIDENT = "+59171000301"
NEIGHBOUR = "+59171000302"


@pytest.fixture(scope="module")
def office(chromium_installed, tmp_path_factory):
    """A whole gateway (the simulated modem, the real daemon) and `barriosms web`, with an admin
    account: the office on a day of work."""
    from conftest import SCRIPT_PACE, started_rig

    service = {"replies_per_hour": 20, "replies_per_day": 50, "answer_window_hours": 72, **SCRIPT_PACE}
    rigs = started_rig(tmp_path_factory.mktemp("office"), poll_seconds=2, service_options=service)
    rig = next(rigs)
    try:
        proc = subprocess.run([sys.executable, "-m", "barriosms", "staff", "add", "ana", "--name", "Ana Quispe",
                               "--role", "admin", "--password-stdin"], input=STAFF_PASSWORD + "\n", text=True,
                              capture_output=True, env=rig._env(), timeout=60)
        assert proc.returncode == 0, proc.stderr
        rig.start_web()
        yield rig
    finally:
        next(rigs, None)  # stops the rig; the daemon must exit 0


def staff_login(browser: Browser, user: str, password: str) -> None:
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    field = browser.find("input[name=usuario]")
    field.clear()
    field.send_keys(user)
    browser.find("input[name=clave]").send_keys(password + ENTER)
    # Until the answer replaced this page: its form, and its message box, are the old page's.
    WebDriverWait(browser.driver, WAIT).until(ec.staleness_of(field))


def case_form(browser: Browser, action: str, **fields: str) -> None:
    """Fill the case page's form for `action` (selects by value, text fields typed) and send it."""
    from selenium.webdriver.support.ui import Select

    form = f"form[action$='/{action}']"
    for name, value in fields.items():
        field = browser.find(f"{form} [name={name}]")
        if field.tag_name == "select":
            Select(field).select_by_value(value)
        elif field.get_attribute("type") == "checkbox":
            if field.is_selected() != (value == "1"):
                field.click()
        else:
            field.clear()
            field.send_keys(value)
    browser.submit(f"{form} button[type=submit]")


def test_a_days_work_in_the_back_office(office, chromium):

    rig = office
    browser = chromium(on=office)
    shots = []

    # Anonymous: the Bandeja sends to the login, which says nothing about who exists.
    browser.open("/personal/")
    browser.arrived(r"/personal/entrar")
    shots.append(browser.shot("personal-entrar"))
    for attempt in range(5):
        staff_login(browser, "pedro", f"no es la clave {attempt}")
        browser.wait_for(".aviso-error")
    browser.wait_text("Demasiados intentos fallidos. Espere 30 segundos")
    shots.append(browser.shot("personal-espere"))
    staff_login(browser, "ana", "una clave equivocada")
    # The page before said "Demasiados intentos" in the same kind of box: wait for the new words.
    browser.wait_text("Usuario o clave incorrectos.")
    staff_login(browser, "ana", STAFF_PASSWORD)
    browser.arrived(r"/personal/")
    assert "Ana Quispe (administración)" in browser.body()

    # A resident writes without saying where: the message waits in the Bandeja; triage opens a case.
    rig.text(RESIDENT, "hay basura acumulada en la esquina hace una semana")
    browser.reload_until("/personal/", lambda: "hay basura acumulada" in browser.body())
    shots.append(browser.shot("personal-bandeja"))
    browser.find("form.abrir input[name=barrio]").send_keys("B05")
    browser.submit("form.abrir button[type=submit]")
    tracking = browser.arrived(r"/personal/caso/(\d{7})").group(1)
    assert "Caso abierto" in browser.body()
    opened = rig.sent_to(RESIDENT, 2)[-1]["text"]  # the neighbourhood question, then the tracking number
    assert tracking in opened, opened

    # Work starts: a status with a public note goes to the resident by SMS.
    case_form(browser, "estado", estado="in_progress", nota="La cuadrilla va el lunes")
    browser.arrived(rf"/personal/caso/{tracking}")
    assert "Estado cambiado. SMS en cola: 1." in browser.body()
    assert "La cuadrilla va el lunes" in rig.sent_to(RESIDENT, 3)[-1]["text"]

    # A question, and the resident's answer arriving through the modem onto the page.
    case_form(browser, "preguntar", texto="¿Es frente al mercado?")
    browser.arrived(rf"/personal/caso/{tracking}")
    assert "¿Es frente al mercado?" in rig.sent_to(RESIDENT, 4)[-1]["text"]
    rig.text(RESIDENT, "si frente al mercado Rodriguez")
    browser.reload_until(f"/personal/caso/{tracking}", lambda: "respondió" in browser.body())
    assert "si frente al mercado Rodriguez" in browser.body()
    browser.wait_for("#punto.leaflet-container .leaflet-interactive")  # the neighbourhood's point, drawn
    shots.append(browser.shot("personal-caso"))

    # A neighbour reports the same problem: merged into the first case, and told its number.
    rig.text(NEIGHBOUR, "B05 basura en la esquina del mercado Rodriguez")
    duplicate = re.search(r"\b\d{7}\b", rig.sent_to(NEIGHBOUR, 1)[0]["text"]).group()
    browser.open(f"/personal/caso/{duplicate}")
    case_form(browser, "unir", en=tracking)
    browser.arrived(rf"/personal/caso/{duplicate}")
    assert f"unido al caso {tracking}" in browser.body()
    assert tracking in rig.sent_to(NEIGHBOUR, 2)[-1]["text"]

    # The case's history names the account for every step.
    browser.open(f"/personal/caso/{tracking}")
    history = browser.text("ol.linea")
    assert history.count("por ana") >= 3, history

    # A notice to the neighbourhood: first what it costs and today's budget, then the confirmation.
    from selenium.webdriver.support.ui import Select

    browser.open("/personal/difusion")
    Select(browser.find("form[action$='/difusion'] select[name=barrio]")).select_by_value("B05")
    browser.find("form[action$='/difusion'] textarea[name=texto]").send_keys("Manana pasa el carro basurero a las 8")
    browser.submit("form[action$='/difusion'] button[type=submit]")
    browser.wait_for("section.plan")
    plan = browser.text("section.plan")
    assert "2 SMS a 2 teléfono(s)" in plan and "quedan hoy" in plan, plan
    assert not [m for m in rig.sent() if "carro basurero" in m["text"]], "nothing leaves before the confirmation"
    shots.append(browser.shot("personal-difusion"))
    browser.submit("form[action$='/difusion/confirmar'] button[type=submit]")
    browser.wait_for(".aviso-ok")
    assert "en cola: 2 SMS" in browser.body()
    wait_for(lambda: all(any("carro basurero" in m["text"] for m in rig.sent() if m["to"] == phone)
                         for phone in (RESIDENT, NEIGHBOUR)), 60, "the notice to reach both residents")

    # The audit trail page shows what the account did, from the web.
    browser.open("/personal/auditoria?usuario=ana")
    trail = browser.text("table")
    for action in ("login", "inbox.assign", "cases.status", "cases.ask", "cases.merge", "broadcast"):
        assert action in trail, trail[:1500]
    shots.append(browser.shot("personal-auditoria"))

    # Logging out ends the session: the Bandeja is behind the login again.
    browser.submit(".cuenta button[type=submit]")
    browser.arrived(r"/personal/entrar")
    browser.open("/personal/")
    browser.arrived(r"/personal/entrar")

    audit = rig.cli_json("audit", "list", "--user", "ana")
    actions = [e["action"] for e in audit]
    for action in ("login", "login.failed", "inbox.assign", "cases.status", "cases.ask", "cases.merge", "broadcast",
                   "logout"):
        assert action in actions, actions
    assert all(e["source"] == "web" for e in audit)
    for path in shots:
        png_size(path)
    # The refused logins answered 401 and 429 on purpose (Chromium logs each as an error): nothing else.
    refused = [p for p in browser.problems() if p.startswith("/personal/entrar:")
               and re.search(r"status of (401|429) ", p)]
    assert len(refused) == 6 and [p for p in browser.problems() if p not in refused] == []


def test_the_back_office_fits_a_phone_and_an_office_screen(office, chromium):
    for phone in (True, False):
        browser = chromium(on=office, phone=phone)
        browser.open("/personal/entrar")
        staff_login(browser, "ana", STAFF_PASSWORD)
        browser.arrived(r"/personal/")
        tracking = rig_case(office)
        for name, path in (("bandeja", "/personal/"), ("caso", f"/personal/caso/{tracking}")):
            browser.open(path)
            width, screen = browser.driver.execute_script(
                "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert width <= screen, f"{path} is {width} px wide on a {screen} px screen"
            shot = browser.shot(f"personal-{name}-{'movil' if phone else 'escritorio'}")
            assert png_size(shot)[0] == screen
        assert browser.problems() == []


def rig_case(rig: Rig) -> str:
    """A case of the office's database (the one the day's work opened, or a fresh one)."""
    rows = rig.query('SELECT tracking FROM "case" ORDER BY id LIMIT 1')
    if rows:
        return rows[0][0]
    rig.text("+59171000399", "B12 hay un bache grande en la calle 3")
    return re.search(r"\b\d{7}\b", rig.sent_to("+59171000399", 1)[0]["text"]).group()
