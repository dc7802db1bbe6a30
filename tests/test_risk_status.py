"""The status layer of risk (queries/risk_status.py) on a named registry worked out by hand.

The registry is written as canonical CSV files and loaded through the real loader. Its people
and firms, and what DOMAIN.md says each must get on 2024-06-01 under the default profile:

- FIRM_A: blacklist B-0 (2014-01-01 to 2016-01-01, ran out), blacklist B-1 (2024-03-01 to
  2027-03-01), red list H-A. -> flag OWN_BLACKLIST (B-1), B-0 in history, H-A positive.
- ZHANG, legal representative of FIRM_A since 2016-01-01 -> a PROPOSAL, never a flag.
- LI, legal representative of FIRM_A 2010-01-01 to 2016-01-01 -> nothing now; in 2015 a
  proposal for B-0.
- WANG, director of FIRM_A and holder of half its shares -> nothing (no executive rule, no
  shareholder rule). FIRM_C, holder of 30% of FIRM_A -> nothing.
- ZHAO, principal of FIRM_B, whose tax grade went from B (2021) to D (2023) -> a proposal on the
  D grade (none in 2022).
- QIAN, legal representative of FIRM_D with an administrative penalty (not a kind of the role
  rule; repaired 2024-09-01) -> nothing.
- SUN, responsible person of FIRM_E for matter L-1 (a labour penalty) -> flag
  RESPONSIBLE_PERSON_OF_RECORD; and of FIRM_A for a matter no record names -> nothing.
- ZHOU: own dishonest-debtor entry D-1 from 2022-01-01, repaired 2025-01-01.
- FENG, legal representative of FIRM_F, whose serious violation S-F is under objection since
  2024-05-01 -> nothing under `default`, a proposal (annotated) under `strict`.
- CHEN: own penalty P-C listed under objection -> annotated only under `default`, a flag under
  `strict`.
"""

from __future__ import annotations

import csv
import random
from datetime import date
from pathlib import Path

import networkx as nx
import pytest
from credgraph.graph.identifiers import make_resident_id, make_uscc
from credgraph.graph.store import GraphStore
from credgraph.graph.vocabulary import Label, RecordKind, RecordStatus, RelationType, Role
from credgraph.loaders.loader import load_paths
from credgraph.loaders.rows import ParseContext
from credgraph.queries.lookup import PartyKey, resolve_identifier
from credgraph.queries.profiles import BUILTIN_PROFILES, PolicyProfile
from credgraph.queries.risk_status import (
    MAX_BATCH,
    StatusLayer,
    layer_json,
    layers_of_neighbourhood,
    role_firms,
    status_layer,
    status_layers,
)
from credgraph.queries.snapshot import read_risk_neighbourhood

from tests.conftest import TEST_PERSON_KEY

DEFAULT = BUILTIN_PROFILES["default"]
STRICT = BUILTIN_PROFILES["strict"]
AS_OF = date(2024, 6, 1)

FIRM_A = make_uscc("9", "1", "350203", "MA3R0001")
FIRM_B = make_uscc("9", "1", "350203", "MA3R0002")
FIRM_C = make_uscc("9", "1", "350203", "MA3R0003")
FIRM_D = make_uscc("9", "1", "350203", "MA3R0004")
FIRM_E = make_uscc("9", "1", "350102", "MA3R0005")
FIRM_F = make_uscc("9", "1", "445102", "MA3R0006")
PEOPLE = {
    name: make_resident_id("350203", date(1970 + i, 1 + i, 1 + i), i, "M" if i % 2 else "F")
    for i, name in enumerate(
        ["ZHANG", "LI", "WANG", "ZHAO", "QIAN", "SUN", "ZHOU", "FENG", "CHEN"], start=1
    )
}


