"""Who is asking on the back-office (/personal/): the session cookie, the gate, the role, the CSRF token.

Every staff route is wrapped by `staff_only(action)`: without a live session a page answers
303 to the login (with the page to come back to) and data (/personal/api/...) answers 401; a
POST must carry the session's CSRF token (and not come from another site's page); the account's
role must allow the action (domain.roles), else 403. The cookie holds a random token whose
SHA-256 is the session's id (staff.sessions); it is HttpOnly, SameSite=Strict, path /personal,
and Secure behind HTTPS ([staff] secure_cookie, or the request came over HTTPS).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Response, abort, g, jsonify, redirect, request

from barriosms.domain.roles import may
from barriosms.staff import sessions
from barriosms.store.models import StaffAccount, StaffSession
from barriosms.web.context import context, from_another_site

COOKIE = "barriosms_personal"
PREFIX = "/personal"
LOGIN = f"{PREFIX}/entrar"
HOME = f"{PREFIX}/"

ROLE_LABEL = {"viewer": "consulta", "staff": "personal", "admin": "administración"}


def admitted() -> bool:
    """Whether this request may reach the back-office here (see WebContext.staff_gate)."""
    ctx = context()
    return ctx.staff_gate == "all" or (ctx.staff_gate == "networks" and ctx.settings.staff.admits(request.remote_addr))


def gate() -> None:
    """404 for /personal/ where it is not served, or to an address outside [staff] networks."""
    if not admitted():
        abort(404)


def cookie_token() -> str:
    return request.cookies.get(COOKIE, "")


def current() -> StaffSession | None:
    """This request's live session (looked up once per request)."""
    if "staff_session" not in g:
        g.staff_session = sessions.find(cookie_token(), idle_minutes=context().settings.staff.session_minutes)
    return g.staff_session


def account() -> StaffAccount:
    """The logged-in account (inside a route wrapped by staff_only)."""
    session = current()
    assert session is not None, "account() outside a staff_only route"
    return session.account


def set_cookie(response: Response, token: str) -> None:
    secure = context().settings.staff.secure_cookie or request.is_secure
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=secure, path=PREFIX)


def clear_cookie(response: Response) -> None:
    secure = context().settings.staff.secure_cookie or request.is_secure
    response.delete_cookie(COOKIE, httponly=True, samesite="Strict", secure=secure, path=PREFIX)


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a page of the back-office, never another site."""
    if not target or len(target) > 500 or "\\" in target or any(ord(c) < 32 for c in target):
        return HOME
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(HOME) or target.startswith("//"):
        return HOME
    return target


def _to_login() -> Response:
    here = request.full_path.rstrip("?") if request.method == "GET" else ""
    query = f"?{urlencode({'siguiente': here})}" if here and safe_next(here) != HOME else ""
    return redirect(LOGIN + query, code=303)  # type: ignore[return-value]


def refuse(code: int, message: str) -> Response:
    """An error as the route's kind wants it: JSON under /personal/api/, else the error page."""
    if request.path.startswith(f"{PREFIX}/api/"):
        response = jsonify({"error": message})
        response.status_code = code
        return response
    abort(code, description=message)


def staff_only(action: str = "read") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a route: a live session, a valid CSRF token on POST, and a role that may `action`."""

    def wrap(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            session = current()
            if session is None:
                if request.path.startswith(f"{PREFIX}/api/"):
                    return refuse(401, "Inicie sesión en /personal/entrar.")
                return _to_login()
            if request.method == "POST":
                if from_another_site() or not sessions.csrf_ok(session, request.form.get("csrf", "")):
                    return refuse(403, "El formulario venció o no es de esta página. Vuelva a cargar la "
                                       "página e intente otra vez.")
            if not may(session.account.role, action):
                return refuse(403, f"Su cuenta ({ROLE_LABEL.get(session.account.role, session.account.role)}) "
                                   "no puede hacer esto. Pida a un administrador que lo haga.")
            return view(*args, **kwargs)

        return wrapped

    return wrap
