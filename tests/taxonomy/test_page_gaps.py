"""Rule 5 for EOL page-id hits: a DH lineage's empty ranks filled from name candidates."""

from __future__ import annotations

from pathlib import Path

import pytest

from treeoflife.config import Config, SourcePaths
from treeoflife.taxonomy.build import load_references
from treeoflife.taxonomy.lineage import EMPTY
from treeoflife.taxonomy.query import make_query
from treeoflife.taxonomy.reference import EOL_DH, INAT, ITIS, RESOLVED, Candidate, name_key
from treeoflife.taxonomy.resolver import PARTIAL, References, gap_ranks, resolve
from treeoflife.taxonomy.resolver import RESOLVED as FULLY_RESOLVED

TURTLE = ("Animalia", "Chordata", "Reptilia", "Testudines", "Cheloniidae", "Chelonia", "mydas")
TURTLE_NO_CLASS = TURTLE[:2] + ("",) + TURTLE[3:]
PAGE = 1056015
GANNETS = ("Animalia", "Chordata", "", "Suliformes", "Sulidae", "Morus", "")  # no class
GANNETS_PAGE = 45515


def _eol(page: int) -> object:
    return make_query(f"eol:page:{page}", "eol", {"page_id": page})


def _turtle_refs(*name_cands: Candidate) -> References:
    r = References()
    r.by_page[PAGE] = Candidate(TURTLE_NO_CLASS, EOL_DH, "EOL-7", how="id", page_id=PAGE)
    r.by_name[name_key("Chelonia mydas", 6)] = list(name_cands)
    return r


def _gannet_refs(*name_cands: Candidate) -> References:
    r = References()
    r.by_page[GANNETS_PAGE] = Candidate(GANNETS, EOL_DH, "EOL-8", how="id", page_id=GANNETS_PAGE)
    r.by_name[name_key("Morus", 5)] = list(name_cands)
    return r


def test_a_dh_page_without_a_class_gets_it_from_itis_with_provenance() -> None:
    res = resolve(_eol(PAGE), _turtle_refs(Candidate(TURTLE, ITIS, "173833")))
    assert res.ranks == TURTLE and res.status == FULLY_RESOLVED and not res.ambiguous
    assert res.provenance["class"] == {
        "source": ITIS,
        "record": "173833",
        "how": "filled",
        "via": "gap filled by name",
    }
    # every other rank still comes from the page itself
    assert res.provenance["order"] == {
        "source": EOL_DH,
        "record": "EOL-7",
        "how": "filled",
        "via": "eol page id",
    }


def test_agreeing_references_fill_the_gap_from_the_first_of_them() -> None:
    refs = _turtle_refs(Candidate(TURTLE, ITIS, "173833"), Candidate(TURTLE, INAT, "39681"))
    res = resolve(_eol(PAGE), refs)
    assert res.ranks == TURTLE and res.provenance["class"]["record"] == "173833"


@pytest.mark.parametrize(
    "cand",
    [
        # the plant genus Morus: a homonym in another kingdom
        Candidate(
            ("Plantae", "Tracheophyta", "Magnoliopsida", "Rosales", "Moraceae", "Morus", ""),
            ITIS,
            "19063@genus",
        ),
        # the same kingdom, but another order: not the page's taxon
        Candidate(
            ("Animalia", "Chordata", "Aves", "Pelecaniformes", "Sulidae", "Morus", ""),
            INAT,
            "4269",
        ),
        # silent at a rank the page gives: nothing shows it is the page's taxon there
        Candidate(
            ("Animalia", "", "Aves", "Suliformes", "Sulidae", "Morus", ""),
            RESOLVED,
            "GBIF Backbone Taxonomy",
        ),
    ],
    ids=["other-kingdom-homonym", "other-order", "silent-at-phylum"],
)
def test_a_candidate_that_does_not_agree_everywhere_fills_nothing(cand: Candidate) -> None:
    res = resolve(_eol(GANNETS_PAGE), _gannet_refs(cand))
    assert res.ranks == GANNETS and res.status == PARTIAL
    assert "class" not in res.provenance