ROLE_COLUMNS = ["person_id_number", "company_id", "role", "matter", "valid_from", "valid_to"]
ROLE_COLUMNS.append("source_record")
RECORD_COLUMNS = ["record_id", "subject_id", "kind", "sector", "scheme", "grade", "authority_name"]
RECORD_COLUMNS += ["decision_date", "valid_from", "valid_to", "status", "disclosure"]
RECORD_COLUMNS += ["source_system", "court", "case_number"]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_registry(folder: Path) -> Path:
    """The named registry of this module's docstring, as canonical files."""
    folder.mkdir(parents=True, exist_ok=True)
    firms = [FIRM_A, FIRM_B, FIRM_C, FIRM_D, FIRM_E, FIRM_F]
    _write(
        folder / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[uscc, f"风险测试公司{i}", "enterprise"] for i, uscc in enumerate(firms)],
    )
    _write(
        folder / "natural_persons.csv",
        ["id_type", "id_number", "name"],
        [["resident", number, name.title()] for name, number in PEOPLE.items()],
    )
    p = PEOPLE
    _write(
        folder / "roles.csv",
        ROLE_COLUMNS,
        [
            [p["ZHANG"], FIRM_A, "legal_representative", "", "2016-01-01", "", "r1"],
            [p["LI"], FIRM_A, "legal_representative", "", "2010-01-01", "2016-01-01", "r2"],
            [p["WANG"], FIRM_A, "director", "", "2010-01-01", "", "r3"],
            [p["ZHAO"], FIRM_B, "principal", "", "2015-01-01", "", "r4"],
            [p["QIAN"], FIRM_D, "legal_representative", "", "2015-01-01", "", "r5"],
            [p["SUN"], FIRM_E, "responsible_person", "L-1", "2024-01-15", "", "r6"],
            [p["SUN"], FIRM_A, "responsible_person", "NO-SUCH", "2020-01-01", "", "r7"],
            [p["FENG"], FIRM_F, "legal_representative", "", "2018-01-01", "", "r8"],
        ],
    )
    _write(
        folder / "shareholdings.csv",
        ["holder_id", "company_id", "stake", "source_record"],
        [[p["WANG"], FIRM_A, "0.5", "s1"], [FIRM_C, FIRM_A, "0.3", "s2"]],
    )
    _write(
        folder / "records.csv",
        RECORD_COLUMNS,
        [
            _rec("B-0", FIRM_A, "blacklist", "work_safety", "2014-01-01", "2016-01-01"),
            _rec("B-1", FIRM_A, "blacklist", "work_safety", "2024-03-01", "2027-03-01"),
            _rec("H-A", FIRM_A, "red_list", "tax", "2023-01-01", ""),
            _rec("G-B1", FIRM_B, "grade", "tax", "2021-01-01", "", grade="B"),
            _rec("G-B2", FIRM_B, "grade", "tax", "2023-01-01", "", grade="D"),
            _rec("G-B3", FIRM_B, "grade", "environment", "2022-01-01", "", grade="green"),
            _rec("P-D", FIRM_D, "admin_penalty", "tax", "2024-01-10", ""),
            _rec("L-1", FIRM_E, "admin_penalty", "labour", "2024-02-01", "2025-02-01"),
            _rec("S-F", FIRM_F, "serious_violation", "food_drug", "2023-06-01", ""),
            _rec("D-1", p["ZHOU"], "dishonest_debtor", "judicial", "2022-01-01", ""),
            _rec("H-Z", p["ZHOU"], "honour", "general", "2019-01-01", ""),
            _rec("P-C", p["CHEN"], "admin_penalty", "tax", "2024-04-01", "", "under_objection"),
        ],
    )
    _write(
        folder / "status_changes.csv",
        ["change_id", "record_id", "source_system", "change", "effective_on"],
        [
            ["c1", "P-D", "risk-test", "repaired", "2024-09-01"],
            ["c2", "D-1", "risk-test", "repaired", "2025-01-01"],
            ["c3", "S-F", "risk-test", "objection_opened", "2024-05-01"],
        ],
    )
    return folder


def _rec(
    record_id: str,
    subject: str,
    kind: str,
    sector: str,
    start: str,
    end: str,
    status: str = "active",
    *,
    grade: str = "",
) -> list[str]:
    scheme = sector if kind == "grade" else ""
    authority = "厦门市信用办"
    dates = [start, start, end]  # decision date, valid from, valid to
    return [
        record_id,
        subject,
        kind,
        sector,
        scheme,
        grade,
        authority,
        *dates,
        status,
        "public",
        "risk-test",
        # a dishonest judgment debtor names its court and case (docs/formats.md)
        *(
            ["思明区人民法院", f"(2022)闽0203执{record_id}号"]
            if kind == "dishonest_debtor"
            else ["", ""]
        ),
    ]


