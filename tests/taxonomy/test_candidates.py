"""The on-disk candidate store answers the resolver's look-ups as the in-memory dicts did."""

from __future__ import annotations

from dataclasses import MISSING, fields

from treeoflife.taxonomy.candidates import CandidateStore
from treeoflife.taxonomy.reference import COL, EOL_DH, ITIS, SYNONYM, Candidate, name_key

BIRD = ("Animalia", "Chordata", "Aves", "Suliformes", "Sulidae", "Morus", "bassanus")
TREE = ("Plantae", "Tracheophyta", "Magnoliopsida", "Rosales", "Moraceae", "Morus", "alba")
GENUS = name_key("Morus", 5)


def _genus(lineage: tuple) -> tuple:
    return lineage[:6] + ("",)


def test_a_names_candidates_come_back_in_trust_order_then_in_the_loaders_order() -> None:
    store = CandidateStore((EOL_DH, ITIS, COL))
    # added in another order than trusted: ColDP first, then ITIS, then the DH
    col = [
        Candidate(_genus(TREE), COL, "6MB3T"),
        Candidate(BIRD, COL, "4QHKG", how=SYNONYM, synonym="Sula bassana"),
    ]
    itis = [Candidate(_genus(TREE), ITIS, "19065@genus", common="mulberry")]
    dh = [
        Candidate(_genus(BIRD), EOL_DH, "EOL-1", page_id=45511),
        Candidate(_genus(TREE), EOL_DH, "EOL-2"),
    ]
    assert store.add_names(COL, {GENUS: col}) == 2
    store.add_names(
        ITIS, {GENUS: itis, name_key("Morus alba", 6): [Candidate(TREE, ITIS, "19066")]}
    )
    store.add_names(EOL_DH, {GENUS: dh})
    # each reference's rows stream back in the order they were added (the common names'
    # joins read them so, before the look-ups are built)
    assert [r[0] for r in store.records(COL)] == ["6MB3T", "4QHKG"]
    # with what common names are joined on: page, common name, (kingdom, rank, name)
    assert list(store.records(ITIS)) == [
        ("19065@genus", None, "mulberry", ("Plantae", 5, "morus")),
        ("19066", None, "", ("Plantae", 6, "morus alba")),
    ]
    by_name, _by_page = store.indexes()
    assert by_name.get(GENUS) == dh + itis + col
    # every field survives the round trip (None page ids, empty strings, synonyms)
    assert by_name.get(GENUS)[-1].synonym == "Sula bassana"
    assert by_name.get(GENUS)[1].page_id is None
    assert by_name.get(name_key("Morus alba", 6)) == [Candidate(TREE, ITIS, "19066")]
    # an unknown key (or a known name at another rank) answers the default, as dict.get
    assert by_name.get(name_key("Morus", 4)) == ()
    assert by_name.get(name_key("Sula", 5), None) is None
    store.close()


def test_page_ids_find_their_dh_candidate() -> None:
    store = CandidateStore((EOL_DH,))
    gannet = Candidate(BIRD, EOL_DH, "EOL-3", how="id", page_id=3548870)
    mulberry = Candidate(TREE, EOL_DH, "EOL-4", how="id", page_id=594996)
    store.add_pages({3548870: gannet, 594996: mulberry})
    assert [r[:2] for r in store.page_records()] == [("EOL-3", 3548870), ("EOL-4", 594996)]
    _by_name, by_page = store.indexes()
    assert by_page.get(3548870) == gannet
    assert by_page.get(594996) == mulberry
    assert by_page.get(1) is None
    assert by_page.get(None) is None  # a label without a page id
    store.close()


def test_a_candidate_with_every_field_set_comes_back_equal() -> None:
    store = CandidateStore((COL,))
    full = Candidate(
        BIRD, COL, "4QHKG", how=SYNONYM, common="gannet", page_id=45511, synonym="Sula bassana"
    )
    assert all(
        getattr(full, f.name) != f.default for f in fields(Candidate) if f.default != MISSING
    )
    store.add_names(COL, {name_key("Sula bassana", 6): [full]})
    by_name, _by_page = store.indexes()
    assert by_name.get(name_key("Sula bassana", 6)) == [full]
    store.close()
