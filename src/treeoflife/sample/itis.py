"""ITIS species-level taxonomy chains (``itis/species_level_taxonomy_chains.csv``): ITIS's
own ranks (Division, Infrakingdom, Superclass, ...) and vernaculars, some only in Spanish."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from treeoflife.sample import formats, lineage
from treeoflife.sample.seeded import h
from treeoflife.sample.taxa import Taxon

ITIS_COLUMNS = [
    "hierarchy_string_tsn",
    "hierarchy_string_names",
    "terminal_tsn",
    "terminal_scientific_name",
    "terminal_vernacular",
    "terminal_vernacular_lang",
    "hierarchy_string_ranks",
    "Kingdom",
    "Phylum",
    "Class",
    "Order",
    "Family",
    "Genus",
    "Species",
]
SPANISH = {"Zea mays": "maíz"}  # an `itis_es` species' Spanish name, if not its common_name


def write(dest: Path, species: Sequence[Taxon]) -> None:
    rows = [_row(t) for t in species if t.has("itis")]
    rows.sort(key=lambda row: row[2])
    formats.write_table(dest / "itis/species_level_taxonomy_chains.csv", ITIS_COLUMNS, rows)


def _chain(t: Taxon, name: str) -> list[tuple[str, str]]:
    """(name, ITIS rank) from the kingdom down to the species ``name``."""
    r = t.ranks
    chain = list(lineage.ITIS_TOP[r["kingdom"]])
    if r["kingdom"] == "Animalia":
        chain.append((lineage.ITIS_INFRAKINGDOM.get(r["phylum"], "Protostomia"), "Infrakingdom"))
        chain.append((r["phylum"], "Phylum"))
    else:
        chain.append((r["phylum"], "Division"))
    if sp := lineage.subphylum(r["phylum"], r["class"]):
        chain.append((sp, "Subphylum" if r["kingdom"] == "Animalia" else "Subdivision"))
    if r["phylum"] == "Chordata":
        chain.append(("Gnathostomata", "Infraphylum"))
        if r["class"] in ("Aves", "Mammalia", "Reptilia", "Amphibia"):
            chain.append(("Tetrapoda", "Superclass"))
    if r["phylum"] == "Tracheophyta" and r["class"] != "Polypodiopsida":
        chain.append(("Spermatophytina", "Subdivision"))
    chain.append((r["class"], "Class"))
    if so := lineage.SUPERORDER.get(r["order"]):
        chain.append((so, "Superorder"))
    chain += [(r["order"], "Order"), (r["family"], "Family")]
    sub, _ = lineage.subfamily_tribe(r["kingdom"], r["genus"])
    if sub:
        chain.append((sub, "Subfamily"))
    chain += [(r["genus"], "Genus"), (name, "Species")]
    return chain


def _row(t: Taxon) -> list:
    r = t.ranks
    name = f"{r['genus']} ×{r['species']}" if t.hybrid else t.binomial
    chain = _chain(t, name)
    tsns = [str(100_000 + h("tsn", r["kingdom"], n, rk) % 900_000) for n, rk in chain[:-1]]
    tsns.append(str(t.itis_tsn))
    vern, lang = (t.common_name, "English") if t.common_name else ("", "")
    if t.has("itis_es"):
        vern, lang = SPANISH.get(t.key, t.common_name), "Spanish"
    return [
        "-".join(tsns),
        "-".join(n for n, _ in chain),
        t.itis_tsn,
        name,
        vern,
        lang,
        "-".join(rk for _, rk in chain),
        r["kingdom"],
        r["phylum"],
        r["class"],
        r["order"],
        r["family"],
        r["genus"],
        name,
    ]