def load_registry(store: GraphStore, tmp_path: Path) -> None:
    """Write and load the named registry; every row must land."""
    report = load_paths(
        store,
        ParseContext(TEST_PERSON_KEY.encode(), today=date(2026, 6, 30)),
        [write_registry(tmp_path / "risk-registry")],
        batch_size=50,
        rejects_dir=tmp_path / "rejects",
    )
    assert report.rejected == 0, report.to_json()


def person(store: GraphStore, name: str) -> PartyKey:
    key = resolve_identifier(store, PEOPLE[name], TEST_PERSON_KEY.encode())
    assert key is not None and key.label is Label.NATURAL_PERSON
    return key


def firm(uscc: str) -> PartyKey:
    return PartyKey(Label.LEGAL_PERSON, uscc)


def _codes(layer: StatusLayer) -> list[tuple[str, str]]:
    """(reason code, record id) of every flag and proposal."""
    items = [(f.code.value, f.record.record_id or "") for f in layer.flags]
    return items + [(p.code.value, p.record.record_id or "") for p in layer.proposals]


@pytest.fixture
def registry(graph: GraphStore, tmp_path: Path) -> GraphStore:
    load_registry(graph, tmp_path)
    return graph


# --- own records --------------------------------------------------------------------------------


def test_own_counting_records_are_flags_with_the_record_behind_them(registry: GraphStore) -> None:
    layer = status_layer(registry, firm(FIRM_A), as_of=AS_OF, profile=DEFAULT)
    assert _codes(layer) == [("OWN_BLACKLIST", "B-1")]
    flag = layer.flags[0]
    assert flag.own and not flag.under_objection and flag.via is None
    record = flag.record
    assert (record.kind, record.sector, record.status) == (
        RecordKind.BLACKLIST,
        "work_safety",
        RecordStatus.ACTIVE,
    )
    assert (record.starts_on, record.ends_on) == (date(2024, 3, 1), date(2027, 3, 1))
    assert record.authority == "厦门市信用办"
    assert record.source_system == "risk-test" and record.source == "records"
    assert record.source_row == "records:3"  # the header is line 1
    # the old blacklist is history, with the day it stopped; the red list is apart
    assert [(h.record.record_id, h.why, h.stopped_on) for h in layer.history] == [
        ("B-0", "expired", date(2016, 1, 1))
    ]
    assert [r.record_id for r in layer.positive] == ["H-A"]


def test_a_repaired_record_stops_counting_from_its_repair_date(registry: GraphStore) -> None:
    zhou = person(registry, "ZHOU")
    before = status_layer(registry, zhou, as_of=date(2024, 12, 31), profile=DEFAULT)
    assert _codes(before) == [("OWN_DISHONEST_DEBTOR", "D-1")]
    after = status_layer(registry, zhou, as_of=date(2025, 1, 1), profile=DEFAULT)
    assert after.flags == []
    assert [(h.record.record_id, h.why, h.stopped_on) for h in after.history] == [
        ("D-1", "repaired", date(2025, 1, 1))
    ]
    assert [r.record_id for r in after.positive] == ["H-Z"]  # honours never change flags


def test_a_record_under_objection_is_annotated_and_the_profile_decides_if_it_counts(
    registry: GraphStore,
) -> None:
    chen = person(registry, "CHEN")
    default = status_layer(registry, chen, as_of=AS_OF, profile=DEFAULT)
    assert default.flags == []
    assert [r.record_id for r in default.under_objection] == ["P-C"]
    strict = status_layer(registry, chen, as_of=AS_OF, profile=STRICT)
    assert _codes(strict) == [("OWN_ADMIN_PENALTY", "P-C")]
    assert strict.flags[0].under_objection
    assert [r.record_id for r in strict.under_objection] == ["P-C"]


