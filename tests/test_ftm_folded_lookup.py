"""An FtM id that a later export merged into another entity still finds its party: an approval
system holding `FTM:<old id>` gets the party it was folded into, through the API and the CLI,
under the same masking rules as the party's own id (docs/security.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from credgraph.api.roles import ApiRole
from credgraph.graph.identifiers import ftm_person_token
from credgraph.graph.settings import Settings
from credgraph.graph.store import GraphStore

from credgraph.cli import app
from tests.api_support import ApiEnv, start_api_env
from tests.conftest import TEST_PERSON_KEY
from tests.investigations import cli_runner
from tests.registries import ftm_entity, ftm_merged, load_folder

FIRM = "丹东鸿祥实业发展有限公司"
# three exports: `co-x` merged into `co-y`, then `co-y` into `co-z`; the person `p-x` into `p-y`
EXPORTS = [
    [
        ftm_entity("co-x", "Company", name=FIRM),
        ftm_entity("p-x", "Person", name="Li Na"),
        ftm_entity("s-1", "Sanction", entity="co-x", program="NPWMD"),
        ftm_entity("s-2", "Sanction", entity="p-x", program="SDN"),
    ],
    [
        ftm_merged(ftm_entity("co-y", "Company", name=FIRM), "co-x"),
        ftm_merged(ftm_entity("p-y", "Person", name="Li Na"), "p-x"),
    ],
    [ftm_merged(ftm_entity("co-z", "Company", name=FIRM), "co-y")],
]
PERSON = ftm_person_token(TEST_PERSON_KEY.encode(), "p-y")
BY_ID = "query($id: String!) { entity(id: $id) { id name } }"
SCREEN = (
    "query($ids: [String!]!) { screen(ids: $ids, purpose: LICENSING) "
    "{ partyId found decision ownReasons { code } } }"
)


def _load(store: GraphStore, tmp: Path) -> None:
    for number, lines in enumerate(EXPORTS):
        folder = tmp / f"export-{number}"
        folder.mkdir()
        (folder / "entities.ftm.json").write_text(
            "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n",
            encoding="utf-8",
        )
        report = load_folder(store, folder, folder / "rejects", batch_size=100)
        assert report.rejected == 0


@pytest.fixture(scope="module")
def env(
    embedded: Any, driver: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    tmp = tmp_path_factory.mktemp("ftm-folded")
    for api in start_api_env(embedded, driver, settings, tmp):
        _load(api.store, tmp)
        yield api


def test_an_old_id_finds_the_party_it_was_folded_into(env: ApiEnv) -> None:
    for old in ("FTM:co-x", "FTM:co-y", "ftm:co-x"):
        answer = env.gql(BY_ID, role=ApiRole.ANALYST, purpose="analysis", id=old)
        assert "errors" not in answer, answer
        assert answer["data"]["entity"] == {"id": "FTM:co-z", "name": FIRM}, old
    [screened] = env.gql(SCREEN, role=ApiRole.APPROVAL, ids=["FTM:co-x"])["data"]["screen"]
    assert (screened["partyId"], screened["found"]) == ("FTM:co-z", True)
    assert screened["decision"] != "NOT_FOUND" and screened["ownReasons"], screened


def test_an_id_never_loaded_is_still_not_found(env: ApiEnv) -> None:
    # (the analyst is refused an FtM id that names no company, found or not: docs/security.md)
    answer = env.gql(BY_ID, role=ApiRole.INVESTIGATOR, purpose="investigation", id="FTM:co-never")
    assert "errors" not in answer and answer["data"]["entity"] is None
    [screened] = env.gql(SCREEN, role=ApiRole.APPROVAL, ids=["FTM:co-never"])["data"]["screen"]
    assert (screened["found"], screened["decision"]) == (False, "NOT_FOUND")


def test_an_old_person_id_finds_the_person_for_an_investigator_only(env: ApiEnv) -> None:
    found = env.gql(BY_ID, role=ApiRole.INVESTIGATOR, purpose="investigation", id="FTM:p-x")
    assert found["data"]["entity"] == {"id": PERSON, "name": "Li Na"}, found
    refused = env.gql(BY_ID, role=ApiRole.ANALYST, purpose="analysis", id="FTM:p-x")
    assert refused["data"]["entity"] is None
    [error] = refused["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert PERSON not in json.dumps(refused)


def test_the_cli_links_an_old_id_to_the_party_it_was_folded_into(
    env: ApiEnv, embedded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = cli_runner(monkeypatch, embedded, env.store)
    # an FtM entity id may name a person: a purpose, as the API asks one for it
    purpose = ["--purpose", "investigation"]
    answer = cli.invoke(app, ["linked", "FTM:co-x", "--json", *purpose])
    assert answer.exit_code == 0, answer.output
    assert json.loads(answer.stdout)["root"]["id"] == "FTM:co-z"
    missing = cli.invoke(app, ["linked", "FTM:co-never", "--json", *purpose])
    assert missing.exit_code == 1, missing.output
    assert json.loads(missing.stdout)["found"] is False
