"""The staff CLI, in-process with click's runner against a real SQLite file."""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
from importlib.resources import files

import click
import pytest

from barriosms.cli import cli
from barriosms.modem.interface import ReceivedSms
from barriosms.pipeline.intake import Intake, IntakeRules
from barriosms.templates.loader import load_categories, load_templates


def open_case(text="B12 hay un bache grande en la calle 3", sender="+59171234567") -> str:
    intake = Intake(IntakeRules(load_templates(), load_categories(), region="BO"), rng=random.Random(11))
    intake.store(ReceivedSms(location=1, sender=sender, text=text))
    from barriosms.store.models import Case
    return Case.select().order_by(Case.id.desc()).get().tracking


def walk(group: click.Group, prefix=()):
    # Through list_commands/get_command: the top-level group imports its commands lazily (cli/lazy.py).
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield prefix + (name,), command
        if isinstance(command, click.Group):
            yield from walk(command, prefix + (name,))


def test_every_command_has_help_with_an_example():
    for path, command in walk(cli):
        assert command.help and "Example:" in command.help, " ".join(path)
        if not isinstance(command, click.Group):
            example = re.search(r"Example: (.*)", command.help).group(1)
            assert re.match(r"barriosms (--config \S+ )?" + re.escape(" ".join(path)), example), example


def test_migrate_then_nothing_to_do(invoke, tmp_path):
    assert "applied migration(s) 1" in invoke("db", "migrate").output
    assert "nothing to do" in invoke("db", "migrate").output
    assert json.loads(invoke("db", "status", "--json").output)["pending"] == []


def test_commands_refuse_missing_or_outdated_database(invoke, tmp_path):
    result = invoke("cases", "list", code=1)
    assert "no database at" in result.output and "barriosms db migrate" in result.output
    sqlite3.connect(tmp_path / "b.db").close()
    result = invoke("outbox", "list", code=1)
    assert "schema version 0" in result.output and "barriosms db migrate" in result.output
    assert invoke("db", "status", code=1).output.count("db migrate") == 1


def test_run_exits_2_when_the_database_needs_a_person(invoke):
    result = invoke("run", code=2)
    assert "barriosms db migrate" in result.output


def test_cases_list_show_and_status(ready):
    tracking = open_case()
    table = ready("cases", "list").output
    assert tracking in table and "B12" in table and "vias" in table
    [case] = json.loads(ready("cases", "list", "--json", "--status", "received").output)
    assert {"tracking", "status", "neighborhood", "category", "phone", "text", "created_at", "updated_at"} <= case.keys()
    assert case["created_at"].endswith("-04:00")  # shown in America/La_Paz
    assert json.loads(ready("cases", "list", "--json", "--status", "closed").output) == []

    out = ready("cases", "status", tracking, "in_progress", "--note", "Cuadrilla el lunes").output
    assert "received -> in_progress" in out and "SMS queued to +59171234567" in out
    shown = json.loads(ready("cases", "show", tracking, "--json").output)
    assert shown["status"] == "in_progress"
    assert shown["history"][-1]["note"] == "Cuadrilla el lunes"
    assert [m["direction"] for m in shown["messages"]] == ["in", "out", "out"]
    queued = json.loads(ready("outbox", "list", "--json", "--status", "queued").output)
    assert len(queued) == 2 and queued[0]["case"] == tracking
    human = ready("cases", "show", tracking).output
    assert "received -> in_progress" in human and "Cuadrilla el lunes" in human


def test_limit_and_filters(ready):
    for i in range(3):
        open_case(f"B0{i + 1} basura en la esquina {i}", sender=f"+5917000000{i}")
    assert len(json.loads(ready("cases", "list", "--json").output)) == 3
    assert len(json.loads(ready("cases", "list", "--json", "--limit", "2").output)) == 2
    assert [c["neighborhood"] for c in json.loads(ready("cases", "list", "--json", "--neighborhood", "b-02").output)] == ["B02"]


def test_expected_errors_exit_non_zero_with_a_message(ready):
    assert "no case with tracking number 1234567" in ready("cases", "show", "1234567", code=1).output
    assert "no case with tracking number" in ready("cases", "status", "1234567", "closed", code=1).output
    assert "Invalid value" in ready("cases", "status", "1234567", "done", code=2).output


