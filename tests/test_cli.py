"""The command line, run in-process with typer's runner on real files."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, get_args, get_type_hints

import pytest
import typer
from credgraph.graph.embedded import EmbeddedStore
from credgraph.graph.store import GraphStore, connect
from credgraph.loaders.loader import Loader, StagedChunk
from credgraph.loaders.report import FileReport, LoadReport
from typer.testing import CliRunner

from credgraph.cli import _print_report, app
from tests.conftest import TEST_PERSON_KEY, free_port
from tests.registries import FIRM_A, ZHANG, write_csv
from tests.test_store import _Relay

REPORT_KEYS = {"file", "read", "loaded", "rejected", "merged", "rejects_file"}


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("CREDGRAPH_PERSON_KEY", TEST_PERSON_KEY)
    monkeypatch.setenv("CREDGRAPH_DATA_DIR", str(tmp_path / "data"))
    return CliRunner()


def test_dry_run_reports_rejects_and_exits_1(
    runner: CliRunner, tiny_registry: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    result = runner.invoke(app, ["load", str(tiny_registry), "--dry-run", "--report", str(report)])
    assert result.exit_code == 1, result.output
    files = json.loads(report.read_text(encoding="utf-8"))["files"]
    assert all(set(f) >= REPORT_KEYS for f in files)
    assert sum(f["rejected"] for f in files) == 4
    assert not (tmp_path / "data" / "arcadedb").exists(), "a dry run starts no store"


def test_a_dry_run_without_a_store_leaves_the_data_directory_as_it_was(
    runner: CliRunner, tiny_registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No store and no person key yet: the files are checked under a key of the run's own. A
    key written into the data directory would become the key of every later load there."""
    monkeypatch.delenv("CREDGRAPH_PERSON_KEY")
    report = tmp_path / "report.json"
    result = runner.invoke(app, ["load", str(tiny_registry), "--dry-run", "--report", str(report)])
    assert result.exit_code == 1, result.output
    files = json.loads(report.read_text(encoding="utf-8"))["files"]
    assert sum(f["rejected"] for f in files) == 4  # checked as with a key
    assert not (tmp_path / "data" / "person.key").exists()


