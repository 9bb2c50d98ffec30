"""Staff accounts: the service (staff/accounts.py) and `barriosms staff`, against a real SQLite file."""

from __future__ import annotations

import json
import logging

import pytest

from barriosms.staff import accounts
from barriosms.store.models import AuditEntry, StaffAccount

PASSWORD = "correct horse 42"


@pytest.fixture
def ana(db):
    return accounts.add("Ana", "Ana Quispe", "staff", PASSWORD, actor="root")


def test_add_stores_a_scrypt_hash_never_the_password(ana):
    row = StaffAccount.get()
    assert row.username == "ana" and row.full_name == "Ana Quispe" and row.role == "staff" and not row.disabled
    assert row.password_hash.startswith("scrypt:") and PASSWORD not in row.password_hash
    assert [(e.actor, e.source, e.action, e.target) for e in AuditEntry.select()] == [("root", "cli", "staff.add", "ana")]


def test_verify_right_wrong_unknown_and_disabled(ana):
    assert accounts.verify("ana", PASSWORD).username == "ana"
    assert accounts.verify("  ANA ", PASSWORD).username == "ana"  # usernames ignore case
    assert accounts.verify("ana", PASSWORD + "x") is None
    assert accounts.verify("ana", "") is None
    assert accounts.verify("bob", PASSWORD) is None
    assert accounts.verify("", PASSWORD) is None
    accounts.disable("ana", actor="root")
    assert accounts.verify("ana", PASSWORD) is None
    accounts.enable("ana", actor="root")
    assert accounts.verify("ana", PASSWORD) is not None


def test_verify_checks_a_hash_for_unknown_users_too(ana, monkeypatch):
    # Same work whoever asks: an unknown user is checked against a dummy hash of the same method.
    checked = []
    real = accounts.check_password_hash
    monkeypatch.setattr(accounts, "check_password_hash", lambda h, p: checked.append(h.split("$")[0]) or real(h, p))
    accounts.verify("ana", "wrong password")
    accounts.verify("nobody", "wrong password")
    accounts.disable("ana", actor="root")
    accounts.verify("ana", PASSWORD)
    assert len(checked) == 3 and len(set(checked)) == 1


def test_login_records_success_and_failure(ana):
    assert accounts.login("ana", PASSWORD, detail="203.0.113.5") is not None
    assert accounts.login("ana", "nope nope nope") is None
    assert accounts.login("eve", PASSWORD) is None
    rows = [(e.actor, e.source, e.action, e.target) for e in AuditEntry.select().where(AuditEntry.action != "staff.add")
            .order_by(AuditEntry.id)]
    assert rows == [("ana", "web", "login", "ana"), ("ana", "web", "login.failed", "ana"),
                    ("eve", "web", "login.failed", "eve")]
    assert not any(PASSWORD in e.detail for e in AuditEntry.select())


def test_service_refusals(ana):
    with pytest.raises(accounts.AccountError, match="already exists"):
        accounts.add("ANA", "Otra Ana", "viewer", PASSWORD, actor="root")
    with pytest.raises(accounts.AccountError, match="at least 10"):
        accounts.add("bob", "Bob", "viewer", "short", actor="root")
    with pytest.raises(accounts.AccountError, match="unknown role"):
        accounts.add("bob", "Bob", "boss", PASSWORD, actor="root")
    with pytest.raises(accounts.AccountError, match="bad username"):
        accounts.add("bob smith", "Bob", "viewer", PASSWORD, actor="root")
    with pytest.raises(accounts.AccountError, match="no staff account 'bob'"):
        accounts.set_password("bob", PASSWORD, actor="root")
    assert StaffAccount.select().count() == 1


# --- the CLI ---------------------------------------------------------------------------------------


