"""A plotly treemap of the taxa in a split: how the images spread over the tree of life."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from treeoflife import atomic
from treeoflife.taxonomy.ranks import RANKS

DEPTH = RANKS[:5]  # kingdom → family: deeper trees are unreadable at 400K taxa
PLOTLY_JS = "plotly.min.js"


# the families a treemap shows at most: the largest, the rest of each branch folded into
# one "(other)" node under its deepest shown ancestor. A real TreeOfLife-10M has a few
# thousand families; a hierarchy with hundreds of thousands (a synthetic one, a build of
# raw source names) gave a page no browser draws, and plotly held ~3 KB a node to write it
MAX_LEAVES = 10_000
OTHER = "(other)"


def treemap_nodes(
    leaves: Iterable[tuple[tuple[str, ...], int]],
) -> tuple[list[str], list[str], list[str], list[int]]:
    """(ids, labels, parents, values) from (kingdom … family, images) leaves, with every
    node's value = the images below it. The MAX_LEAVES largest leaves are shown with their
    ancestors; each other leaf's images count in an OTHER node under its deepest shown
    ancestor (the root's when none is), so every node's value is still the sum of its
    children's and the root's the images of all leaves."""
    totals = _families(leaves)
    shown = set(sorted(totals, key=lambda path: (-totals[path], path))[:MAX_LEAVES])
    kept = {path[:k] for path in shown for k in range(1, len(path) + 1)}
    counts: Counter = Counter()
    for path, n in totals.items():
        prefixes = [path[:k] for k in range(1, len(path) + 1)]
        if path not in shown:
            prefixes = [p for p in prefixes if p in kept]
            prefixes.append((*(prefixes[-1] if prefixes else ()), OTHER))
        for prefix in prefixes:
            counts["/".join(prefix)] += n
    ids = sorted(counts)
    labels = [i.rsplit("/", 1)[-1] for i in ids]
    parents = [i.rsplit("/", 1)[0] if "/" in i else "" for i in ids]
    return ids, labels, parents, [counts[i] for i in ids]


def _families(leaves: Iterable[tuple[tuple[str, ...], int]]) -> Counter:
    """The images of each family's path (kingdom … family, an empty rank "(unknown)")."""
    totals: Counter = Counter()
    for ranks, n in leaves:
        totals[tuple(value or "(unknown)" for value in ranks[: len(DEPTH)])] += n
    return totals


def title(leaves: list[tuple[tuple[str, ...], int]]) -> str:
    """The treemap's title: the images, the ranks it goes down to, and the families it
    folds (when it does)."""
    families = len(_families(leaves))
    folded = (
        f"; the {MAX_LEAVES} largest of {families} families shown, the rest as {OTHER}"
        if families > MAX_LEAVES
        else ""
    )
    return f"{sum(n for _, n in leaves)} images, {' → '.join(DEPTH)}{folded}"


def write_treemap(leaves: list[tuple[tuple[str, ...], int]], dest: Path) -> None:
    ids, labels, parents, values = treemap_nodes(leaves)
    # plotly validates every element of a trace's arrays in Python (seconds for 100K nodes):
    # the figure is made with one node, so the layout, template and trace keys are plotly's
    # own, then given the whole arrays (plain lists of str and int, as validation leaves
    # them) and written without validating them again: the same HTML, bytes for bytes
    fig = go.Figure(
        go.Treemap(
            ids=ids[:1],
            labels=labels[:1],
            parents=parents[:1],
            values=values[:1],
            branchvalues="total",
        )
    )
    fig.update_layout(title=title(leaves), margin={"t": 40, "l": 0, "r": 0, "b": 0})
    figure = fig.to_dict()
    figure["data"][0].update(ids=ids, labels=labels, parents=parents, values=values)
    # plotly.js once beside the report, not 3.5 MB inside every HTML file; works offline
    # a fixed div id: plotly draws a random UUID otherwise, and two builds of the same
    # sources would differ
    html = pio.to_html(
        figure, include_plotlyjs="directory", full_html=True, div_id="treemap", validate=False
    )
    atomic.write_text(dest.parent / PLOTLY_JS, get_plotlyjs())
    atomic.write_text(dest, html)
