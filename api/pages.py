"""Relay pages: the cursors of a field and the page size a caller may ask for."""

from __future__ import annotations

import base64

from credgraph.api.context import Context
from credgraph.api.errors import BadInput
from credgraph.api.types import PageInfo
from credgraph.queries.traversal import MAX_DEPTH


def _encode_cursor(kind: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{offset}".encode()).decode()


def _decode_cursor(kind: str, cursor: str | None) -> int:
    """The offset after a cursor (0 for none); BadInput for a cursor of another field."""
    if cursor is None:
        return 0
    try:
        prefix, offset = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        if prefix != kind or not offset.isdigit():
            raise ValueError
        return int(offset) + 1
    except (ValueError, UnicodeDecodeError):
        raise BadInput("argument after: not a cursor of this field") from None


def _page_size(ctx: Context, first: int | None) -> int:
    limit = first if first is not None else ctx.settings.max_page_size
    if not 1 <= limit <= ctx.settings.max_page_size:
        raise BadInput(f"argument first: must be between 1 and {ctx.settings.max_page_size}")
    return limit


def _walk_depth(ctx: Context, depth: int) -> int:
    """`depth` of a linked-party or dishonest-party walk, checked: at most CREDGRAPH_MAX_DEPTH,
    which may allow `paths` up to 6, and never past the walks' own limit (MAX_DEPTH)."""
    most = min(ctx.settings.max_depth, MAX_DEPTH)
    if not 1 <= depth <= most:
        raise BadInput(f"argument depth: must be between 1 and {most}")
    return depth


def _page_info(kind: str, start: int, shown: int, total: int) -> PageInfo:
    return PageInfo(
        has_next_page=start + shown < total,
        has_previous_page=start > 0,
        start_cursor=_encode_cursor(kind, start) if shown else None,
        end_cursor=_encode_cursor(kind, start + shown - 1) if shown else None,
    )
