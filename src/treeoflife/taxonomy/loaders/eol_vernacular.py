"""EOL ``vernacularnames.csv``: the English common name of each wanted EOL page.

Joined on the page id (a taxon, so homonyms never share a name). Preference: preferred by
EOL, then preferred by its resource, then the first listed. Only English
(``language_code`` eng/en).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from treeoflife.taxonomy.loaders._csv import NotColumnar, field, selected_rows, table

WHAT = "an EOL vernacular names table (CSV with page_id, vernacular_string, language_code, is_preferred_by_eol)"
REQUIRED = ("page_id", "vernacular_string", "language_code")
ENGLISH = frozenset({"eng", "en", "english"})
TRUE = frozenset({"1", "true", "t", "yes", "y", "preferred"})


def load(path: Path, pages: set[int]) -> dict[int, str]:
    """page id -> best English common name, for the wanted pages only.

    Arrow reads the cells and picks the rows of wanted pages (:func:`_page_filter`); only
    those become Python rows. A file Arrow reads otherwise than the ``csv`` module is read
    row by row.
    """
    with table(path, REQUIRED, what=WHAT) as (cols, _body):
        pass  # the header, checked as the row-by-row reader checks it
    used = (*REQUIRED, "is_preferred_by_eol", "is_preferred_by_resource")
    try:
        return _best(
            selected_rows(path, cols, used, _page_filter(pages), ("page_id",)), cols, pages
        )
    except NotColumnar:
        with table(path, REQUIRED, what=WHAT) as (cols, body):
            return _best(body, cols, pages)


def _page_filter(pages: set[int]) -> Callable[[dict[str, pa.Array]], np.ndarray]:
    """Rows whose page id is a wanted page (a superset of :func:`_best`'s test): ASCII
    digits are compared in Arrow; any other non-ASCII value (``str.isdigit`` takes other
    scripts' digits) is left to Python."""
    wanted = pa.array(sorted(pages), pa.int64())

    def select(batch: dict[str, pa.Array]) -> np.ndarray:
        page = batch["page_id"]
        digits = pc.and_(pc.ascii_is_decimal(page), pc.less_equal(pc.utf8_length(page), 18))
        number = pc.cast(pc.if_else(digits, page, "0"), pa.int64())
        hit = pc.and_(digits, pc.is_in(number, wanted))
        return np.asarray(pc.or_(hit, pc.invert(pc.string_is_ascii(page))), dtype=bool)

    return select


def _best(rows: Iterable[list[str]], cols: dict[str, int], pages: set[int]) -> dict[int, str]:
    best: dict[int, tuple[int, str]] = {}
    c_page, c_name, c_lang = cols["page_id"], cols["vernacular_string"], cols["language_code"]
    c_eol, c_res = cols.get("is_preferred_by_eol"), cols.get("is_preferred_by_resource")
    for row in rows:
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
