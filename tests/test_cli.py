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
    for name, command in group.commands.items():
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
    for name, command in sorted(group.commands.items()):
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
