"""Mappings, value transforms and the record lifecycle: pure functions, no store."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from credgraph.graph.lifecycle import StatusEvent, current_status
from credgraph.graph.names import name_key
from credgraph.graph.vocabulary import RecordStatus, StatusChangeKind
from credgraph.loaders.mapping import (
    CANONICAL_FIELDS,
    MappingError,
    Target,
    builtin_mappings,
    load_mapping,
    parse_mapping,
)
from credgraph.loaders.rows import RowError
from credgraph.loaders.transforms import amount, digits, fraction, percent, to_date
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(
    "text",
    [
        "20180302",
        "2018-03-02",
        "2018-3-2",
        "2018/03/02",
        "2018.03.02",
        "2018年3月2日",
        "２０１８年３月２日",
        "2018-03-02 00:00:00",
        "2018-03-02T00:00:00",
    ],
)
def test_dates_in_the_shapes_registries_write_them(text: str) -> None:
    assert to_date(text) == "2018-03-02"


@pytest.mark.parametrize("text", ["20180230", "2018年13月1日", "March 2nd", "18-03-02"])
def test_impossible_or_foreign_dates_are_refused(text: str) -> None:
    with pytest.raises(ValueError) as refused:
        to_date(text)
    # the value quoted, with the shapes that are read
    assert str(refused.value) == f"{text!r} is not a date (e.g. 2018-03-02, 20180302, 2018年3月2日)"


@pytest.mark.parametrize(
    ("text", "unit", "yuan"),
    [
        ("750万元", "元", "7500000"),
        ("750万", "元", "7500000"),
        ("1.2亿元", "元", "120000000"),
        ("3,000元", "元", "3000"),
        ("750", "万元", "7500000"),
        ("７５０万元", "元", "7500000"),
        ("3,000元", "万元", "3000"),  # says its unit: the column's is for bare numbers
        ("750万元", "万元", "7500000"),
        ("2人民币", "亿元", "2"),
        ("¥3,000", "万元", "3000"),
        ("￥3,000.00", "元", "3000"),
        ("人民币500万元", "元", "5000000"),
        ("500万元人民币", "元", "5000000"),
        ("2.5E+15", "元", "2500000000000000"),  # a number cell of 1e15 or more, as read
        ("1E+15", "万元", "10000000000000000000"),
    ],
)
def test_amounts_become_yuan(text: str, unit: str, yuan: str) -> None:
    assert amount(text, unit) == yuan


@pytest.mark.parametrize("text", ["五十万", "500万美元", "USD 500", "¥"])
def test_amounts_in_words_or_other_currencies_are_refused(text: str) -> None:
    with pytest.raises(ValueError) as refused:
        amount(text)
    assert str(refused.value) == f"{text!r} is not an amount (e.g. 750万元, 3000元, 1.2亿)"


def test_digits_refuses_a_number_whose_digits_are_lost() -> None:
    """Dropping the dot and the E of 3.50203198102032E+17 made up an identifier."""
    assert digits("3502-0319 8102.0321") == "350203198102032" + "1"
    for text in ("3.50203198102032E+17", "3.5e17", "1E+15"):
        with pytest.raises(ValueError, match="format the column as text"):
            digits(text)


def test_stakes_from_percentages_and_fractions() -> None:
    assert percent("12.5%") == percent("12.5") == fraction("12.5%") == fraction("0.125") == "0.125"
    with pytest.raises(ValueError, match=r"^'一半' is not a number$"):
        percent("一半")


def test_names_fold_width_script_and_punctuation() -> None:
    assert name_key("廈門鷺島（集團）有限公司") == name_key("厦门 鹭岛(集团)有限公司")
    assert name_key("ＡＢＣ贸易") == name_key("abc贸易")


def test_a_mapping_renames_converts_and_names_the_source_column() -> None:
    mapping = parse_mapping(
        {
            "target": "shareholdings",
            "fields": {
                "holder_id": "股东证照号码",
                "company_id": ["统一社会信用代码", "注册号"],
                "stake": {"column": "持股比例", "transform": "fraction"},
                "subscribed_capital": {"column": "认缴档位", "codes": {"01": "5000000"}},
                "source_record": {"value": "fixed"},
            },
        },
        origin="test.yaml",
        default_name="test",
    )
    row = mapping.apply({"股东证照号码": "X", "注册号": "R", "持股比例": "12.5%", "认缴档位": "01"})
    assert row == {
        "holder_id": "X",
        "company_id": "R",
        "stake": "0.125",
        "subscribed_capital": "5000000",
        "source_record": "fixed",
    }
    with pytest.raises(RowError) as caught:
        mapping.apply({"持股比例": "很多"})
    assert caught.value.field == "持股比例 (stake)"
    with pytest.raises(RowError) as caught:
        mapping.apply({"认缴档位": "99"})
    assert (
        caught.value.field == "认缴档位 (subscribed_capital)"
        and "'99' is not in the code table" in caught.value.reason
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"target": "companies"}, "`target` must be one of"),
        ({"target": "roles", "colums": {}}, "unknown keys"),
        ({"target": "roles", "fields": {"role": {"transform": "guess"}}}, "unknown transform"),
        (
            {"target": "shareholdings", "fields": {"stake": {"column": "a", "unit": "美元"}}},
            "unknown unit",
        ),
        (
            {"target": "legal_persons", "fields": {"registerd_capital": "注册资本"}},
            "fields.registerd_capital: legal_persons has no such field; did you mean "
            "'registered_capital'",
        ),
        ({"target": "roles", "fields": ["role"]}, "`fields` must map"),
        ({"target": "roles", "fields": "role"}, "`fields` must map"),
        ({"target": "roles", "read": {"sheet": "a", "speed": 1}}, "`read` takes"),
        ("just text", "a YAML map"),
    ],
)
def test_broken_mappings_name_the_file_and_key(document: object, message: str) -> None:
    with pytest.raises(MappingError, match=message) as caught:
        parse_mapping(document, origin="m.yaml", default_name="m")
    assert "m.yaml" in str(caught.value)


def test_a_mapping_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "gbk.yaml"
    path.write_bytes("target: roles\nfields: {role: 职务}\n".encode("gbk"))
    with pytest.raises(MappingError, match=r"gbk\.yaml: cannot read the mapping"):
        load_mapping(path)


def test_the_canonical_fields_are_those_formats_md_lists() -> None:
    text = (Path(__file__).parents[1] / "docs" / "formats.md").read_text(encoding="utf-8")
    documented: dict[str, set[str]] = {}
    for section in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        title = re.match(r"`([a-z_]+)\.(csv|json)`", section)
        if title:
            cells = re.findall(r"^\| (`[a-z_]+`(?:, `[a-z_]+`)*) \|", section, re.MULTILINE)
            documented[title.group(1)] = {n for cell in cells for n in re.findall(r"`(\w+)`", cell)}
    for target, fields in CANONICAL_FIELDS.items():
        assert documented[target.value] == fields, target


def test_every_target_has_a_builtin_mapping() -> None:
    targets = {m.target for m in builtin_mappings()}
    assert targets == set(Target)


# --- lifecycle ---------------------------------------------------------------------------------

D = date(2024, 1, 1)


def _events(*changes: tuple[StatusChangeKind, int]) -> list[StatusEvent]:
    return [
        StatusEvent(f"c{i}", kind, D + timedelta(days=day)) for i, (kind, day) in enumerate(changes)
    ]


@pytest.mark.parametrize(
    ("listed", "changes", "expected"),
    [
        (RecordStatus.ACTIVE, [], (RecordStatus.ACTIVE, None)),
        (RecordStatus.ACTIVE, [(StatusChangeKind.REPAIRED, 5)], (RecordStatus.REPAIRED, 5)),
        (
            RecordStatus.ACTIVE,
            [(StatusChangeKind.OBJECTION_OPENED, 1), (StatusChangeKind.OBJECTION_CLOSED, 9)],
            (RecordStatus.ACTIVE, 9),
        ),
        (
            RecordStatus.UNDER_OBJECTION,
            [(StatusChangeKind.OBJECTION_CLOSED, 3)],
            (RecordStatus.ACTIVE, 3),
        ),
        (
            RecordStatus.ACTIVE,
            [(StatusChangeKind.REPAIRED, 2), (StatusChangeKind.REVOKED, 4)],
            (RecordStatus.REVOKED, 4),
        ),
        (
            RecordStatus.ACTIVE,
            [(StatusChangeKind.EXPIRED, 2), (StatusChangeKind.OBJECTION_OPENED, 4)],
            (RecordStatus.EXPIRED, 2),
        ),
    ],
)
def test_worked_lifecycles(
    listed: RecordStatus,
    changes: list[tuple[StatusChangeKind, int]],
    expected: tuple[RecordStatus, int | None],
) -> None:
    status, since = current_status(listed, _events(*changes))
    assert (status, since) == (
        expected[0],
        None if expected[1] is None else D + timedelta(days=expected[1]),
    )


def test_an_objection_opened_and_closed_on_one_day_leaves_the_record_as_it_was() -> None:
    """Whatever the ids: a file's `z-open` and `a-close` of one day left the record under
    objection for good, sorted by uid."""
    day = D + timedelta(days=3)
    opened_closed = [
        StatusEvent("rec|z-open", StatusChangeKind.OBJECTION_OPENED, day),
        StatusEvent("rec|a-close", StatusChangeKind.OBJECTION_CLOSED, day),
    ]
    assert current_status(RecordStatus.ACTIVE, opened_closed) == (RecordStatus.ACTIVE, day)
    # under objection that morning: closed and opened again the same day, still under objection
    closed_reopened = [
        StatusEvent("rec|a-open", StatusChangeKind.OBJECTION_OPENED, day),
        StatusEvent("rec|z-close", StatusChangeKind.OBJECTION_CLOSED, day),
    ]
    listed = RecordStatus.UNDER_OBJECTION
    assert current_status(listed, closed_reopened)[0] is RecordStatus.UNDER_OBJECTION


def test_an_objection_opened_closed_and_opened_again_on_one_day_stands() -> None:
    """The API's changes carry their time in their ids: open, close and open again on one day
    left the record active (the second objection dropped) when the day's objection changes
    were ranked by kind."""
    day = D + timedelta(days=3)
    again = [
        StatusEvent(f"rec|api-{n}", kind, day)
        for n, kind in enumerate(
            [
                StatusChangeKind.OBJECTION_OPENED,
                StatusChangeKind.OBJECTION_CLOSED,
                StatusChangeKind.OBJECTION_OPENED,
            ]
        )
    ]
    assert current_status(RecordStatus.ACTIVE, again) == (RecordStatus.UNDER_OBJECTION, day)
    # and closed once more: the record stands as it did that morning
    closed = [*again, StatusEvent("rec|api-3", StatusChangeKind.OBJECTION_CLOSED, day)]
    assert current_status(RecordStatus.ACTIVE, closed)[0] is RecordStatus.ACTIVE


def test_as_of_ignores_later_changes() -> None:
    events = _events((StatusChangeKind.REPAIRED, 10))
    assert (
        current_status(RecordStatus.ACTIVE, events, as_of=D + timedelta(days=9))[0]
        is RecordStatus.ACTIVE
    )


@given(
    st.sampled_from(list(RecordStatus)),
    st.lists(st.tuples(st.sampled_from(list(StatusChangeKind)), st.integers(0, 30)), max_size=6),
    st.randoms(),
)
def test_the_order_changes_arrive_in_does_not_matter(listed, changes, rnd) -> None:  # type: ignore[no-untyped-def]
    events = _events(*changes)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert current_status(listed, shuffled) == current_status(listed, events)


def test_a_code_table_matches_whatever_the_width_spacing_or_case_of_a_cell() -> None:
    mapping = parse_mapping(
        {
            "target": "legal_persons",
            "fields": {
                "status": {
                    "column": "登记状态",
                    "codes": {"存续（在营、开业、在册）": "active", "Revoked": "revoked"},
                },
            },
        },
        origin="amr.yaml",
        default_name="amr",
    )
    for cell, status in [
        ("存续(在营、开业、在册)", "active"),
        ("存续（在营、开业、在册） ", "active"),
        ("REVOKED", "revoked"),
    ]:
        assert mapping.apply({"登记状态": cell}) == {"status": status}
    with pytest.raises(RowError, match="'注销' is not in the code table"):
        mapping.apply({"登记状态": "注销"})


def test_a_mapping_file_that_is_not_there_or_a_folder_says_so_plainly(tmp_path: Path) -> None:
    with pytest.raises(MappingError) as missing:
        load_mapping(tmp_path / "amr.yaml")
    assert str(missing.value) == f"{tmp_path / 'amr.yaml'}: cannot read the mapping: no such file"
    with pytest.raises(MappingError) as folder:
        load_mapping(tmp_path)
    assert str(folder.value) == f"{tmp_path}: cannot read the mapping: it is a folder"


def test_a_mapping_that_is_not_valid_yaml_names_the_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "amr.yaml"
    path.write_text("target: roles\nfields: {role: 职务\n", encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not valid YAML at line 3, column 1: ")
    assert "\n" not in message and "<unicode string>" not in message and "UTF-8" not in message


def test_a_mapping_built_of_yaml_aliases_is_refused_before_it_is_written_out(
    tmp_path: Path,
) -> None:
    """A "billion laughs": nine levels of nine aliases are 9**9 texts once written out, which
    took minutes and gigabytes before the mapping was refused; a list or a map where a text
    is meant is refused at once, naming the key."""
    levels = "[&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"
    for level in range(1, 9):
        levels += f", &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]"
    path = tmp_path / "laughs.yaml"
    path.write_text(
        f"target: legal_persons\nfields:\n  name: {{column: 名称, default: {levels}]}}\n",
        encoding="utf-8",
    )
    with pytest.raises(MappingError, match=r"laughs\.yaml: fields\.name: `default` must be a text"):
        load_mapping(path)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"target": ["roles"]}, "`target` must be a text"),
        ({"target": "roles", "source": ["a", "b"]}, "`source` must be a text"),
        ({"target": "roles", "read": {"sheet": ["a"]}}, "`read.sheet` must be a text"),
        ({"target": "roles", "fields": {"role": {"transform": ["date"]}}}, "`transform` must be"),
        ({"target": "roles", "fields": {"role": {"codes": {"董事": ["x"]}}}}, "`codes.董事` must"),
    ],
)
def test_a_list_or_map_where_a_mapping_means_a_text_is_refused(
    document: object, message: str
) -> None:
    with pytest.raises(MappingError, match=message) as caught:
        parse_mapping(document, origin="m.yaml", default_name="m")
    assert "m.yaml" in str(caught.value)
