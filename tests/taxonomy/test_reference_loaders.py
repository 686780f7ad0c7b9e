"""Each reference loader on real-format rows written to tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from treeoflife.errors import TolError
from treeoflife.taxonomy.loaders import (
    eol_dh,
    eol_scraped,
    eol_vernacular,
    inat_dwca,
    itis,
    resolved_jsonl,
)
from treeoflife.taxonomy.reference import name_key

DH_HEADER = "taxonID\tsource\tfurtherInformationURL\tacceptedNameUsageID\tparentNameUsageID\tscientificName\ttaxonRank\ttaxonomicStatus\tdatasetID\tcanonicalName\tauthority\teolID\tLandmark\thigherClassification"


def _dh_row(tid: str, parent: str, name: str, rank: str, page: str, accepted: str = "") -> str:
    return "\t".join(
        [
            tid,
            "src",
            "",
            accepted,
            parent,
            name,
            rank,
            "accepted" if not accepted else "synonym",
            "x",
            name,
            "",
            page,
            "",
            "",
        ]
    )


@pytest.fixture
def dh(tmp_path: Path) -> Path:
    rows = [
        # children before parents, as the real file allows
        _dh_row("EOL-9", "EOL-8", "Morus bassanus", "species", "3548870"),
        _dh_row("EOL-1", "", "Life", "", "1"),
        _dh_row("EOL-2", "EOL-1", "Metazoa", "kingdom", "2"),
        _dh_row("EOL-3", "EOL-2", "Chordata", "phylum", "3"),
        _dh_row("EOL-4", "EOL-3", "Aves", "class", "4"),
        _dh_row("EOL-5", "EOL-4", "Suliformes", "order", "5"),
        _dh_row("EOL-6", "EOL-5", "Sulidae", "family", "6"),
        _dh_row("EOL-7", "EOL-6", "Sulinae", "subfamily", "7"),
        _dh_row("EOL-8", "EOL-7", "Morus", "genus", "8"),
        _dh_row("EOL-10", "EOL-9", "Morus bassanus bassanus", "subspecies", "10"),
        _dh_row("EOL-11", "", "Sula bassana", "species", "", accepted="EOL-9"),
        _dh_row("EOL-20", "EOL-1", "Viridiplantae", "kingdom", "20"),
        _dh_row("EOL-21", "EOL-20", "Morus", "genus", "21"),
    ]
    path = tmp_path / "taxon.tab"
    path.write_text(DH_HEADER + "\n" + "\n".join(rows) + "\n")
    return path


BIRD = ("Animalia", "Chordata", "Aves", "Suliformes", "Sulidae", "Morus", "bassanus")


def test_dh_by_page_walks_parents_and_normalises_kingdom(dh: Path) -> None:
    result = eol_dh.load(dh, {3548870, 10, 99}, set())
    assert result.by_page[3548870].lineage == BIRD
    assert result.by_page[10].lineage == BIRD  # a subspecies page drops to its species
    assert 99 not in result.by_page
    assert result.rows == 13


def test_dh_by_name_keeps_homonyms_and_follows_synonyms(dh: Path) -> None:
    result = eol_dh.load(dh, set(), {name_key("Morus", 5), name_key("Sula bassana", 6)})
    kingdoms = sorted(c.lineage[0] for c in result.by_name[name_key("Morus", 5)])
    assert kingdoms == ["Animalia", "Plantae"]
    (syn,) = result.by_name[name_key("Sula bassana", 6)]
    assert syn.lineage == BIRD and syn.how == "synonym" and syn.record == "EOL-11"


def test_dh_species_names_off_the_wanted_rows_are_read_in_a_second_pass(dh: Path) -> None:
    # only the subspecies' page is wanted: its species row (EOL-9) is kept by nothing
    assert eol_dh.load(dh, {10}, set()).by_page[10].lineage == BIRD


def test_dh_a_repeated_taxon_id_is_one_taxon_updated_in_file_order(dh: Path) -> None:
    rows = [
        _dh_row("EOL-31", "EOL-30", "Papasula abbotti", "species", "31"),
        _dh_row("EOL-30", "", "", "", ""),  # a stub listing first
        _dh_row("EOL-30", "EOL-6", "Papasula", "genus", "30"),
    ]
    dh.write_text(dh.read_text() + "\n".join(rows) + "\n")
    result = eol_dh.load(dh, {31, 30}, {name_key("Papasula", 5)})
    assert result.by_page[31].lineage == (*BIRD[:5], "Papasula", "abbotti")
    assert result.by_page[30].lineage == (*BIRD[:5], "Papasula", "")
    assert result.by_page[30].record == "EOL-30"
    (genus,) = result.by_name[name_key("Papasula", 5)]
    assert genus.lineage == result.by_page[30].lineage and genus.page_id == 30
    assert result.rows == 16


def test_dh_a_repeated_taxon_id_takes_the_name_of_its_last_ranked_row(dh: Path) -> None:
    rows = [
        _dh_row("EOL-31", "EOL-30", "Papasula abbotti", "species", "31"),
        _dh_row("EOL-30", "EOL-6", "Papasula", "genus", "30"),
        _dh_row("EOL-30", "", "Sula", "genus", ""),  # renamed; parent and page kept
        _dh_row("EOL-30", "", "", "", ""),  # no rank: changes nothing
    ]
    dh.write_text(dh.read_text() + "\n".join(rows) + "\n")
    assert eol_dh.load(dh, {31}, set()).by_page[31].lineage == (*BIRD[:5], "Sula", "abbotti")


def test_dh_parent_cycle_does_not_hang(tmp_path: Path) -> None:
    path = tmp_path / "taxon.tab"
    path.write_text(
        DH_HEADER
        + "\n"
        + _dh_row("A", "B", "Aus", "genus", "1")
        + "\n"
        + _dh_row("B", "A", "Bidae", "family", "2")
        + "\n"
    )
    assert eol_dh.load(path, {1}, set()).by_page[1].lineage[5] == "Aus"


def _awkward_dh(tmp_path: Path) -> Path:
    """Ids of every coding path, names with whitespace and non-ASCII at their ends,
    unknown names, a page listed twice, a synonym, a rank alias, blank-id rows."""
    rows = [
        _dh_row("EOL-000001", "", "Life", "", ""),
        _dh_row(" EOL-000002 ", "EOL-000001", "Metazoa", "Kingdom", "2"),
        _dh_row("7", "EOL-000002", "Chordata\x1c", "phylum", "3"),
        _dh_row("4QHKG", "7", " Aves", "classis", "4"),
        _dh_row("odd id of a third kind", "4QHKG", "Suliformes", "order", " 5"),
        _dh_row("EOL-12345678901234567", "odd id of a third kind", "Sulidae", "family", "6"),
        _dh_row("EOL-8", "EOL-12345678901234567", "Ébène\u00a0", "genus", "8"),
        _dh_row("EOL-9", "EOL-8", "Ébène noir", "species", "9"),
        _dh_row("EOL-9b", "EOL-8", "unknown", "species", "9"),
        _dh_row("EOL-10", "EOL-10", "Sula bassana", "species", "", accepted="EOL-9"),
        _dh_row("", "EOL-8", "Nobody", "genus", "11"),
        _dh_row("EOL-12", "EOL-404", "Orphanus", "genus", "12"),
        "",
    ]
    path = tmp_path / "taxon.tab"
    path.write_text(DH_HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _row_by_row(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: object) -> None:
        raise eol_dh.NotColumnar("forced")

    monkeypatch.setattr(eol_dh, "_columnar_pass", refuse)


def test_dh_columnar_reader_gives_what_the_row_reader_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _awkward_dh(tmp_path)
    pages = {2, 3, 4, 5, 6, 8, 9, 12}
    names = {
        name_key("Ébène", 5),
        name_key("Ébène noir", 6),
        name_key("Sula bassana", 6),
        name_key("aves", 2),
        name_key("Orphanus", 5),
    }
    columnar = eol_dh.load(path, pages, names)
    assert columnar.by_page[9].lineage == (
        "Animalia", "Chordata", "Aves", "Suliformes", "Sulidae", "Ébène", "noir"
    )  # fmt: skip
    assert columnar.by_name[name_key("Sula bassana", 6)][0].how == "synonym"
    _row_by_row(monkeypatch)
    assert eol_dh.load(path, pages, names) == columnar


def test_dh_rows_narrower_than_the_header_are_read_row_by_row(tmp_path: Path) -> None:
    path = tmp_path / "taxon.tab"
    short = "\t".join(_dh_row("EOL-3", "EOL-2", "Aus", "genus", "").split("\t")[:7])
    path.write_text(
        DH_HEADER
        + "\n"
        + _dh_row("EOL-2", "", "Aidae", "family", "2")
        + "\n"
        + short  # no eolID or canonicalName: the scientificName is the name
        + "\n"
    )
    result = eol_dh.load(path, {2}, {name_key("Aus", 5)})
    assert result.rows == 2
    assert result.by_name[name_key("Aus", 5)][0].lineage[4:6] == ("Aidae", "Aus")


def test_dh_wrong_format_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "taxon.tab"
    path.write_text("id,name\n1,x\n")
    with pytest.raises(TolError, match=r"taxon\.tab.*missing column"):
        eol_dh.load(path, {1}, set())


def test_scraped(tmp_path: Path) -> None:
    path = tmp_path / "scraped.csv"
    path.write_text(
        'page_id,scientific_name\n50381704,"Amanita muscaria (L.) Lam., 1783"\n7,Other\n'
    )
    assert eol_scraped.load(path, {50381704}) == {50381704: "Amanita muscaria (L.) Lam., 1783"}


def test_eol_vernacular_prefers_eol_preferred_english(tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    path.write_text(
        "page_id,canonical_form,vernacular_string,language_code,resource_name,is_preferred_by_resource,is_preferred_by_eol\n"
        "1,Morus bassanus,Gannet,en,Wikipedia,,\n"
        "1,Morus bassanus,Northern Gannet,en,EOL Dynamic Hierarchy,preferred,preferred\n"
        "1,Morus bassanus,Basstölpel,de,Wikimedia Commons,preferred,preferred\n"
        "2,X,Zweite,deu,x,1,1\n"
        "3,Y,Only,eng,x,,\n"
    )
    assert eol_vernacular.load(path, {1, 2, 3}) == {1: "Northern Gannet", 3: "Only"}


def test_itis_chains(tmp_path: Path) -> None:
    path = tmp_path / "itis.csv"
    path.write_text(
        "hierarchy_string_tsn,hierarchy_string_names,terminal_tsn,terminal_scientific_name,terminal_vernacular,terminal_vernacular_lang,hierarchy_string_ranks,Kingdom,Phylum,Class,Order,Family,Genus,Species\n"
        '1-2,A-B,505212,Zea mays,"maíz, corn",'
        '"Spanish, English",K-S,Plantae,Tracheophyta,Magnoliopsida,Poales,Poaceae,Zea,Zea mays\n'
    )
    out = itis.load(path, {name_key("Zea mays", 6), name_key("Poaceae", 4)})
    (sp,) = out[name_key("Zea mays", 6)]
    assert sp.lineage[-1] == "mays" and sp.common == "corn" and sp.record == "505212"
    (fam,) = out[name_key("Poaceae", 4)]
    assert fam.lineage[5:] == ("", "")


def test_itis_chains_answer_for_every_name_on_them(tmp_path: Path) -> None:
    """Each wanted name is found wherever a chain has it: a kingdom under its synonym, a
    higher name, a genus, a species (its genus cell spaced and cased as written), and in a
    row cut short."""
    path = tmp_path / "itis.csv"
    header = "terminal_tsn,Kingdom,Phylum,Class,Order,Family,Genus,Species\n"
    path.write_text(
        header + "1,Metazoa,Chordata,Aves,Suliformes,Sulidae,Morus,Morus bassanus\n"
        "2,Animalia,Chordata,Aves,Suliformes,Sulidae, MORUS ,Morus serrator\n"
        "3,Plantae,Tracheophyta,Magnoliopsida,Rosales,Moraceae,Morus\n"
        "4,Plantae,Tracheophyta,Magnoliopsida,Poales,Poaceae,Zea,Zea mays\n"
    )
    wanted = {
        name_key("Animalia", 0),
        name_key("Suliformes", 3),
        name_key("Morus", 5),
        name_key("Morus serrator", 6),
    }
    out = itis.load(path, wanted)
    assert set(out) == wanted
    assert [c.record for c in out[name_key("Animalia", 0)]] == ["1@kingdom", "2@kingdom"]
    assert [c.record for c in out[name_key("Morus", 5)]] == ["1@genus", "2@genus", "3@genus"]
    (serrator,) = out[name_key("Morus serrator", 6)]
    assert serrator.lineage == (
        "Animalia",
        "Chordata",
        "Aves",
        "Suliformes",
        "Sulidae",
        "MORUS",
        "serrator",
    )
    assert not any(c.record.startswith("4") for cs in out.values() for c in cs)


def test_inat_taxa_and_vernacular(tmp_path: Path) -> None:
    taxa = tmp_path / "taxa.csv"
    taxa.write_text(
        "id,taxonID,identifier,parentNameUsageID,kingdom,phylum,class,order,family,genus,specificEpithet,infraspecificEpithet,modified,scientificName,taxonRank,references\n"
        "4382,u,4382,p,Animalia,Arthropoda,Malacostraca,Decapoda,Nephropidae,Homarus,americanus,,d,Homarus americanus,species,r\n"
        "6377,u,6377,p,Animalia,Chordata,Mammalia,Artiodactyla,Cervidae,Odocoileus,,,d,Odocoileus,genus,r\n"
    )
    out = inat_dwca.load_taxa(taxa, {name_key("Homarus americanus", 6), name_key("Odocoileus", 5)})
    assert out[name_key("Homarus americanus", 6)][0].lineage[-2:] == ("Homarus", "americanus")
    assert out[name_key("Odocoileus", 5)][0].lineage[-1] == ""
    vern = tmp_path / "v.csv"
    vern.write_text(
        "id,vernacularName,language,locality,countryCode,source,lexicon,contributor,created\n4382,American Lobster,en,,,,English,,x\n4382,Lobster,en,,,,English,,x\n"
    )
    assert inat_dwca.load_vernacular(vern, {"4382"}) == {"4382": "American Lobster"}


def test_resolved_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "resolved.jsonl"
    path.write_text(
        '{"Vulpes vulpes": {"NCBI": {"kingdom": "Metazoa", "phylum": "Chordata", "class": "Mammalia", "order": "Carnivora", "family": "Canidae", "genus": "Vulpes", "species": "Vulpes vulpes"}}}\n'
    )
    (cand,) = resolved_jsonl.load(path, {name_key("Vulpes vulpes", 6)})[
        name_key("Vulpes vulpes", 6)
    ]
    assert cand.lineage == (
        "Animalia",
        "Chordata",
        "Mammalia",
        "Carnivora",
        "Canidae",
        "Vulpes",
        "vulpes",
    )
    assert cand.record == "NCBI"
    path.write_text("not json\n")
    with pytest.raises(TolError, match="line 1"):
        resolved_jsonl.load(path, set())
