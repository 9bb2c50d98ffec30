"""The website's defences: signed one-time form tokens, per-address submission limits, headers.

No cookies and no sessions: a form carries a token signed (itsdangerous) with a secret kept in the
database (`site_secret`, shared by every process on it), valid for a day; a cross-site POST is also
refused by its Origin / Sec-Fetch-Site headers. The token is also the form's identity, so a double
submit opens one case (see webreports.submit). The submitter's address is request.remote_addr, set
from X-Forwarded-For by werkzeug's ProxyFix only behind [web] trusted_proxies (see app.create_app).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from peewee import IntegrityError

from barriosms.store.models import SiteSecret, utcnow, write_tx

TOKEN_MAX_AGE = 24 * 3600  # a form left open for a day must be reloaded
CLOCK_SKEW = 300  # seconds a token may be dated ahead of the clock that checks it


def site_secret(name: str = "web_forms") -> bytes:
    """The named secret, made on first use (two processes racing agree on the first one stored)."""
    row = SiteSecret.get_or_none(SiteSecret.name == name)
    if row is None:
        try:
            with write_tx():
                SiteSecret.create(name=name, value=secrets.token_urlsafe(32), created_at=utcnow())
        except IntegrityError:
            pass
        row = SiteSecret.get(SiteSecret.name == name)
    return row.value.encode()


class _ClockedSigner(TimestampSigner):
    """itsdangerous's timestamp signer on a clock the tests can move."""

    def __init__(self, *args, clock: Callable[[], float] = time.time, **kwargs):
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock())


class FormTokens:
    """`issue()` a token for a form; `check(token)` says whether it is ours and fresh.

    A token is itsdangerous's URL-safe timed signature of a random nonce (the nonce makes each
    form's token its own: the token is the form's identity for double submits), salted with the
    form's name so that a token of one form is not accepted by another.
    """

    def __init__(self, secret: bytes, max_age: int = TOKEN_MAX_AGE, clock: Callable[[], float] = time.time,
                 form: str = "reportar"):
        self.max_age = max_age
        self._clock = clock
        self._serializer = URLSafeTimedSerializer(secret, salt=f"barriosms.form.{form}",
                                                  signer=_ClockedSigner, signer_kwargs={"clock": clock})

    def issue(self) -> str:
        return self._serializer.dumps(secrets.token_urlsafe(12))

    def check(self, token: str) -> str:
        """"" when valid, else why not: "missing", "forged", "expired"."""
        return self.verify(token)[0]

    def verify(self, token: str) -> tuple[str, str]:
        """(problem, identity): problem as `check`; identity, when valid, is the form's signed nonce.

        Double submits are recognised by the identity, not the token's text: base64 leaves a few
        bits of the last character unchecked, so one token can be written several ways that all
        verify, but they all carry the same nonce.
        """
        if not token:
            return "missing", ""
        if len(token) > 200:  # ours are about 60 characters
            return "forged", ""
        try:
            nonce = self._serializer.loads(token, max_age=self.max_age)
        except SignatureExpired as err:  # signed by us, but too old or dated ahead of this clock
            # Another web process on the same database (another machine) may run a little ahead.
            ahead = err.date_signed.timestamp() - self._clock() if err.date_signed else 0
            if not 0 < ahead <= CLOCK_SKEW or err.payload is None:
                return "expired", ""
            nonce = self._serializer.load_payload(err.payload)
        except BadData:
            return "forged", ""
        return ("", nonce) if isinstance(nonce, str) and nonce else ("forged", "")


@dataclass
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds until one more submission is allowed


class SubmissionLimiter:
    """Submissions per address per hour and per day, in memory (one `barriosms web` process).

    Only accepted submissions count against an address; the counts are lost on restart, which at
    worst lets one more burst through.
    """

    def __init__(self, per_hour: int, per_day: int, clock=time.monotonic):
        self.per_hour, self.per_day = per_hour, per_day
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, address: str) -> Verdict:
        now = self._clock()
        with self._lock:
            times = self._seen.get(address)
            if not times:
                return Verdict(True)
            while times and now - times[0] > 86400:
                times.popleft()
            last_hour = [t for t in times if now - t <= 3600]
            if len(last_hour) >= self.per_hour:
                return Verdict(False, int(3600 - (now - last_hour[0])) + 1)
            if len(times) >= self.per_day:
                return Verdict(False, int(86400 - (now - times[0])) + 1)
            return Verdict(True)

    def record(self, address: str) -> None:
        with self._lock:
            self._seen.setdefault(address, deque()).append(self._clock())
            if len(self._seen) > 100_000:  # a flood of addresses: forget the quietest
                for key in [k for k, v in self._seen.items() if len(v) <= 1][:50_000]:
                    del self._seen[key]


def cross_site(origin: str | None, fetch_site: str | None, host: str) -> bool:
    """Whether a POST comes from another site (a forged form), by the headers browsers send.

    Sec-Fetch-Site, where the browser sends it, decides (a browser under a strict Referrer-Policy
    may send Origin: null for its own form); otherwise Origin must name this host.
    """
    if fetch_site:
        return fetch_site not in ("same-origin", "none")
    if origin and origin != "null":
        try:
            return urlsplit(origin).netloc != host
        except ValueError:  # "http://[": not an address, so not this site's page either
            return True
    return origin == "null"


def security_headers(tile_url: str) -> dict[str, str]:
    """Headers for every response: a CSP without inline script (map tiles from their server only)."""
    tiles = urlsplit(tile_url)
    tile_origin = f"{tiles.scheme}://{tiles.netloc}".replace("{s}", "*")
    csp = "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src 'self' data: {tile_origin}",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        # The tile server gets the site's origin (its usage policy asks for it), never a page's
        # address: a case page's address carries the tracking number.
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Permissions-Policy": "geolocation=(self), camera=(), microphone=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
