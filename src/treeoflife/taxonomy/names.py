"""Scientific-name cleaning with the offline ``gnparser``: one parse per unique name.

Sources give names with authors, years, HTML, infraspecific parts, hybrid signs,
``sp.``/``cf.`` surrogates and BOLD placeholders. Everything downstream needs only the
canonical ``Genus epithet`` (or a uninomial), so this module turns any such string into a
:class:`CleanName` and says what kind of name it was. Decisions, made here and nowhere else:

- authors, years, HTML: dropped (gnparser's canonical form).
- subspecies / varieties / forms (cardinality 3+): dropped to the species.
- ``sp.``/``spp.``/``aff.``/``nr.`` (APPROXIMATION) and ``cf.`` (COMPARISON): the epithet
  is never a species; only the genus (or higher uninomial) is kept. A ``cf.`` means the
  identifier was not sure of the species, so recording one would be a guess.
- BOLD BIN placeholders and other unparsable strings: nothing is kept.
- named hybrids (``Mentha × piperita``, nothospecies): genus Mentha, species piperita —
  a nothospecies is a species name under the codes and references list it as such.
  Named hybrid genera (``×Triticosecale``) are a uninomial.
- hybrid formulas (``Salix alba × Salix fragilis``): no species (the formula names two);
  the genus only when every parent has the same genus.

Every unique string is parsed once and cached. ``gnparser.parse_to_string`` never frees
the string the library returns (it leaks every parse's JSON), so the library is called
directly here and each result is freed with its ``FreeMemory``.
"""

from __future__ import annotations

import ctypes
import html
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import gnparser

from treeoflife.taxonomy.ranks import UNKNOWN_VALUES, is_unknown

# kinds of names
SPECIES = "species"  # Genus epithet (also a named-hybrid nothospecies)
UNINOMIAL = "uninomial"  # one word; its rank is not known from the name alone
HYBRID_FORMULA = "hybrid_formula"
SURROGATE = "surrogate"  # sp., spp., cf., aff., nr.
UNPARSED = "unparsed"  # BOLD placeholders, garbage
EMPTY = "empty"

_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class CleanName:
    """A cleaned scientific name: its canonical form and what it can be used for."""

    raw: str
    kind: str
    genus: str = (
        ""  # the genus, when the name has one (binomial, or a surrogate/formula on a genus)
    )
    epithet: str = ""  # the species epithet, only for kind SPECIES
    uninomial: str = ""  # the single word of a uninomial (or a surrogate's higher taxon)
    hybrid: bool = False
    note: str = ""  # what cleaning did, for provenance ("" when the name was already canonical)

    @property
    def canonical(self) -> str:
        """``Genus epithet``, or the uninomial/genus, or ""."""
        if self.kind == SPECIES:
            return f"{self.genus} {self.epithet}"
        return self.genus or self.uninomial


_CACHE: dict[str, CleanName] = {}

# Plain names: what gnparser returns for them is known without asking it (each parse
# costs it ~50 us; a full build's labels hold several hundred thousand names, most of them
# a bare genus or ``Genus epithet``). One capitalised ASCII word (a uninomial) or one
# followed by one lower-case word (a species), each of four letters or more, parses to
# itself: in gnparser's grammar (1.11 to 1.14) such a string can only be a uninomial or
# a species unless one of its words is a keyword of the grammar, of its pre-parser (tail
# phrases: "species", "complex", "sensu", ...) or of its no-parse and virus rules, all of
# which match whole words except the ones below. Every other name goes to gnparser.
_PLAIN = re.compile(r"[A-Z][a-z]{3,}(?: [a-z]{4,})?")
# the grammars' keywords of four letters or more (shorter words are never plain), lower case
_KEYWORDS = frozenset(
    """agamosp agamossp agamovar alpha anon apud arango auct author authors bacterio
    bacterium beta bold candidatus clade comb complex convar cultivar cyano degli dela della
    delle dupont ecto emend endo enrichment environmental fide filius form forma group hort
    hybrid ictv ined mihi molina monst morph morth natio near nomen none notho nvar parte
    particle pathovar phage phytoplasma plasmid prion prol pseudovar race samples satellite
    sect sensu sero serotype serovar spec species subf subfam subg subgeen subgen subsect
    subser subsp subspec subtr subtrib subvar supertrib supsp symbiont trib type unamed
    unidentified unnamed variety vector vide viro viroid virus""".split()  # noqa: SIM905
)
# matched inside a word (virus names, "Incertae sedis", symbionts, ``notho-`` ranks, and
# the author word "degli", which the grammar matches at the start of a word)
_KEYWORD_PART = re.compile(
    "vir|phage|vector|particle|prion|npv|ictv|satellit|symbiont|phytoplasma|bacteri|plasmid"
    "|incertae|sedis|notho|candidatus|degli"
)
# genera gnparser rewrites an epithet of before parsing (its AmbiguousException)
_REWRITTEN_GENERA = frozenset(
    """Aeolesthes Agnetina Agra Aleuroclava Allawrencius Anisochaeta Antaplaga Baeolidia
    Bolbodeomyia Bolitoglossa Campylosphaera Castelnaudia Cicada Concinnum Desmoxytes
    Dicentria Dichostasia Dimorphoceras Dischidia Ecnomus Eresus Eucyclops Eulaira Fusinus
    Gnathopleustes Gobiosoma Gonatobotrys Heizmannia Helophorus Hemicloeina Lampona
    Leptonetela Libystica Malamatidia Meteorus Nocaracris Notozomus Ochodaeus Odontella
    Oecetis Oedipina Oedipus Oedopinola Orcevia Paradimorphoceras Paralvinella Parentia
    Phyllospongia Plagiozopelma Plectrocnemia Rubus Ruteloryctes Sceliphron Scopaeus Scoparia
    Selenops Semiothisa Serina Schizura Sigipinius Stegosoladidus Stenoecia Sympycnus Tetracis
    Tetramorium Tortolena Trichosternus Trisephena Zodarion""".split()  # noqa: SIM905
)


