"""A plotly treemap of the taxa in a split: how the images spread over the tree of life."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import plotly.graph_objects as go

from treeoflife.taxonomy.ranks import RANKS

DEPTH = RANKS[:5]  # kingdom → family: deeper trees are unreadable at 400K taxa


def treemap_nodes(rows: list[dict[str, str]]) -> tuple[list[str], list[str], list[str], list[int]]:
    """(ids, labels, parents, values) with every node's value = the images below it."""
    counts: Counter = Counter()
    for row in rows:
        path = []
        for rank in DEPTH:
            path.append(row.get(rank) or "(unknown)")
            counts["/".join(path)] += 1
    ids = sorted(counts)
    labels = [i.rsplit("/", 1)[-1] for i in ids]
    parents = [i.rsplit("/", 1)[0] if "/" in i else "" for i in ids]
    return ids, labels, parents, [counts[i] for i in ids]


def write_treemap(rows: list[dict[str, str]], dest: Path) -> None:
    ids, labels, parents, values = treemap_nodes(rows)
    fig = go.Figure(
        go.Treemap(ids=ids, labels=labels, parents=parents, values=values, branchvalues="total")
    )
    fig.update_layout(
        title=f"{len(rows)} images, {' → '.join(DEPTH)}", margin={"t": 40, "l": 0, "r": 0, "b": 0}
    )
    # plotly.js once beside the report, not 3.5 MB inside every HTML file; works offline
    fig.write_html(dest, include_plotlyjs="directory", full_html=True)
