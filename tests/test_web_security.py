"""The website's defences, without a server: form tokens, submission limits, addresses, headers."""

from __future__ import annotations

import pytest

from barriosms import config
from barriosms.web.app import create_app
from barriosms.web.context import submitter
from barriosms.web.security import CLOCK_SKEW, FormTokens, SubmissionLimiter, cross_site, security_headers, site_secret


class Clock:
    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_tokens_are_ours_fresh_and_unforgeable():
    clock = Clock()
    tokens = FormTokens(b"k" * 32, clock=clock)
    token = tokens.issue()
    assert tokens.check(token) == ""
    assert tokens.issue() != token  # each form its own (it is also the form's identity)
    assert FormTokens(b"other" * 8, clock=clock).check(token) == "forged"
    assert FormTokens(b"k" * 32, clock=clock, form="otro").check(token) == "forged"  # another form's
    nonce, issued, mac = token.split(".")
    later = FormTokens(b"k" * 32, clock=lambda: clock.t + 100).issue().split(".")[1]
    assert later != issued and tokens.check(f"{nonce}.{later}.{mac}") == "forged"  # its date moved
    assert tokens.check(f"{nonce}x.{issued}.{mac}") == "forged"
    assert tokens.check("") == "missing"
    assert tokens.check("a.b") == "forged" and tokens.check("x" * 500) == "forged"
    clock.t += tokens.max_age + 1
    assert tokens.check(token) == "expired"


def test_a_token_from_a_clock_slightly_ahead_is_accepted():
    clock = Clock()
    tokens = FormTokens(b"k" * 32, clock=clock)
    ahead = FormTokens(b"k" * 32, clock=lambda: clock.t + CLOCK_SKEW - 10).issue()
    assert tokens.check(ahead) == ""
    assert tokens.check(FormTokens(b"k" * 32, clock=lambda: clock.t + CLOCK_SKEW + 10).issue()) == "expired"


def test_the_limiter_counts_per_address_per_hour_and_per_day():
    clock = Clock(0)
    limiter = SubmissionLimiter(per_hour=2, per_day=3, clock=clock)
    for _ in range(2):
        assert limiter.check("10.0.0.1").allowed
        limiter.record("10.0.0.1")
    verdict = limiter.check("10.0.0.1")
    assert not verdict.allowed and 0 < verdict.retry_after <= 3601
    assert limiter.check("10.0.0.2").allowed  # another address is not held back
    clock.t += 3601
    assert limiter.check("10.0.0.1").allowed
    limiter.record("10.0.0.1")
    day = limiter.check("10.0.0.1")
    assert not day.allowed and day.retry_after > 3600  # the daily limit: wait for the day to pass
    clock.t += 86401
    assert limiter.check("10.0.0.1").allowed


@pytest.mark.parametrize("peer, forwarded, proxies, expected", [
    ("10.0.0.9", None, 0, "10.0.0.9"),
    ("10.0.0.9", "1.2.3.4", 0, "10.0.0.9"),  # no trusted proxy: the header is anyone's
    ("127.0.0.1", "1.2.3.4", 1, "1.2.3.4"),
    ("127.0.0.1", "6.6.6.6, 1.2.3.4", 1, "1.2.3.4"),  # the client wrote 6.6.6.6 itself
    ("127.0.0.1", "6.6.6.6, 1.2.3.4, 10.0.0.2", 2, "1.2.3.4"),
    ("127.0.0.1", "1.2.3.4", 2, "127.0.0.1"),  # fewer entries than proxies: not through them all
    ("127.0.0.1", "", 1, "127.0.0.1"),
])
def test_the_submitter_is_the_client_behind_the_trusted_proxies(db, tmp_path, peer, forwarded, proxies, expected):
    ini = tmp_path / "web.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/null\n[web]\ntrusted_proxies = {proxies}\n")
    app = create_app(config.load(ini))
    app.add_url_rule("/quien", "quien", submitter)  # a page that says who is asking
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    answer = app.test_client().get("/quien", headers=headers, environ_base={"REMOTE_ADDR": peer})
    assert answer.status_code == 200 and answer.text == expected


@pytest.mark.parametrize("origin, fetch_site, crossed", [
    ("http://reclamos.bo", "same-origin", False),
    (None, None, False),  # an old browser or a script: the token still protects
    (None, "none", False),  # typed or bookmarked
    ("https://evil.example", None, True),
    (None, "cross-site", True),
    ("null", None, True),
    ("http://[", None, True),  # not an address (urlsplit raised: a 500 on the form)
    ("http://[::1", None, True),
])
def test_cross_site_posts_are_recognised(origin, fetch_site, crossed):
    assert cross_site(origin, fetch_site, "reclamos.bo") is crossed


def test_headers_allow_no_inline_script_and_only_the_tile_server():
    csp = security_headers("https://tiles.example.bo/{z}/{x}/{y}.png")["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "img-src 'self' data: https://tiles.example.bo" in csp
    assert "frame-ancestors 'none'" in csp


def test_the_secret_is_made_once_and_shared(db):
    first = site_secret()
    assert len(first) >= 32 and site_secret() == first
    assert site_secret("other") != first


def test_every_spelling_of_a_token_that_verifies_names_the_same_form():
    # base64 leaves low bits of a last character unchecked: whatever spellings verify must carry
    # one identity, or a double submit with a rewritten token would open a second case.
    import string

    tokens = FormTokens(b"k" * 32, clock=Clock())
    token = tokens.issue()
    problem, identity = tokens.verify(token)
    assert problem == "" and identity
    spellings = {token[:-1] + c for c in string.ascii_letters + string.digits + "-_"}
    accepted = [t for t in spellings if tokens.verify(t)[0] == ""]
    assert token in accepted and len(accepted) > 1  # the spellings exist (4 with a 32-byte signature)
    assert {tokens.verify(t)[1] for t in accepted} == {identity}
    assert tokens.verify("")[1] == "" and tokens.verify(token + "x")[1] == ""
