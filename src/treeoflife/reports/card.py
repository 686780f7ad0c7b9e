"""The dataset card (``README.md`` at OUT's top), in the shape Hugging Face dataset cards
have: front matter (configs, license), what the samples are, licenses per license and
source, citations, how it was built and its known limitations. Every number comes from the
stats the report stage aggregated in SQL; the card is a pure function of them."""

from __future__ import annotations

import json
import re
from typing import Any

from treeoflife.config import Config
from treeoflife.reports import citations

# Hugging Face knows Creative Commons codes with a version by these names; anything else
# (several licenses, public domain, unknown) is "other", explained by the license table
_HUB_LICENSE = re.compile(r"^cc(0-1\.0|-by(-nc)?(-nd|-sa)?-\d\.\d)$")


def hub_license(by_license: dict[str, Any]) -> str:
    """The card's ``license:``: the one license every sample has, when the Hub knows it."""
    codes = [c for c, n in by_license.items() if n]
    return codes[0] if len(codes) == 1 and _HUB_LICENSE.match(codes[0]) else "other"


def _table(counts: dict[str, Any], head: tuple[str, str]) -> str:
    lines = [f"| {head[0]} | {head[1]} |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in counts.items()]
    return "\n".join(lines)


def _duplicates(dup: dict[str, Any] | None) -> list[str]:
    """The card's duplicates section (stats["duplicates"], from the dedup stage's relations)."""
    if not dup:
        return []
    rows = {
        "clusters of identical files": dup["exact_clusters"],
        "clusters of near duplicates": dup["near_clusters"],
        **{f"dropped: `{reason}`": n for reason, n in dup["dropped"].items()},
        **{f"eval set `{name}`: images matched": n for name, n in dup["eval_matches"].items()},
        "clusters whose images carry different species": dup["label_disagreement"],
    }
    return [
        "## Duplicates",
        "",
        "The same photo is in one split only, once (perceptual hash, see "
        "`reports/duplicates.parquet`); images matching an eval set are left out.",
        "",
        _table(rows, ("", "count")),
        "",
    ]


def dataset_card(stats: dict[str, Any], config: Config, reasons: dict[str, tuple[str, str]]) -> str:
    """Markdown text of the card; deterministic for the same build."""
    size = f"{config.images.width}x{config.images.height}"
    splits = sorted(stats["samples"])
    front = ["---", "configs:", "- config_name: default", "  data_files:"]
    front += [f'  - split: {s}\n    path: "{size}/{s}/shard-*.tar"' for s in splits]
    licensed = stats.get("licenses", {})
    totals = {code: sum(per.values()) for code, per in licensed.items()}
    license = hub_license(totals) if totals else "other"
    front += [f"license: {license}"]
    if license == "other":
        front += [
            "license_name: per-image",
            "license_link: reports/licenses.csv",
        ]
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
        *_duplicates(stats.get("duplicates")),
        "## Set aside or repaired",
        "",
        _table(reject_rows, ("reason", "count")) if reject_rows else "Nothing.",
        "",
        "See `reports/treemap.html` for the spread over the tree of life, `reports/licenses.csv`",
        "for each image's license and `provenance.parquet` for where each sample came from.",
        "",
        *_licenses(licensed, config),
        *_citation(stats),
        *_built(stats.get("build", {})),
        *_limitations(stats.get("limitations", {})),
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


def _licenses(licensed: dict[str, dict[str, int]], config: Config) -> list[str]:
    sources = sorted({s for per in licensed.values() for s in per})
    lines = [
        "## Licenses",
        "",
        "Each image keeps the license its source gives it (codes as in `provenance.parquet`;",
        "`unknown`: the source says nothing). Samples (train and val) per license and source:",
        "",
    ]
    if not licensed:
        return [*lines, "No samples.", ""]
    lines += ["| license | " + " | ".join(sources) + " | total |"]
    lines += ["|---|" + "---|" * (len(sources) + 1)]
    for code, per in sorted(licensed.items()):
        cells = [str(per.get(s, 0)) for s in sources]
        lines.append(f"| `{code}` | " + " | ".join(cells) + f" | {sum(per.values())} |")
    fi = config.filters
    kept = ", ".join(f"`{p}`" for p in fi.licenses)
    lines += [
        "",
        f"Licenses allowed by the build (`[filters] licenses`): {kept}; images with an unknown "
        + ("license were left out." if fi.exclude_unknown_license else "license were kept."),
        "",
    ]
    return lines


def _citation(stats: dict[str, Any]) -> list[str]:
    used = [s for s, n in stats.get("by_source_all", stats.get("by_source", {})).items() if n]
    build = stats.get("build", {})
    total = sum(stats.get("samples", {}).get(s, 0) for s in ("train", "val"))
    return [
        "## Citation",
        "",
        "Please cite the sources of the images:",
        "",
        "```bibtex",
        "\n\n".join(citations.entries(used)),
        "```",
        "",
        "and this dataset (fill in the template):",
        "",
        "```bibtex",
        citations.dataset_template(total, build.get("tol_version", "")),
        "```",
        "",
    ]


def _built(build: dict[str, Any]) -> list[str]:
    if not build:
        return []
    from treeoflife.stages import stage_names  # the stage order has one place: the stages

    lines = [
        "## How it was built",
        "",
        f"With `treeoflife` {build.get('tol_version', '')} (`tol build`), in stages over one",
        f"build database: {', '.join(stage_names())} (scan reads every image once).",
        "The sources it read, as a sha256 over each image's id and the sha256 of its bytes:",
        "",
        "| source | images | fingerprint |",
        "|---|---|---|",
    ]
    for source, fp in build.get("sources", {}).items():
        lines.append(f"| {source} | {fp['images']} | `{fp['sha256'][:16]}` |")
    lines += [
        "",
        "The settings (`tol.toml`, defaults included):",
        "",
        "```json",
        json.dumps(build.get("config", {}), indent=1, sort_keys=True),
        "```",
        "",
    ]
    return lines


def _limitations(lim: dict[str, Any]) -> list[str]:
    if not lim:
        return []
    lines = [
        "## Known limitations",
        "",
        f"- {lim.get('ambiguous', 0)} samples have a name that fits two lineages: the ranks "
        "that differ are left empty (`label_ambiguous`).",
        f"- {lim.get('partial', 0)} samples are labelled above species only, "
        f"and {lim.get('unresolved', 0)} have only the ranks their source gave.",
        f"- {lim.get('unknown_license', 0)} samples have no known license: check "
        "`provenance.parquet` before redistributing them.",
        f"- {lim.get('held_out', 0)} images are held out for the Rare Species benchmark; "
        f"{lim.get('dropped', 0)} images were set aside (see above for why).",
    ]
    kingdoms = lim.get("kingdom_share", {})
    if kingdoms:
        top, share = max(kingdoms.items(), key=lambda kv: kv[1])
        lines.append(
            f"- The spread over the tree of life follows what the sources photograph: "
            f"{share}% of train samples are {top}."
        )
    return [*lines, ""]
