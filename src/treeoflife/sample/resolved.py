"""``resolved.jsonl``: names already resolved against Catalogue of Life, the GBIF backbone
and NCBI, one species a line, the way those sources disagree (GBIF sometimes lacks a class,
NCBI calls animals Metazoa and plants Viridiplantae)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from treeoflife.sample import formats
from treeoflife.sample.seeded import h
from treeoflife.sample.taxa import RANKS, Taxon

NCBI_KINGDOM = {"Animalia": "Metazoa", "Plantae": "Viridiplantae"}


def write(dest: Path, species: Sequence[Taxon]) -> None:
    formats.write_jsonl(dest / "resolved.jsonl", [_line(t) for t in species if t.has("resolved")])


def _line(t: Taxon) -> dict:
    r = t.ranks
    full = {x: r[x] for x in RANKS[:6]} | {"species": t.binomial}
    return {
        t.binomial: {
            "Catalogue of Life": full,
            "GBIF Backbone Taxonomy": {
                x: v for x, v in full.items() if x != "class" or h("gbif", t.key) % 2
            },
            "NCBI": full | {"kingdom": NCBI_KINGDOM.get(r["kingdom"], r["kingdom"])},
        }
    }