def _plain_parse(text: str) -> dict | None:
    """gnparser's parse of a plain name (see ``_PLAIN``), without calling it; None when
    the name is not plain. Only the fields :func:`_from_parse` reads."""
    if not _PLAIN.fullmatch(text):
        return None
    low = text.lower()
    if _KEYWORD_PART.search(low):
        return None
    first, _, second = low.partition(" ")
    if first in _KEYWORDS or second in _KEYWORDS:
        return None
    if second and text[: len(first)] in _REWRITTEN_GENERA:
        return None
    return {"parsed": True, "canonical": {"simple": text}, "cardinality": 2 if second else 1}


def _prepare(name: str) -> str:
    text = _TAG.sub(" ", html.unescape(name))
    text = _SPACE.sub(" ", text).strip()
    if text[:1].islower():  # gnparser needs a capitalised genus: "puma concolor"
        text = text[:1].upper() + text[1:]
    return text


def _bind() -> tuple[Callable | None, Callable | None]:
    """Own handles on ParseToString (returning the raw pointer) and FreeMemory, if present."""
    try:
        parse = gnparser.lib["ParseToString"]  # a new function object: gnparser's own is untouched
        free = gnparser.lib["FreeMemory"]
    except (AttributeError, TypeError):
        return None, None
    parse.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
    parse.restype = ctypes.c_void_p
    free.argtypes = [ctypes.c_void_p]
    free.restype = None
    return parse, free


_PARSE, _FREE = _bind()


def _bind_many() -> Callable | None:
    """Own handle on ParseAryToString (one parser for a whole list of names), if present.

    Declared with the eight parameters of gnparser >= 1.12 (names, count, format, code,
    details, diaereses, compact authors, flatten); 1.11 takes the first six, and the two
    extra zeros are ignored (the caller owns the argument area in the C calling
    conventions), so both get the same call.
    """
    try:
        parse = gnparser.lib["ParseAryToString"]
    except (AttributeError, TypeError):
        return None
    parse.argtypes = [
        ctypes.POINTER(ctypes.c_char_p),
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
    ]
    parse.restype = ctypes.c_void_p
    return parse


_PARSE_MANY = _bind_many()
BATCH = 2000  # names per ParseAryToString call


def _gnparse(text: str) -> dict:
    if _PARSE is None or _FREE is None:
        return json.loads(gnparser.parse_to_string(text, "compact", None, False, True))
    ptr = _PARSE(text.encode("utf-8"), b"compact", None, 0, 1)
    try:
        return json.loads(ctypes.string_at(ptr).decode("utf-8"))
    finally:
        _FREE(ptr)


def _gnparse_many(texts: list[str]) -> list[dict]:
    """gnparser's parse of each text, in order: one call for the list (creating a parser
    costs more than most names take to parse). A result that does not echo its text
    (a library that answers otherwise) sends the list through :func:`_gnparse`."""
    if _PARSE_MANY is not None and _FREE is not None and texts:
        encoded = [t.encode("utf-8") for t in texts]
        ptr = _PARSE_MANY(
            (ctypes.c_char_p * len(texts))(*encoded), len(texts), b"compact", None, 0, 1, 0, 0
        )
        try:
            parsed = json.loads(ctypes.string_at(ptr).decode("utf-8"))
        finally:
            _FREE(ptr)
        if (
            isinstance(parsed, list)
            and len(parsed) == len(texts)
            and all(
                isinstance(p, dict) and p.get("verbatim") == t
                for p, t in zip(parsed, texts, strict=True)
            )
        ):
            return parsed
    return [_gnparse(t) for t in texts]


