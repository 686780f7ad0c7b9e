"""An excerpt of the GBIF Backbone Taxonomy DwC-A, unpacked (``gbif/backbone/Taxon.tsv``,
``gbif/backbone/VernacularName.tsv``), in the backbone's column names and order: integer
keys (GBIF's own for the kingdoms), every row's classification in ``kingdom`` ... ``genus``,
synonyms pointing at their accepted taxon (``Motacilla rubecula``, known to no other
reference, resolves only through this backbone), and a ``doubtful`` homonym of an accepted
genus, which the accepted one outranks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from treeoflife.sample import formats
from treeoflife.sample.seeded import h
from treeoflife.sample.taxa import RANKS, Taxon

TAXON_COLUMNS = [
    "taxonID",
    "datasetID",
    "parentNameUsageID",
    "acceptedNameUsageID",
    "originalNameUsageID",
    "scientificName",
    "scientificNameAuthorship",
    "canonicalName",
    "genericName",
    "specificEpithet",
    "infraspecificEpithet",
    "taxonRank",
    "nameAccordingTo",
    "namePublishedIn",
    "taxonomicStatus",
    "nomenclaturalStatus",
    "taxonRemarks",
    "kingdom",
    "phylum",
    "class",
    "order",
    "family",
    "genus",
]
VERNACULAR_COLUMNS = [
    "taxonID",
    "vernacularName",
    "language",
    "country",
    "countryCode",
    "sex",
    "lifeStage",
    "source",
]
KINGDOM_KEYS = {"Animalia": 1, "Archaea": 2, "Bacteria": 3, "Chromista": 4, "Fungi": 5}
KINGDOM_KEYS |= {"Plantae": 6, "Protozoa": 7, "Viruses": 8}
COL_DATASET = "7ddf754f-d193-4cc9-b351-99906754a03b"  # the Catalogue of Life in GBIF
# (synonym, authorship, status, accepted species): real synonyms in another genus
SYNONYMS = [
    ("Motacilla rubecula", "Linnaeus, 1758", "homotypic synonym", "Erithacus rubecula"),
    ("Felis concolor", "Linnaeus, 1771", "homotypic synonym", "Puma concolor"),
    ("Mustela lutra", "Linnaeus, 1758", "homotypic synonym", "Lutra lutra"),
]
# a doubtful genus of the same name as an accepted one: never a candidate beside it
DOUBTFUL = [("Morus", "Fungi")]


def gbif_key(*parts: object) -> int:
    return 10_000 + h("gbif-key", *parts) % 12_000_000


def _row(**values: object) -> list:
    return [values.get(c, "") for c in TAXON_COLUMNS]


def write(dest: Path, taxa: Sequence[Taxon]) -> None:
    rows, keys, vernacular = [], {}, []
    for t in taxa:
        parent: object = ""
        path: tuple = ()
        classification: dict[str, str] = {}
        for rank in RANKS[:-1]:
            name = t.ranks[rank]
            if not name:
                break
            path = (*path, name)
            classification[rank] = name
            if path not in keys:
                keys[path] = KINGDOM_KEYS.get(name, 0) if rank == "kingdom" else gbif_key(*path)
                keys[path] = keys[path] or gbif_key(*path)
                rows.append(
                    _row(
                        taxonID=keys[path],
                        datasetID=COL_DATASET,
                        parentNameUsageID=parent,
                        scientificName=name,
                        canonicalName=name,
                        genericName=name if rank == "genus" else "",
                        taxonRank=rank,
                        taxonomicStatus="accepted",
                        **classification,
                    )
                )
            parent = keys[path]
        if not t.is_species:
            continue
        keys[t.key] = gbif_key(*path, t.key)
        rows.append(
            _row(
                taxonID=keys[t.key],
                datasetID=COL_DATASET,
                parentNameUsageID=parent,
                scientificName=f"{t.binomial} {t.authority}".strip(),
                scientificNameAuthorship=t.authority,
                canonicalName=t.binomial,
                genericName=t.ranks["genus"],
                specificEpithet=t.ranks["species"],
                taxonRank="species",
                taxonomicStatus="accepted",
                **classification,
            )
        )
        if t.common_name:
            vernacular.append(
                [keys[t.key], t.common_name, "en", "", "", "", "", "Catalogue of Life"]
            )
    by_key = {t.key: t for t in taxa}
    for synonym, authorship, status, accepted in SYNONYMS:
        t = by_key[accepted]
        genus, epithet = synonym.split()
        rows.append(
            _row(
                taxonID=gbif_key("synonym", synonym),
                datasetID=COL_DATASET,
                acceptedNameUsageID=keys[accepted],
                scientificName=f"{synonym} {authorship}",
                scientificNameAuthorship=authorship,
                canonicalName=synonym,
                genericName=genus,
                specificEpithet=epithet,
                taxonRank="species",
                taxonomicStatus=status,
                **{r: t.ranks[r] for r in RANKS[:-1]},  # the accepted taxon's, as GBIF has it
            )
        )
    for genus, kingdom in DOUBTFUL:
        rows.append(
            _row(
                taxonID=gbif_key("doubtful", genus, kingdom),
                parentNameUsageID=KINGDOM_KEYS[kingdom],
                scientificName=genus,
                canonicalName=genus,
                genericName=genus,
                taxonRank="genus",
                taxonomicStatus="doubtful",
                kingdom=kingdom,
                genus=genus,
            )
        )
    formats.write_table(dest / "gbif/backbone/Taxon.tsv", TAXON_COLUMNS, rows, delimiter="\t")
    formats.write_table(
        dest / "gbif/backbone/VernacularName.tsv", VERNACULAR_COLUMNS, vernacular, delimiter="\t"
    )
