"""EOL ``vernacularnames.csv``: the English common name of each wanted EOL page.

Joined on the page id (a taxon, so homonyms never share a name). Preference: preferred by
EOL, then preferred by its resource, then the first listed. Only English
(``language_code`` eng/en).
"""

from __future__ import annotations

from pathlib import Path

from treeoflife.taxonomy.loaders._csv import field, table

WHAT = "an EOL vernacular names table (CSV with page_id, vernacular_string, language_code, is_preferred_by_eol)"
REQUIRED = ("page_id", "vernacular_string", "language_code")
ENGLISH = frozenset({"eng", "en", "english"})
TRUE = frozenset({"1", "true", "t", "yes", "y", "preferred"})


def load(path: Path, pages: set[int]) -> dict[int, str]:
    """page id -> best English common name, for the wanted pages only."""
    best: dict[int, tuple[int, str]] = {}
    with table(path, REQUIRED, what=WHAT) as (cols, body):
        c_page, c_name, c_lang = cols["page_id"], cols["vernacular_string"], cols["language_code"]
        c_eol, c_res = cols.get("is_preferred_by_eol"), cols.get("is_preferred_by_resource")
        for row in body:
            page = field(row, c_page)
            if not page.isdigit() or int(page) not in pages:
                continue
            if field(row, c_lang).lower() not in ENGLISH:
                continue
            name = " ".join(field(row, c_name).split())
            if not name:
                continue
            # 0 = preferred by EOL, 1 = by its resource, 2 = other; the first of each kept
            score = (
                0
                if field(row, c_eol).lower() in TRUE
                else 1
                if field(row, c_res).lower() in TRUE
                else 2
            )
            old = best.get(int(page))
            if old is None or score < old[0]:
                best[int(page)] = (score, name)
    return {page: name for page, (_, name) in best.items()}