def test_grades_are_listed_apart_and_a_later_grade_supersedes_an_earlier_one(
    registry: GraphStore,
) -> None:
    layer = status_layer(registry, firm(FIRM_B), as_of=AS_OF, profile=DEFAULT)
    assert layer.flags == [] and layer.proposals == []
    assert sorted((g.scheme, g.grade) for g in layer.grades) == [
        ("environment", "green"),
        ("tax", "D"),
    ]
    assert [(h.record.record_id, h.why, h.stopped_on) for h in layer.history] == [
        ("G-B1", "superseded", date(2023, 1, 1))
    ]
    # the current D is the deficient one (role_rule_grades); the superseded B was never listed
    assert [(g.record_id, g.grade) for g in layer.deficient_grades] == [("G-B2", "D")]
    in_2022 = status_layer(registry, firm(FIRM_B), as_of=date(2022, 6, 1), profile=DEFAULT)
    assert in_2022.deficient_grades == []


# --- one-step role rules ------------------------------------------------------------------------


def test_the_legal_representative_of_a_blacklisted_firm_gets_a_proposal_not_a_flag(
    registry: GraphStore,
) -> None:
    layer = status_layer(registry, person(registry, "ZHANG"), as_of=AS_OF, profile=DEFAULT)
    assert layer.flags == []
    assert _codes(layer) == [("PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM", "B-1")]
    proposal = layer.proposals[0]
    assert proposal.via.firm == firm(FIRM_A)
    assert proposal.via.relation is RelationType.LEGAL_REPRESENTATIVE_OF
    assert proposal.via.role is Role.LEGAL_REPRESENTATIVE
    assert proposal.via.valid_from == date(2016, 1, 1) and proposal.via.valid_to is None
    assert "MAY" in proposal.rule


def test_an_executive_and_shareholders_get_nothing(registry: GraphStore) -> None:
    layers = status_layers(
        registry, [person(registry, "WANG"), firm(FIRM_C)], as_of=AS_OF, profile=DEFAULT
    )
    for layer in layers.values():
        assert _codes(layer) == []


def test_a_former_legal_representative_gets_nothing(registry: GraphStore) -> None:
    layer = status_layer(registry, person(registry, "LI"), as_of=AS_OF, profile=DEFAULT)
    assert _codes(layer) == []


def test_as_of_before_the_record_starts_gives_nothing(registry: GraphStore) -> None:
    zhang = person(registry, "ZHANG")
    assert _codes(status_layer(registry, zhang, as_of=date(2024, 2, 29), profile=DEFAULT)) == []
    assert _codes(status_layer(registry, zhang, as_of=date(2024, 3, 1), profile=DEFAULT)) == [
        ("PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM", "B-1")
    ]


def test_as_of_answers_as_the_graph_stood_on_that_date(registry: GraphStore) -> None:
    # in 2015 LI was the legal representative and B-0 counted; ZHANG was not yet in office
    people = [person(registry, "LI"), person(registry, "ZHANG")]
    in_2015 = status_layers(registry, people, as_of=date(2015, 6, 1), profile=DEFAULT)
    assert _codes(in_2015[people[0]]) == [("PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM", "B-0")]
    assert _codes(in_2015[people[1]]) == []
    firm_2015 = status_layer(registry, firm(FIRM_A), as_of=date(2015, 6, 1), profile=DEFAULT)
    assert _codes(firm_2015) == [("OWN_BLACKLIST", "B-0")]
    assert firm_2015.positive == [] and firm_2015.history == []  # H-A and B-1 came later


def test_the_principal_of_a_d_grade_firm_gets_a_proposal_on_the_current_grade(
    registry: GraphStore,
) -> None:
    zhao = person(registry, "ZHAO")
    now = status_layer(registry, zhao, as_of=AS_OF, profile=DEFAULT)
    assert _codes(now) == [("PROPOSAL_PRINCIPAL_OF_SANCTIONED_FIRM", "G-B2")]
    assert now.proposals[0].record.grade == "D"
    # in 2022 the firm's tax grade was B
    assert _codes(status_layer(registry, zhao, as_of=date(2022, 6, 1), profile=DEFAULT)) == []


