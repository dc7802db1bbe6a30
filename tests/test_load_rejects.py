"""Rejects files as a data team reads them: one row per rejected line, in source line order,
whichever check refused it (parsing, references, reused ids) and however the file streams."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from credgraph.graph.identifiers import make_uscc
from credgraph.graph.store import GraphStore

from tests.registries import (
    FIRM_A,
    FIRM_B,
    LI,
    UNKNOWN_FIRM,
    ZHANG,
    ftm_entity,
    load_folder,
    run_load,
    write_csv,
)


def _reject_lines(path: str | None) -> list[tuple[int, str]]:
    assert path is not None
    with Path(path).open(encoding="utf-8") as handle:
        return [(int(row["line"]), row["field"]) for row in csv.DictReader(handle)]


def test_rejects_come_in_line_order_whatever_check_refused_them(
    graph: GraphStore, tmp_path: Path
) -> None:
    source = tmp_path / "in"
    source.mkdir()
    write_csv(
        source / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[FIRM_A, "鹭岛科技", "enterprise"], [FIRM_B, "闽江贸易", "enterprise"]],
    )
    write_csv(
        source / "natural_persons.csv",
        ["id_type", "id_number", "name"],
        [["resident", ZHANG, "张伟"], ["resident", LI, "李娜"]],
    )
    header = ["person_id_number", "company_id", "role", "source_record"]
    rows = [
        [ZHANG, UNKNOWN_FIRM, "director", "r1"],  # line 2: a party nobody loaded
        [ZHANG, FIRM_A, "janitor", "r2"],  # line 3: no such role
        [ZHANG, FIRM_A, "director", "r3"],
        [LI, FIRM_B, "director", "r3"],  # line 5: r3 already names another relation
        [LI, FIRM_A, "supervisor", ""],  # line 6: no id
        [LI, UNKNOWN_FIRM, "director", "r6"],  # line 7: a party nobody loaded
        [LI, FIRM_A, "director", "r7"],
    ]
    expected = [
        (2, "company_id"),
        (3, "role"),
        (5, "source_record"),
        (6, "source_record"),
        (7, "company_id"),
    ]
    write_csv(source / "roles.csv", header, rows)
    for batch_size in (100, 3):  # the whole file in one chunk, then chunks that split it
        report = load_folder(graph, source, tmp_path / f"rejects-{batch_size}", batch_size)
        roles = next(f for f in report.files if f.file.endswith("roles.csv"))
        assert roles.rejected == len(expected)
        assert _reject_lines(roles.rejects_file) == expected


def test_an_ftm_file_s_rejects_of_both_passes_come_in_line_order(
    graph: GraphStore, tmp_path: Path
) -> None:
    """Links are read in a second pass over the file, after every party: their rejects come
    after the parties' in the stream, and still stand at their own lines in the file."""
    source = tmp_path / "in"
    source.mkdir()
    lines: list[str] = []
    for i in range(12):
        uscc = make_uscc("9", "1", "350203", f"MA2Y{i:04d}")
        lines.append(json.dumps(ftm_entity(f"co-{i}", "Company", name=f"公司{i}", taxNumber=uscc)))
        lines.append(json.dumps(ftm_entity(f"s-{i}", "Sanction", entity=f"nobody-{i}")))
        lines.append('{"id": "cut-off", "schema": "Compa')
    (source / "entities.ftm.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = load_folder(graph, source, tmp_path / "rejects", batch_size=5)
    entities = report.files[0]
    rejected = _reject_lines(entities.rejects_file)
    assert entities.rejected == len(rejected) == 24
    assert [line for line, _ in rejected] == sorted(
        line for i in range(12) for line in (3 * i + 2, 3 * i + 3)
    )
    assert {field for _, field in rejected} == {"entity", "(row)"}
    assert not list((tmp_path / "rejects").glob("*.merging"))


def test_a_rejects_file_runs_no_formula_in_the_spreadsheet_a_reviewer_opens_it_in(
    graph: GraphStore, tmp_path: Path
) -> None:
    """A reason that starts as a formula would (`-0.5 is below …`: Excel, WPS and LibreOffice
    run a cell starting with `=`, `+`, `-` or `@`) is written after a `'`, as OWASP recommends
    against CSV injection; a cell that starts otherwise is written as it is."""
    source = tmp_path / "in"
    source.mkdir()
    write_csv(
        source / "legal_persons.csv", ["uscc", "name", "kind"], [[FIRM_A, "鹭岛", "enterprise"]]
    )
    write_csv(
        source / "natural_persons.csv",
        ["id_type", "id_number", "name"],
        [["resident", ZHANG, "张伟"]],
    )
    write_csv(
        source / "shareholdings.csv",
        ["holder_id", "company_id", "stake", "subscribed_capital", "source_record"],
        [
            [ZHANG, FIRM_A, "-0.5", "", "s1"],
            [ZHANG, FIRM_A, "0.5", "-100", "s2"],
            [ZHANG, FIRM_A, "=1+1", "", "s3"],
            [ZHANG, FIRM_A, "0.5", "", "s4"],
        ],
    )
    report = load_folder(graph, source, tmp_path / "rejects")
    holdings = next(f for f in report.files if f.file.endswith("shareholdings.csv"))
    assert (holdings.loaded, holdings.rejected) == (1, 3)
    assert holdings.rejects_file is not None
    with Path(holdings.rejects_file).open(encoding="utf-8", newline="") as handle:
        rows = [(row["line"], row["field"], row["reason"]) for row in csv.DictReader(handle)]
    assert rows == [
        ("2", "stake", "'-0.5 is below the range 0..1"),
        ("3", "subscribed_capital", "'-100 is below the minimum 0"),
        ("4", "stake", "'=1+1' is not a number"),
    ]


def test_an_id_reused_in_another_file_names_that_file(tmp_path: Path) -> None:
    # the reason said `already names another relation (line 2)`, the line being in another
    # file than the rejected row's
    x, y = tmp_path / "x", tmp_path / "y"
    for folder in (x, y):
        folder.mkdir()
    write_csv(
        x / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[FIRM_A, "鹭岛科技", "enterprise"], [FIRM_B, "闽江贸易", "enterprise"]],
    )
    write_csv(
        x / "natural_persons.csv", ["id_type", "id_number", "name"], [["resident", ZHANG, "张伟"]]
    )
    header = ["person_id_number", "company_id", "role", "source_record"]
    write_csv(x / "roles.csv", header, [[ZHANG, FIRM_A, "director", "r1"]])
    write_csv(
        y / "roles.csv",
        header,
        [[ZHANG, FIRM_B, "director", "r9"], [ZHANG, FIRM_B, "supervisor", "r1"]],
    )
    report = run_load(None, [x, y], tmp_path / "rejects", dry_run=True)
    rejected = next(f for f in report.files if f.file == str(y / "roles.csv"))
    with Path(rejected.rejects_file or "").open(encoding="utf-8") as handle:
        [reject] = list(csv.DictReader(handle))
    assert (reject["line"], reject["field"]) == ("3", "source_record")
    assert reject["reason"] == (
        f"already names another relation ({x / 'roles.csv'} line 2): ids are unique"
    )
