"""Matching keys for names: the form two spellings of one name share.

The key folds full-width to half-width (NFKC), case, white space and punctuation, so
`厦门 鹭岛（集团）有限公司` and `厦门鹭岛(集团)有限公司` share a key. The name as loaded is
always kept beside it; the key is only for finding.
"""

from __future__ import annotations

import unicodedata

_DROP_CATEGORIES = ("P", "Z", "C", "S")


def name_key(name: str) -> str:
    """The matching key of a name: NFKC, case-folded, without spaces, punctuation or symbols."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(ch for ch in folded if not unicodedata.category(ch).startswith(_DROP_CATEGORIES))