def test_a_penalty_is_not_a_kind_of_the_role_rule(registry: GraphStore) -> None:
    qian = person(registry, "QIAN")
    assert _codes(status_layer(registry, qian, as_of=AS_OF, profile=DEFAULT)) == []
    own = status_layer(registry, firm(FIRM_D), as_of=AS_OF, profile=DEFAULT)
    assert _codes(own) == [("OWN_ADMIN_PENALTY", "P-D")]
    repaired = status_layer(registry, firm(FIRM_D), as_of=date(2024, 9, 1), profile=DEFAULT)
    assert _codes(repaired) == []
    assert repaired.history[0].stopped_on == date(2024, 9, 1)


def test_a_profile_may_widen_the_role_rule_kinds(registry: GraphStore) -> None:
    wider = DEFAULT.model_copy(
        update={"role_rule_kinds": DEFAULT.role_rule_kinds | {RecordKind.ADMIN_PENALTY}}
    )
    layer = status_layer(registry, person(registry, "QIAN"), as_of=AS_OF, profile=wider)
    assert _codes(layer) == [("PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM", "P-D")]


def test_the_responsible_person_of_a_matter_gets_a_flag_linked_to_the_record(
    registry: GraphStore,
) -> None:
    sun = person(registry, "SUN")
    layer = status_layer(registry, sun, as_of=AS_OF, profile=DEFAULT)
    assert _codes(layer) == [("RESPONSIBLE_PERSON_OF_RECORD", "L-1")]
    flag = layer.flags[0]
    assert not flag.own and flag.via is not None
    assert flag.via.firm == firm(FIRM_E) and flag.via.matter == "L-1"
    assert flag.via.relation is RelationType.RESPONSIBLE_FOR
    assert layer.own_flags == [] and layer.linked_flags == [flag]
    # the penalty ends 2025-02-01 and the flag with it
    assert _codes(status_layer(registry, sun, as_of=date(2025, 2, 1), profile=DEFAULT)) == []


def test_a_firm_record_under_objection_gives_a_proposal_only_when_it_counts(
    registry: GraphStore,
) -> None:
    feng = person(registry, "FENG")
    assert _codes(status_layer(registry, feng, as_of=AS_OF, profile=DEFAULT)) == []
    strict = status_layer(registry, feng, as_of=AS_OF, profile=STRICT)
    assert _codes(strict) == [("PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM", "S-F")]
    assert strict.proposals[0].record.under_objection
    # before the objection opened it counted under both profiles
    before = status_layer(registry, feng, as_of=date(2024, 4, 30), profile=DEFAULT)
    assert _codes(before) == [("PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM", "S-F")]


# --- batching -----------------------------------------------------------------------------------


