"""Report: what the dataset holds, for the people who use and curate it.

Written from ``catalog.csv`` and the database — no image is read:

- ``reports/stats.json``: samples per split, source, kingdom; how complete the labels are;
  rejects by reason;
- ``reports/treemap.html``: a plotly treemap of the train split, kingdom → family;
- ``README.md`` at the top of OUT: the dataset card, where Hugging Face looks for it (its
  front matter names the shards of each split, so ``load_dataset(OUT)`` finds them);
- ``reports/licenses.csv``: license and owner of every EOL image, when the EOL media
  manifest is among the sources.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

from treeoflife import rejects
from treeoflife.reports import card, treemap
from treeoflife.reports.check_taxa import source_of
from treeoflife.stages import BuildContext, Stage, file_signature
from treeoflife.taxonomy.ranks import RANKS

NAME = "report"


def catalog_stats(rows: list[dict[str, str]]) -> dict[str, Any]:
    """Counts a curator looks at first: per split, source, kingdom; rank completeness."""
    by_split = Counter(r["split"] for r in rows)
    train = [r for r in rows if r["split"] == "train"] or rows
    complete = {rank: sum(1 for r in train if r.get(rank)) for rank in RANKS}
    n = len(train) or 1
    return {
        "samples": dict(sorted(by_split.items())),
        "by_source": dict(sorted(Counter(source_of(r) for r in train).items())),
        "by_kingdom": dict(sorted(Counter(r.get("kingdom") or "(unknown)" for r in train).items())),
        "rank_known_percent": {rank: round(100 * c / n, 2) for rank, c in complete.items()},
        "distinct_taxa": len({tuple(r.get(k, "") for k in RANKS) for r in train}),
        "with_common_name_percent": round(100 * sum(1 for r in train if r.get("common")) / n, 2),
    }


def reject_counts(ctx: BuildContext) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for reason, outcome, count in ctx.db.execute(
        "SELECT reason, outcome, COUNT(*) FROM rejects GROUP BY reason, outcome ORDER BY reason"
    ):
        out.setdefault(outcome, {})[reason] = count
    return out


def write_licenses(manifest: Path, rows: list[dict[str, str]], dest: Path) -> int:
    """EOL license and owner per image, from the media manifest, for the images we kept."""
    wanted = {r["eol_content_id"]: r["treeoflife_id"] for r in rows if r.get("eol_content_id")}
    written = 0
    tmp = dest.with_suffix(".tmp")
    with manifest.open(newline="", encoding="utf-8") as fh, tmp.open("w", newline="") as out:
        reader = csv.DictReader(fh)
        writer = csv.writer(out)
        writer.writerow(
            ["treeoflife_id", "eol_content_id", "eol_page_id", "license", "owner", "source_url"]
        )
        for row in reader:
            cid = (row.get("EOL content ID") or "").strip()
            if cid in wanted:
                writer.writerow(
                    [
                        wanted.pop(cid),
                        cid,
                        row.get("EOL page ID", ""),
                        row.get("License Name", ""),
                        row.get("Copyright Owner", ""),
                        row.get("Medium Source URL", ""),
                    ]
                )
                written += 1
    tmp.replace(dest)
    return written


def inputs(ctx: BuildContext) -> Any:
    return file_signature([ctx.config.source_path("eol_media_manifest")])


def run(ctx: BuildContext) -> dict[str, Any]:
    reports = ctx.out / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    with (ctx.out / "catalog.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    stats = catalog_stats(rows)
    stats["rejects"] = reject_counts(ctx)
    (reports / "stats.json").write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n")
    treemap.write_treemap([r for r in rows if r["split"] == "train"], reports / "treemap.html")
    manifest = ctx.config.source_path("eol_media_manifest")
    licensed = write_licenses(manifest, rows, reports / "licenses.csv") if manifest.is_file() else 0
    (ctx.out / "README.md").write_text(card.dataset_card(stats, ctx.config, rejects.REASONS))
    ctx.log(
        f"report: {ctx.out}/README.md (dataset card), {reports}/ stats.json, treemap.html"
        + (f", licenses.csv ({licensed} images)" if manifest.is_file() else "")
    )
    return {"licensed_images": licensed, "distinct_taxa": stats["distinct_taxa"]}


STAGE = Stage(NAME, "write stats, a treemap, the dataset card and licenses", run, inputs)
