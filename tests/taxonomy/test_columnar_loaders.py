"""The references read by Arrow (only the rows a label may want made into Python) give
exactly what the row-by-row ``csv`` reader gives, on files with every awkward cell."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from treeoflife.taxonomy.loaders import _csv, eol_vernacular, inat_dwca, itis
from treeoflife.taxonomy.loaders._tree import Codes, _unique
from treeoflife.taxonomy.reference import name_key


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


def test_dh_ids_coded_from_their_bytes_as_one_at_a_time() -> None:
    """EOL-<digits> ids all of one width take the byte path; any other column the general
    one; both give :meth:`Codes.code`'s codes."""
    columns = [
        ["EOL-000000000001", "EOL-000012345678", "", "EOL-999999999999"],
        ["EOL-1", "EOL-22", "EOL-333", ""],  # widths differ
        ["EOL-00000000000A", "EOL-000000000002", "EOL-000000000003", ""],
        ["EOL-000000000001", "7", "4QHKG", "odd id"],
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


def test_distinct_codes_as_numpy_unique_gives_them() -> None:
    rng = np.random.default_rng(3)
    for n, k in ((0, 1), (1, 1), (200, 7), (5000, 10**12)):
        codes = rng.integers(0, k, n).astype(np.int64)
        expected = np.unique(codes, return_index=True, return_inverse=True)
        for got, want in zip(_unique(codes), expected, strict=True):
            assert np.array_equal(got, want)