class CountingStore(GraphStore):
    """The real store, counting the reads it is asked for."""

    reads: int = 0

    def read(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().read(*args, **kwargs)


def test_a_batch_costs_four_reads_and_answers_as_one_by_one(registry: GraphStore) -> None:
    keys = [person(registry, name) for name in PEOPLE] + [firm(f) for f in (FIRM_A, FIRM_B)]
    counting = CountingStore(registry.driver, registry.database, registry.timeout_s)
    batch = status_layers(counting, keys, as_of=AS_OF, profile=DEFAULT)
    assert counting.reads == 4  # own records x 2 labels, role links, firm records
    for key in keys:
        assert batch[key] == status_layer(registry, key, as_of=AS_OF, profile=DEFAULT)


LAYER_PARTS = ("flags", "proposals", "under_objection", "positive", "grades", "history")


def _layers_read_with_the_neighbourhood(
    store: GraphStore, keys: list[PartyKey], as_of: date, profile: PolicyProfile
) -> dict[PartyKey, StatusLayer]:
    """The status layers as a risk report gets them (queries/risk.py): from the contagion
    layer's neighbourhood read, without reads of their own."""
    hood = read_risk_neighbourhood(
        store,
        keys,
        as_of,
        depth=1,
        profile=profile,
        records_of=lambda relations: role_firms(relations, profile),
    )
    return layers_of_neighbourhood(hood, keys, as_of=as_of, profile=profile)


@pytest.mark.parametrize("profile", [DEFAULT, STRICT], ids=["default", "strict"])
def test_the_layers_read_with_the_neighbourhood_equal_status_layers(
    registry: GraphStore, profile: PolicyProfile
) -> None:
    keys = [person(registry, name) for name in PEOPLE]
    keys += [firm(f) for f in (FIRM_A, FIRM_B, FIRM_C, FIRM_D, FIRM_E, FIRM_F)]
    keys.append(firm("REG:000000000000000"))  # not in the graph: an empty layer both ways
    seen: list[StatusLayer] = []
    for as_of in (date(2015, 6, 1), AS_OF, date(2025, 3, 1)):
        expected = status_layers(registry, keys, as_of=as_of, profile=profile)
        got = _layers_read_with_the_neighbourhood(registry, keys, as_of, profile)
        assert got == expected, as_of
        seen.extend(expected.values())
    # every kind of entry was compared
    assert all(any(getattr(layer, part) for layer in seen) for part in LAYER_PARTS)


def test_a_batch_larger_than_the_limit_is_refused_naming_the_argument(
    registry: GraphStore,
) -> None:
    keys = [firm(f"REG:{i:015d}") for i in range(MAX_BATCH + 1)]
    with pytest.raises(
        ValueError, match=rf"^ids: at most {MAX_BATCH} parties per call, got {MAX_BATCH + 1}$"
    ):
        status_layers(registry, keys, as_of=AS_OF, profile=DEFAULT)


def test_an_unknown_party_gets_an_empty_layer(registry: GraphStore) -> None:
    layer = status_layer(registry, firm("REG:000000000000000"), as_of=AS_OF, profile=DEFAULT)
    assert _codes(layer) == [] and layer.history == [] and layer.grades == []


def test_the_json_keeps_own_records_apart_from_linked_hits(registry: GraphStore) -> None:
    sun = status_layer(registry, person(registry, "SUN"), as_of=AS_OF, profile=DEFAULT)
    document = layer_json(sun)
    assert document["own"]["flags"] == []
    [linked] = document["linked"]["flags"]
    assert linked["code"] == "RESPONSIBLE_PERSON_OF_RECORD" and linked["own"] is False
    assert linked["record"]["starts_on"] == "2024-02-01"
    assert linked["via"]["firm"] == {"label": "LegalPerson", "uid": FIRM_E}


# --- random registries against a networkx reference ---------------------------------------------

RULE_ROLES = ["legal_representative", "principal", "director", "responsible_person"]
RULE_KINDS = ["blacklist", "dishonest_debtor", "admin_penalty", "serious_violation"]
DATES = [date(2018 + y, m, 1) for y in range(6) for m in (1, 7)]


def _random_registry(seed: int, folder: Path) -> dict[str, list[list[str]]]:
    """Random roles with validity, random firm records, some repaired: the rows written."""
    rng = random.Random(seed)
    firms = [make_uscc("9", "1", "350203", f"MA4R{i:04d}") for i in range(8)]
    people = [make_resident_id("350102", date(1960, 1, 1 + i), i, "M") for i in range(12)]
    roles, records, changes = [], [], []
    for i in range(30):
        start, end = sorted(rng.sample(DATES, 2))
        role = rng.choice(RULE_ROLES)
        matter = f"R-{rng.randrange(20)}" if role == "responsible_person" else ""
        ended = end.isoformat() if rng.random() < 0.4 else ""
        row = [rng.choice(people), rng.choice(firms), role, matter, start.isoformat(), ended]
        roles.append([*row, f"role-{i}"])
    for i in range(20):
        start = rng.choice(DATES)
        end = rng.choice(["", date(start.year + 2, start.month, 1).isoformat()])
        kind = rng.choice(RULE_KINDS)
        subject, day = rng.choice(firms), start.isoformat()
        records.append(
            [f"R-{i}", subject, kind, "general", "", "", "", day, day, end, "active", "public"]
        )
        records[-1].append("rand")
        if kind == "dishonest_debtor":  # a debtor names its court and case (docs/formats.md)
            records[-1] += ["思明区人民法院", f"(2024)闽0203执{i}号"]
        if rng.random() < 0.3:
            repaired = date(start.year + 1, 3, 1).isoformat()
            changes.append([f"c{i}", f"R-{i}", "rand", "repaired", repaired])
    folder.mkdir()
    _write(
        folder / "legal_persons.csv",
        ["uscc", "name", "kind"],
        [[f, f"随机公司{i}", "enterprise"] for i, f in enumerate(firms)],
    )
    _write(
        folder / "natural_persons.csv",
        ["id_type", "id_number", "name"],
        [["resident", p, f"人{i}"] for i, p in enumerate(people)],
    )
    _write(folder / "roles.csv", ROLE_COLUMNS, roles)
    _write(folder / "records.csv", RECORD_COLUMNS, records)
    _write(
        folder / "status_changes.csv",
        ["change_id", "record_id", "source_system", "change", "effective_on"],
        changes,
    )
    return {"people": [[p] for p in people], "roles": roles, "records": records, "changes": changes}


def _years_after(day: date, years: int) -> date:
    """The same day `years` later, or 28 February for 29 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 2, 28)


def _reference(rows: dict[str, list[list[str]]], as_of: date) -> dict[str, set[tuple[str, str]]]:
    """What each person must get, computed independently: networkx for the role links."""
    years = {kind: term.years for kind, term in DEFAULT.default_term.items()}
    repaired = {c[1]: date.fromisoformat(c[4]) for c in rows["changes"]}
    counting: dict[str, list[tuple[str, str]]] = {}
    for rec in rows["records"]:
        record_id, subject, kind, start = rec[0], rec[1], rec[2], date.fromisoformat(rec[7])
        end = date.fromisoformat(rec[9]) if rec[9] else _years_after(start, years[kind])
        end = min(end, repaired.get(record_id, end))
        if start <= as_of < end:
            counting.setdefault(subject, []).append((record_id, kind))
    links = nx.MultiDiGraph()
    for person_id, company, role, matter, start, end, _ in rows["roles"]:
        if date.fromisoformat(start) <= as_of and (not end or as_of < date.fromisoformat(end)):
            links.add_edge(person_id, company, role=role, matter=matter)
    expected: dict[str, set[tuple[str, str]]] = {p[0]: set() for p in rows["people"]}
    for person_id in expected:
        if person_id not in links:
            continue
        for _, company, data in links.out_edges(person_id, data=True):
            for record_id, kind in counting.get(company, []):
                if data["role"] == "legal_representative" and kind != "admin_penalty":
                    expected[person_id].add(
                        ("PROPOSAL_REPRESENTATIVE_OF_SANCTIONED_FIRM", record_id)
                    )
                if data["role"] == "principal" and kind != "admin_penalty":
                    expected[person_id].add(("PROPOSAL_PRINCIPAL_OF_SANCTIONED_FIRM", record_id))
                if data["role"] == "responsible_person" and data["matter"] == record_id:
                    expected[person_id].add(("RESPONSIBLE_PERSON_OF_RECORD", record_id))
    return expected


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_registries_match_the_networkx_reference(
    graph: GraphStore, tmp_path: Path, seed: int
) -> None:
    rows = _random_registry(seed, tmp_path / "random")
    report = load_paths(
        graph,
        ParseContext(TEST_PERSON_KEY.encode(), today=date(2026, 6, 30)),
        [tmp_path / "random"],
        batch_size=100,
        rejects_dir=tmp_path / "rejects",
    )
    assert report.rejected == 0, report.to_json()
    keys = {p[0]: resolve_identifier(graph, p[0], TEST_PERSON_KEY.encode()) for p in rows["people"]}
    for as_of in (date(2019, 3, 1), date(2021, 1, 1), date(2023, 8, 1)):
        expected = _reference(rows, as_of)
        parties = [k for k in keys.values() if k]
        layers = status_layers(graph, parties, as_of=as_of, profile=DEFAULT)
        for number, key in keys.items():
            assert key is not None
            got = set(_codes(layers[key]))
            assert got == expected[number], (seed, as_of, number)
        assert _layers_read_with_the_neighbourhood(graph, parties, as_of, DEFAULT) == layers
