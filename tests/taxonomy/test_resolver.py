"""Resolver logic: ids, scoring, ambiguity, conflicts, gaps, common names."""

from __future__ import annotations

from treeoflife.taxonomy import names, query
from treeoflife.taxonomy.query import make_query
from treeoflife.taxonomy.reference import EOL_DH, INAT, ITIS, Candidate, name_key
from treeoflife.taxonomy.resolver import AMBIGUOUS, PARTIAL, RESOLVED, References, resolve

BIRD = ("Animalia", "Chordata", "Aves", "Suliformes", "Sulidae", "Morus", "bassanus")
TREE = ("Plantae", "Tracheophyta", "Magnoliopsida", "Rosales", "Moraceae", "Morus", "alba")


def _genus(lineage: tuple) -> tuple:
    return lineage[:6] + ("",)


def refs() -> References:
    r = References()
    r.by_name[name_key("Morus", 5)] = [
        Candidate(_genus(BIRD), EOL_DH, "EOL-1"),
        Candidate(_genus(TREE), EOL_DH, "EOL-2"),
    ]
    r.by_name[name_key("Morus bassanus", 6)] = [Candidate(BIRD, EOL_DH, "EOL-3", page_id=3548870)]
    r.by_name[name_key("Morus alba", 6)] = [Candidate(TREE, ITIS, "19066", common="White Mulberry")]
    r.by_page[3548870] = Candidate(BIRD, EOL_DH, "EOL-3", how="id", page_id=3548870)
    r.commons = {
        ITIS: {("Plantae", 6, "morus alba"): "White Mulberry"},
        INAT: {("Animalia", 6, "morus bassanus"): "Northern Gannet"},
    }
    return r


def generic(name: str = "", common: str = "", **ranks: str) -> dict:
    return {"name": name, "ranks": ranks, "common": common}


def test_homonym_without_context_is_ambiguous_not_the_first_candidate() -> None:
    res = resolve(make_query("g:1", "generic", generic("Morus")), refs())
    assert res.status == AMBIGUOUS
    assert res.ranks == ("",) * 7  # the two genera Morus are different taxa: nothing is kept
    assert res.ambiguous[0] == "kingdom"
    assert res.common == ""


def test_homonym_with_a_kingdom_resolves_to_that_lineage() -> None:
    res = resolve(make_query("g:2", "generic", generic("Morus", kingdom="Animalia")), refs())
    assert res.status == PARTIAL and res.ranks == _genus(BIRD)
    res = resolve(make_query("g:3", "generic", generic("Morus", kingdom="Viridiplantae")), refs())
    assert res.ranks == _genus(TREE)
    assert res.provenance["kingdom"]["how"] == "normalised"
    assert res.provenance["phylum"] == {
        "source": EOL_DH,
        "record": "EOL-2",
        "how": "filled",
        "via": "name",
    }


def test_species_name_disambiguates_and_gets_its_own_common_name() -> None:
    res = resolve(make_query("g:4", "generic", generic("Morus alba L.")), refs())
    assert res.status == RESOLVED and res.ranks == TREE and res.common == "White Mulberry"
    bird = resolve(make_query("g:5", "generic", generic("Morus bassanus (Linnaeus, 1758)")), refs())
    assert bird.ranks == BIRD and bird.common == "Northern Gannet"  # never the tree's name


def test_wrong_kingdom_candidates_are_never_used() -> None:
    res = resolve(make_query("g:6", "generic", generic("Morus alba", kingdom="Animalia")), refs())
    assert (
        res.ranks[0] == "Animalia" and res.ranks[1] == "Chordata"
    )  # from the bird genus, not the tree
    assert res.ranks[6] == ""


def test_given_rank_is_never_overwritten_and_conflict_is_recorded() -> None:
    q = make_query(
        "inat21:x",
        "inat21",
        {
            "ranks": dict(
                zip(
                    ("kingdom", "phylum", "class", "order", "family", "genus", "species"),
                    (
                        "Animalia",
                        "Chordata",
                        "Aves",
                        "Pelecaniformes",
                        "Sulidae",
                        "Morus",
                        "bassanus",
                    ),
                    strict=True,
                )
            )
        },
    )
    res = resolve(q, refs())
    assert res.ranks[3] == "Pelecaniformes"
    assert res.conflicts == [
        {
            "rank": "order",
            "given": "Pelecaniformes",
            "reference": "Suliformes",
            "source": EOL_DH,
            "record": "EOL-3",
        }
    ]
    assert res.provenance["order"]["how"] == "given" and "conflict" in res.provenance["order"]


