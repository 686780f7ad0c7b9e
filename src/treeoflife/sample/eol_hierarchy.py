"""The EOL Dynamic Hierarchy (``eol/dh21/taxon.tab``) and EOL's vernacular names
(``eol/vernacularnames.csv``): every taxon but the ``eolx`` ones, with the hierarchy's extra
ranks, two-kingdom genera in two places, and synonyms pointing at accepted species."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from treeoflife.sample import formats, lineage
from treeoflife.sample.seeded import fake_uuid, h
from treeoflife.sample.taxa import Taxon

DH_COLUMNS = [
    "taxonID",
    "source",
    "furtherInformationURL",
    "acceptedNameUsageID",
    "parentNameUsageID",
    "scientificName",
    "taxonRank",
    "taxonomicStatus",
    "datasetID",
    "canonicalName",
    "authority",
    "eolID",
    "Landmark",
    "higherClassification",
]
EOL_VERNACULAR_COLUMNS = [
    "page_id",
    "canonical_form",
    "vernacular_string",
    "language_code",
    "resource_name",
    "is_preferred_by_resource",
    "is_preferred_by_eol",
]
# DH synonyms: (scientificName, canonicalName, accepted key)
SYNONYMS = [
    ("Parus caeruleus Linnaeus, 1758", "Parus caeruleus", "Cyanistes caeruleus"),
    ("Sula bassana (Linnaeus, 1758)", "Sula bassana", "Morus bassanus"),
    ("Felis concolor Linnaeus, 1771", "Felis concolor", "Puma concolor"),
    ("Sansevieria trifasciata Prain", "Sansevieria trifasciata", "Dracaena trifasciata"),
    ("Rana catesbeiana Shaw, 1802", "Rana catesbeiana", "Lithobates catesbeianus"),
    ("Picoides pubescens (Linnaeus, 1766)", "Picoides pubescens", "Dryobates pubescens"),
]
LANDMARK = {"kingdom": "3", "phylum": "2", "class": "2", "order": "1", "family": "1"}
OTHER_LANGUAGES = {
    "Morus bassanus": [("de", "Basstölpel"), ("fr", "Fou de Bassan")],
    "Parus major": [("de", "Kohlmeise"), ("fr", "Mésange charbonnière")],
    "Erithacus rubecula": [("de", "Rotkehlchen"), ("fr", "Rougegorge familier")],
    "Panthera leo": [("de", "Löwe"), ("es", "León")],
    "Lutra lutra": [("de", "Eurasischer Fischotter")],
    "Prunella modularis": [("de", "Heckenbraunelle")],
    "Apis mellifera": [("de", "Westliche Honigbiene")],
    "Picea abies": [("de", "Gemeine Fichte")],
    "Amanita phalloides": [("de", "Grüner Knollenblätterpilz"), ("fr", "Amanite phalloïde")],
    "Sphagnum palustre": [("de", "Sumpf-Torfmoos")],
    "Ficus gracilis": [("es", "Higo de mar")],
}
# non-preferred English names EOL also lists (the preferred one must win)
EOL_NONPREFERRED = {
    "Ficus gracilis": "Graceful Fig Snail",
    "Xanthoria parietina": "Maritime Sunburst Lichen",
    "Ganoderma applanatum": "Bear Bread",
    "Morus bassanus": "Gannet",
    "Danaus plexippus": "Milkweed Butterfly",
}


def write(dest: Path, taxa: Sequence[Taxon]) -> None:
    in_dh = [t for t in taxa if not t.has("eolx")]
    formats.write_table(dest / "eol/dh21/taxon.tab", DH_COLUMNS, _dh_rows(in_dh), delimiter="\t")
    formats.write_table(
        dest / "eol/vernacularnames.csv",
        EOL_VERNACULAR_COLUMNS,
        _vernacular_rows([t for t in in_dh if t.is_species]),
    )


def _lineage(t: Taxon) -> list[tuple[str, str]]:
    """(name, rank) from the root down to the genus (or the lowest rank ``t`` has)."""
    r = t.ranks
    chain = list(lineage.DH_ROOT) + lineage.DH_TOP[r["kingdom"]]
    chain.append((r["phylum"], "phylum"))
    if sp := lineage.subphylum(r["phylum"], r["class"]):
        chain.append((sp, "subphylum"))
    # DH lineages often skip a rank; turtles here have no class node, so a page hit leaves
    # class empty unless the resolver fills the gap from ITIS / iNat names that agree
    if r["order"] != "Testudines":
        chain.append((r["class"], "class"))
    if so := lineage.SUPERORDER.get(r["order"]):
        chain.append((so, "superorder"))
    chain.append((r["order"], "order"))
    if r["family"]:
        chain.append((r["family"], "family"))
        sub, tribe = lineage.subfamily_tribe(r["kingdom"], r["genus"])
        if sub and r["genus"]:
            chain.append((sub, "subfamily"))
        if tribe and r["genus"]:
            chain.append((tribe, "tribe"))
    if r["genus"]:
        chain.append((r["genus"], "genus"))
    return chain


def _dh_rows(taxa: Sequence[Taxon]) -> list[list]:
    """Accepted rows, each node once at its first appearance (ids numbered in that order),
    then the synonyms."""
    nodes: dict[tuple, list] = {}  # path of (name, rank) from the root -> row
    rows: list[list] = []

    def node(
        path: tuple, name: str, rank: str, sci: str = "", auth: str = "", page: int | None = None
    ) -> str:
        if path in nodes:
            return nodes[path][0]
        tid = f"EOL-{len(rows) + 1:012d}"
        parent = nodes[path[:-1]][0] if len(path) > 1 else ""
        higher = "|".join(p[0] for p in path[:-1])
        if rank == "species":
            col = f"{h('col', name) % 16**5:05X}"
            src, url, ds = (
                f"COL:{col}",
                f"https://www.catalogueoflife.org/data/taxon/{col}",
                "COL-2019",
            )
        else:
            src, url, ds = f"trunk:{fake_uuid('trunk', *path)}", "", "trunk"
        eol_id = page if page is not None else 1000 + h("dhpage", *path) % 9_000_000
        row = [
            tid,
            src,
            url,
            "",
            parent,
            sci or name,
            rank,
            "accepted",
            ds,
            name,
            auth,
            eol_id,
            LANDMARK.get(rank, ""),
            higher,
        ]
        nodes[path] = row
        rows.append(row)
        return tid

    species_id: dict[str, str] = {}
    for t in taxa:
        path: tuple = ()
        for name, rank in _lineage(t):
            path = (*path, (name, rank))
            node(path, name, rank)
        if t.is_species:
            r = t.ranks
            canon = f"{r['genus']} × {r['species']}" if t.hybrid else t.binomial
            path = (*path, (canon, "species"))
            species_id[t.key] = node(
                path, canon, "species", f"{canon} {t.authority}", t.authority, t.eol_page_id
            )
    for sci, canon, accepted in SYNONYMS:
        rows.append(
            [
                f"EOL-{len(rows) + 1:012d}",
                f"COL:{h('col', canon) % 16**5:05X}",
                "",
                species_id[accepted],
                "",
                sci,
                "species",
                "synonym",
                "COL-2019",
                canon,
                sci[len(canon) + 1 :],
                "",
                "",
                "",
            ]
        )
    return rows


def _vernacular_rows(species: Sequence[Taxon]) -> list[list]:
    rows = []
    for t in species:
        page, canon = t.eol_page_id, t.binomial
        if t.key in EOL_NONPREFERRED:
            rows.append([page, canon, EOL_NONPREFERRED[t.key], "en", "Wikipedia", "", ""])
        if t.eol_common:
            resource = "Avibase" if t.ranks["class"] == "Aves" else "ITIS"
            rows.append([page, canon, t.common_name, "en", resource, "", ""])
        if t.eol_common or t.common_name:
            rows.append(
                [
                    page,
                    canon,
                    t.eol_common or t.common_name,
                    "en",
                    "EOL Dynamic Hierarchy",
                    "preferred",
                    "preferred",
                ]
            )
        for lang, name in OTHER_LANGUAGES.get(t.key, []):
            rows.append([page, canon, name, lang, "Wikimedia Commons", "preferred", "preferred"])
    return rows