def test_agreeing_candidates_that_differ_at_the_gap_leave_it_empty_and_say_why() -> None:
    sauropsida = TURTLE[:2] + ("Sauropsida",) + TURTLE[3:]
    refs = _turtle_refs(Candidate(TURTLE, ITIS, "173833"), Candidate(sauropsida, RESOLVED, "NCBI"))
    res = resolve(_eol(PAGE), refs)
    assert res.ranks == TURTLE_NO_CLASS
    # not a name that fits two taxa: the page names one; its references classify it apart
    assert res.status == PARTIAL and not res.ambiguous
    assert res.provenance["class"] == {
        "how": "gap unfilled",
        "candidates": ["Reptilia (itis 173833)", "Sauropsida (resolved NCBI)"],
    }


def test_dh_name_candidates_do_not_fill_a_page_gap() -> None:
    """Which DH names are loaded depends on the build's other labels; the page must not."""
    res = resolve(_eol(PAGE), _turtle_refs(Candidate(TURTLE, EOL_DH, "EOL-99")))
    assert res.ranks == TURTLE_NO_CLASS


def test_only_empty_ranks_above_the_lowest_known_one_are_gaps() -> None:
    page = ("Animalia", "", "Aves", "", "Sulidae", "", "")
    assert gap_ranks(page, EMPTY) == [1, 3]  # not genus or species: nothing below is known
    given = ("", "Chordata", "", "", "", "", "")
    assert gap_ranks(page, given) == [3]  # a rank the source gives is no gap


DH_HEADER = "taxonID\tsource\tfurtherInformationURL\tacceptedNameUsageID\tparentNameUsageID\tscientificName\ttaxonRank\ttaxonomicStatus\tdatasetID\tcanonicalName\tauthority\teolID\tLandmark\thigherClassification"
ITIS_HEADER = "hierarchy_string_tsn,hierarchy_string_names,terminal_tsn,terminal_scientific_name,terminal_vernacular,terminal_vernacular_lang,hierarchy_string_ranks,Kingdom,Phylum,Class,Order,Family,Genus,Species"


def _dh_row(tid: str, parent: str, name: str, rank: str, page: int) -> str:
    return "\t".join(
        [tid, "src", "", "", parent, name, rank, "accepted", "x", name, "", str(page), "", ""]
    )


def test_the_loaders_load_the_names_a_page_gap_is_filled_from(tmp_path: Path) -> None:
    """An EOL label names no taxon itself: the ITIS chain must come in by the page's name."""
    dh = tmp_path / "eol" / "dh21" / "taxon.tab"
    dh.parent.mkdir(parents=True)
    rows = [
        _dh_row("EOL-1", "", "Metazoa", "kingdom", 1),
        _dh_row("EOL-2", "EOL-1", "Chordata", "phylum", 2),
        _dh_row("EOL-3", "EOL-2", "Testudines", "order", 3),  # straight under the phylum
        _dh_row("EOL-4", "EOL-3", "Cheloniidae", "family", 4),
        _dh_row("EOL-5", "EOL-4", "Chelonia", "genus", 5),
        _dh_row("EOL-6", "EOL-5", "Chelonia mydas", "species", PAGE),
    ]
    dh.write_text(DH_HEADER + "\n" + "\n".join(rows) + "\n")
    chains = tmp_path / "itis" / "species_level_taxonomy_chains.csv"
    chains.parent.mkdir()
    chains.write_text(
        ITIS_HEADER + "\n1-2,A-B,173833,Chelonia mydas,green turtle,English,K-S,"
        "Animalia,Chordata,Reptilia,Testudines,Cheloniidae,Chelonia,Chelonia mydas\n"
    )
    query = _eol(PAGE)
    refs, _ = load_references(Config(sources_root=str(tmp_path), paths=SourcePaths()), [query])
    res = resolve(query, refs)
    assert res.ranks == TURTLE and res.provenance["class"]["record"] == "173833"
    assert res.provenance["species"]["source"] == EOL_DH
