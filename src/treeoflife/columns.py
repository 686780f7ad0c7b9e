"""The columns of a TreeOfLife-10M catalog: one place for the list every writer uses.

Existing consumers read ``catalog.csv`` by these names and in this order.
"""

from __future__ import annotations

from treeoflife.taxonomy.ranks import RANKS

# where an image came from, in each source's own ids (empty for other sources)
ID_COLUMNS: tuple[str, ...] = (
    "eol_content_id",
    "eol_page_id",
    "bioscan_part",
    "bioscan_filename",
    "inat21_filename",
    "inat21_cls_name",
    "inat21_cls_num",
)
# id columns that are integers (written without ".0", as in the published catalog)
INTEGER_COLUMNS: frozenset[str] = frozenset(
    {"eol_content_id", "eol_page_id", "bioscan_part", "inat21_cls_num"}
)
CATALOG_COLUMNS: tuple[str, ...] = ("split", "treeoflife_id", *ID_COLUMNS, *RANKS, "common")
