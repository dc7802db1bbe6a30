"""Matching keys for names: the form two spellings of one name share.

The key folds full-width to half-width (NFKC), traditional to simplified characters, case,
white space and punctuation, so `厦门 鹭岛（集团）有限公司`, `廈門鷺島(集團)有限公司` and
`厦门鹭岛(集团)有限公司` share a key. The name as loaded is always kept beside it; the key is
only for finding.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import zhconv

_DROP_CATEGORIES = ("P", "Z", "C", "S")


@lru_cache(maxsize=65536)
def to_simplified(text: str) -> str:
    """Traditional to simplified Chinese (MediaWiki conversion tables, via zhconv)."""
    converted: str = zhconv.convert(text, "zh-hans")
    return converted


def name_key(name: str) -> str:
    """The matching key of a name: NFKC, simplified, case-folded, without spaces or punctuation.

    O(len(name)); the conversion is cached because registries repeat names and name parts.
    """
    folded = unicodedata.normalize("NFKC", name).casefold()
    kept = "".join(ch for ch in folded if not unicodedata.category(ch).startswith(_DROP_CATEGORIES))
    return to_simplified(kept)