def test_the_rejects_folder_is_made_only_when_a_row_is_rejected(
    runner: CliRunner, tiny_registry: Path, tmp_path: Path
) -> None:
    clean = tmp_path / "clean"
    clean.mkdir()
    write_csv(
        clean / "legal_persons.csv", ["uscc", "name", "kind"], [[FIRM_A, "鹭岛", "enterprise"]]
    )
    result = runner.invoke(app, ["load", str(clean), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert not (clean / "rejects").exists()
    result = runner.invoke(app, ["load", str(tiny_registry), "--dry-run"])
    assert result.exit_code == 1, result.output
    # one rejects file for each file with a dirty row: a bad check character, an unknown role,
    # a date that does not exist, a record of an unknown subject
    assert sorted(path.name for path in (tiny_registry / "rejects").iterdir()) == [
        "firm_relations.rejects.csv",
        "legal_persons.rejects.csv",
        "records.rejects.csv",
        "roles.rejects.csv",
    ]


def test_load_of_a_missing_folder_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["load", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "nowhere: no such file or folder" in result.output


def test_files_without_a_mapping_are_refused_before_loading(
    runner: CliRunner, tmp_path: Path
) -> None:
    strange = tmp_path / "某局导出.csv"
    strange.write_text("a,b\n1,2\n", encoding="utf-8")
    result = runner.invoke(app, ["load", str(strange), "--dry-run"])
    assert result.exit_code == 2
    assert "no mapping for 某局导出.csv" in result.output and "--mapping" in result.output


def test_a_folder_with_a_spreadsheet_the_loader_cannot_read_is_refused(
    runner: CliRunner, tiny_registry: Path
) -> None:
    (tiny_registry / "roles.xls").write_bytes(b"\xd0\xcf\x11\xe0")  # an Excel 97-2003 file
    result = runner.invoke(app, ["load", str(tiny_registry), "--dry-run"])
    assert result.exit_code == 2
    assert "roles.xls (Excel 97-2003): not read; save as .xlsx" in result.output


def test_a_file_the_mapping_s_match_leaves_out_is_told_which_names_it_takes(
    runner: CliRunner, tmp_path: Path
) -> None:
    mapping = tmp_path / "amr.yaml"
    mapping.write_text(
        'target: legal_persons\nmatch: ["企业登记*.csv"]\nfields: {uscc: 统一社会信用代码}\n',
        encoding="utf-8",
    )
    source = tmp_path / "bad.csv"
    source.write_text("统一社会信用代码\n1\n", encoding="utf-8")
    result = runner.invoke(app, ["load", str(source), "--mapping", str(mapping), "--dry-run"])
    assert result.exit_code == 2
    # it said "pass --mapping FILE.yaml", which had been passed
    assert "no mapping for bad.csv: the --mapping files take 企业登记*.csv" in result.output


def test_a_broken_mapping_file_is_named(runner: CliRunner, tmp_path: Path) -> None:
    mapping = tmp_path / "bad.yaml"
    mapping.write_text("target: companies\nfields: {}\n", encoding="utf-8")
    source = tmp_path / "x.csv"
    source.write_text("a\n1\n", encoding="utf-8")
    result = runner.invoke(app, ["load", str(source), "--mapping", str(mapping), "--dry-run"])
    assert result.exit_code == 2
    assert "bad.yaml" in result.output and "`target` must be one of" in result.output


def test_weak_settings_are_refused_before_anything_starts(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tiny_registry: Path
) -> None:
    monkeypatch.setenv("CREDGRAPH_PERSON_KEY", "changeme")
    result = runner.invoke(app, ["load", str(tiny_registry), "--dry-run"])
    assert result.exit_code == 2
    told = " ".join(result.output.split())
    assert "invalid settings" in told, told
    assert "CREDGRAPH_PERSON_KEY: is a well-known default; choose a real secret" in told
    assert not (tiny_registry / "rejects").exists()  # refused before the files were read


@pytest.mark.parametrize("command", [["stats"], ["search", "鹭岛"], ["risk", "score"]])
def test_a_neo4j_that_cannot_be_reached_is_exit_3_with_a_message(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("CREDGRAPH_NEO4J_URI", f"bolt://127.0.0.1:{free_port()}")
    monkeypatch.setenv("CREDGRAPH_NEO4J_PASSWORD", "a-password-for-a-store-that-is-not-there")
    result = runner.invoke(app, command)
    assert result.exit_code == 3, result.output
    assert "cannot open the graph store" in result.output and "Traceback" not in result.output


def test_output_paths_that_cannot_be_written_are_refused_before_anything_loads(
    runner: CliRunner, tiny_registry: Path, tmp_path: Path
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    for option, value in (
        ("--report", tmp_path),  # a folder
        ("--report", a_file / "report.json"),  # under a file
        ("--rejects-dir", a_file),
    ):
        result = runner.invoke(app, ["load", str(tiny_registry), "--dry-run", option, str(value)])
        assert result.exit_code == 2, result.output
        assert result.output.startswith(option) and "Traceback" not in result.output


def _files(report: Path) -> list[dict[str, Any]]:
    return list(json.loads(report.read_text(encoding="utf-8"))["files"])


def _last_store_start(data_dir: Path) -> str:
    log = (data_dir / "arcadedb.log").read_text(encoding="utf-8", errors="replace")
    return [line for line in log.splitlines() if "starting the embedded store" in line][-1]


@pytest.fixture
def own_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands start an embedded store of their own, on free ports, with a small heap."""
    for name in ("BOLT", "HTTP"):
        monkeypatch.setenv(f"CREDGRAPH_EMBEDDED_{name}_PORT", str(free_port()))
    monkeypatch.setenv("CREDGRAPH_EMBEDDED_HEAP", "1g")


def test_load_starts_the_store_for_throughput_and_other_commands_for_latency(
    runner: CliRunner, own_store: None, tiny_registry: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    loaded = runner.invoke(app, ["load", str(tiny_registry), "--report", str(report)])
    assert loaded.exit_code == 1, loaded.output  # the tiny registry's 4 dirty rows
    # a dry run of one file reads the store: its references to parties loaded before resolve
    rejected = {Path(f["file"]).name: f["rejected"] for f in _files(report)}
    checked = tmp_path / "checked.json"
    dry = ["load", str(tiny_registry / "roles.csv"), "--dry-run", "--report", str(checked)]
    assert runner.invoke(app, dry).exit_code == (1 if rejected["roles.csv"] else 0)
    assert [f["rejected"] for f in _files(checked)] == [rejected["roles.csv"]]
    started = _last_store_start(tmp_path / "data")
    assert "-XX:+UseParallelGC" in started and "-Xmx1g" in started
    assert "Password" not in started
    counted = runner.invoke(app, ["stats", "--json"])
    assert counted.exit_code == 0, counted.output
    assert json.loads(counted.output)["nodes"]["LegalPerson"] == 3
    assert "-XX:+UseZGC" in _last_store_start(tmp_path / "data")


def test_an_interrupted_load_says_so_and_the_same_command_goes_on(
    runner: CliRunner,
    own_store: None,
    monkeypatch: pytest.MonkeyPatch,
    tiny_registry: Path,
    tmp_path: Path,
) -> None:
    write = Loader._write
    written: list[str] = []

    def ctrl_c_after_the_first_chunk(self: Loader, chunk: StagedChunk, *args: Any) -> None:
        if written:
            raise KeyboardInterrupt  # what Ctrl-C raises in the writing (main) thread
        write(self, chunk, *args)
        written.append(chunk.uid)

    with monkeypatch.context() as patched:
        patched.setattr(Loader, "_write", ctrl_c_after_the_first_chunk)
        interrupted = runner.invoke(app, ["load", str(tiny_registry)])
    assert interrupted.exit_code == 130, interrupted.output
    assert "interrupted" in interrupted.output and "same command again" in interrupted.output
    report = tmp_path / "report.json"
    resumed = runner.invoke(app, ["load", str(tiny_registry), "--report", str(report)])
    assert resumed.exit_code == 1, resumed.output  # the tiny registry's 4 dirty rows
    files = json.loads(report.read_text(encoding="utf-8"))["files"]
    assert [f["skipped_chunks"] for f in files][:2] == [1, 0]  # the first file had committed
    counted = runner.invoke(app, ["stats", "--json"])
    assert json.loads(counted.output)["nodes"]["LegalPerson"] == 3


def test_paths_with_brackets_are_printed_as_they_are(
    runner: CliRunner, tiny_registry: Path, tmp_path: Path
) -> None:
    """A path holding `[red]` or `[/b]` is markup to rich: the text vanished, or the command
    stopped with a traceback (after the load had run, when printing its report)."""
    strange = tmp_path / "x[b].csv"
    strange.write_text("a,b\n1,2\n", encoding="utf-8")
    result = runner.invoke(app, ["load", str(strange), "--dry-run"])
    assert result.exit_code == 2 and "no mapping for x[b].csv" in result.output

    folder = tiny_registry.rename(tmp_path / "[red]extract")
    result = runner.invoke(app, ["load", str(folder), "--dry-run"])
    assert result.exit_code == 1, result.output
    assert "[red]extract/rejects/" in result.output


def test_serve_refuses_an_address_before_a_store_starts_and_port_0_is_no_default(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with socket.socket() as taken:  # the configured port is another server's
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setenv("CREDGRAPH_API_PORT", str(taken.getsockname()[1]))
        result = runner.invoke(app, ["serve", "--host", "127.0.0.1", "--port", "0"])
        assert result.exit_code == 2, result.output
        assert "port 0 is not between 1 and 65535" in result.output
        result = runner.invoke(app, ["serve", "--host", "127.0.0.1"])
        assert result.exit_code == 2 and "is in use" in result.output
    assert not (tmp_path / "data" / "arcadedb").exists(), "no store started"


@pytest.mark.parametrize("verb", ["linked", "paths", "trace", "links", "groups", "export"])
def test_every_verb_that_follows_relations_takes_both_names_of_former(
    runner: CliRunner, verb: str
) -> None:
    # `linked` and `paths` said --former, the others --include-former
    shown = runner.invoke(app, [verb, "--help"], env={"COLUMNS": "200"}).output
    assert "--former" in shown and "--include-former" in shown


def test_messages_and_the_load_summary_are_not_cut_to_80_columns_when_piped() -> None:
    from credgraph.cli_common import PIPED_WIDTH, console

    assert not sys.stderr.isatty()  # pytest captures it, as a pipe would
    assert console.width == PIPED_WIDTH  # the load table showed `legacy_identifie…`


def test_generate_into_a_file_names_the_option_without_a_traceback(
    runner: CliRunner, tmp_path: Path
) -> None:
    taken = tmp_path / "registry"
    taken.write_text("not a folder\n", encoding="utf-8")
    for out in (taken, taken / "inside"):
        result = runner.invoke(app, ["generate", "--out", str(out), "--enterprises", "3"])
        assert result.exit_code == 2, result.output
        assert f"--out: cannot create the folder {taken}" in result.output
        assert isinstance(result.exception, SystemExit), "a clean exit, not an uncaught error"
    assert taken.read_text(encoding="utf-8") == "not a folder\n"


def test_generate_never_replaces_an_extract_it_did_not_write(
    runner: CliRunner, tmp_path: Path
) -> None:
    extract = tmp_path / "2025-02"
    extract.mkdir()
    (extract / "roles.csv").write_text("person_id_number,company_id,role\n", encoding="utf-8")
    result = runner.invoke(app, ["generate", "--out", str(extract), "--enterprises", "3"])
    assert result.exit_code == 2, result.output
    assert f"--out: {extract} holds roles.csv, not written by `credgraph generate`" in " ".join(
        result.output.split()
    )
    assert sorted(p.name for p in extract.iterdir()) == ["roles.csv"]
    assert (extract / "roles.csv").read_text(encoding="utf-8").startswith("person_id_number")
    # a registry it generated before is its own to write again
    registry = tmp_path / "registry"
    for _ in range(2):
        again = runner.invoke(app, ["generate", "--out", str(registry), "--enterprises", "3"])
        assert again.exit_code == 0, again.output


def test_a_file_with_no_rows_is_pointed_out(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "2025-02"
    folder.mkdir()
    (folder / "legal_persons.csv").write_text("uscc,name,kind\n", encoding="utf-8")
    result = runner.invoke(app, ["load", str(folder), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "legal_persons.csv: no rows (a header alone, or nothing)" in result.output


def test_an_empty_file_blocks_no_other_file_of_the_load(runner: CliRunner, tmp_path: Path) -> None:
    # a 0-byte export (or a BOM alone) in a monthly folder stopped the whole load, exit 2,
    # nothing loaded and no report: it is a file with no rows, pointed out as such
    folder = tmp_path / "2025-02"
    folder.mkdir()
    (folder / "legal_persons.csv").write_bytes(b"")
    (folder / "roles.csv").write_bytes(b"\xef\xbb\xbf")
    write_csv(
        folder / "natural_persons.csv",
        ["id_type", "id_number", "name"],
        [["resident", ZHANG, "张伟"]],
    )
    report = tmp_path / "report.json"
    result = runner.invoke(app, ["load", str(folder), "--dry-run", "--report", str(report)])
    assert result.exit_code == 0, result.output
    printed = " ".join(result.output.split())
    assert "legal_persons.csv: no rows (a header alone, or nothing)" in printed
    assert "roles.csv: no rows (a header alone, or nothing)" in printed
    files = {Path(f["file"]).name: f for f in json.loads(report.read_text("utf-8"))["files"]}
    assert files["natural_persons.csv"]["loaded"] == 1
    assert files["legal_persons.csv"]["read"] == files["roles.csv"]["read"] == 0


def test_a_folder_without_data_files_is_named_with_what_a_folder_loads(
    runner: CliRunner, tmp_path: Path
) -> None:
    # the message was "no data files to load", naming neither the folder nor what it looked for
    folder = tmp_path / "2025-02"
    (folder / "courts").mkdir(parents=True)
    (folder / "courts" / "court_debtors.csv").write_text("subject_id\n", encoding="utf-8")
    (folder / "README.md").write_text("from the AMR\n", encoding="utf-8")
    result = runner.invoke(app, ["load", str(folder), "--dry-run"])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert f"no data files in {folder}" in message
    assert ".csv" in message and "not those in its subfolders" in message


# every path argument and option of the CLI, given as ""; typer read "" as the path ".", so
# `backup ""` wrote into the current folder and `generate --out ""` filled it with a registry
EMPTY_PATHS = [
    (["backup", ""], "'DEST'"),
    (["restore", ""], "'SRC'"),
    (["load", ""], "'PATH'"),
    (["load", "x.csv", "--mapping", ""], "'--mapping'"),
    (["load", "x.csv", "--report", ""], "'--report'"),
    (["load", "x.csv", "--rejects-dir", ""], "'--rejects-dir'"),
    (["generate", "--out", " "], "'--out'"),
    (["keys", "create", "--role", "admin", "--name", "n", "--out", ""], "'--out'"),
    (["audit", "verify", ""], "'ROTATED...'"),
    (["audit", "find", "91350203MA2Y0001XR", ""], "'ROTATED...'"),
    (["export", "91350203MA2Y0001XR", "--out", ""], "'--out'"),
]


@pytest.mark.parametrize(("command", "named"), EMPTY_PATHS)
def test_an_empty_path_is_refused_naming_its_argument(
    runner: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    named: str,
) -> None:
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    result = runner.invoke(app, command, env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert f"Invalid value for {named}: is empty" in result.output
    assert list(here.iterdir()) == [], "nothing is written into the current folder"


def _command_callbacks(typer_app: typer.Typer) -> Iterator[Callable[..., Any]]:
    for command in typer_app.registered_commands:
        assert command.callback is not None
        yield command.callback
    for group in typer_app.registered_groups:
        assert group.typer_instance is not None
        yield from _command_callbacks(group.typer_instance)


def _names_a_path(hint: Any) -> bool:
    return hint is Path or any(_names_a_path(arg) for arg in get_args(hint))


def test_every_path_parameter_goes_through_the_shared_check() -> None:
    """So that a path parameter added later refuses "" too (the list above names today's)."""
    from typer.models import ParameterInfo

    from credgraph.cli_common import given_path

    checked = []
    for callback in _command_callbacks(app):
        for name, hint in get_type_hints(callback, include_extras=True).items():
            if name == "return" or not _names_a_path(hint):
                continue
            infos = [meta for meta in get_args(hint)[1:] if isinstance(meta, ParameterInfo)]
            assert infos and infos[0].parser is given_path, (callback.__name__, name)
            checked.append((callback.__name__, name))
    assert len(checked) == len(EMPTY_PATHS)


def test_audit_verify_names_a_rotated_file_that_is_not_there(
    runner: CliRunner, tmp_path: Path
) -> None:
    for named in (tmp_path / "nowhere.log", tmp_path):
        result = runner.invoke(app, ["audit", "verify", str(named)])
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"ROTATED: {named} is not a file"), result.output


def test_the_load_summary_tells_every_note_of_every_file_in_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each note `credgraph load` prints under its table, for a report that has them all: the
    notes of one file together, the file's rows first, then its columns, then its extract."""
    noted = FileReport(
        file="/x/people.csv",
        encoding="gb18030",
        read=0,
        rejects_file="/x/rejects/people.csv",
        reasons={"bad_id": 1, "no_name": 3, "bad_date": 2, "other": 1},
        outdated=4,
        folded=2,
        referent_conflicts=1,
        referent_conflict_lines=["line 2: referents: a"],
        unused_columns=["adress"],
        missing_columns=["注册资本"],
        unmapped_entities={"Family": 3, "Vessel": 5},
        unmapped_properties={"Company.topics": 1},
        end_refused="fewer rows than half the last extract",
    )
    ended = FileReport(file="/x/firms.csv", read=3, loaded=3, ended=7, skipped_chunks=1)
    report = LoadReport(
        "run-1",
        dry_run=True,
        files=[noted, ended],
        rescored=9,
        resumed_chunks=2,
        rescore_note="nothing to re-score",
    )
    _print_report(report)
    printed = " ".join(capsys.readouterr().err.split())
    expected = [
        "load run-1 (dry run)",
        "people.csv: no rows (a header alone, or nothing): an export cut short?",
        "people.csv: rejects in /x/rejects/people.csv: no_name (3), bad_date (2), bad_id (1)",
        "people.csv: 4 row(s) older than the stored values",
        "people.csv: 2 business(es) without a USCC folded into the USCC",
        "people.csv: 1 FtM referent(s) another party claims already (recorded, nothing "
        "folded; links naming them are refused): line 2: referents: a",
        "people.csv: columns not loaded (no field of this file; misspelt?): adress",
        "people.csv: columns the mapping reads are not in the file (those fields stay empty): "
        "注册资本",
        "people.csv: entities not mapped (not loaded, not rejected): Vessel (5), Family (3)",
        "people.csv: properties not mapped (their values are not loaded): Company.topics (1)",
        "people.csv: full extract: fewer rows than half the last extract",
        "firms.csv: full extract: would end 7 relation(s) or record(s) no longer listed",
        "re-scored 9 parties the loaded records and relations reach",
        "took in 2 chunk(s) an earlier run committed and stopped before re-scoring (of these "
        "files or others)",
        "scores: nothing to re-score",
    ]
    at = 0
    for line in expected:
        assert line in printed[at:], line
        at = printed.index(line, at) + len(line)
    assert "firms.csv: no rows" not in printed  # read, or its chunks committed before


@pytest.mark.parametrize("command", [["load"], ["stats"], ["search", "鹭岛"]])
def test_the_store_dying_while_the_schema_is_applied_is_exit_3(
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    embedded: EmbeddedStore,
    graph: GraphStore,
    tiny_registry: Path,
    command: list[str],
) -> None:
    # the store opens, then dies before the schema is applied: that gave a traceback ending in
    # `StoreError: store unavailable` and exit 1, which says rows were rejected
    address = embedded.address
    relay = _Relay(("127.0.0.1", int(address.bolt_uri.rsplit(":", 1)[1])))
    driver = connect(f"bolt://127.0.0.1:{relay.port}", address.user, address.password, None, 30)
    store = GraphStore(driver, graph.database, 30.0, backend="arcadedb")
    relay.cut(refuse=1_000)
    monkeypatch.setattr("credgraph.cli_common.open_store", lambda settings: store)
    try:
        args = [*command, str(tiny_registry)] if command == ["load"] else command
        result = runner.invoke(app, args)
    finally:
        store.close()
        relay.close()
    assert result.exit_code == 3, result.output
    told = " ".join(result.output.split())
    assert "cannot use the graph store: store unavailable" in told, told
    assert "Traceback" not in result.output
    assert not (tiny_registry / "rejects").exists()  # nothing was loaded


def test_the_store_dying_under_a_verb_after_it_opened_is_exit_3(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    embedded: EmbeddedStore,
    graph: GraphStore,
) -> None:
    """`stats` (like `keys`, `backup` ...) uses the store outside the lookup verbs' block: the
    store dying once the schema is applied gave a traceback and exit 1. The command as the
    console script runs it (`app()`, not the test runner) exits 3 saying so."""
    import credgraph.cli_common as common

    address = embedded.address
    relay = _Relay(("127.0.0.1", int(address.bolt_uri.rsplit(":", 1)[1])))
    driver = connect(f"bolt://127.0.0.1:{relay.port}", address.user, address.password, None, 30)
    store = GraphStore(driver, graph.database, 30.0, backend="arcadedb")
    applied = common.apply_schema

    def apply_then_die(*args: Any, **kwargs: Any) -> Any:
        done = applied(*args, **kwargs)
        relay.cut(refuse=1_000)
        return done

    monkeypatch.setattr("credgraph.cli_common.open_store", lambda settings: store)
    monkeypatch.setattr("credgraph.cli_common.apply_schema", apply_then_die)
    try:
        with pytest.raises(SystemExit) as exited:
            app(["stats"], prog_name="credgraph")
    finally:
        store.close()
        relay.close()
    assert exited.value.code == 3
    said = capsys.readouterr()
    told = " ".join((said.out + said.err).split())
    assert "the graph store failed" in told and "Traceback" not in told, told
