"""The GraphQL schema: the `Query` and `Mutation` root types, assembled from the fields of
api/lookup.py, api/paths.py, api/investigate.py, api/risk_fields.py and api/mutations.py.

Every root field runs the same way (`answer_field`, api/context.py): the caller's role may call it
(api/roles.py), the work runs in a worker thread against the request's budgeted store, the
answer is masked for the role, and an audit event is written before the answer is returned; if
the event cannot be written the field fails. Reads are batched: one store read per label per
level of a query (parties, their records, each level of a walk), never one query per row.
Natural persons carry an opaque token as `id` and a masked number; resident ID numbers are
hashed on arrival and never come back, not even in an error. The types are in api/types.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

import strawberry
from credgraph.api.context import Context, Services, answer_field, selects_any
from credgraph.api.errors import BadInput, ErrorCode, classify, logged_traceback
from credgraph.api.execution import FastExecutor
from credgraph.api.investigate import (
    DishonestPartyConnection,
    GuaranteeCircle,
    PartyGroup,
    SuspectedLinkConnection,
    find_control_group,
    find_dishonest_parties,
    find_guarantee_circle,
    find_suspected_links,
)
from credgraph.api.limits import MAX_DECISION_NUMBER_CHARS, MAX_EVIDENCE_CHARS, MAX_NOTE_CHARS
from credgraph.api.lookup import PartyKind, find_entity, find_linked_parties, search_parties
from credgraph.api.mutations import (
    RecordChange,
    change_record,
    checked_text,
    effective_day,
    require_offered,
)
from credgraph.api.parties import RelationArguments
from credgraph.api.paths import PathSearch, find_paths
from credgraph.api.risk_fields import RiskReport, ScreenResult, build_risk_report, screen_parties
from credgraph.api.roles import CONTAGION, Purpose
from credgraph.api.types import (
    LegalPerson,
    LinkedPartyConnection,
    NaturalPerson,
    Party,
    PartyConnection,
)
from credgraph.graph.vocabulary import RelationType, StatusChangeKind
from credgraph.queries.groups import DEFAULT_CYCLE_LIMIT, DEFAULT_MIN_STAKE
from graphql import GraphQLError
from strawberry.types import Info

_log = logging.getLogger("credgraph.api")


@strawberry.type
class Query:
    @strawberry.field(
        description="One party by USCC, legacy code, resident ID number or the id credgraph "
        "returned; null when there is none the caller may see."
    )
    async def entity(self, info: Info[Context, None], id: str) -> Party | None:
        return await answer_field(info, "entity", lambda ctx: find_entity(ctx, id))

    @strawberry.field(
        description="Parties by name (its matching key, exact or as a prefix), or by a former "
        "name or alias; each edge says which name matched (`matchedName`, `matchedOn`)."
    )
    async def search(
        self,
        info: Info[Context, None],
        name: str,
        kind: PartyKind | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> PartyConnection:
        return await answer_field(
            info, "search", lambda ctx: search_parties(ctx, name, kind, first, after)
        )

    @strawberry.field(
        description="Parties linked to one party, up to `depth` relations away; "
        "`relationTypes` left out follows every party relation, an empty list is refused; "
        "`minStake` (0 to 1) skips smaller shareholdings; `followSameAs` also follows "
        "POSSIBLY_SAME_AS links (name matches, never followed unless asked)."
    )
    async def linked_parties(
        self,
        info: Info[Context, None],
        id: str,
        depth: int = 1,
        relation_types: list[RelationType] | None = None,
        as_of: date | None = None,
        include_former: bool = False,
        first: int | None = None,
        after: str | None = None,
        min_stake: float = 0.0,
        follow_same_as: bool = False,
    ) -> LinkedPartyConnection | None:
        # the extra read for the relations among the farthest parties only when they are asked
        asked = {"relations", "relationsTruncated"}
        wanted = any(selects_any(field.selections, asked) for field in info.selected_fields)
        filters = RelationArguments(
            relation_types, as_of, include_former, min_stake, follow_same_as
        )
        return await answer_field(
            info,
            "linkedParties",
            lambda ctx: find_linked_parties(ctx, id, depth, filters, first, after, wanted),
        )

    @strawberry.field(
        description="The `first` (default 1, at most 20) shortest simple paths between two "
        "parties, up to `maxDepth` hops, by length, over the party relations that "
        "`linkedParties` would follow with the same `relationTypes`, `asOf` (default today), "
        "`includeFormer`, `minStake` and `followSameAs`; `from` and `to` naming the same party "
        "is refused (BAD_USER_INPUT naming `to`). The answer says how far the search explored "
        "and whether a cap cut it short; null when `from` or `to` names no party."
    )
    async def paths(
        self,
        info: Info[Context, None],
        from_: Annotated[str, strawberry.argument(name="from")],
        to: str,
        max_depth: int = 3,
        first: int | None = None,
        relation_types: list[RelationType] | None = None,
        as_of: date | None = None,
        include_former: bool = False,
        min_stake: float = 0.0,
        follow_same_as: bool = False,
    ) -> PathSearch | None:
        filters = RelationArguments(
            relation_types, as_of, include_former, min_stake, follow_same_as
        )
        return await answer_field(
            info, "paths", lambda ctx: find_paths(ctx, from_, to, max_depth, first, filters)
        )

    @strawberry.field(
        description="Dishonest-party tracing: every party within `depth` steps (1 to "
        "CREDGRAPH_MAX_DEPTH and at most 4, default 2) of one party with a negative record "
        "counting on `asOf` under `profile`, nearest first, each with one shortest path and its "
        "records; over the relations `relationTypes`, `asOf` and `includeFormer` choose, as for "
        "`linkedParties`."
    )
    async def dishonest_parties(
        self,
        info: Info[Context, None],
        id: str,
        depth: int = 2,
        relation_types: list[RelationType] | None = None,
        as_of: date | None = None,
        include_former: bool = False,
        profile: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> DishonestPartyConnection | None:
        filters = RelationArguments(relation_types, as_of, include_former)
        return await answer_field(
            info,
            "dishonestParties",
            lambda ctx: find_dishonest_parties(ctx, id, depth, filters, profile, first, after),
        )

    @strawberry.field(
        description="Suspected links: parties that share an officer (legal persons), an "
        "address, a phone or an e-mail with one party on `asOf`, each with what it rests on; "
        "evidence shared by more than `perKeyCap` (default 100) other parties is counted in "
        "`crowded`, not listed."
    )
    async def suspected_links(
        self,
        info: Info[Context, None],
        id: str,
        as_of: date | None = None,
        include_former: bool = False,
        per_key_cap: int = 100,
        first: int | None = None,
        after: str | None = None,
    ) -> SuspectedLinkConnection | None:
        return await answer_field(
            info,
            "suspectedLinks",
            lambda ctx: find_suspected_links(
                ctx, id, as_of, include_former, per_key_cap, first, after
            ),
        )

    @strawberry.field(
        description="The connected group around one party over `relationTypes` (default "
        "SHAREHOLDER_OF, LEGAL_REPRESENTATIVE_OF, ACTUAL_CONTROLLER_OF: its control group), "
        "shareholdings counting from `minStake` (default 0.5), direction ignored, on `asOf`."
    )
    async def control_group(
        self,
        info: Info[Context, None],
        id: str,
        relation_types: list[RelationType] | None = None,
        min_stake: float = DEFAULT_MIN_STAKE,
        as_of: date | None = None,
        include_former: bool = False,
    ) -> PartyGroup | None:
        return await answer_field(
            info,
            "controlGroup",
            lambda ctx: find_control_group(
                ctx, id, relation_types, min_stake, as_of, include_former
            ),
        )

    @strawberry.field(
        description="The guarantee circle a legal person sits in on `asOf`, with the `first` "
        "(default 50, at most 200) shortest cycles of guarantees through it."
    )
    async def guarantee_circle(
        self,
        info: Info[Context, None],
        id: str,
        as_of: date | None = None,
        include_former: bool = False,
        first: int = DEFAULT_CYCLE_LIMIT,
    ) -> GuaranteeCircle | None:
        return await answer_field(
            info,
            "guaranteeCircle",
            lambda ctx: find_guarantee_circle(ctx, id, as_of, include_former, first),
        )

    @strawberry.field(
        description="Both risk layers of one party: status flags with reason codes and records, "
        "proposals, the contagion score with its evidence paths and clearing date; `found` "
        "false (and no party) for an id the graph holds no party under."
    )
    async def risk_report(
        self,
        info: Info[Context, None],
        id: str,
        as_of: date | None = None,
        profile: str | None = None,
    ) -> RiskReport | None:
        return await answer_field(
            info, "riskReport", lambda ctx: build_risk_report(ctx, id, as_of, profile)
        )

    @strawberry.field(
        description="Screen applicants for a decision: PASS, REVIEW, BLOCK or NOT_FOUND per id, "
        "own records apart from linked parties' hits, and the snapshot that produced it. `ids` "
        "takes 1 to CREDGRAPH_API_MAX_SCREEN_IDS (50) identifiers, as `entity` does; more, or "
        "one that is no identifier, refuses the whole call with BAD_USER_INPUT naming `ids` or "
        "`ids[i]`."
    )
    async def screen(
        self,
        info: Info[Context, None],
        ids: list[str],
        purpose: Purpose,
        profile: str | None = None,
        sector: Annotated[
            str | None,
            strawberry.argument(
                description="the sector the decision is for (`construction`, `tourism` ..., "
                "or a city's own code): registered with the call; each reason says whether its "
                "record is of that sector, and a profile's `sector_scoped_kinds` BLOCK only "
                "in their own sector"
            ),
        ] = None,
    ) -> list[ScreenResult]:
        return await answer_field(
            info, "screen", lambda ctx: screen_parties(ctx, ids, purpose, profile, sector), purpose
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Open an objection (异议) on a record: it is annotated as under objection "
        "until the objection closes, and counts only under profiles that say so. `evidence` and "
        "`deadline` (the day the objection is to be decided by) are kept with the change, and "
        "no field shows them; the deadline closes nothing: the objection stays open, and the "
        "record annotated, until closeObjection. Refused with NOT_OFFERED where the deployment "
        "does not offer objection handling (CREDGRAPH_RECORD_OBJECTION=false), or not for the "
        "record's city (a list of region-code prefixes that its city is not under)."
    )
    async def open_objection(
        self,
        info: Info[Context, None],
        record_id: str,
        evidence: str,
        deadline: date,
        effective_on: date | None = None,
    ) -> RecordChange:
        def work(ctx: Context) -> RecordChange:
            require_offered(ctx, "openObjection")
            on = effective_day(effective_on)
            if deadline < on:
                raise BadInput.argument("deadline", "is before the objection opens")
            props = {
                "evidence": checked_text("evidence", evidence, MAX_EVIDENCE_CHARS, True),
                "deadline": deadline,
            }
            return change_record(
                ctx,
                "openObjection",
                record_id,
                [(StatusChangeKind.OBJECTION_OPENED, on, props)],
            )

        return await answer_field(info, "openObjection", work)

    @strawberry.mutation(
        description="Close an objection. Upheld: the record is revoked from that day; "
        "not upheld: the record stands as before. Refused with NOT_OFFERED where the "
        "deployment does not offer objection handling (CREDGRAPH_RECORD_OBJECTION=false), or not "
        "for the record's city (a list of region-code prefixes that its city is not under)."
    )
    async def close_objection(
        self,
        info: Info[Context, None],
        record_id: str,
        upheld: bool,
        note: str | None = None,
        effective_on: date | None = None,
    ) -> RecordChange:
        def work(ctx: Context) -> RecordChange:
            require_offered(ctx, "closeObjection")
            on = effective_day(effective_on)
            props = {"note": checked_text("note", note, MAX_NOTE_CHARS, False), "upheld": upheld}
            changes = [(StatusChangeKind.OBJECTION_CLOSED, on, props)]
            if upheld:
                changes.append((StatusChangeKind.REVOKED, on, {"note": "objection upheld"}))
            return change_record(ctx, "closeObjection", record_id, changes)

        return await answer_field(info, "closeObjection", work)

    @strawberry.mutation(
        description="Record a credit repair (信用修复): the record stops counting from that day. "
        "Refused with NOT_OFFERED where the deployment does not offer credit repair "
        "(CREDGRAPH_RECORD_REPAIR=false), or not for the record's city (a list of region-code "
        "prefixes that its city is not under), and with CONFLICT, naming the first day it may take "
        "effect, before the record has been published for the CREDGRAPH_REPAIR_AFTER term of "
        "its kind and sector (else of its kind), counted from its decision date (else its "
        "start)."
    )
    async def record_repair(
        self,
        info: Info[Context, None],
        record_id: str,
        decision_number: str,
        note: str | None = None,
        effective_on: date | None = None,
    ) -> RecordChange:
        def work(ctx: Context) -> RecordChange:
            require_offered(ctx, "recordRepair")
            on = effective_day(effective_on)
            props = {
                "decision_number": checked_text(
                    "decisionNumber", decision_number, MAX_DECISION_NUMBER_CHARS, True
                ),
                "note": checked_text("note", note, MAX_NOTE_CHARS, False),
            }
            return change_record(
                ctx, "recordRepair", record_id, [(StatusChangeKind.REPAIRED, on, props)]
            )

        return await answer_field(info, "recordRepair", work)


class _Schema(strawberry.Schema):
    """Logs errors as one JSON line each (code and path), never arguments or values; only an
    unexpected error gets its traceback, under the request's log line."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: Any | None = None
    ) -> None:
        context = getattr(execution_context, "context", None)
        request = context.request_id if isinstance(context, Context) else None
        for error in errors:
            code, _ = classify(error)
            line = json.dumps(
                {"event": "graphql_error", "request": request, "code": code, "path": error.path}
            )
            if code is ErrorCode.INTERNAL_ERROR:
                cause = error.original_error or error
                _log.error(f"{line}\n{logged_traceback(cause)}")
            else:
                _log.info(line)


def build_schema(extensions: Sequence[Any] = (), *, fast: bool = True) -> strawberry.Schema:
    """The schema; `fast` completes plain fields directly (api/execution.py), and False leaves
    every field to graphql-core (the tests compare the two)."""
    return _Schema(
        query=Query,
        mutation=Mutation,
        types=[LegalPerson, NaturalPerson],
        extensions=list(extensions),
        execution_context_class=FastExecutor if fast else None,
    )


schema = build_schema()


__all__ = ["CONTAGION", "Context", "Services", "build_schema", "schema"]
