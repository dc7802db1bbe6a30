"""`credgraph load` re-scores what the relations it creates, changes or ends can reach
(docs/risk-model.md, "Incremental re-scoring"): the stored scores stay those of one full
`risk score`, a load that changes no relation re-scores nothing, and too much is a note."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from credgraph.graph.identifiers import make_uscc, registration_number_check_digit
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label
from credgraph.loaders.loader import load_paths
from credgraph.loaders.rows import ParseContext
from credgraph.queries import contagion
from credgraph.queries.lookup import PartyKey
from credgraph.queries.profiles import BUILTIN_PROFILES
from credgraph.queries.scores import score_graph
from typer.testing import CliRunner

from credgraph.cli import app
from tests.conftest import TEST_PERSON_KEY, new_database
from tests.counting import CountingStore
from tests.investigations import cli_runner
from tests.registries import load_folder, write_csv
from tests.test_analyst_scoring import _full, _stored
from tests.test_contagion import Registry, firm, firm_key, person, person_key

STRICT = BUILTIN_PROFILES["strict"]
AS_OF = date(2024, 6, 1)


def _scored(graph: GraphStore, tmp_path: Path) -> None:
    """Firm 1 blacklisted, its representative 10 also representative of firm 2; firm 9 and its
    representative 19 apart, unlinked to anything sanctioned; firm 3 holds 30% of firm 2. Then a
    full run under `strict`, whose scores the nodes hold."""
    reg = Registry(tmp_path / "reg")
    for n in (1, 2, 3, 9):
        reg.firm(n)
    for n in (10, 19):
        reg.person(n)
    reg.role(10, 1, "legal_representative")
    reg.role(10, 2, "legal_representative")
    reg.role(19, 9, "legal_representative")
    reg.share(firm(3), 2, "0.3")  # source `shareholdings`, id S0
    reg.record("A-1", firm(1), "blacklist", "2024-01-01", "2027-01-01")
    reg.load(graph)
    score_graph(graph, STRICT, AS_OF)


def _shareholdings(folder: Path, rows: list[tuple[int, int, str, str]]) -> Path:
    """A `shareholdings.csv` (source `shareholdings`) of (holder firm, firm, stake, id) rows."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "shareholdings.csv"
    lines = ["holder_id,company_id,stake,valid_from,valid_to,source_record"]
    lines += [f"{firm(a)},{firm(b)},{stake},2010-01-01,,{key}" for a, b, stake, key in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _load(cli: CliRunner, path: Path, *options: str) -> dict[str, Any]:
    """`credgraph load PATH ... --report`, its JSON report."""
    report = path.parent / "report.json"
    result = cli.invoke(app, ["load", str(path), "--report", str(report), *options])
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return document


def _scores(graph: GraphStore) -> dict[PartyKey, float]:
    return {key: float(row["score"]) for key, row in _stored(graph).items()}


def _as_full_run(graph: GraphStore) -> None:
    """The stored scores are those a full `risk score` on the run's date gives."""
    full = _full(graph, STRICT, AS_OF)
    stored = _scores(graph)
    assert {key: stored.get(key, 0.0) for key in full} == full


def test_a_loaded_shareholding_into_a_sanctioned_firm_rescores_and_its_ending_undoes_it(
    graph: GraphStore, tmp_path: Path, embedded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load of a new shareholding (firm 9 holds 60% of the blacklisted firm 1) left firm 9's
    and its representative's stored scores at 0 until the next full run; a full extract that no
    longer lists it left them raised."""
    _scored(graph, tmp_path)
    before = _scores(graph)
    assert firm_key(9) not in before and person_key(19) not in before
    cli = cli_runner(monkeypatch, embedded, graph)
    unchanged = (3, 2, "0.3", "S0")
    added = _load(cli, _shareholdings(tmp_path / "add", [unchanged, (9, 1, "0.6", "S-1")]))
    # S-1's ends are firms 9 and 1: within 3 hops of them, firms 1, 2, 3, 9 and persons 10, 19
    assert added["rescored"] == 6 and added["rescore_note"] is None
    raised = _scores(graph)
    # by hand under `strict`: A-1 (152 days old, half-life 1460) through the 60% stake, one hop
    # decayed 0.6; then 19's legal representation of firm 9 (0.8), a second hop
    on_firm_9 = 0.5 ** (152 / 1460) * 1.0 * 0.6 * 0.6
    assert raised[firm_key(9)] == pytest.approx(on_firm_9)
    assert raised[person_key(19)] == pytest.approx(on_firm_9 * 0.8 * 0.6)
    _as_full_run(graph)
    # the extract of 2024-05-01 no longer lists S-1: ended that day, before the run's date
    ended = _load(
        cli, _shareholdings(tmp_path / "extract", [unchanged]), "--full-extract", "2024-05-01"
    )
    assert ended["files"][0]["ended"] == 1 and ended["rescored"] == 6  # the same six
    _as_full_run(graph)
    assert {key: value for key, value in _scores(graph).items() if value > 0} == before
    # a corrected extract of that day lists it again: current again, and so are the scores
    relisted = _load(
        cli,
        _shareholdings(tmp_path / "relisted", [unchanged, (9, 1, "0.6", "S-1")]),
        "--full-extract",
        "2024-05-01",
    )
    assert relisted["rescored"] == 6
    _as_full_run(graph)
    assert _scores(graph) == raised


def test_a_load_that_changes_no_relation_rescores_nothing_and_a_new_stake_rescores(
    graph: GraphStore, tmp_path: Path, embedded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows written again with the values the store holds (the same file, or the same rows in
    another file, whose chunks are written again) re-score nothing; a changed stake does."""
    _scored(graph, tmp_path)
    cli = cli_runner(monkeypatch, embedded, graph)
    rows = [(3, 2, "0.3", "S0"), (9, 1, "0.6", "S-1")]
    path = _shareholdings(tmp_path / "first", rows)
    assert _load(cli, path)["rescored"] == 6  # S-1 new: the six within 3 hops of 9 and 1
    stored = _stored(graph)
    assert _load(cli, path)["rescored"] == 0  # its chunks committed: skipped
    again = _load(cli, _shareholdings(tmp_path / "reordered", rows[::-1]))
    assert again["files"][0]["skipped_chunks"] == 0  # written again, changing nothing
    assert (again["rescored"], again["rescore_note"]) == (0, None)
    assert _stored(graph) == stored  # not even `risk_scored_at` rewritten
    smaller = _load(cli, _shareholdings(tmp_path / "smaller", [(9, 1, "0.2", "S-1")]))
    assert smaller["rescored"] == 6  # S-1's stake changed: its ends' reach again
    _as_full_run(graph)
    assert _scores(graph)[firm_key(9)] < stored[firm_key(9)]["score"]


def test_a_load_that_changes_more_than_the_cap_says_what_and_rescores_nothing(
    graph: GraphStore, tmp_path: Path, embedded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records and relation ends count together against the cap; past it the relations of
    the next files are not kept at all, and the note says at least how many parties."""
    _scored(graph, tmp_path)
    stored = _stored(graph)
    cli = cli_runner(monkeypatch, embedded, graph)
    monkeypatch.setattr(contagion, "MAX_RESCORE_RECORDS", 1)
    folder = tmp_path / "many"
    _shareholdings(folder, [(9, 1, "0.6", "S-1")])
    (folder / "firm_relations.csv").write_text(
        "from_id,to_id,relation,valid_from,valid_to,source_record\n"
        f"{firm(3)},{firm(9)},guarantees,2010-01-01,,G-1\n",
        encoding="utf-8",
    )
    (folder / "records.csv").write_text(
        "record_id,subject_id,kind,sector,valid_from,valid_to,status,disclosure,"
        "source_system,authority_name,court,case_number\n"
        f"N-1,{firm(3)},dishonest_debtor,general,2024-02-01,2029-01-01,active,public,TEST,测试局,"
        "测试法院,(2024)闽0203执1号\n",
        encoding="utf-8",
    )
    report = tmp_path / "report.json"
    result = cli.invoke(app, ["load", str(folder), "--report", str(report)])
    assert result.exit_code == 0, result.output
    document = json.loads(report.read_text(encoding="utf-8"))
    assert document["rescored"] is None
    # files load in order: the shareholding's two ends are kept, which passes the cap, so the
    # firm relations (guarantee 3 -> 9) are written without counting them; the record last
    assert document["rescore_note"] == (
        "1 negative records and the relations of at least 2 parties (created, changed or "
        "ended) changed (more than 1 together): run `credgraph risk score` to bring the stored "
        "scores up to date"
    )
    assert "risk score" in result.output
    assert _stored(graph) == stored


def test_a_large_load_into_a_graph_never_scored_says_nothing(
    graph: GraphStore, tmp_path: Path, embedded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the cap, a load told to run `credgraph risk score` on a graph no run had scored:
    there are no stored scores to bring up to date (every first load of a registry said so)."""
    cli = cli_runner(monkeypatch, embedded, graph)
    monkeypatch.setattr(contagion, "MAX_RESCORE_RECORDS", 1)
    reg = Registry(tmp_path / "reg")
    for n in (1, 2, 9):
        reg.firm(n)
    reg.share(firm(9), 1, "0.6")
    reg.record("A-1", firm(1), "blacklist", "2024-01-01", "2027-01-01")
    reg.record("A-2", firm(2), "blacklist", "2024-01-01", "2027-01-01")
    report = tmp_path / "report.json"
    result = cli.invoke(app, ["load", *map(str, reg.write()), "--report", str(report)])
    assert result.exit_code == 0, result.output
    document = json.loads(report.read_text(encoding="utf-8"))
    assert (document["rescored"], document["rescore_note"]) == (0, None)
    assert "risk score" not in result.output


def test_every_relation_write_has_a_reporting_twin() -> None:
    """The reporting writes are the plain ones with the comparison put in before the SET: a
    plain write whose SET is spelt otherwise would get a "twin" that reports nothing."""
    from credgraph.queries import writes

    twins = writes.CHANGE_REPORTING_RELATION_WRITES
    plain = {
        *writes.PERSON_ROLE_WRITES.values(),
        *writes.FIRM_RELATION_WRITES.values(),
        *writes.SHAREHOLDER_WRITES.values(),
    }
    assert set(twins) == plain
    assert all("AS changed" in twin and twin != write for write, twin in twins.items())


class _Killed(Exception):
    """The load's process, killed once its chunks committed and before its re-score ran."""


def _killed_before_rescore(*args: Any, **kwargs: Any) -> None:
    raise _Killed


def test_a_load_killed_before_its_rescore_and_run_again_leaves_the_uninterrupted_scores(
    graph: GraphStore, tmp_path: Path, embedded: Any, driver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load of a shareholding into the blacklisted firm 1, killed after its chunk committed
    but before the re-score: the run again skipped the chunk as committed and took the relation
    for one it had not changed, so firm 9's and its representative's stored scores stayed 0."""
    rows = [(3, 2, "0.3", "S0"), (9, 1, "0.6", "S-1")]
    clean = new_database(embedded, driver, "clean")
    try:
        _scored(clean, tmp_path / "clean")
        cli = cli_runner(monkeypatch, embedded, clean)
        assert _load(cli, _shareholdings(tmp_path / "clean" / "add", rows))["rescored"] == 6
        uninterrupted = _scores(clean)
    finally:
        embedded.drop_database(clean.database or "")
    assert uninterrupted[firm_key(9)] > 0 and uninterrupted[person_key(19)] > 0

    _scored(graph, tmp_path)
    before = _scores(graph)
    cli = cli_runner(monkeypatch, embedded, graph)
    path = _shareholdings(tmp_path / "add", rows)
    with monkeypatch.context() as patch:
        patch.setattr(contagion, "rescore_records", _killed_before_rescore)
        killed = cli.invoke(app, ["load", str(path)])
    assert isinstance(killed.exception, _Killed)
    assert _scores(graph) == before  # committed, not re-scored

    _run_again_rescores_what_the_killed_run_committed(cli, path, graph, uninterrupted, 6)


def test_a_full_extract_killed_before_its_rescore_and_run_again_rescores_what_it_ended(
    graph: GraphStore, tmp_path: Path, embedded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The extract of 2024-05-01 no longer lists the shareholding into the blacklisted firm:
    killed after the ending committed, before the re-score. The run again found nothing left to
    end, so firm 9 and its representative kept the scores the ended shareholding gave them."""
    _scored(graph, tmp_path)
    before = _scores(graph)
    cli = cli_runner(monkeypatch, embedded, graph)
    unchanged = (3, 2, "0.3", "S0")
    _load(cli, _shareholdings(tmp_path / "add", [unchanged, (9, 1, "0.6", "S-1")]))
    assert _scores(graph)[firm_key(9)] > 0
    extract = _shareholdings(tmp_path / "extract", [unchanged])
    with monkeypatch.context() as patch:
        patch.setattr(contagion, "rescore_records", _killed_before_rescore)
        killed = cli.invoke(app, ["load", str(extract), "--full-extract", "2024-05-01"])
    assert isinstance(killed.exception, _Killed)
    assert _scores(graph)[firm_key(9)] > 0  # ended, not re-scored

    again = _load(cli, extract, "--full-extract", "2024-05-01")
    assert again["files"][0]["ended"] == 0  # the killed run ended it
    # the six within 3 hops of S-1's ends, firms 9 and 1, as an uninterrupted ending
    assert again["rescored"] == 6 and again["rescore_resumed_chunks"] == 1
    _as_full_run(graph)
    assert {key: value for key, value in _scores(graph).items() if value > 0} == before


def test_owing_the_rescore_costs_a_first_load_no_store_read(
    graph: GraphStore, tmp_path: Path, embedded: Any, driver: Any
) -> None:
    """That a chunk's re-score is owed is written with the chunk and read with the committed
    chunks: a first load reads the store as one that keeps nothing for the re-score does."""
    reg = Registry(tmp_path / "reg")
    for n in (1, 2, 3, 9):
        reg.firm(n)
    reg.person(10)
    reg.role(10, 1, "legal_representative")
    reg.share(firm(9), 1, "0.6")
    reg.share(firm(3), 2, "0.3")
    reg.record("A-1", firm(1), "blacklist", "2024-01-01", "2027-01-01")
    paths = reg.write()

    def reads(store: GraphStore, cap: int | None) -> list[str]:
        counting = CountingStore(store)
        report = load_paths(
            counting,
            ParseContext(TEST_PERSON_KEY.encode()),
            paths,
            batch_size=1,
            rejects_dir=tmp_path / f"rejects-{cap}",
            rescore_cap=cap,
        )
        assert report.resumed_chunks == 0
        assert bool(report.pending_chunks) is (cap is not None)
        return sorted(counting.operations())

    plain = new_database(embedded, driver, "plain")
    try:
        assert reads(graph, contagion.MAX_RESCORE_RECORDS) == reads(plain, None)
    finally:
        embedded.drop_database(plain.database or "")


# an individual business loaded before it had a USCC (`REG:<number>`), and the USCC it gets
SHOP_NUMBER = "35020360004321" + registration_number_check_digit("35020360004321")
SHOP_REG = f"REG:{SHOP_NUMBER}"
SHOP_USCC = make_uscc("9", "2", "350203", "MA2Y0099")
SHOP_FIRMS = ["uscc", "registration_number", "name", "kind"]


def _scored_with_shop(graph: GraphStore, tmp_path: Path) -> None:
    """The shop `REG:<number>` blacklisted, its representative 10 also representative of firm 2;
    the shop's USCC already loaded as a party of its own, firm 3 holding 60% of it. Then a full
    run under `strict`, whose scores the nodes hold."""
    folder = tmp_path / "shop"
    folder.mkdir(parents=True)
    write_csv(
        folder / "legal_persons.csv",
        SHOP_FIRMS,
        [
            [firm(2), "", "测试公司2", "enterprise"],
            [firm(3), "", "测试公司3", "enterprise"],
            [SHOP_USCC, "", "思明区老李小吃店", "individual_business"],
            ["", SHOP_NUMBER, "思明区老李小吃店", "individual_business"],
        ],
    )
    write_csv(
        folder / "natural_persons.csv",
        ["id_type", "id_number", "name", "sex"],
        [["resident", person(10), "测试人10", "M"]],
    )
    write_csv(
        folder / "roles.csv",
        ["person_id_number", "company_id", "role", "valid_from", "valid_to", "source_record"],
        [
            [person(10), SHOP_REG, "legal_representative", "2010-01-01", "", "R0"],
            [person(10), firm(2), "legal_representative", "2010-01-01", "", "R1"],
        ],
    )
    (folder / "shareholdings.csv").write_text(
        "holder_id,company_id,stake,valid_from,valid_to,source_record\n"
        f"{firm(3)},{SHOP_USCC},0.6,2010-01-01,,S0\n",
        encoding="utf-8",
    )
    write_csv(
        folder / "records.csv",
        [
            *("record_id", "subject_id", "kind", "sector", "valid_from", "valid_to"),
            *("status", "disclosure", "source_system", "authority_name"),
        ],
        [
            [
                *("A-1", SHOP_REG, "blacklist", "general", "2024-01-01", "2027-01-01"),
                *("active", "public", "TEST", "测试局"),
            ]
        ],
    )
    report = load_folder(graph, folder, tmp_path / "rejects")
    assert report.rejected == 0, report.to_json()
    score_graph(graph, STRICT, AS_OF)


def _converted_shop(folder: Path) -> Path:
    """A later extract: the shop under its USCC, carrying its old registration number."""
    folder.mkdir(parents=True)
    path = folder / "legal_persons.csv"
    write_csv(
        path, SHOP_FIRMS, [[SHOP_USCC, SHOP_NUMBER, "思明区老李小吃店", "individual_business"]]
    )
    return path


def test_a_load_that_folds_a_party_rescores_what_its_moved_relations_and_records_reach(
    graph: GraphStore, tmp_path: Path, embedded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The load that gave the blacklisted shop its USCC folded `REG:<number>` into the USCC's
    node, record and relations moved, and re-scored nothing: the USCC's node held no score and
    firm 3, which holds 60% of it, kept 0 until the next full run."""
    shop, holder = PartyKey(Label.LEGAL_PERSON, SHOP_USCC), firm_key(3)
    _scored_with_shop(graph, tmp_path)
    before = _scores(graph)
    assert before[PartyKey(Label.LEGAL_PERSON, SHOP_REG)] > 0 and before[person_key(10)] > 0
    assert shop not in before and holder not in before
    cli = cli_runner(monkeypatch, embedded, graph)
    folded = _load(cli, _converted_shop(tmp_path / "converted"))
    assert folded["files"][0]["folded"] == 1
    # the USCC's node, with the shop's relations: itself, 10, firm 2 beyond him, holder 3
    assert folded["rescored"] == 4 and folded["rescore_note"] is None
    after = _scores(graph)
    assert after[shop] == before[PartyKey(Label.LEGAL_PERSON, SHOP_REG)]
    # by hand under `strict`: A-1 (152 days old) through the 60% stake, one hop decayed 0.6
    assert after[holder] == pytest.approx(0.5 ** (152 / 1460) * 0.6 * 0.6)
    _as_full_run(graph)


def test_a_fold_counts_against_the_rescore_cap(
    graph: GraphStore, tmp_path: Path, embedded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The party a fold moved relations and records to counts as a relation end does."""
    _scored_with_shop(graph, tmp_path)
    stored = _stored(graph)
    cli = cli_runner(monkeypatch, embedded, graph)
    monkeypatch.setattr(contagion, "MAX_RESCORE_RECORDS", 0)
    folded = _load(cli, _converted_shop(tmp_path / "converted"))
    assert (folded["rescored"], folded["rescore_skipped"]) == (None, "over_cap")
    assert folded["rescore_note"] == (
        "0 negative records and the relations of 1 parties (created, changed or ended) changed "
        "(more than 0 together): run `credgraph risk score` to bring the stored scores up to date"
    )
    assert {k: v for k, v in _stored(graph).items() if k.uid != SHOP_REG} == {
        k: v for k, v in stored.items() if k.uid != SHOP_REG
    }


def test_a_fold_killed_before_its_rescore_and_run_again_leaves_the_uninterrupted_scores(
    graph: GraphStore, tmp_path: Path, embedded: Any, driver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after the fold committed, before the re-score: the run again found no `REG:`
    party left to fold, so nothing in its chunk said which party the fold had moved to."""
    clean = new_database(embedded, driver, "clean")
    try:
        _scored_with_shop(clean, tmp_path / "clean")
        cli = cli_runner(monkeypatch, embedded, clean)
        assert _load(cli, _converted_shop(tmp_path / "clean" / "converted"))["rescored"] == 4
        uninterrupted = _scores(clean)
    finally:
        embedded.drop_database(clean.database or "")

    _scored_with_shop(graph, tmp_path)
    before = _scores(graph)
    cli = cli_runner(monkeypatch, embedded, graph)
    path = _converted_shop(tmp_path / "converted")
    with monkeypatch.context() as patch:
        patch.setattr(contagion, "rescore_records", _killed_before_rescore)
        killed = cli.invoke(app, ["load", str(path)])
    assert isinstance(killed.exception, _Killed)
    assert PartyKey(Label.LEGAL_PERSON, SHOP_USCC) not in _scores(graph)  # folded, not re-scored
    assert {k: v for k, v in _scores(graph).items() if k.uid != SHOP_REG} == {
        k: v for k, v in before.items() if k.uid != SHOP_REG
    }

    _run_again_rescores_what_the_killed_run_committed(cli, path, graph, uninterrupted, 4)


def _run_again_rescores_what_the_killed_run_committed(
    cli: Any, path: Path, graph: GraphStore, uninterrupted: Any, rescored: int
) -> None:
    """The same load run again takes the killed run's one chunk over, re-scores it to the
    scores of an uninterrupted load (the `rescored` parties it re-scored), and, once more,
    re-scores nothing."""
    again = _load(cli, path)
    assert again["files"][0]["skipped_chunks"] == 1
    assert again["rescored"] == rescored and again["rescore_resumed_chunks"] == 1
    assert _scores(graph) == uninterrupted
    _as_full_run(graph)
    once_more = _load(cli, path)
    assert (once_more["rescored"], once_more["rescore_resumed_chunks"]) == (0, 0)


def _owing(graph: GraphStore) -> int:
    rows = graph.read("MATCH (c:LoadChunk) WHERE c.rescore_pending = true RETURN count(c) AS n")
    return int(rows[0]["n"])


def test_a_changed_file_after_a_killed_load_rescores_what_the_killed_run_changed(
    graph: GraphStore, tmp_path: Path, embedded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The killed run's chunks were found only by the digest of the file it loaded: the same
    file with one value changed (another digest) re-scored only what it rewrote, and the
    killed run's chunk stayed pending for ever, firm 9's and its representative's scores 0."""
    _scored(graph, tmp_path)
    cli = cli_runner(monkeypatch, embedded, graph)
    path = _shareholdings(tmp_path / "add", [(3, 2, "0.3", "S0"), (9, 1, "0.6", "S-1")])
    with monkeypatch.context() as patch:
        patch.setattr(contagion, "rescore_records", _killed_before_rescore)
        killed = cli.invoke(app, ["load", str(path)])
    assert isinstance(killed.exception, _Killed)
    assert _owing(graph) == 1 and firm_key(9) not in _scores(graph)

    # the next month's file: S0's stake corrected, S-1 as it was
    changed = _shareholdings(tmp_path / "next", [(3, 2, "0.35", "S0"), (9, 1, "0.6", "S-1")])
    again = _load(cli, changed)
    assert again["files"][0]["skipped_chunks"] == 0
    assert again["rescore_resumed_chunks"] == 1 and again["rescored"] == 6
    assert _scores(graph)[firm_key(9)] > 0
    _as_full_run(graph)
    assert _owing(graph) == 0
    once_more = _load(cli, changed)
    assert (once_more["rescored"], once_more["rescore_resumed_chunks"]) == (0, 0)


def test_a_full_risk_score_clears_what_killed_loads_owe(
    graph: GraphStore, tmp_path: Path, embedded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scored(graph, tmp_path)
    cli = cli_runner(monkeypatch, embedded, graph)
    path = _shareholdings(tmp_path / "add", [(9, 1, "0.6", "S-1")])
    with monkeypatch.context() as patch:
        patch.setattr(contagion, "rescore_records", _killed_before_rescore)
        assert isinstance(cli.invoke(app, ["load", str(path)]).exception, _Killed)
    assert _owing(graph) == 1
    score_graph(graph, STRICT, AS_OF)  # what `credgraph risk score` runs: every party scored
    assert _owing(graph) == 0
    _as_full_run(graph)
    # a later load of another file has nothing owed to take in
    other = _load(cli, _shareholdings(tmp_path / "other", [(3, 2, "0.3", "S0")]))
    assert other["rescore_resumed_chunks"] == 0