def _plain_name(raw: str) -> CleanName | None:
    """What :func:`_from_parse` makes of a raw name that is already plain (see ``_PLAIN``),
    or None for any other name.

    Most label names are plain (a full build's labels hold ~100K of them), and for those
    the general path's steps are all identities: :func:`_prepare` returns the name as it
    is (no tag, entity, space run or lower-case start), the canonical form is the name
    itself, and so the note is empty. Skipping them, and the parse dict, is only faster.
    """
    if not _PLAIN.fullmatch(raw) or raw.lower() in UNKNOWN_VALUES:
        return None
    if _plain_parse(raw) is None:  # a grammar keyword or a rewritten genus: gnparser decides
        return None
    genus, _, epithet = raw.partition(" ")
    if epithet:
        return CleanName(raw, SPECIES, genus=genus, epithet=epithet)
    return CleanName(raw, UNINOMIAL, uninomial=raw)


def _from_parse(raw: str, text: str, parsed: dict) -> CleanName:
    if not parsed.get("parsed"):
        return CleanName(raw, UNPARSED, note="unparsable (placeholder or not a name)")
    simple: str = (parsed.get("canonical") or {}).get("simple") or ""
    words = simple.split()
    hybrid = parsed.get("hybrid")
    surrogate = parsed.get("surrogate")
    cardinality = parsed.get("cardinality") or 0
    if hybrid == "HYBRID_FORMULA":
        parents = [p.split() for p in simple.split("×") if p.strip()]
        genera = {p[0] for p in parents if p}
        genus = genera.pop() if len(genera) == 1 else ""
        return CleanName(
            raw,
            HYBRID_FORMULA,
            genus=genus,
            hybrid=True,
            note="hybrid formula: "
            + ("genus of both parents" if genus else "parents in different genera"),
        )
    if surrogate:
        # "Carex sp." / "Carex cf. flava" / "Diptera sp. BOLD:..." -> the first word only; its
        # rank is unknown ("Diptera sp." is an order), so it is looked up like a uninomial
        kind = "cf." if surrogate == "COMPARISON" else "sp."
        return CleanName(
            raw,
            SURROGATE,
            uninomial=words[0] if words else "",
            note=f"{kind} name: the epithet is not a species",
        )
    if cardinality >= 2 and len(words) >= 2:
        note = "" if raw.strip() == simple else "cleaned to canonical form"
        if cardinality > 2:
            note = "infraspecific name dropped to the species"
        return CleanName(
            raw, SPECIES, genus=words[0], epithet=words[1], hybrid=bool(hybrid), note=note
        )
    if cardinality == 1 and words:
        return CleanName(
            raw,
            UNINOMIAL,
            uninomial=words[0],
            hybrid=bool(hybrid),
            note="" if raw.strip() == words[0] else "cleaned to canonical form",
        )
    return CleanName(raw, UNPARSED, note="no usable canonical form")


def parse_name(name: str | None) -> CleanName:
    """Clean one scientific name (cached: each distinct string is parsed once)."""
    raw = "" if name is None else str(name)
    hit = _CACHE.get(raw)
    if hit is not None:
        return hit
    result = _plain_name(raw)
    if result is not None:
        _CACHE[raw] = result
        return result
    text = _prepare(raw)
    if not text or is_unknown(text):
        result = CleanName(raw, EMPTY)
    else:
        result = _from_parse(raw, text, _plain_parse(text) or _gnparse(text))
    _CACHE[raw] = result
    return result


def parse_names(names: Iterable[str | None]) -> None:
    """Parse every name not parsed yet, a batch of names per gnparser call; the results
    are what :func:`parse_name` gives for each, which then finds them cached."""
    pending: dict[str, str] = {}  # raw -> prepared text
    for name in names:
        raw = "" if name is None else str(name)
        if raw in _CACHE or raw in pending:
            continue
        if (clean := _plain_name(raw)) is not None:
            _CACHE[raw] = clean
            continue
        text = _prepare(raw)
        if not text or is_unknown(text):
            _CACHE[raw] = CleanName(raw, EMPTY)
        elif (plain := _plain_parse(text)) is not None:
            _CACHE[raw] = _from_parse(raw, text, plain)
        else:
            pending[raw] = text
    items = list(pending.items())
    for start in range(0, len(items), BATCH):
        chunk = items[start : start + BATCH]
        parsed = _gnparse_many([text for _raw, text in chunk])
        for (raw, text), result in zip(chunk, parsed, strict=True):
            _CACHE[raw] = _from_parse(raw, text, result)


def clear_cache() -> None:
    """Forget cached parses (tests; long-lived processes between builds)."""
    _CACHE.clear()