def test_cli_add_list_password_disable_enable(ready):
    out = ready("staff", "add", "Ana", "--name", "Ana Quispe", "--role", "admin", "--password-stdin",
                input=PASSWORD + "\n").output
    assert "staff account ana added (admin)" in out and PASSWORD not in out
    listed = json.loads(ready("staff", "list", "--json").output)
    assert [(a["username"], a["name"], a["role"], a["disabled"]) for a in listed] == [("ana", "Ana Quispe", "admin", False)]
    assert set(listed[0]) == {"username", "name", "role", "disabled", "created_at", "updated_at"}
    old_hash = StaffAccount.get().password_hash
    ready("staff", "password", "ana", "--password-stdin", input="another long one\n")
    assert StaffAccount.get().password_hash != old_hash
    assert accounts.verify("ana", "another long one") and not accounts.verify("ana", PASSWORD)
    assert "staff account ana disabled" in ready("staff", "disable", "ana").output
    assert "already disabled" in ready("staff", "disable", "ana").output
    assert json.loads(ready("staff", "list", "--json").output)[0]["disabled"] is True
    assert "staff account ana enabled" in ready("staff", "enable", "ANA").output
    table = ready("staff", "list").output
    assert "ana" in table and "enabled" in table
    actions = [e["action"] for e in json.loads(ready("audit", "list", "--action", "staff", "--json").output)]
    assert actions == ["staff.enable", "staff.disable", "staff.password", "staff.add"]  # newest first


def test_cli_prompts_twice_without_echo(ready):
    out = ready("staff", "add", "bob", "--name", "Bob Mamani", "--role", "viewer",
                input=f"{PASSWORD}\n{PASSWORD}\n").output
    assert out.count("Password") == 1 and "Repeat for confirmation" in out and PASSWORD not in out
    assert accounts.verify("bob", PASSWORD).role == "viewer"
    # Two different entries: click asks again until they match.
    out = ready("staff", "password", "bob", input=f"{PASSWORD}x\n{PASSWORD}y\nthird password\nthird password\n").output
    assert "do not match" in out
    assert accounts.verify("bob", "third password")


def test_cli_refuses_a_short_password_and_a_duplicate(ready):
    out = ready("staff", "add", "ana", "--name", "Ana", "--role", "staff", "--password-stdin", input="short\n",
                code=1).output
    assert "Error: the password is too short: at least 10 characters" in out
    assert StaffAccount.select().count() == 0
    ready("staff", "add", "ana", "--name", "Ana", "--role", "staff", "--password-stdin", input=PASSWORD + "\n")
    out = ready("staff", "add", "ANA", "--name", "Otra", "--role", "admin", "--password-stdin",
                input=PASSWORD + "\n", code=1).output
    assert "Error: a staff account 'ana' already exists (usernames ignore case)" in out
    assert StaffAccount.select().count() == 1
    assert "too short" in ready("staff", "password", "ana", "--password-stdin", input="123\n", code=1).output
    assert "no staff account 'zoe'" in ready("staff", "password", "zoe", "--password-stdin", input=PASSWORD + "\n",
                                             code=1).output
    assert "no staff account" in ready("staff", "disable", "zoe", code=1).output


def test_no_password_nor_hash_in_output_or_logs(ready, caplog):
    caplog.set_level(logging.DEBUG)
    outputs = [
        ready("staff", "add", "ana", "--name", "Ana", "--role", "admin", "--password-stdin", input=PASSWORD + "\n"),
        ready("staff", "password", "ana", "--password-stdin", input="second password 7\n"),
        ready("staff", "list", "--json"), ready("staff", "list"), ready("audit", "list", "--json"),
        ready("--as", "ana", "staff", "disable", "ana"),
    ]
    accounts.enable("ana", actor="root")
    accounts.login("ana", "second password 7")
    accounts.login("ana", PASSWORD)
    hashes = [StaffAccount.get().password_hash]
    secrets = [PASSWORD, "second password 7", *hashes, *(h.split("$")[-1] for h in hashes)]
    assert caplog.records  # the test would pass on nothing otherwise (peewee logs every query at DEBUG)
    logged = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    text = "\n".join(o.output for o in outputs)
    for secret in secrets:
        assert secret not in logged and secret not in text
    assert "scrypt:" not in logged and "scrypt" not in text
