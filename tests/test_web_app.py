"""The WSGI application's own rules, whatever the pages: headers, malformed input, a replaced file."""

from __future__ import annotations

import os

import pytest

from barriosms import config
from barriosms.store import database as store
from barriosms.store.models import Neighborhood
from barriosms.web import create_app


@pytest.fixture
def app(db, tmp_path):
    ini = tmp_path / "web.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/null\n")
    app = create_app(config.load(ini))
    # A probe route of the test's own, so these tests do not depend on the pages.
    app.add_url_rule("/_probe", "probe", lambda: {"neighborhoods": Neighborhood.select().count()},
                     methods=["GET", "POST"])
    return app


def test_every_answer_has_the_security_headers(app):
    client = app.test_client()
    for response in (client.get("/_probe"), client.get("/no-such-page"), client.get("/open311/nothing.json")):
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize("method, kwargs, code", [
    ("get", {"query_string": "q=%ff%fe"}, 400),
    ("get", {"query_string": "q=a%00b"}, 400),
    ("post", {"data": b"a=%c3%28", "content_type": "application/x-www-form-urlencoded"}, 400),
    ("post", {"data": b"a=" + b"x" * 70_000, "content_type": "application/x-www-form-urlencoded"}, 413),
    ("post", {"data": b"<xml/>", "content_type": "application/xml"}, 400),
    ("post", {"data": {f"f{i}": "1" for i in range(200)}, "content_type": "multipart/form-data"}, 413),
    # A part's name with a CR in it: werkzeug gives the field a name of None.
    ("post", {"data": b'--b\r\nContent-Disposition: form-data; name="\r"\r\n\r\nx\r\n--b--\r\n',
              "content_type": "multipart/form-data; boundary=b"}, 400),
])
def test_malformed_input_is_a_4xx_in_spanish_never_a_5xx(app, method, kwargs, code):
    response = getattr(app.test_client(), method)("/_probe", **kwargs)
    assert response.status_code == code
    assert response.mimetype == "text/html" and "lang=\"es\"" in response.get_data(as_text=True)


def test_errors_under_open311_are_open311_errors(app):
    response = app.test_client().get("/open311/v2/nothing.json", query_string="x=%ff")
    assert response.status_code == 400
    assert response.get_json() == [{"code": 400, "description": "La dirección tiene caracteres no válidos."}]


def test_a_restored_database_file_is_followed_without_a_restart(app, db, tmp_path):
    """`barriosms restore` puts another file in place: the site's open connections reopen it."""
    client = app.test_client()
    assert client.get("/_probe").get_json() == {"neighborhoods": 0}
    other = tmp_path / "other.db"
    store.migrate_database(other)
    Neighborhood.create(code="B99", name="Nuevo")
    store.close()
    os.replace(other, db)
    store.open_database(db)  # this (test) thread too, as the site's threads will
    assert client.get("/_probe").get_json() == {"neighborhoods": 1}


def test_a_database_that_fails_is_a_503_with_retry_after_and_a_log_line(app, caplog):
    from barriosms.store.models import database

    app.add_url_rule("/_broken", "broken", lambda: str(database.execute_sql("SELECT * FROM no_such_table")))
    response = app.test_client().get("/_broken")
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert "no está disponible" in response.get_data(as_text=True)
    assert "cannot use the database" in caplog.text and "barriosms doctor" in caplog.text