def test_bad_csv_imports_nothing(ready, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,district,lat,lon\nB99,Nuevo,X,,\nB98,,X,,\n")
    result = ready("neighborhoods", "import", str(bad), code=1)
    assert "line 3: the name is empty" in result.output and "nothing imported" in result.output
    assert "B99" not in ready("neighborhoods", "list").output


def test_config_check(invoke, ini):
    assert "does not exist yet" in invoke("config", "check", code=1).output
    invoke("db", "migrate")
    assert "OK" in invoke("config", "check").output
    ini.write_text(ini.read_text() + "[gateway]\npoll_seconds = soon\n")
    result = invoke("config", "check", code=1)
    assert f"{ini}: [gateway] poll_seconds" in result.output and "Fix:" in result.output
    data = json.loads(invoke("config", "check", "--json", code=1).output)
    assert data["ok"] is False and data["file"] == str(ini)


def test_config_check_reports_a_broken_template_copy(invoke, ini, tmp_path):
    invoke("db", "migrate")
    replies = tmp_path / "replies.ini"
    default = files("barriosms.templates").joinpath("replies.es.ini").read_text(encoding="utf-8")
    replies.write_text(default.replace("Numero: {tracking}", "Numero: {trackin}", 1), encoding="utf-8")
    ini.write_text(ini.read_text() + f"[gateway]\nreplies = {replies}\n")
    result = invoke("config", "check", code=1)
    assert str(replies) in result.output


def test_config_check_names_the_template_files_in_use(invoke, ini, tmp_path):
    """A technician edits a file and `config check` says OK: it must say which files are the ones that run."""
    invoke("db", "migrate")
    package = {kind: str(files("barriosms.templates").joinpath(f"{kind}.es.ini")) for kind in ("replies", "categories")}
    out = invoke("config", "check").stdout
    assert f"SMS texts:  {package['replies']} (built into the package; set [gateway] replies to use an edited copy)" in out
    assert f"categories: {package['categories']} (built into the package" in out
    data = json.loads(invoke("config", "check", "--json").stdout)
    assert data["templates"] == [
        {"kind": "replies", "path": package["replies"], "edited": False, "key": "[gateway] replies"},
        {"kind": "categories", "path": package["categories"], "edited": False, "key": "[gateway] categories"}]
    # Edited copies, named relative to the configuration file: shown with their full path.
    for kind in ("replies", "categories"):
        (tmp_path / f"{kind}.es.ini").write_text(files("barriosms.templates").joinpath(f"{kind}.es.ini").read_text(
            encoding="utf-8"), encoding="utf-8")
    ini.write_text(ini.read_text() + "[gateway]\nreplies = replies.es.ini\ncategories = ./categories.es.ini\n")
    out = invoke("config", "check").stdout
    assert f"SMS texts:  {tmp_path / 'replies.es.ini'} (edited copy, [gateway] replies)" in out
    assert f"categories: {tmp_path / 'categories.es.ini'} (edited copy, [gateway] categories)" in out
    data = json.loads(invoke("config", "check", "--json").stdout)
    assert [(t["path"], t["edited"]) for t in data["templates"]] == [
        (str(tmp_path / "replies.es.ini"), True), (str(tmp_path / "categories.es.ini"), True)]


def test_config_check_names_the_template_file_that_is_broken(invoke, ini, tmp_path):
    invoke("db", "migrate")
    replies = tmp_path / "replies.es.ini"
    replies.write_text("[replies]\n", encoding="utf-8")
    ini.write_text(ini.read_text() + f"[gateway]\nreplies = {replies}\n")
    result = invoke("config", "check", code=1)
    assert f"SMS texts:  {replies} (edited copy, [gateway] replies)" in result.stdout
    data = json.loads(invoke("config", "check", "--json", code=1).stdout)
    assert data["templates"][0] == {"kind": "replies", "path": str(replies), "edited": True, "key": "[gateway] replies"}
    assert any(str(replies) in p for p in data["problems"])


def test_outbox_retry_failed(ready):
    from barriosms.store.models import OutboundMessage

    open_case()
    OutboundMessage.update(status="failed", attempts=5, last_error="no SMSC").execute()
    [msg_id] = [m.id for m in OutboundMessage.select()]
    assert "1 message(s) queued again" in ready("outbox", "retry", str(msg_id)).output
    queued = json.loads(ready("outbox", "list", "--json", "--status", "queued").output)
    assert [(m["id"], m["attempts"]) for m in queued] == [(msg_id, 0)]
    assert "0 of 1 queued again" in ready("outbox", "retry", str(msg_id), code=1).output
    assert "--failed" in ready("outbox", "retry", code=2).output


def _commands(group: click.Group, path: tuple[str, ...] = ("barriosms",)):
    # Through list_commands/get_command: the top-level group imports its commands lazily (cli/lazy.py).
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            yield path + (name,), command
            yield from _commands(command, path + (name,))
        else:
            yield path + (name,), command


# Long-running processes and commands whose output is itself a data format have no --json.
NO_JSON = {("barriosms", "run"), ("barriosms", "sim", "serve"), ("barriosms", "cases", "export"), ("barriosms", "web"),
           ("barriosms", "config", "example")}


@pytest.mark.parametrize(("path", "command"), list(_commands(cli)), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_command_has_help_an_example_and_json(path, command):
    from click.testing import CliRunner

    help_text = command.help or ""
    assert help_text.strip(), f"{' '.join(path)} has no help"
    example = [line.strip() for line in help_text.splitlines() if line.strip().startswith("Example:")]
    assert example and example[0].startswith("Example: barriosms"), f"{' '.join(path)} has no example"
    # The example names this very command (so it cannot be copied from another one by mistake).
    words = re.sub(r"--config \S+ ", "", example[0])
    assert " ".join(path) in words or isinstance(command, click.Group), example[0]
    result = CliRunner().invoke(cli, [*path[1:], "--help"])
    assert result.exit_code == 0 and "Example:" in result.output
    if not isinstance(command, click.Group) and path not in NO_JSON:
        assert "--json" in {o for p in command.params for o in getattr(p, "opts", [])}, f"{' '.join(path)} lacks --json"


def test_shell_completion_script_is_generated():
    import subprocess
    import sys

    env = {**os.environ, "_BARRIOSMS_COMPLETE": "bash_source"}
    out = subprocess.run([sys.executable, "-c", "from barriosms.cli import main; main()"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert "_barriosms_completion" in out.stdout and "complete " in out.stdout


# --- The office's forms: Spanish status names, phones as typed, tables that fit 80 columns, one timeline.

SPANISH_WALK = [("en_revision", "reviewing"), ("en_proceso", "in_progress"), ("resuelto", "resolved"),
                ("cerrado", "closed")]


def test_spanish_status_names_change_and_list_cases(ready):
    tracking = open_case()
    listed = json.loads(ready("cases", "list", "--json", "--status", "recibido").output)
    assert [c["tracking"] for c in listed] == [tracking]
    for spanish, english in SPANISH_WALK:
        out = ready("cases", "status", tracking, spanish).output
        assert f"-> {english}" in out
        [case] = json.loads(ready("cases", "list", "--json", "--status", spanish).output)
        assert (case["tracking"], case["status"]) == (tracking, english), "JSON keeps the English name"
        assert "recibido" not in ready("cases", "list", "--status", spanish).output
    other = open_case("B03 no hay agua desde ayer", sender="+59172222222")
    ready("cases", "status", other, "Rechazado")
    [case] = json.loads(ready("cases", "list", "--json", "--status", "rechazado").output)
    assert (case["tracking"], case["status"]) == (other, "rejected")
    ready("cases", "status", other, "en revisión")  # a space and an accent, as typed
    assert json.loads(ready("cases", "show", other, "--json").output)["status"] == "reviewing"
    exported = ready("cases", "export", "--status", "EN-REVISION").output
    assert other in exported and tracking not in exported


def test_an_unknown_status_names_both_languages(ready):
    tracking = open_case()
    for args in (("cases", "status", tracking, "abierto"), ("cases", "list", "--status", "done"),
                 ("cases", "export", "--status", "hecho")):
        out = ready(*args, code=2).output
        assert "unknown status" in out and "in_progress (en_proceso)" in out and "rejected (rechazado)" in out
    help_text = ready("cases", "list", "--help").output
    assert "recibido" in help_text and "en_revision" in help_text
    assert "en_proceso" in ready("cases", "status", "--help").output


PHONE_AS_TYPED = ["71234567", "+591 71234567", "591-7123-4567", "00591 71234567", "7123 4567"]


@pytest.mark.parametrize("typed", PHONE_AS_TYPED)
def test_phone_filter_takes_a_number_as_typed(ready, typed):
    mine = open_case("B12 hay un bache grande en la calle 3", sender="+59171234567")
    open_case("B03 no hay agua desde ayer", sender="+59172222222")
    assert [c["tracking"] for c in json.loads(ready("cases", "list", "--json", "--phone", typed).output)] == [mine]
    assert mine in ready("cases", "list", "--phone", typed).output
    messages = json.loads(ready("inbox", "list", "--json", "--phone", typed).output)
    assert [(m["phone"], m["text"], m["case"]) for m in messages] == [
        ("+59171234567", "B12 hay un bache grande en la calle 3", mine)]


def test_phone_filter_finds_a_case_through_a_later_reporter(ready):
    first = open_case("B12 hay un bache grande en la calle 3", sender="+59171234567")
    later = open_case("B12 bache en la calle 3 otra vez", sender="+59172222222")
    ready("cases", "merge", later, first)
    found = {c["tracking"] for c in json.loads(ready("cases", "list", "--json", "--phone", "7222 2222").output)}
    assert found == {first, later}


def test_a_phone_that_is_no_number_is_refused_saying_what_was_typed(ready):
    open_case()
    out = ready("cases", "list", "--phone", "7123", code=1).output
    assert "'7123' is not a phone number" in out and "71234567" in out
    assert "'12-ab' is not a phone number" in ready("cases", "list", "--phone", "12-ab", code=1).output
    assert "'555' is not a phone number" in ready("inbox", "list", "--phone", "555", code=1).output
    # An operator's sender name is what the inbox stores for it: looked for as it is.
    assert json.loads(ready("inbox", "list", "--json", "--phone", "TIGO").output) == []


LONG = ("B12 hay un bache enorme en la calle 3 frente a la escuela y los autos se desvian por la acera "
        "donde caminan los ninos, ya van dos semanas asi y nadie viene a arreglarlo, por favor ayuden")


def _lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line]


@pytest.mark.parametrize("command", [("cases", "list"), ("inbox", "list"), ("outbox", "list")])
def test_tables_fit_80_columns_and_wide_shows_all(ready, command):
    tracking = open_case(LONG)
    ready("cases", "assign", tracking, "Cuadrilla vial Sur, equipo de bacheo del macrodistrito")
    [whole] = [row["text"] for row in json.loads(ready(*command, "--json").output)]
    assert len(whole) > 100
    narrow = ready(*command).output
    assert all(len(line) <= 80 for line in _lines(narrow)), "\n" + narrow
    assert "…" in narrow and whole not in narrow
    wide = ready(*command, "--wide").output
    assert whole in wide and "…" not in wide
    if command == ("cases", "list"):
        assert tracking in narrow and "received" in narrow
        assert "Cuadrilla vial Sur, equipo de bacheo del macrodistrito" in wide and "+59171234567" in wide


def test_table_fits_the_terminal_when_it_is_wider(monkeypatch, capsys):
    from barriosms.cli import common

    monkeypatch.setattr(common, "table_width", lambda: 120)
    common.table(["id", "text"], [[1, "x" * 200]], shrink=["text"], wide=False)
    [header, row] = capsys.readouterr().out.splitlines()
    assert len(row) == 120 and row.endswith("x…")
    common.table(["id", "text"], [[1, "a\nb   c"]], shrink=["text"], wide=False)
    assert capsys.readouterr().out.splitlines()[1] == "1   a b c"


def test_cases_show_tells_history_and_sms_in_time_order(ready):
    from barriosms.pipeline import conversations
    from barriosms.store.models import Case

    tracking = open_case()
    ready("cases", "status", tracking, "en_revision", "--note", "Vamos a ver")
    ready("cases", "ask", tracking, "¿Frente a la escuela?")
    from barriosms.store.models import OutboundMessage
    OutboundMessage.update(status="sent").execute()  # as if the daemon sent them
    intake = Intake(IntakeRules(load_templates(), load_categories(), region="BO"), rng=random.Random(3))
    intake.store(ReceivedSms(location=2, sender="+59171234567", text="si, frente a la escuela"))
    ready("cases", "status", tracking, "en_proceso", "--note", "Cuadrilla el lunes")
    assert conversations.conversation(Case.get(Case.tracking == tracking))

    shown = json.loads(ready("cases", "show", tracking, "--json").output)
    assert {"history", "messages", "conversation"} <= shown.keys(), "the keys scripts read stay"
    story = [(e["type"], e.get("kind") or e["direction"], e.get("to") or e.get("text")) for e in shown["timeline"]]
    assert story == [
        ("sms", "in", "B12 hay un bache grande en la calle 3"),
        ("event", "created", "received"),
        ("sms", "out", story[2][2]),  # the tracking number
        ("event", "status", "reviewing"),
        ("sms", "out", story[4][2]),
        ("event", "question", story[5][2]),
        ("sms", "out", story[6][2]),
        ("sms", "in", "si, frente a la escuela"),
        ("event", "answer", story[8][2]),
        ("sms", "out", story[9][2]),  # "thanks, your answer is in your case"
        ("event", "status", "in_progress"),
        ("sms", "out", story[11][2]),
    ], story
    assert [e["at"] for e in shown["timeline"]] == sorted(e["at"] for e in shown["timeline"])

    human = ready("cases", "show", tracking).output
    timeline = human[human.index("Timeline"):].splitlines()[1:]
    order = ["SMS in   +59171234567: B12 hay", "created", "SMS out", "received -> reviewing", "question (to resident)",
             "SMS in   +59171234567: si, frente", "answer (from resident)", "reviewing -> in_progress"]
    found = [next(i for i, line in enumerate(timeline) if what in line) for what in order]
    assert found == sorted(found), "\n".join(timeline)
