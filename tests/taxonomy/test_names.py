"""Name cleaning on real dirty names."""

from __future__ import annotations

import random
import string

import pytest

from treeoflife.taxonomy import names
from treeoflife.taxonomy.lineage import clean_rank_value


@pytest.mark.parametrize(
    ("raw", "kind", "canonical"),
    [
        ("Puma concolor (Linnaeus, 1771)", names.SPECIES, "Puma concolor"),
        ("<i>Ursus arctos</i> Linnaeus, 1758", names.SPECIES, "Ursus arctos"),
        ("Abies alba Mill. 1768", names.SPECIES, "Abies alba"),
        ("Rosa canina var. dumalis Baker", names.SPECIES, "Rosa canina"),
        ("Canis lupus familiaris Linnaeus, 1758", names.SPECIES, "Canis lupus"),
        ("<i>Quercus robur</i> subsp. <i>robur</i>", names.SPECIES, "Quercus robur"),
        ("Pinus nigra Arnold subsp. laricio (Poir.) Maire", names.SPECIES, "Pinus nigra"),
        ("puma concolor", names.SPECIES, "Puma concolor"),
        ("Mentha × piperita L.", names.SPECIES, "Mentha piperita"),
        ("Salix x rubens", names.SPECIES, "Salix rubens"),
        ("Salix alba × Salix fragilis", names.HYBRID_FORMULA, "Salix"),
        ("Quercus robur × Pinus sylvestris", names.HYBRID_FORMULA, ""),
        ("Carex sp.", names.SURROGATE, "Carex"),
        ("Lepus cf. europaeus", names.SURROGATE, "Lepus"),
        ("Diptera sp. BOLD:AAB1234", names.SURROGATE, "Diptera"),
        ("BOLD:AAA1234", names.UNPARSED, ""),
        ("Sulidae Reichenbach, 1849", names.UNINOMIAL, "Sulidae"),
        ("", names.EMPTY, ""),
        ("not_classified", names.EMPTY, ""),
        ("(unidentified)", names.EMPTY, ""),
    ],
)
def test_parse_name(raw: str, kind: str, canonical: str) -> None:
    parsed = names.parse_name(raw)
    assert parsed.kind == kind
    assert parsed.canonical == canonical


def test_surrogates_never_become_a_species() -> None:
    for raw in ("Carex cf. flava", "Bombus sp. 2", "Aus aff. bus", "Megaselia sp."):
        assert names.parse_name(raw).epithet == ""


def test_named_hybrid_is_marked() -> None:
    assert names.parse_name("Mentha × piperita").hybrid


def test_each_name_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    names.clear_cache()
    calls = []
    real = names._gnparse
    monkeypatch.setattr(names, "_gnparse", lambda text: calls.append(text) or real(text))
    for _ in range(3):
        names.parse_name("Morus alba L.")
    assert calls == ["Morus alba L."]


@pytest.mark.parametrize(
    ("rank", "value", "genus", "clean"),
    [
        ("species", "bassanus", "Morus", "bassanus"),
        ("species", "Bombus affinis", "Bombus", "affinis"),
        ("species", "Bombus affinis Cresson, 1863", "Bombus", "affinis"),
        ("species", "Megaselia sp.", "Megaselia", ""),
        ("species", "BOLD:AAN8214", "Megaselia", ""),
        ("species", "cf. flava", "Carex", ""),
        ("species", "not_classified", "", ""),
        ("kingdom", "Metazoa", "", "Animalia"),
        ("kingdom", "Viridiplantae", "", "Plantae"),
        ("kingdom", "Chloroplastida", "", "Plantae"),
        ("class", "(unidentified)", "", ""),
        ("order", "unknown", "", ""),
        ("family", "pleasehelp", "", ""),
        ("family", "  ", "", ""),
        ("family", "Sulidae Reichenbach, 1849", "", "Sulidae"),
        ("genus", "<i>Morus</i>", "", "Morus"),
    ],
)
def test_clean_rank_value(rank: str, value: str, genus: str, clean: str) -> None:
    assert clean_rank_value(rank, value, genus)[0] == clean


def test_names_parsed_in_a_batch_are_cleaned_as_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raws = [
        "Puma concolor (Linnaeus, 1771)",
        "<i>Quercus robur</i> subsp. <i>robur</i>",
        "Mentha × piperita L.",
        "Salix alba × Salix fragilis",
        "Diptera sp. BOLD:AAB1234",
        "Lepus cf. europaeus",
        "BOLD:AAA1234",
        "Aëdes aegypti",
        "puma concolor",
        "Sulidae Reichenbach, 1849",
        "not_classified",
        "",
    ]
    names.clear_cache()
    one_by_one = [names.parse_name(raw) for raw in raws]
    names.clear_cache()
    singles = []
    real = names._gnparse
    monkeypatch.setattr(names, "_gnparse", lambda text: singles.append(text) or real(text))
    names.parse_names(raws + raws[:3])  # repeats parsed once
    assert dict(zip(raws, one_by_one, strict=True)) == names._CACHE
    assert singles == []  # one ParseAryToString call, no name parsed on its own
    names.clear_cache()


# words gnparser's grammar, pre-parser and no-parse/virus rules give a meaning to
_GRAMMAR_WORDS = """ab aff agamosp al amed and anon apud arango auct author authors bacterium bis
bold candidatus cf clade comb complex convar cultivar cv cyanobacterium de degli dela della den
des div dos dupont endosymbiont enrichment environmental ex fide filius forma group hort hybrid
ictv in incertae ined la mihi molina monst morph natio near nec new nomen non none not nothosubsp
nothovar nov nr parte particle pathovar phage phytoplasma plasmid prion pro pseudovar race
samples satellite sect sedis sensu ser serovar sp spec species spp ssp subgen subsp subspec
subtrib supertrib symbiont trib type unidentified unnamed van var variety vector vide viroid
virus viruses von""".split()  # noqa: SIM905


def test_plain_names_are_cleaned_as_gnparser_cleans_them() -> None:
    """Names cleaned without gnparser (a plain uninomial or ``Genus epithet``) come out as
    its parse would make them; names with a word its grammar knows go to it."""
    rng = random.Random(7)

    def word(n: int) -> str:
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(n))

    texts = {"Puma concolor", "Sulidae", "Agra notha", "Rubus complexus", "Cicada dela"}
    for w in _GRAMMAR_WORDS:
        for v in (w, w + word(2), word(2) + w):
            texts |= {v.capitalize(), f"Puma {v}", f"{v.capitalize()} concolor"}
    for _ in range(300):
        texts |= {word(rng.randint(3, 10)).capitalize(), f"{word(6).capitalize()} {word(7)}"}
    plain = sorted(t for t in texts if names._plain_parse(t) is not None)
    assert "Puma concolor" in plain and "Sulidae" in plain
    assert "Puma species" not in plain and "Agra notha" not in plain
    for text, parsed in zip(plain, names._gnparse_many(plain), strict=True):
        assert names._from_parse(text, text, names._plain_parse(text)) == names._from_parse(
            text, text, parsed
        ), text
        # the shortcut parse_name takes for an already plain name gives the same
        assert names._plain_name(text) == names._from_parse(text, text, parsed), text
    assert all(names._plain_name(t) is None for t in texts.difference(plain))
    # plain in shape but not names: an unknown value, one that needs cleaning first
    for text in ("None", "Unknown", "puma concolor", "Puma  concolor", " Sulidae", "Puma <i>x</i>"):
        assert names._plain_name(text) is None, text
