"""The Catalogue of Life (ColDP) and GBIF backbone loaders, and labels resolved against
backbones that disagree, in the trust order ``[taxonomy] references`` sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from treeoflife.config import Config, TaxonomyConfig
from treeoflife.errors import TolError
from treeoflife.sample.coldp import NAME_USAGE_COLUMNS, VERNACULAR_COLUMNS
from treeoflife.sample.gbif_backbone import TAXON_COLUMNS
from treeoflife.sample.gbif_backbone import VERNACULAR_COLUMNS as GBIF_VERNACULAR_COLUMNS
from treeoflife.sample.taxa import RANKS, load_taxa
from treeoflife.taxonomy.build import load_references
from treeoflife.taxonomy.loaders import coldp, gbif_backbone
from treeoflife.taxonomy.loaders._tree import Codes
from treeoflife.taxonomy.query import make_query
from treeoflife.taxonomy.reference import COL, GBIF, PROVISIONAL, SYNONYM, name_key
from treeoflife.taxonomy.resolver import AMBIGUOUS, RESOLVED, resolve

GANNET = ("Animalia", "Chordata", "Aves", "Suliformes", "Sulidae", "Morus", "bassanus")
MULBERRY = ("Plantae", "Tracheophyta", "Magnoliopsida", "Rosales", "Moraceae", "Morus", "alba")
WHEATEAR_COL = ("Animalia", "Chordata", "Aves", "Passeriformes", "Muscicapidae", "Oenanthe")
WHEATEAR_GBIF = ("Animalia", "Chordata", "Aves", "Passeriformes", "Turdidae", "Oenanthe")
ROBIN = ("Animalia", "Chordata", "Aves", "Passeriformes", "Muscicapidae", "Erithacus", "rubecula")


def _tsv(path: Path, columns: list[str], rows: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["\t".join(columns)]
    lines += ["\t".join(str(row.get(c, "")) for c in columns) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _col_rows() -> list[dict[str, object]]:
    """COL: the gannet (and a synonym, a misapplied name), wheatears in Muscicapidae, a
    provisionally accepted booby, a provisional plant Morus beside the accepted bird one.
    Children come before their parents, as ColDP allows."""
    u = [
        ("S1", "G1", "accepted", "Morus bassanus", "species"),
        ("SY1", "S1", "synonym", "Sula bassana", "species"),
        ("MA1", "S1", "misapplied", "Sula capensis", "species"),
        ("G1", "F1", "accepted", "Morus", "genus"),
        ("F1", "O1", "accepted", "Sulidae", "family"),
        ("O1", "C1", "accepted", "Suliformes", "order"),
        ("C1", "P1", "accepted", "Aves", "class"),
        ("P1", "K1", "accepted", "Chordata", "phylum"),
        ("K1", "", "accepted", "Animalia", "kingdom"),
        ("O2", "C1", "accepted", "Passeriformes", "order"),
        ("F2", "O2", "accepted", "Muscicapidae", "family"),
        ("G2", "F2", "accepted", "Oenanthe", "genus"),
        ("S2", "G2", "accepted", "Oenanthe oenanthe", "species"),
        ("G3", "F1", "accepted", "Papasula", "genus"),
        ("S3", "G3", "provisionally accepted", "Papasula abbotti", "species"),
        ("K2", "", "accepted", "Plantae", "kingdom"),
        ("G4", "K2", "provisionally accepted", "Morus", "genus"),
    ]
    return [
        {"col:ID": i, "col:parentID": p, "col:status": s, "col:scientificName": n, "col:rank": r}
        for i, p, s, n, r in u
    ]


def _classification(lineage: tuple) -> dict[str, str]:
    return dict(
        zip(("kingdom", "phylum", "class", "order", "family", "genus"), lineage, strict=False)
    )


def _gbif_rows() -> list[dict[str, object]]:
    """GBIF: the mulberry, wheatears in Turdidae, a doubtful plant Oenanthe beside the
    accepted bird one, and a synonym listed before its accepted taxon, with a
    classification of its own that must not be used."""

    def row(key: int, name: str, rank: str, status: str, lineage: tuple, **kw: object) -> dict:
        epithet = name.split()[1] if rank == "species" else ""
        return {
            "taxonID": key,
            "canonicalName": name,
            "scientificName": name,
            "specificEpithet": epithet,
            "taxonRank": rank,
            "taxonomicStatus": status,
            **_classification(lineage),
            **kw,
        }

    return [
        row(9, "Motacilla rubecula", "species", "homotypic synonym", (*ROBIN[:4], "Motacillidae", "Motacilla"), acceptedNameUsageID=10),
        row(10, "Erithacus rubecula", "species", "accepted", ROBIN[:6]),
        row(20, "Morus", "genus", "accepted", MULBERRY[:6]),
        row(21, "Morus alba", "species", "accepted", MULBERRY[:6]),
        row(30, "Oenanthe", "genus", "accepted", WHEATEAR_GBIF),
        row(31, "Oenanthe oenanthe", "species", "accepted", WHEATEAR_GBIF),
        row(32, "Oenanthe", "genus", "doubtful", ("Plantae", "Tracheophyta", "Magnoliopsida", "Apiales", "Apiaceae", "Oenanthe")),
        row(40, "Papasula", "genus", "doubtful", ("Animalia", "Chordata", "Aves", "Suliformes", "Sulidae", "Papasula")),
        row(50, "Sula capensis", "species", "misapplied", GANNET[:6], acceptedNameUsageID=99),
    ]  # fmt: skip


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    root = tmp_path / "sources"
    _tsv(root / "col/NameUsage.tsv", NAME_USAGE_COLUMNS, _col_rows())
    _tsv(
        root / "col/VernacularName.tsv",
        VERNACULAR_COLUMNS,
        [
            {"col:taxonID": "S1", "col:name": "Gannet", "col:language": "eng"},
            {"col:taxonID": "S1", "col:name": "Fou de Bassan", "col:language": "fra"},
            {"col:taxonID": "S1", "col:name": "Northern Gannet", "col:language": "eng", "col:preferred": "true"},
        ],
    )  # fmt: skip
    _tsv(root / "gbif/backbone/Taxon.tsv", TAXON_COLUMNS, _gbif_rows())
    _tsv(
        root / "gbif/backbone/VernacularName.tsv",
        GBIF_VERNACULAR_COLUMNS,
        [
            {"taxonID": 10, "vernacularName": "Rotkehlchen", "language": "de"},
            {"taxonID": 10, "vernacularName": "European Robin", "language": "en"},
        ],
    )
    return root


def _keys(*names: tuple[str, int]) -> set:
    return {name_key(n, r) for n, r in names}


def test_coldp_synonyms_give_the_accepted_lineage_and_name_the_synonym(sources: Path) -> None:
    result = coldp.load(
        sources / "col/NameUsage.tsv", _keys(("Sula bassana", 6), ("Sula capensis", 6))
    )
    (syn,) = result.by_name[name_key("Sula bassana", 6)]
    assert syn.lineage == GANNET and syn.source == COL and syn.how == SYNONYM
    assert syn.record == "SY1" and syn.synonym == "Sula bassana"
    assert result.accepted_of == {"SY1": "S1"}
    assert name_key("Sula capensis", 6) not in result.by_name  # misapplied: another taxon
    assert result.rows == 17


def test_coldp_provisional_names_count_only_where_nothing_is_accepted(sources: Path) -> None:
    result = coldp.load(sources / "col/NameUsage.tsv", _keys(("Papasula abbotti", 6), ("Morus", 5)))
    (booby,) = result.by_name[name_key("Papasula abbotti", 6)]
    assert booby.how == PROVISIONAL and booby.lineage[4:] == ("Sulidae", "Papasula", "abbotti")
    assert [c.lineage[0] for c in result.by_name[name_key("Morus", 5)]] == ["Animalia"]


def test_coldp_headers_without_the_col_prefix_and_a_missing_column(tmp_path: Path) -> None:
    plain = [c.removeprefix("col:") for c in NAME_USAGE_COLUMNS]
    rows = [{k.removeprefix("col:"): v for k, v in r.items()} for r in _col_rows()]
    path = _tsv(tmp_path / "NameUsage.tsv", plain, rows)
    result = coldp.load(path, _keys(("Morus bassanus", 6)))
    assert result.by_name[name_key("Morus bassanus", 6)][0].lineage == GANNET
    bad = _tsv(tmp_path / "bad.tsv", ["col:ID", "col:scientificName"], [])
    with pytest.raises(TolError, match="missing column.*parentID"):
        coldp.load(bad, set())


def test_coldp_english_common_name_prefers_the_preferred_one(sources: Path) -> None:
    names = coldp.load_vernacular(sources / "col/VernacularName.tsv", {"S1", "S2"})
    assert names == {"S1": "Northern Gannet"}


def test_gbif_synonym_takes_its_accepted_rows_lineage(sources: Path) -> None:
    result = gbif_backbone.load(
        sources / "gbif/backbone/Taxon.tsv", _keys(("Motacilla rubecula", 6))
    )
    (syn,) = result.by_name[name_key("Motacilla rubecula", 6)]
    assert syn.lineage == ROBIN and syn.how == SYNONYM and syn.synonym == "Motacilla rubecula"
    assert syn.record == "9" and result.accepted_of == {"9": "10"}
    assert result.rows == 9


def test_gbif_doubtful_and_misapplied_names(sources: Path) -> None:
    result = gbif_backbone.load(
        sources / "gbif/backbone/Taxon.tsv",
        _keys(("Oenanthe", 5), ("Papasula", 5), ("Sula capensis", 6)),
    )
    assert [c.lineage[:6] for c in result.by_name[name_key("Oenanthe", 5)]] == [WHEATEAR_GBIF]
    (alone,) = result.by_name[name_key("Papasula", 5)]
    assert alone.how == PROVISIONAL and alone.source == GBIF
    assert name_key("Sula capensis", 6) not in result.by_name


def test_gbif_english_common_name(sources: Path) -> None:
    path = sources / "gbif/backbone/VernacularName.tsv"
    assert gbif_backbone.load_vernacular(path, {"10", "21"}) == {"10": "European Robin"}


def _resolve(sources: Path, label: dict, references: list[str] | None = None):  # noqa: ANN202
    taxonomy = TaxonomyConfig(references) if references else TaxonomyConfig()
    cfg = Config(sources_root=str(sources), taxonomy=taxonomy)
    query = make_query("generic:x", "generic", {"ranks": {}, "common": "", **label})
    refs, _ = load_references(cfg, [query])
    return resolve(query, refs)


def test_a_genus_moved_between_families_follows_the_trust_order(sources: Path) -> None:
    label = {"name": "Oenanthe oenanthe"}
    col_first = _resolve(sources, label)  # default: col before gbif
    assert col_first.ranks == (*WHEATEAR_COL, "oenanthe") and col_first.status == RESOLVED
    assert col_first.provenance["family"]["source"] == COL
    gbif_first = _resolve(sources, label, ["gbif", "col"])
    assert gbif_first.ranks == (*WHEATEAR_GBIF, "oenanthe")
    assert gbif_first.provenance["family"]["source"] == GBIF


def test_a_given_family_picks_the_backbone_that_agrees_whatever_the_order(sources: Path) -> None:
    res = _resolve(sources, {"name": "Oenanthe oenanthe", "ranks": {"family": "Turdidae"}})
    assert res.ranks == (*WHEATEAR_GBIF, "oenanthe") and not res.conflicts
    assert res.provenance["family"]["how"] == "given"
    assert res.provenance["order"]["source"] == GBIF


def test_a_synonym_in_another_genus_resolves_to_the_accepted_name(sources: Path) -> None:
    res = _resolve(sources, {"name": "Sula bassana (Linnaeus, 1758)"})
    assert res.ranks == GANNET and res.status == RESOLVED
    assert res.provenance["genus"] == {
        "source": COL,
        "record": "SY1",
        "how": "filled",
        "via": "synonym of the accepted taxon",
        "synonym": "Sula bassana",
    }
    assert res.common == "Northern Gannet"  # the accepted taxon's common name
    robin = _resolve(sources, {"name": "Motacilla rubecula"})
    assert robin.ranks == ROBIN and robin.provenance["species"]["synonym"] == "Motacilla rubecula"
    assert (
        robin.common == "European Robin"
        and robin.provenance["common"]["source"] == "gbif_vernacular"
    )


def test_a_provisional_name_resolves_and_says_so(sources: Path) -> None:
    res = _resolve(sources, {"name": "Papasula abbotti"})
    assert res.ranks[4:] == ("Sulidae", "Papasula", "abbotti")
    assert res.provenance["species"]["status"] == "provisional"


def test_cross_backbone_homonyms_are_never_guessed(sources: Path) -> None:
    for order in (["col", "gbif"], ["gbif", "col"]):
        res = _resolve(sources, {"name": "Morus"}, order)
        assert res.status == AMBIGUOUS and res.ranks == ("",) * 7
        candidates = res.provenance["kingdom"]["candidates"]
        assert candidates == ["Animalia (col G1)", "Plantae (gbif 20)"]
    plant = _resolve(sources, {"name": "Morus", "ranks": {"kingdom": "Plantae"}})
    assert plant.ranks == MULBERRY[:6] + ("",)


def test_a_reference_left_out_of_the_order_is_not_read(sources: Path) -> None:
    res = _resolve(sources, {"name": "Sula bassana"}, ["gbif"])
    assert not res.matched and res.ranks[5:] == ("Sula", "bassana")


def test_the_sample_excerpts_give_every_species_its_taxa_csv_lineage(sample_dir: Path) -> None:
    species = [t for t in load_taxa() if t.is_species and not t.hybrid]
    keys = {name_key(t.binomial, 6) for t in species} | {name_key("Felis leo", 6)}
    col = coldp.load(sample_dir / "col/NameUsage.tsv", keys)
    gbif = gbif_backbone.load(sample_dir / "gbif/backbone/Taxon.tsv", keys)
    for t in species:
        want = tuple(t.ranks[r] for r in RANKS)
        assert [c.lineage for c in col.by_name[name_key(t.binomial, 6)]] == [want], t.key
        assert [c.lineage for c in gbif.by_name[name_key(t.binomial, 6)]] == [want], t.key
    (leo,) = col.by_name[name_key("Felis leo", 6)]
    assert leo.lineage[5:] == ("Panthera", "leo") and leo.how == SYNONYM


def test_taxon_id_codes_are_exact() -> None:
    codes = Codes()
    ids = ["EOL-7", "EOL-007", "7", "007", "4QHKG", "4qhkg", "4QHKG0", "WORMS:123", "x" * 40]
    assert len({codes.code(i) for i in ids}) == len(ids)
    assert [codes.code(i) for i in ids] == [codes.code(i) for i in ids]
