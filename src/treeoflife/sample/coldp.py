"""A Catalogue of Life ColDP export (``col/NameUsage.tsv``, ``col/VernacularName.tsv``) in
the form ChecklistBank writes it: ``col:``-prefixed headers in its column order, a
parent-linked classification (the denormalised rank columns left empty, as COL leaves
them), COL-style short alphanumeric ids, and synonyms whose ``parentID`` is the accepted
taxon — one of them (``Felis leo``) known to no other reference, so a label written with
it resolves only through this backbone."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from treeoflife.sample import formats
from treeoflife.sample.seeded import h
from treeoflife.sample.taxa import RANKS, Taxon

# The NameUsage.tsv columns of a ChecklistBank ColDP export (COL 2024 Annual Checklist)
NAME_USAGE_COLUMNS = [
    f"col:{c}"
    for c in [
        "ID",
        "alternativeID",
        "nameAlternativeID",
        "sourceID",
        "parentID",
        "basionymID",
        "status",
        "scientificName",
        "authorship",
        "rank",
        "notho",
        "originalSpelling",
        "uninomial",
        "genericName",
        "infragenericEpithet",
        "specificEpithet",
        "infraspecificEpithet",
        "cultivarEpithet",
        "combinationAuthorship",
        "combinationAuthorshipID",
        "combinationExAuthorship",
        "combinationExAuthorshipID",
        "combinationAuthorshipYear",
        "basionymAuthorship",
        "basionymAuthorshipID",
        "basionymExAuthorship",
        "basionymExAuthorshipID",
        "basionymAuthorshipYear",
        "namePhrase",
        "nameReferenceID",
        "publishedInYear",
        "publishedInPage",
        "publishedInPageLink",
        "gender",
        "genderAgreement",
        "etymology",
        "code",
        "nameStatus",
        "accordingToID",
        "accordingToPage",
        "accordingToPageLink",
        "referenceID",
        "scrutinizer",
        "scrutinizerID",
        "scrutinizerDate",
        "extinct",
        "temporalRangeStart",
        "temporalRangeEnd",
        "environment",
        "species",
        "section",
        "subgenus",
        "genus",
        "subtribe",
        "tribe",
        "subfamily",
        "family",
        "superfamily",
        "suborder",
        "order",
        "subclass",
        "class",
        "subphylum",
        "phylum",
        "kingdom",
        "ordinal",
        "branchLength",
        "link",
        "nameRemarks",
        "remarks",
    ]
]
VERNACULAR_COLUMNS = [
    f"col:{c}"
    for c in [
        "taxonID",
        "sourceID",
        "name",
        "transliteration",
        "language",
        "preferred",
        "country",
        "area",
        "sex",
        "referenceID",
        "remarks",
    ]
]
# (synonym, its authorship, the accepted species): real COL synonyms in another genus
SYNONYMS = [
    ("Felis leo", "Linnaeus, 1758", "Panthera leo"),
    ("Sula bassana", "(Linnaeus, 1758)", "Morus bassanus"),
    ("Sansevieria trifasciata", "Prain", "Dracaena trifasciata"),
]
_ID_ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZ"  # COL ids have no vowels
_OTHER_LANGUAGES = {"Panthera leo": [("deu", "Löwe")], "Morus bassanus": [("fra", "Fou de Bassan")]}


def col_id(*parts: object) -> str:
    n, out = h("col-id", *parts), ""
    for _ in range(5):
        n, d = divmod(n, len(_ID_ALPHABET))
        out += _ID_ALPHABET[d]
    return out


def _code(kingdom: str) -> str:
    return "zoological" if kingdom == "Animalia" else "botanical"


def _usage(**values: object) -> list:
    return [values.get(c.removeprefix("col:"), "") for c in NAME_USAGE_COLUMNS]


def write(dest: Path, taxa: Sequence[Taxon]) -> None:
    rows, ids, vernacular = [], {}, []
    for t in taxa:
        parent = ""
        path: tuple = ()
        for rank in RANKS[:-1]:
            name = t.ranks[rank]
            if not name:
                break
            path = (*path, name)
            if path not in ids:
                ids[path] = col_id(*path)
                rows.append(
                    _usage(
                        ID=ids[path],
                        parentID=parent,
                        status="accepted",
                        scientificName=name,
                        rank=rank,
                        uninomial=name,
                        code=_code(t.ranks["kingdom"]),
                    )
                )
            parent = ids[path]
        if not t.is_species:
            continue
        ids[t.key] = col_id(*path, t.key)
        rows.append(
            _usage(
                ID=ids[t.key],
                sourceID=1000 + h("col-source", t.ranks["class"]) % 1300,
                parentID=parent,
                status="accepted",
                scientificName=t.binomial,
                authorship=t.authority,
                rank="species",
                genericName=t.ranks["genus"],
                specificEpithet=t.ranks["species"],
                code=_code(t.ranks["kingdom"]),
                extinct="false",
            )
        )
        if t.common_name:
            vernacular.append([ids[t.key], "", t.common_name, t.common_name, "eng", "true"])
        for lang, name in _OTHER_LANGUAGES.get(t.key, []):
            vernacular.append([ids[t.key], "", name, name, lang, ""])
    for synonym, authorship, accepted in SYNONYMS:
        genus, epithet = synonym.split()
        rows.append(
            _usage(
                ID=col_id("synonym", synonym),
                parentID=ids[accepted],
                status="synonym",
                scientificName=synonym,
                authorship=authorship,
                rank="species",
                genericName=genus,
                specificEpithet=epithet,
            )
        )
    formats.write_table(dest / "col/NameUsage.tsv", NAME_USAGE_COLUMNS, rows, delimiter="\t")
    formats.write_table(
        dest / "col/VernacularName.tsv",
        VERNACULAR_COLUMNS,
        [row + [""] * (len(VERNACULAR_COLUMNS) - len(row)) for row in vernacular],
        delimiter="\t",
    )
