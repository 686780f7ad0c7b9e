"""EOL ``scraped_page_ids.csv`` (page_id, scientific_name): names of pages missing from the DH.

Low-quality names, used only when a label's page is not in the hierarchy; they go
through name cleaning and the name lookup like any other name.
"""

from __future__ import annotations

from pathlib import Path

from treeoflife.taxonomy.loaders._csv import field, table

WHAT = "an EOL scraped page-name table (CSV with page_id, scientific_name)"


def load(path: Path, pages: set[int]) -> dict[int, str]:
    """page id -> scraped scientific name, for the wanted pages only."""
    out: dict[int, str] = {}
    with table(path, ("page_id", "scientific_name"), what=WHAT) as (cols, body):
        c_page, c_name = cols["page_id"], cols["scientific_name"]
        for row in body:
            page = field(row, c_page)
            if page.isdigit() and int(page) in pages:
                name = field(row, c_name)
                if name:
                    out.setdefault(int(page), name)
    return out
