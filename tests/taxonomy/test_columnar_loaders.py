"""The references read by Arrow (only the rows a label may want made into Python) give
exactly what the row-by-row ``csv`` reader gives, on files with every awkward cell."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from treeoflife.taxonomy.loaders import (
    _csv,
    coldp,
    eol_vernacular,
    inat_dwca,
    itis,
)
from treeoflife.taxonomy.loaders._tree import Codes, _unique
from treeoflife.taxonomy.reference import SYNONYM, name_key


def _both(
    monkeypatch: pytest.MonkeyPatch, module: object, load: object, *args: object
) -> tuple[object, object]:
    """(what ``load`` gives through Arrow, what it gives row by row); fails unless the
    Arrow path read the file."""
    read = []

    def counting(*a: object, **k: object):
        read.append(True)
        return _csv.selected_rows(*a, **k)

    monkeypatch.setattr(module, "selected_rows", counting)
    columnar = load(*args)
    assert read, "the columnar reader was not used"

    def refuse(*_a: object, **_k: object):
        raise _csv.NotColumnar("forced")

    monkeypatch.setattr(module, "selected_rows", refuse)
    return columnar, load(*args)


def test_itis_chains_read_by_arrow_as_row_by_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "itis.csv"
    path.write_text(
        "terminal_tsn,terminal_vernacular,terminal_vernacular_lang,Kingdom,Phylum,Class,Order,Family,Genus,Species\n"
        '1,"gannet, northern","English, French",Metazoa,Chordata,Aves,Suliformes,Sulidae,Morus,Morus bassanus\n'
        "2,,, Animalia ,Chordata,Aves,Suliformes,Sulidae, MORUS ,Morus  serrator\n"
        "3,,,Plantae,Tracheophyta,Magnoliopsida,Rosales,Moraceae,Morus,Morus alba\n"
        "4,,,Plantae,Tracheophyta,Magnoliopsida,Poales,Poaceae,Zea,Zea mays\n"
        "5,,,Animalia,Chordata,Aves,Passeriformes,Fringillidae,Éclair,Éclair dorée\n"
        "6,,,Plantae,Tracheophyta,Magnoliopsida,Lamiales,Lamiaceae,Mentha,Mentha × piperita\n"
        ",,,Animalia,Chordata,Aves,Suliformes,unknown,Sula,Sula sula\n"
        "8,,,Animalia,Chordata,Aves,SULIFORMES,Sulidae,Papasula,Papasula abbotti\n"
    )
    wanted = {
        name_key("Animalia", 0),
        name_key("Suliformes", 3),
        name_key("Morus", 5),
        name_key("Morus serrator", 6),
        name_key("Éclair dorée", 6),
        name_key("Mentha piperita", 6),
        name_key("Sula sula", 6),
    }
    columnar, rows = _both(monkeypatch, itis, itis.load, path, wanted)
    assert columnar == rows
    assert [c.record for c in columnar[name_key("Morus", 5)]] == ["1@genus", "2@genus", "3@genus"]
    assert {name_key("Éclair dorée", 6), name_key("Mentha piperita", 6)} <= set(columnar)


def test_inat_taxa_read_by_arrow_as_row_by_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taxa = tmp_path / "taxa.csv"
    head = "id,kingdom,phylum,class,order,family,genus,specificEpithet,scientificName,taxonRank\n"
    taxa.write_text(
        head + "1,Animalia,Arthropoda,Malacostraca,Decapoda,Nephropidae,Homarus,americanus,"
        "Homarus americanus,species\n"
        "2,Animalia,Chordata,Mammalia,Artiodactyla,Cervidae,Odocoileus,,Odocoileus,Genus\n"
        "3,Animalia,Chordata,Aves,Suliformes,Sulidae,Morus,bassanus,Morus  bassanus  bassanus,species\n"
        "4,Animalia,Chordata,Aves,Suliformes,Sulidae,,serrator,Morus serrator,species\n"
        '5,Plantae,Tracheophyta,Magnoliopsida,Rosales,Rosaceae,Rosa,,"Rosa\tcanina L.",species\n'
        "6,Plantae,Tracheophyta,Magnoliopsida,Rosales,Rosaceae,Éclair,dorée,Éclair dorée,species\n"
        "7,Plantae,Tracheophyta,Magnoliopsida,Rosales,Rosaceae,Rosa,,Rosa,subgenus\n"
        ",Plantae,Tracheophyta,Magnoliopsida,Rosales,Rosaceae,Rosa,gallica, Rosa gallica ,species\n"
    )
    wanted = {
        name_key("Homarus americanus", 6),
        name_key("Odocoileus", 5),
        name_key("Morus bassanus", 6),
        name_key("Morus serrator", 6),
        name_key("Rosa canina", 6),
        name_key("Éclair dorée", 6),
        name_key("Rosa gallica", 6),
        name_key("Rosa", 5),
    }
    columnar, rows = _both(monkeypatch, inat_dwca, inat_dwca.load_taxa, taxa, wanted)
    assert columnar == rows
    assert set(columnar) == wanted - {name_key("Rosa", 5)}


def test_vernacular_files_read_by_arrow_as_row_by_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inat = tmp_path / "inat.csv"
    inat.write_text(
        "id,vernacularName,language\n"
        "4382,American  Lobster,en\n4382,Lobster,en\n9, Deer ,eng\n9,Hirsch,de\n"
        "10,Zweite,de\n10,Second,\n,Blank,en\n 11 ,Spaced,EN\n"
    )
    columnar, rows = _both(
        monkeypatch, inat_dwca, inat_dwca.load_vernacular, inat, {"4382", "9", "10", "11", ""}
    )
    assert (
        columnar
        == rows
        == {
            "4382": "American Lobster",
            "9": "Deer",
            "10": "Second",
            "": "Blank",
            "11": "Spaced",
        }
    )
    eol = tmp_path / "eol.csv"
    eol.write_text(
        "page_id,vernacular_string,language_code,is_preferred_by_resource,is_preferred_by_eol\n"
        "1,Gannet,en,,\n1,Northern Gannet,en,preferred,preferred\n"
        "0002,Second,eng,,\n"
        "\u0663,Three in Arabic digits,en,,\n"
        " 4 ,Spaced,english,1,\n4,Spaced more,en,,1\n"
        "99999999999999999999999,Huge,en,,\n5,Other,de,1,1\n"
    )
    columnar, rows = _both(monkeypatch, eol_vernacular, eol_vernacular.load, eol, {1, 2, 3, 4, 5})
    assert (
        columnar
        == rows
        == {
            1: "Northern Gannet",
            2: "Second",
            3: "Three in Arabic digits",
            4: "Spaced more",
        }
    )


def test_coldp_read_by_arrow_as_row_by_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every status, children before parents, a repeated ID, synonyms without or of
    themselves as parent, blank IDs, odd spacing and ids of every kind."""
    head = "col:ID\tcol:parentID\tcol:status\tcol:scientificName\tcol:authorship\tcol:rank\n"
    rows = [
        ("S1", "G1", "accepted", "Morus  bassanus", "(L.)", "species"),
        ("SY1", "S1", "synonym", "Sula bassana", "L.", "species"),
        ("SY2", "", "ambiguous synonym", "Sula alba", "", "Species"),
        ("SY3", "SY3", "synonym", "Sula sula", "", "species"),
        ("M1", "S1", "misapplied", "Morus serrator", "", "species"),
        ("B1", "", "bare name", "Morus", "", "genus"),
        ("G1", "F1", " Accepted ", " Morus ", "", "GENUS"),
        ("G2", "F9", "provisionally accepted", "Morus", "", "genus"),
        ("F1", "O1", "", "Sulidae", "", "family"),
        ("O1", "12345", "accepted", "Suliformes", "", "order"),
        ("12345", "K1", "accepted", "Aves", "", "class"),
        ("K1", "", "accepted", "Animalia", "", "kingdom"),
        ("F9", "K2", "accepted", "Moraceae", "", "family"),
        ("K2", "", "accepted", "unknown", "", "kingdom"),
        ("", "K1", "accepted", "Blank id", "", "species"),
        ("É1", "G1", "accepted", "Morus\u00a0capensis", "", "species"),
        ("a-very-long-usage-id", "G1", "accepted", "Morus éclair", "", "species"),
        ("G1", "F1", "accepted", "Morus", "", "genus"),
        ("7", "G1", "accepted", "Morus ritus", "", "subspecies"),
    ]
    path = tmp_path / "NameUsage.tsv"
    path.write_text(head + "".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    wanted = {
        name_key(n, r)
        for n, r in [
            ("Morus bassanus", 6),
            ("Sula bassana", 6),
            ("Sula alba", 6),
            ("Sula sula", 6),
            ("Morus serrator", 6),
            ("Morus", 5),
            ("Morus capensis", 6),
            ("Morus éclair", 6),
            ("Blank id", 6),
            ("Aves", 2),
        ]
    }
    real_row_pass = coldp._row_pass

    def refuse(*_a: object, **_k: object):
        raise AssertionError("the row-by-row reader was used")

    monkeypatch.setattr(coldp, "_row_pass", refuse)
    columnar = coldp.load(path, wanted)
    monkeypatch.setattr(coldp, "_row_pass", real_row_pass)

    def not_columnar(*_a: object, **_k: object):
        raise _csv.NotColumnar("forced")

    monkeypatch.setattr(coldp, "_columnar_pass", not_columnar)
    rows_ = coldp.load(path, wanted)
    assert columnar == rows_
    (syn,) = columnar.by_name[name_key("Sula bassana", 6)]
    assert syn.how == SYNONYM and syn.lineage[5:] == ("Morus", "bassanus")
    assert columnar.accepted_of == {"SY1": "S1"}
    assert name_key("Morus serrator", 6) not in columnar.by_name
    assert name_key("Sula alba", 6) not in columnar.by_name  # synonym of nothing
    assert [c.lineage[5:] for c in columnar.by_name[name_key("Morus éclair", 6)]] == [
        ("Morus", "éclair")
    ]
    assert columnar.rows == len(rows) - 1


def test_coldp_odd_rows_fall_back_to_the_row_reader(tmp_path: Path) -> None:
    path = tmp_path / "NameUsage.tsv"
    path.write_text(
        "col:ID\tcol:parentID\tcol:status\tcol:scientificName\tcol:rank\n"
        "G1\t\taccepted\tMorus\tgenus\n"
        "S1\tG1\taccepted\tMorus bassanus\tspecies\n"
        "S2\tG1\n",  # a short row: Arrow refuses it, the csv reader pads it
        encoding="utf-8",
    )
    result = coldp.load(path, {name_key("Morus bassanus", 6)})
    (gannet,) = result.by_name[name_key("Morus bassanus", 6)]
    assert gannet.lineage[5:] == ("Morus", "bassanus") and result.rows == 3


def test_ids_coded_from_their_bytes_as_one_at_a_time() -> None:
    """EOL-<digits> ids all of one width take the byte path; any other column the general
    one (short ASCII ids packed in numpy, the rest numbered in Python); all give
    :meth:`Codes.code`'s codes."""
    columns = [
        ["EOL-000000000001", "EOL-000012345678", "", "EOL-999999999999"],
        ["EOL-1", "EOL-22", "EOL-333", ""],  # widths differ
        ["EOL-00000000000A", "EOL-000000000002", "EOL-000000000003", ""],
        ["EOL-000000000001", "7", "4QHKG", "odd id"],
        ["4QHKG", "a", "ABCDEFG", "ABCDEFGH", "É1", "\x00A", "EOL-", "EOL-x", "0012", "7"],
    ]
    for values in columns:
        ids = pa.array(values, pa.string())
        used = np.array([v != "" for v in values])
        (codes,) = Codes().code_columns([(ids, used)])
        one = Codes()
        assert codes.tolist() == [one.code(v) if v else -1 for v in values]
    sliced = pa.array(["x", "EOL-000000000005", "EOL-000000000006"], pa.string())[1:]
    (codes,) = Codes().code_columns([(sliced, np.array([True, False]))])
    assert codes.tolist() == [Codes().code("EOL-000000000005"), -1]
    sliced = pa.array(["x", "4QHKG", "ab"], pa.string())[1:]
    (codes,) = Codes().code_columns([(sliced, np.array([True, True]))])
    assert codes.tolist() == [Codes().code("4QHKG"), Codes().code("ab")]


def test_names_collapsed_in_arrow_as_python_collapses_them() -> None:
    values = [
        "Morus bassanus",
        "Morus  bassanus",
        " Morus",
        "Morus ",
        "Morus\x0bbassanus",
        "Morus\x1fbassanus",
        "Morus\u00a0bassanus",
        "Éclair  dorée",
        "",
        "   ",
    ]
    got = _csv.collapsed(pa.array(values, pa.string())).to_pylist()
    assert got == [" ".join(v.split()) for v in values]


def test_distinct_codes_as_numpy_unique_gives_them() -> None:
    rng = np.random.default_rng(3)
    for n, k in ((0, 1), (1, 1), (200, 7), (5000, 10**12)):
        codes = rng.integers(0, k, n).astype(np.int64)
        expected = np.unique(codes, return_index=True, return_inverse=True)
        for got, want in zip(_unique(codes), expected, strict=True):
            assert np.array_equal(got, want)
