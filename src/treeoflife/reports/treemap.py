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


def treemap_nodes(
    leaves: Iterable[tuple[tuple[str, ...], int]],
) -> tuple[list[str], list[str], list[str], list[int]]:
    """(ids, labels, parents, values) from (kingdom … family, images) leaves, with every
    node's value = the images below it. Nodes are few (one per family), leaves are counts."""
    counts: Counter = Counter()
    for ranks, n in leaves:
        path = []
        for value in ranks[: len(DEPTH)]:
            path.append(value or "(unknown)")
            counts["/".join(path)] += n
    ids = sorted(counts)
    labels = [i.rsplit("/", 1)[-1] for i in ids]
    parents = [i.rsplit("/", 1)[0] if "/" in i else "" for i in ids]
    return ids, labels, parents, [counts[i] for i in ids]


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
    total = sum(n for _, n in leaves)
    fig.update_layout(
        title=f"{total} images, {' → '.join(DEPTH)}", margin={"t": 40, "l": 0, "r": 0, "b": 0}
    )
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
