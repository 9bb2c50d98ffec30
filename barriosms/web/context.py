"""What every request handler needs: the settings, the intake's rules, form tokens and limits, and who is asking."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request

from barriosms.config import Settings
from barriosms.domain.categories import CategoryRules
from barriosms.domain.replies import Templates
from barriosms.templates.rules import IntakeRules
from barriosms.web.security import FormTokens, SubmissionLimiter, cross_site


@dataclass
class WebContext:
    """What every request handler needs, made once per process."""

    settings: Settings
    rules: IntakeRules
    tokens: FormTokens
    limiter: SubmissionLimiter
    # Who reaches /personal/ here: "networks" (the public site: [staff] networks only), "all"
    # (the back-office's own listener, [staff] listen), "none" (not served by this application).
    staff_gate: str = "none"
    login_tokens: FormTokens | None = None

    @property
    def templates(self) -> Templates:
        return self.rules.templates

    @property
    def categories(self) -> CategoryRules:
        return self.rules.categories


def context() -> WebContext:
    """The running application's WebContext (inside a request)."""
    return current_app.extensions["barriosms"]


def submitter() -> str:
    """The address a submission counts against: the peer, or behind [web] trusted_proxies the
    client's address as the proxies wrote it (ProxyFix, see app.create_app)."""
    return request.remote_addr or "unknown"


def from_another_site() -> bool:
    """Whether this POST comes from a page of another site (a forged form, or a script on a page
    elsewhere using the visitor's browser and address); programs send no Origin and pass."""
    return cross_site(request.headers.get("Origin"), request.headers.get("Sec-Fetch-Site"), request.host)
