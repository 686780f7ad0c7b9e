"""The dataset card (``reports/README.md``), in the shape Hugging Face dataset cards have."""

from __future__ import annotations

from typing import Any

from treeoflife.config import Config


def _table(counts: dict[str, Any], head: tuple[str, str]) -> str:
    lines = [f"| {head[0]} | {head[1]} |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in counts.items()]
    return "\n".join(lines)


def dataset_card(stats: dict[str, Any], config: Config, reasons: dict[str, tuple[str, str]]) -> str:
    """Markdown text of the card; deterministic for the same build."""
    size = f"{config.images.width}x{config.images.height}"
    splits = sorted(stats["samples"])
    front = ["---", "configs:", "- config_name: default", "  data_files:"]
    front += [f'  - split: {s}\n    path: "{size}/{s}/shard-*.tar"' for s in splits]
    front += ["task_categories:", "- image-classification", "- zero-shot-classification", "---", ""]
    rejected = stats.get("rejects", {})
    reject_rows = {
        f"`{code}` ({outcome})": f"{n} — {reasons.get(code, ('', ''))[1]}"
        for outcome, codes in sorted(rejected.items())
        for code, n in codes.items()
    }
    body = [
        "# Dataset card",
        "",
        "An image–text dataset in the TreeOfLife-10M format, built with `treeoflife`. Each sample",
        "is `<treeoflife_id>.jpg` with the ten TreeOfLife-10M text members (`scientific_name.txt`,",
        "`taxonomic_name.txt`, `common_name.txt`, `sci.txt`, `com.txt`, `taxon.txt`, `taxonTag.txt`,",
        f"`sci_com.txt`, `taxon_com.txt`, `taxonTag_com.txt`), a `txt` caption (`{config.shards.caption}`)",
        "and a `json` record with provenance.",
        "",
        f"Images are {size}, resized by `{config.images.resize}`, JPEG quality {config.images.quality}.",
        f"Splits: `{config.split.method}` method, val {config.split.val_percent}%, train_small "
        f"{config.split.train_small_percent}% of train, seed {config.split.seed}.",
        "",
        "## Samples",
        "",
        _table(stats["samples"], ("split", "samples")),
        "",
        "## Sources (train)",
        "",
        _table(stats["by_source"], ("source", "samples")),
        "",
        "## Kingdoms (train)",
        "",
        _table(stats["by_kingdom"], ("kingdom", "samples")),
        "",
        f"{stats['distinct_taxa']} distinct taxa; {stats['with_common_name_percent']}% of samples have a common name.",
        "",
        "## How complete the labels are (train, % of samples with the rank known)",
        "",
        _table(stats["rank_known_percent"], ("rank", "% known")),
        "",
        "## Set aside or repaired",
        "",
        _table(reject_rows, ("reason", "count")) if reject_rows else "Nothing.",
        "",
        "See `treemap.html` for the spread over the tree of life and `licenses.csv` for image licenses.",
        "",
    ]
    if "changes" in stats:
        body += _changes(stats["changes"])
    return "\n".join(front + body)


def _changes(changes: dict[str, Any]) -> list[str]:
    """The "Changes since the last build" section: tol diff's counts and most-changed taxa."""
    from treeoflife.diff.compare import COUNTS

    lines = [
        "## Changes since the last build",
        "",
        _table({k: changes[k] for k in COUNTS}, ("change", "images")),
        "",
    ]
    if changes.get("removed_reasons"):
        lines += [_table(changes["removed_reasons"], ("removed because", "images")), ""]
    if changes.get("most_changed_taxa"):
        rows = dict(changes["most_changed_taxa"])
        lines += [
            _table(rows, ("most changed taxa", "images added, removed, relabelled or moved")),
            "",
        ]
    return lines
