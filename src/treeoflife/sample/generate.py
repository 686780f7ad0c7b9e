"""Write the sample source collection and its ``expected.json`` from the curated taxa table.

One writer per source, each a pure function of ``taxa.csv`` (every random choice is a
SHA-256 of a fixed string, see :mod:`seeded`) that writes its files and returns the images
it planted, as :class:`~treeoflife.sample.expected.ExpectedImage`. The writers share no
state, so they may run in any order; the one exception is explicit: the TreeOfLife-10M
catalog's content ids continue from the EOL writer's (``first_content_id``).
"""

from __future__ import annotations

import time
from pathlib import Path

from treeoflife.sample import (
    bioscan,
    bioscan5m,
    coldp,
    eol_hierarchy,
    eol_images,
    expected,
    gbif,
    gbif_backbone,
    generic,
    inat,
    itis,
    rarespecies,
    resolved,
    tol10m,
)
from treeoflife.sample.broken import readable_members
from treeoflife.sample.labels import CommonNames
from treeoflife.sample.taxa import load_taxa

__all__ = ["generate", "readable_members", "write_all"]


def generate(dest: Path) -> dict:
    """Write the collection into ``dest`` and return its summary."""
    taxa = load_taxa()
    species = [t for t in taxa if t.is_species]
    names = CommonNames.from_species(species)

    eol = eol_images.write(dest, taxa, names)
    images = [
        *eol.images,
        *inat.write_inat21(dest, species, names),
        *bioscan.write(dest, taxa, names),
        *tol10m.write(dest, species, names, first_content_id=eol.last_content_id),
        *generic.write(dest, taxa, names),
        *bioscan5m.write(dest, taxa, names),
        *gbif.write(dest, species, names),
    ]
    rarespecies.write(dest, eol.rare)
    eol_hierarchy.write(dest, taxa)
    inat.write_dwca(dest, species)
    itis.write(dest, species)
    resolved.write(dest, species)
    coldp.write(dest, taxa)
    gbif_backbone.write(dest, taxa)

    totals = expected.write(dest, images, eol.containers, species)
    planted = [im for im in images if im.reason and im.reason != "label_ambiguous"]
    return {
        "dest": str(dest),
        "sources": totals["by_source"],
        "images": totals["images"],
        "broken_inputs": len(planted) + len(eol.containers),
        "species": totals["species"],
        "kingdoms": totals["kingdoms"],
        "expected": str(dest / "expected.json"),
    }


def write_all(dest: Path) -> dict:
    """:func:`generate`, with the seconds it took in the summary."""
    t0 = time.perf_counter()
    summary = generate(dest)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    return summary
