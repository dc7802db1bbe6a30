"""Relay pages: the cursors of a field and the page size a caller may ask for."""

from __future__ import annotations

import bisect
import functools
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from credgraph.api.context import Context
from credgraph.api.errors import BadInput
from credgraph.api.types import PageInfo
from credgraph.queries.lookup import ArgumentError
from credgraph.queries.traversal import (
    MAX_DEPTH,
    Position,
    Seal,
    decode_position,
    encode_position,
)


def cursor_seal(ctx: Context, field: str, *arguments: Any) -> Seal:
    """What binds a cursor of `field` to its query: a MAC under the person key of the caller's
    role, every argument that shapes the answer and the cursor's position. So a cursor of
    another query, or one altered, is refused; and since the cursor is readable base64, the MAC
    tells nothing of a name searched or a party's key."""
    query = json.dumps([field, ctx.role.value, *arguments], sort_keys=True, default=str)
    key = ctx.person_key()

    def seal(position: Position) -> str:
        text = json.dumps([query, *position])
        return hmac.new(key, f"cursor|{text}".encode(), hashlib.sha256).hexdigest()[:24]

    return seal


def cursor_position(seal: Seal, after: str | None, shape: Sequence[type]) -> Position | None:
    """The position `after` holds (None for no cursor); BadInput naming `after` for text
    that is no cursor, or a cursor of another query (queries/traversal.py `decode_position`)."""
    if after is None:
        return None
    try:
        return decode_position(seal, after, shape)
    except ArgumentError as error:
        raise BadInput.argument(error.argument, error.reason) from None


T = TypeVar("T")


class Pages(Generic[T]):
    """The items of an answer cut after a cursor's position: keyset pages. A cursor holds the
    last item's sort key, not an offset, so a load between two pages neither repeats nor skips
    an item whose place in the order stays (docs/queries.md, Pages)."""

    def __init__(
        self,
        seal: Seal,
        items: Sequence[T],
        position_of: Callable[[T], Position],
        after: Position | None,
        limit: int,
        *,
        in_order: bool = False,
    ) -> None:
        """`in_order`: `items` come in the order of their positions already (a walk's items,
        queries/traversal.py), so neither sorted again nor their positions all made: on a page
        of a walk of thousands that was a tenth of `linkedParties`' worker time. O(n log n),
        O(n) when in order, n the items."""
        self.seal, self.position_of = seal, position_of
        ordered = items if in_order else sorted(items, key=position_of)
        cut = 0 if after is None else bisect.bisect_right(ordered, after, key=position_of)
        self.earlier = list(ordered[:cut])
        self.page = list(ordered[cut : cut + limit])
        self.total = len(ordered)
        self._more = cut + limit < len(ordered)

    def cursor(self, item: T) -> str:
        return encode_position(self.seal, self.position_of(item))

    def cursor_of(self, item: T) -> Callable[[], str]:
        """`item`'s cursor, made when asked for (api/types.py `CursorEdge`)."""
        return functools.partial(self.cursor, item)

    def page_info(self) -> PageInfo:
        return PageInfo(
            has_next_page=self._more,
            has_previous_page=bool(self.earlier),
            start_cursor=self.cursor(self.page[0]) if self.page else None,
            end_cursor=self.cursor(self.page[-1]) if self.page else None,
        )


def page_size(ctx: Context, first: int | None) -> int:
    """`first`, checked: 1 to CREDGRAPH_MAX_PAGE_SIZE, which it is when not given."""
    limit = first if first is not None else ctx.settings.max_page_size
    if not 1 <= limit <= ctx.settings.max_page_size:
        raise BadInput.argument("first", f"must be between 1 and {ctx.settings.max_page_size}")
    return limit


def walk_depth(ctx: Context, depth: int) -> int:
    """`depth` of a linked-party or dishonest-party walk, checked: at most CREDGRAPH_MAX_DEPTH,
    which may allow `paths` up to 6, and never past the walks' own limit (MAX_DEPTH)."""
    most = min(ctx.settings.max_depth, MAX_DEPTH)
    if not 1 <= depth <= most:
        raise BadInput.argument("depth", f"must be between 1 and {most}")
    return depth