def test_eol_page_id_first_then_scraped_name() -> None:
    r = refs()
    res = resolve(make_query("eol:page:3548870", "eol", {"page_id": 3548870}), r)
    assert res.ranks == BIRD and res.provenance["genus"]["via"] == "eol page id"
    r.scraped[777] = "<i>Morus alba</i> L."
    res = resolve(make_query("eol:page:777", "eol", {"page_id": 777}), r)
    assert res.ranks == TREE and "scraped" in res.provenance["genus"]["via"]
    r.scraped[778] = "Morus"
    assert resolve(make_query("eol:page:778", "eol", {"page_id": 778}), r).status == AMBIGUOUS


def test_reference_priority_and_gap_filling() -> None:
    r = References()
    gap = (
        "Animalia",
        "Chordata",
        "",
        "Suliformes",
        "Sulidae",
        "Morus",
        "bassanus",
    )  # DH without a class
    r.by_name[name_key("Morus bassanus", 6)] = [
        Candidate(gap, EOL_DH, "EOL-3"),
        Candidate(BIRD, ITIS, "174698"),
    ]
    res = resolve(make_query("g:7", "generic", generic("Morus bassanus")), r)
    assert res.ranks == BIRD
    assert res.provenance["class"]["source"] == ITIS and res.provenance["order"]["source"] == EOL_DH


def test_unknown_name_falls_back_to_the_parsed_name() -> None:
    res = resolve(
        make_query("g:8", "generic", generic("Nonexistus fictus Smith, 1900")), References()
    )
    assert res.ranks[5:] == ("Nonexistus", "fictus") and not res.matched
    assert res.provenance["species"]["how"] == "normalised"


def test_given_common_name_wins() -> None:
    res = resolve(
        make_query("g:9", "generic", generic("Morus alba", common="Silkworm Mulberry")), refs()
    )
    assert res.common == "Silkworm Mulberry"


def test_queries_made_in_batches_read_back_as_made_one_by_one(monkeypatch) -> None:
    """The stage's queries: cleaned a batch at a time (the name cache emptied after each),
    kept on disk, read back in order, each time the same, and resolved the same."""
    monkeypatch.setattr(query, "QUERY_BATCH", 2)  # three batches
    labels = [
        ("g:10", "generic", generic("Morus bassanus (Linnaeus, 1758)", kingdom="Animalia")),
        ("inat21:1", "inat21", {"ranks": {"genus": "Morus", "species": "alba"}}),
        ("eol:page:3548870", "eol", {"page_id": 3548870}),
        ("g:11", "generic", generic("Morus", common="gannets", phylum="CHORDATA")),
        (
            "bioscan:1",
            "bioscan",
            {"ranks": {"order": "Diptera", "genus": "Megaselia", "species": "sp. BOLD:AAA"}},
        ),
    ]
    stored = query.StoredQueries(labels)
    assert not names._CACHE
    expected = [make_query(*label) for label in labels]
    assert len(stored) == 5
    # every field, the cleaning notes and the name's parse included; readable again
    assert list(stored) == expected == list(stored)
    assert [q.parsed for q in stored] == [q.parsed for q in expected]
    assert [resolve(q, refs()) for q in stored] == [resolve(q, refs()) for q in expected]
    stored.close()


def test_a_genus_many_chains_offer_resolves_as_one_chain_would() -> None:
    """ITIS offers a genus once per species chain through it (same lineage, own record):
    the repeats change neither the ambiguity nor the lineage a known kingdom picks."""
    many, one = References(), References()
    bird = [Candidate(_genus(BIRD), ITIS, f"{tsn}@genus") for tsn in range(5)]
    tree = [Candidate(_genus(TREE), ITIS, f"{tsn}@genus") for tsn in range(5, 8)]
    many.by_name[name_key("Morus", 5)] = bird + tree
    one.by_name[name_key("Morus", 5)] = [bird[0], tree[0]]
    loose = make_query("g", "generic", generic(genus="Morus"))
    for r in (many, one):
        assert resolve(loose, r).status == AMBIGUOUS
    plant = make_query("p", "generic", generic(kingdom="Plantae", genus="Morus"))
    assert resolve(plant, many).ranks == resolve(plant, one).ranks == _genus(TREE)
    assert resolve(plant, many).provenance["family"]["record"] == "5@genus"
