"""Write the sample source collection and its ``expected.json`` from the curated taxa table.

Every random choice comes from a SHA-256 of a fixed string, so the output is a pure function
of ``taxa.csv`` and this code. Expected labels are computed straight from the table by the
plainest rules (no name parsing, no hierarchy walking), so a wrong build cannot agree with
them by accident.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import time
import uuid
from pathlib import Path

from treeoflife.columns import CATALOG_COLUMNS
from treeoflife.ids import identity_key, treeoflife_id
from treeoflife.sample import broken, formats, lineage, photos
from treeoflife.sample.taxa import RANKS, Taxon, load_taxa

EOL_TARS = [f"eol/images/images_{n:02d}.tar.gz" for n in range(1, 10)]
TRUNCATED_TAR = EOL_TARS[-1]
TRUNCATED_MEMBERS, TRUNCATED_RECOVERED = 5, 3
BIOSCAN_PARTS = (3, 17, 42, 58, 113)

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
MEDIA_COLUMNS = [
    "EOL content ID",
    "EOL page ID",
    "Medium Source URL",
    "EOL Full-Size Copy URL",
    "License Name",
    "Copyright Owner",
]
INAT_TAXA_COLUMNS = [
    "id",
    "taxonID",
    "identifier",
    "parentNameUsageID",
    "kingdom",
    "phylum",
    "class",
    "order",
    "family",
    "genus",
    "specificEpithet",
    "infraspecificEpithet",
    "modified",
    "scientificName",
    "taxonRank",
    "references",
]
INAT_VERNACULAR_COLUMNS = [
    "id",
    "vernacularName",
    "language",
    "locality",
    "countryCode",
    "source",
    "lexicon",
    "contributor",
    "created",
]
BIOSCAN_KEYS = [
    "sampleid",
    "processid",
    "uri",
    "name",
    "phylum",
    "class",
    "order",
    "family",
    "subfamily",
    "tribe",
    "genus",
    "species",
    "nucraw",
    "image_file",
    "large_diptera_family",
    "medium_diptera_family",
    "small_diptera_family",
    "large_insect_order",
    "medium_insect_order",
    "small_insect_order",
    "chunk_number",
    "copyright_license",
    "copyright_holder",
    "copyright_institution",
    "copyright_contact",
    "photographer",
    "author",
]
ITIS_COLUMNS = [
    "hierarchy_string_tsn",
    "hierarchy_string_names",
    "terminal_tsn",
    "terminal_scientific_name",
    "terminal_vernacular",
    "terminal_vernacular_lang",
    "hierarchy_string_ranks",
    "Kingdom",
    "Phylum",
    "Class",
    "Order",
    "Family",
    "Genus",
    "Species",
]
# the published TreeOfLife-10M catalog has the columns our catalog writes
TOL10M_COLUMNS = list(CATALOG_COLUMNS)
GENERIC_COLUMNS = ["path", "scientific_name", *RANKS, "common"]

# EOL pages missing from the Dynamic Hierarchy: the scraped (dirty) name of each `eolx` taxon.
SCRAPED = {
    "Vulpes vulpes": "Vulpes vulpes (Linnaeus, 1758)",
    "Ursus arctos": "<i>Ursus arctos</i> Linnaeus, 1758",
    "Mentha piperita": "Mentha × piperita L.",
    "Quercus robur": "<i>Quercus robur</i> subsp. <i>robur</i>",
    "Rosa canina": "Rosa canina var. dumalis Baker",
    "Amanita muscaria": "Amanita muscaria (L.) Lam., 1783",
}
# DH synonyms: (scientificName, canonicalName, accepted key)
SYNONYMS = [
    ("Parus caeruleus Linnaeus, 1758", "Parus caeruleus", "Cyanistes caeruleus"),
    ("Sula bassana (Linnaeus, 1758)", "Sula bassana", "Morus bassanus"),
    ("Felis concolor Linnaeus, 1771", "Felis concolor", "Puma concolor"),
    ("Sansevieria trifasciata Prain", "Sansevieria trifasciata", "Dracaena trifasciata"),
    ("Rana catesbeiana Shaw, 1802", "Rana catesbeiana", "Lithobates catesbeianus"),
    ("Picoides pubescens (Linnaeus, 1766)", "Picoides pubescens", "Dryobates pubescens"),
]
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


def h(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8], "big")


def fake_uuid(*parts: object) -> str:
    return str(
        uuid.UUID(bytes=hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:16], version=4)
    )


def label_of(
    t: Taxon | None, upto: str = "species", common: str = "", kingdom: str | None = None
) -> dict:
    lab = {r: "" for r in RANKS}
    if t is not None:
        for r in RANKS:
            lab[r] = t.ranks[r]
            if r == upto:
                break
    if kingdom:
        lab["kingdom"] = kingdom
    lab["common"] = common if lab["species"] else ""
    return lab


def label_status(lab: dict) -> str:
    return "resolved" if all(lab[r] for r in RANKS) else "partial"


def published_or_derived_id(source: str, key: str | None) -> str | None:
    """The id a correct scan gives: published TreeOfLife-10M images keep their own id."""
    if key is None:
        return None
    if source == "tol10m":
        return key.split(":", 1)[1]
    return treeoflife_id(key)


# kind of planted image -> (make its bytes from seed, width, height; outcome; reason)
_PLANTED = {
    "ok": (lambda seed, w, ht: photos.photo_jpeg(seed, w, ht), "ok", None),
    "bad_name": (lambda seed, w, ht: photos.photo_jpeg(seed, w, ht), "ok", None),
    "cmyk": (
        lambda seed, w, ht: broken.cmyk_jpeg(photos.picture(seed, w, ht)),
        "kept",
        "converted_cmyk",
    ),
    "corrupt": (
        lambda seed, w, ht: broken.corrupt_jpeg(photos.photo_jpeg(seed, w, ht), seed),
        "dropped",
        "image_corrupt",
    ),
    "too_large": (lambda seed, w, ht: broken.oversized_jpeg(seed), "dropped", "image_too_large"),
    "truncated": (
        lambda seed, w, ht: broken.truncated_jpeg(photos.photo_jpeg(seed, w, ht)),
        "dropped",
        "image_truncated",
    ),
    "png": (
        lambda seed, w, ht: broken.png_bytes(photos.picture(seed, w, ht)),
        "kept",
        "format_mismatch",
    ),
    # EXIF rotation is planted on a landscape picture whatever the slot's size
    "exif": (
        lambda seed, w, ht: broken.exif_rotated_jpeg(photos.picture(seed, 500, 375)),
        "kept",
        "exif_rotated",
    ),
}


def planted_image(kind: str, seed: int, w: int, ht: int) -> tuple[bytes, str, str | None]:
    """The bytes of one sample image of ``kind``, and the outcome and reason a build gives it."""
    make, status, reason = _PLANTED[kind]
    return make(seed, w, ht), status, reason


class Sample:
    def __init__(self, dest: Path):
        self.dest = dest
        self.taxa = load_taxa()
        self.by_key = {t.key: t for t in self.taxa}
        self.species = [t for t in self.taxa if t.is_species]
        self.images: list[dict] = []
        self.containers: list[dict] = []
        self.files: dict[str, bytes] = {}
        self.eol_members: dict[str, list[tuple[str, bytes]]] = {}
        # English common names by reference, exactly as written below; expected = first hit
        self.itis_en = {
            t.binomial: t.common_name
            for t in self.species
            if t.has("itis") and t.common_name and not t.has("itis_es")
        }
        self.inat_en = {
            t.binomial: t.common_name
            for t in self.species
            if (t.has("inat") or t.has("inat21")) and t.common_name
        }
        self.dh_species = [t for t in self.species if not t.has("eolx")]
        self.eol_en = {
            t.eol_page_id: (t.eol_common or t.common_name)
            for t in self.dh_species
            if t.eol_common or t.common_name
        }
        self._content = 29_000_000

    # ------------------------------------------------------------------ helpers
    def common(self, t: Taxon, eol_page: int | None = None) -> str:
        b = t.binomial
        return (
            self.itis_en.get(b)
            or self.inat_en.get(b)
            or (self.eol_en.get(eol_page, "") if eol_page else "")
        )

    def content_id(self, *parts: object) -> int:
        self._content += 1 + h("content", *parts) % 4000
        return self._content

    def add_image(
        self,
        source,
        container,
        path,
        key,
        lab,
        status="ok",
        reason=None,
        lstatus=None,
        holdout=False,
    ):
        if lstatus is None:
            lstatus = label_status(lab)
        self.images.append(
            {
                "source": source,
                "container": container,
                "path": path,
                "identity_key": key,
                "treeoflife_id": published_or_derived_id(source, key),
                "status": status,
                "reason": reason,
                "label": lab,
                "label_status": lstatus,
                "holdout": holdout,
            }
        )

    # ------------------------------------------------------------------ EOL
    def eol(self) -> None:
        specs = []  # (kind, taxon, page, label, lstatus, extra)
        for t in self.species:
            for i in range(t.count("eol")):
                specs.append(
                    (
                        "ok",
                        t,
                        t.eol_page_id,
                        label_of(t, common=self.common(t, t.eol_page_id)),
                        None,
                        i,
                    )
                )
        self.scraped_rows = []
        for t in self.species:
            if t.has("eolx"):
                page = 50_000_000 + h("eolx", t.key) % 9_000_000
                self.scraped_rows.append((page, SCRAPED[t.key]))
                specs.append(("ok", t, page, label_of(t, common=self.common(t)), None, 0))
        extra = [
            (
                "<i>Parus caeruleus</i> Linnaeus, 1758",
                self.by_key["Cyanistes caeruleus"],
                "species",
                "resolved",
            ),
            ("Morus", None, "", "ambiguous"),
            ("Boletus sp.", self.by_key["Boletus edulis"], "genus", "partial"),
        ]
        for name, t, upto, lstatus in extra:
            page = 50_000_000 + h("eolx", name) % 9_000_000
            self.scraped_rows.append((page, name))
            lab = label_of(t, upto=upto, common=self.common(t) if t and upto == "species" else "")
            specs.append(("ok", t, page, lab, lstatus, 0))
        # pages in the scraped list that no image uses (real lists are long)
        self.scraped_rows += [
            (51_234_567, "Canis lupus familiaris Linnaeus, 1758"),
            (52_345_678, "<i>Turdus</i>"),
        ]
        for kind, key in (
            ("cmyk", "Danaus plexippus"),
            ("corrupt", "Falco peregrinus"),
            ("too_large", "Sequoia sempervirens"),
            ("bad_name", "Aquila chrysaetos"),
        ):
            t = self.by_key[key]
            specs.append(
                (kind, t, t.eol_page_id, label_of(t, common=self.common(t, t.eol_page_id)), None, 9)
            )

        # member names and placement
        placed: dict[str, list] = {c: [] for c in EOL_TARS}
        special_tar = {"cmyk": 1, "corrupt": 3, "too_large": 4, "bad_name": 5}
        ordinary = []
        for spec in specs:
            kind, t, page = spec[0], spec[1], spec[2]
            cid = self.content_id("eol", t.key if t else "none", page, spec[5], kind)
            name = f"{cid}_{page}_eol-full-size-copy.jpg" if kind != "bad_name" else "12345_eol.jpg"
            entry = (name, cid, spec)
            if kind in special_tar:
                placed[EOL_TARS[special_tar[kind]]].append(entry)
            else:
                ordinary.append(entry)
        ordinary.sort(key=lambda e: h("place", e[0]))
        lost_ok = [
            e
            for e in ordinary
            if e[2][1] is not None
            and not (e[2][1].has("seen") or e[2][1].has("unseen"))
            and e[2][4] is None
        ]
        trunc = lost_ok[:TRUNCATED_MEMBERS]
        placed[TRUNCATED_TAR] = list(trunc)
        rest = [e for e in ordinary if e not in trunc]
        for i, e in enumerate(rest):
            placed[EOL_TARS[i % 8]].append(e)

        self.media_rows = []
        self.seen_paths: dict[str, list[str]] = {}
        self.unseen_paths: dict[str, list[str]] = {}
        sizes = [
            (1200, 900),
            (1024, 1024),
            (1280, 960),
            (900, 1200),
            (1400, 933),
            (1600, 1200),
            (1152, 864),
        ]
        for container in EOL_TARS:
            entries = sorted(placed[container], key=lambda e: e[0])
            members = []
            for name, cid, (kind, t, page, lab, lstatus, _) in entries:
                seed = h("eol-img", name)
                w, ht = sizes[seed % len(sizes)]
                data, status, reason = planted_image(kind, seed, w, ht)
                members.append((name, data))
                if kind == "bad_name":
                    empty = {r: "" for r in (*RANKS, "common")}
                    self.add_image(
                        "eol", container, name, None, empty, "dropped", "member_name_unparsed", None
                    )
                    self.images[-1]["label_status"] = None  # no label: the name says nothing
                    continue
                if lstatus == "ambiguous":
                    status, reason = "kept", "label_ambiguous"
                holdout = bool(t and t.has("unseen"))
                if t and t.has("unseen"):
                    key = "-".join(t.ranks[r] for r in RANKS)
                    self.unseen_paths.setdefault(key, []).append(name)
                if t and t.has("seen") and t.binomial not in self.seen_paths:
                    self.seen_paths[t.binomial] = [name]
                    holdout = True
                lost = container == TRUNCATED_TAR and len(members) > TRUNCATED_RECOVERED
                if not lost:
                    self.add_image(
                        "eol",
                        container,
                        name,
                        identity_key("eol", f"{cid}_{page}"),
                        lab,
                        status,
                        reason,
                        lstatus,
                        holdout,
                    )
                lic = ("cc-by-nc-sa-4.0", "cc-by-4.0", "cc-by-sa-3.0", "public domain")[seed % 4]
                self.media_rows.append(
                    (
                        cid,
                        page,
                        f"https://static.inaturalist.org/photos/{seed % 90_000_000}/original.jpg",
                        f"https://content.eol.org/data/media/{seed % 97:02x}/{seed % 89:02x}/{seed % 83:02x}/{cid}.jpg",
                        lic,
                        ("Ken-ichi Ueda", "Jane Smith", "BioImages", "Charles J. Sharp")[seed % 4],
                    )
                )
            raw = formats.tar_bytes(members)
            gz = formats.gzip_bytes(raw)
            if container == TRUNCATED_TAR:
                assert len(members) == TRUNCATED_MEMBERS
                start, end = formats.member_offsets(members)[TRUNCATED_RECOVERED]
                gz = broken.cut_gzip(gz, (start + end) // 2)
                got = readable_members(gz)
                assert got == [m[0] for m in members[:TRUNCATED_RECOVERED]], got
                self.containers.append(
                    {
                        "path": container,
                        "reason": "archive_truncated",
                        "members_recovered": TRUNCATED_RECOVERED,
                        "members_lost": TRUNCATED_MEMBERS - TRUNCATED_RECOVERED,
                    }
                )
            self.files[container] = gz
        self.media_rows.sort()

    # ------------------------------------------------------------------ iNat21
    def inat21(self) -> None:
        taxa = sorted(
            (t for t in self.species if t.has("inat21")), key=lambda t: [t.ranks[r] for r in RANKS]
        )
        n = len(taxa)
        specials = {
            "Bubo virginianus": "truncated",
            "Cardinalis cardinalis": "png",
            "Danaus plexippus": "exif",
        }
        self.inat21_classes = {}
        for i, t in enumerate(taxa):
            num = i * 9_973 // n + (h("cls", t.key) % (9_973 // n))
            folder = f"{num:05d}_" + "_".join(t.ranks[r] for r in RANKS)
            self.inat21_classes[t.key] = (folder, num)
            kinds = ["ok"] * t.count("inat21") + ([specials[t.key]] if t.key in specials else [])
            for j, kind in enumerate(kinds):
                seed = h("inat21", t.key, j)
                fname = fake_uuid("inat21", t.key, j) + ".jpg"
                w, ht = ((500, 375), (500, 333), (375, 500), (500, 500), (500, 281))[seed % 5]
                data, status, reason = planted_image(kind, seed, w, ht)
                rel = f"inat21/train/{folder}/{fname}"
                self.files[rel] = data
                lab = label_of(t, common=self.common(t))
                self.add_image(
                    "inat21",
                    None,
                    rel,
                    identity_key("inat21", folder, fname),
                    lab,
                    status,
                    reason,
                    holdout=t.has("unseen"),
                )

    # ------------------------------------------------------------------ BIOSCAN
    def bioscan(self) -> None:
        records = []
        megaselia_species = ["BOLD:AAN8214", "BOLD:ACZ3567", "Megaselia sp.", "not_classified"]
        zero_done = False
        for t in self.taxa:
            for j in range(t.count("bioscan")):
                seed = h("bioscan", t.key, j)
                letters = "".join(chr(65 + (seed >> (5 * k)) % 26) for k in range(3))
                sampleid = (
                    f"BIOUG{68000 + seed % 3000}-{'ABCDEFGH'[seed % 8]}{1 + (seed >> 8) % 12:02d}"
                )
                bin_uri = f"BOLD:A{letters[:2]}{seed % 10000:04d}"
                part = BIOSCAN_PARTS[(seed >> 16) % len(BIOSCAN_PARTS)]
                r = t.ranks
                sub, tribe = lineage.subfamily_tribe("Animalia", r["genus"])
                if t.is_species:
                    species_value = t.binomial
                elif r["genus"] == "Megaselia":
                    species_value = megaselia_species[j % len(megaselia_species)]
                    if species_value.startswith("BOLD:"):
                        bin_uri = species_value
                else:
                    species_value = "not_classified"

                def nc(v: str) -> str:
                    return v or "not_classified"

                name = t.binomial if t.is_species else (r["genus"] or r["family"] or r["order"])
                rec = {
                    "sampleid": sampleid,
                    "processid": f"BIOSCAN{1_000_000 + seed % 900_000}-21",
                    "uri": bin_uri,
                    "name": name,
                    "phylum": "Arthropoda",
                    "class": "Insecta",
                    "order": nc(r["order"]),
                    "family": nc(r["family"]),
                    "subfamily": nc(sub),
                    "tribe": nc(tribe),
                    "genus": nc(r["genus"]),
                    "species": species_value,
                    "nucraw": "".join(
                        "ACGT"[(seed >> (2 * (k % 30))) % 4 ^ (k % 4)] for k in range(658)
                    ),
                    "image_file": f"{sampleid}.jpg",
                    "large_diptera_family": nc(r["family"])
                    if r["order"] == "Diptera"
                    else "not_diptera",
                    "medium_diptera_family": nc(r["family"])
                    if r["order"] == "Diptera"
                    else "not_diptera",
                    "small_diptera_family": nc(r["family"])
                    if r["order"] == "Diptera"
                    else "not_diptera",
                    "large_insect_order": nc(r["order"]),
                    "medium_insect_order": nc(r["order"]),
                    "small_insect_order": nc(r["order"]),
                    "chunk_number": part,
                    "copyright_license": "CreativeCommons - Attribution Non-Commercial Share-Alike",
                    "copyright_holder": "CBG Photography Group",
                    "copyright_institution": "Centre for Biodiversity Genomics",
                    "copyright_contact": "ccdbcurator@uoguelph.ca",
                    "photographer": "CBG Robotic Imager",
                    "author": "CBG Robotic Imager",
                }
                records.append(rec)
                rel = f"bioscan/images/part{part}/{rec['image_file']}"
                status, reason = "ok", None
                if r["family"] == "Sciaridae" and not zero_done:
                    data, status, reason, zero_done = b"", "dropped", "empty_file", True
                else:
                    data = photos.photo_jpeg(seed, (256, 288, 320, 341)[seed % 4], 256)
                self.files[rel] = data
                lab = label_of(t, common=self.common(t))
                self.add_image(
                    "bioscan",
                    None,
                    rel,
                    identity_key("bioscan", rec["image_file"]),
                    lab,
                    status,
                    reason,
                    holdout=t.has("unseen"),
                )
        records.sort(key=lambda rec: rec["processid"])
        self.bioscan_records = records

    # ------------------------------------------------------------------ TreeOfLife-10M image set
    def tol10m(self) -> None:
        rows, members = [], []
        for t in self.species:
            if not t.has("tol10m"):
                continue
            tid = fake_uuid("tol10m", t.key)
            cid = self.content_id("tol10m", t.key)
            seed = h("tol10m", t.key)
            members.append((f"{tid}.jpg", photos.photo_jpeg(seed, 640, 480)))
            lab = label_of(t, common=self.common(t, t.eol_page_id))
            rows.append(
                [
                    "train",
                    tid,
                    cid,
                    t.eol_page_id,
                    "",
                    "",
                    "",
                    "",
                    "",
                    *(lab[r] for r in RANKS),
                    lab["common"],
                ]
            )
            self.add_image(
                "tol10m",
                "tol10m/image_set_01.tar.gz",
                f"{tid}.jpg",
                identity_key("tol10m", tid),
                lab,
            )
        # catalog rows of other sources, without images in this set (the real catalog lists all)
        rows.append(
            [
                "train",
                fake_uuid("tol10m-row", 1),
                "",
                "",
                "",
                "",
                "02341_Animalia_Chordata_Aves_Passeriformes_Paridae_Parus_major/0a1b2c3d.jpg",
                "02341_Animalia_Chordata_Aves_Passeriformes_Paridae_Parus_major",
                "2341",
                "Animalia",
                "Chordata",
                "Aves",
                "Passeriformes",
                "Paridae",
                "Parus",
                "major",
                "Great Tit",
            ]
        )
        rows.append(
            [
                "val",
                fake_uuid("tol10m-row", 2),
                "",
                "",
                "58",
                "BIOUG68999-C07.jpg",
                "",
                "",
                "",
                "Animalia",
                "Arthropoda",
                "Insecta",
                "Diptera",
                "Cecidomyiidae",
                "",
                "",
                "",
            ]
        )
        rows.sort(key=lambda r: r[1])
        members.sort()
        self.files["tol10m/image_set_01.tar.gz"] = formats.gzip_bytes(formats.tar_bytes(members))
        self.tol10m_rows = rows

    # ------------------------------------------------------------------ generic folder
    def generic(self) -> None:
        B = self.by_key
        blank = dict.fromkeys(RANKS, "")
        rows = [  # (file, scientific_name, given ranks, given common, expected taxon, upto, lstatus)
            ("IMG_0001.jpg", "Pieris", {}, "", None, "", "ambiguous"),
            (
                "IMG_0002.jpg",
                "Prunella vulgaris L.",
                {"kingdom": "Plantae"},
                "",
                B["Prunella vulgaris"],
                "species",
                None,
            ),
            ("IMG_0003.jpg", "Mentha × piperita", {}, "", B["Mentha piperita"], "species", None),
            ("IMG_0004.jpg", "Salix x rubens", {}, "", B["Salix rubens"], "species", None),
            ("IMG_0005.jpg", "Lepus cf. europaeus", {}, "", B["Lepus europaeus"], "genus", None),
            (
                "IMG_0006.jpg",
                "Oenanthe",
                {"kingdom": "Animalia"},
                "",
                B["Oenanthe oenanthe"],
                "genus",
                None,
            ),
            (
                "IMG_0007.jpg",
                "Boletus edulis",
                {"kingdom": "Fungi", "class": "(unidentified)", "order": "unknown"},
                "",
                B["Boletus edulis"],
                "species",
                None,
            ),
            (
                "IMG_0008.jpg",
                "Taraxacum officinale",
                dict(B["Taraxacum officinale"].ranks),
                "Common Dandelion",
                B["Taraxacum officinale"],
                "species",
                None,
            ),
            (
                "IMG_0009.jpg",
                "Canis lupus",
                {"kingdom": "Metazoa", "phylum": "Chordata"},
                "",
                B["Canis lupus"],
                "species",
                None,
            ),
            (
                "IMG_0010.jpg",
                "Bellis perennis",
                {"family": "Asteraceae"},
                "",
                B["Bellis perennis"],
                "species",
                None,
            ),
            (
                "IMG_0011.jpg",
                "Quercus alba",
                {"genus": "Quercus", "species": "alba"},
                "",
                B["Quercus alba"],
                "species",
                None,
            ),
        ]
        out = []
        for fname, sci, given, common, t, upto, lstatus in rows:
            rel = f"images/{fname}"
            self.files[f"generic/{rel}"] = photos.photo_jpeg(h("generic", fname), 800, 600)
            out.append([rel, sci, *({**blank, **given}[r] for r in RANKS), common])
            lab = label_of(t, upto=upto, common=self.common(t) if t and upto == "species" else "")
            status, reason = ("kept", "label_ambiguous") if lstatus == "ambiguous" else ("ok", None)
            self.add_image(
                "generic",
                None,
                f"generic/{rel}",
                identity_key("generic", rel),
                lab,
                status,
                reason,
                lstatus,
            )
        self.generic_rows = out

    # ------------------------------------------------------------------ EOL Dynamic Hierarchy
    def dh(self) -> None:
        nodes: dict[tuple, list] = {}
        rows: list[list] = []
        by_key_id: dict[str, str] = {}

        def node(
            path: tuple,
            name: str,
            rank: str,
            sci: str = "",
            auth: str = "",
            page: int | None = None,
        ) -> str:
            if path in nodes:
                return nodes[path][0]
            tid = f"EOL-{len(rows) + 1:012d}"
            parent = nodes[path[:-1]][0] if len(path) > 1 else ""
            higher = "|".join(p[0] for p in path[:-1])
            if rank in ("species",):
                src = f"COL:{h('col', name) % 16**5:05X}"
                url = f"https://www.catalogueoflife.org/data/taxon/{h('col', name) % 16**5:05X}"
                ds = "COL-2019"
            else:
                src, url, ds = f"trunk:{fake_uuid('trunk', *path)}", "", "trunk"
            landmark = {
                "kingdom": "3",
                "phylum": "2",
                "class": "2",
                "order": "1",
                "family": "1",
            }.get(rank, "")
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
                landmark,
                higher,
            ]
            nodes[path] = row
            rows.append(row)
            return tid

        for t in self.taxa:
            if t.has("eolx"):
                continue
            r = t.ranks
            chain = list(lineage.DH_ROOT) + lineage.DH_TOP[r["kingdom"]]
            chain.append((r["phylum"], "phylum"))
            if sp := lineage.subphylum(r["phylum"], r["class"]):
                chain.append((sp, "subphylum"))
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
            path: tuple = ()
            for name, rank in chain:
                path = (*path, (name, rank))
                node(path, name, rank)
            if t.is_species:
                canon = f"{r['genus']} × {r['species']}" if t.hybrid else t.binomial
                path = (*path, (canon, "species"))
                by_key_id[t.key] = node(
                    path, canon, "species", f"{canon} {t.authority}", t.authority, t.eol_page_id
                )
        for sci, canon, accepted in SYNONYMS:
            tid = f"EOL-{len(rows) + 1:012d}"
            rows.append(
                [
                    tid,
                    f"COL:{h('col', canon) % 16**5:05X}",
                    "",
                    by_key_id[accepted],
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
        self.dh_rows = rows

    def eol_vernacular(self) -> list[list]:
        rows = []
        for t in self.dh_species:
            page, canon = t.eol_page_id, t.binomial
            if t.key in EOL_NONPREFERRED:
                rows.append([page, canon, EOL_NONPREFERRED[t.key], "en", "Wikipedia", "", ""])
            if t.eol_common:
                rows.append(
                    [
                        page,
                        canon,
                        t.common_name,
                        "en",
                        "Avibase" if t.ranks["class"] == "Aves" else "ITIS",
                        "",
                        "",
                    ]
                )
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
                rows.append(
                    [page, canon, name, lang, "Wikimedia Commons", "preferred", "preferred"]
                )
        return rows

    # ------------------------------------------------------------------ iNaturalist DwC-A
    def inat_dwca(self) -> tuple[list[list], list[list]]:
        taxa_rows, vern_rows, genera = [], [], {}
        for t in self.species:
            if not (t.has("inat") or t.has("inat21")):
                continue
            r = t.ranks
            gkey = (r["kingdom"], r["genus"])
            if gkey not in genera:
                gid = 1000 + h("inat-genus", *gkey) % 900_000
                genera[gkey] = gid
                fam_id = 1000 + h("inat-family", r["kingdom"], r["family"]) % 900_000
                taxa_rows.append(
                    [
                        gid,
                        f"https://www.inaturalist.org/taxa/{gid}",
                        gid,
                        f"https://www.inaturalist.org/taxa/{fam_id}",
                        *(r[x] for x in RANKS[:6]),
                        "",
                        "",
                        "2023-05-17T09:12:44Z",
                        r["genus"],
                        "genus",
                        f"https://www.inaturalist.org/taxa/{gid}",
                    ]
                )
            tid = t.inat_taxon_id
            sci = f"{r['genus']} × {r['species']}" if t.hybrid else t.binomial
            taxa_rows.append(
                [
                    tid,
                    f"https://www.inaturalist.org/taxa/{tid}",
                    tid,
                    f"https://www.inaturalist.org/taxa/{genera[gkey]}",
                    *(r[x] for x in RANKS[:6]),
                    r["species"],
                    "",
                    "2023-08-02T21:40:13Z",
                    sci,
                    "hybrid" if t.hybrid else "species",
                    f"https://www.inaturalist.org/taxa/{tid}",
                ]
            )
            if t.common_name:
                vern_rows.append(
                    [tid, t.common_name, "en", "", "", "", "English", "", "2019-02-11T18:03:55Z"]
                )
                if t.eol_common and t.has("itis"):
                    vern_rows.append(
                        [tid, t.eol_common, "en", "", "", "", "English", "", "2020-06-30T11:20:05Z"]
                    )
        taxa_rows.sort(key=lambda row: row[0])
        vern_rows.sort(key=lambda row: (row[0], row[8]))
        return taxa_rows, vern_rows

    # ------------------------------------------------------------------ ITIS chains
    def itis(self) -> list[list]:
        out = []
        for t in self.species:
            if not t.has("itis"):
                continue
            r = t.ranks
            chain = list(lineage.ITIS_TOP[r["kingdom"]])
            if r["kingdom"] == "Animalia":
                chain.append(
                    (lineage.ITIS_INFRAKINGDOM.get(r["phylum"], "Protostomia"), "Infrakingdom")
                )
                chain.append((r["phylum"], "Phylum"))
            else:
                chain.append((r["phylum"], "Division"))
            if sp := lineage.subphylum(r["phylum"], r["class"]):
                chain.append((sp, "Subphylum" if r["kingdom"] == "Animalia" else "Subdivision"))
            if r["phylum"] == "Chordata":
                chain.append(("Gnathostomata", "Infraphylum"))
                if r["class"] in ("Aves", "Mammalia", "Reptilia", "Amphibia"):
                    chain.append(("Tetrapoda", "Superclass"))
            if r["phylum"] == "Tracheophyta" and r["class"] != "Polypodiopsida":
                chain.append(("Spermatophytina", "Subdivision"))
            chain.append((r["class"], "Class"))
            if so := lineage.SUPERORDER.get(r["order"]):
                chain.append((so, "Superorder"))
            chain += [(r["order"], "Order"), (r["family"], "Family")]
            sub, _ = lineage.subfamily_tribe(r["kingdom"], r["genus"])
            if sub:
                chain.append((sub, "Subfamily"))
            name = f"{r['genus']} ×{r['species']}" if t.hybrid else t.binomial
            chain += [(r["genus"], "Genus"), (name, "Species")]
            tsns = [
                str(100_000 + h("tsn", r["kingdom"], n, rk) % 900_000) for n, rk in chain[:-1]
            ] + [str(t.itis_tsn)]
            vern, lang = (t.common_name, "English") if t.common_name else ("", "")
            if t.has("itis_es"):
                vern, lang = {"Zea mays": "maíz"}.get(t.key, t.common_name), "Spanish"
            out.append(
                [
                    "-".join(tsns),
                    "-".join(n for n, _ in chain),
                    t.itis_tsn,
                    name,
                    vern,
                    lang,
                    "-".join(rk for _, rk in chain),
                    r["kingdom"],
                    r["phylum"],
                    r["class"],
                    r["order"],
                    r["family"],
                    r["genus"],
                    name,
                ]
            )
        out.sort(key=lambda row: row[2])
        return out

    # ------------------------------------------------------------------ resolved.jsonl
    def resolved(self) -> list[dict]:
        out = []
        for t in self.species:
            if not t.has("resolved"):
                continue
            r = t.ranks
            full = {x: r[x] for x in RANKS[:6]} | {"species": t.binomial}
            ncbi_k = {"Animalia": "Metazoa", "Plantae": "Viridiplantae"}.get(
                r["kingdom"], r["kingdom"]
            )
            out.append(
                {
                    t.binomial: {
                        "Catalogue of Life": full,
                        "GBIF Backbone Taxonomy": {
                            x: v for x, v in full.items() if x != "class" or h("gbif", t.key) % 2
                        },
                        "NCBI": full | {"kingdom": ncbi_k},
                    }
                }
            )
        return out

    # ------------------------------------------------------------------ everything
    def build(self) -> dict:
        self.eol()
        self.inat21()
        self.bioscan()
        self.tol10m()
        self.generic()
        self.dh()
        d = self.dest
        w = formats.write_table
        for rel, data in sorted(self.files.items()):
            formats.write_bytes(d / rel, data)
        w(d / "eol/dh21/taxon.tab", DH_COLUMNS, self.dh_rows, delimiter="\t")
        w(d / "eol/vernacularnames.csv", EOL_VERNACULAR_COLUMNS, self.eol_vernacular())
        w(d / "eol/scraped_page_ids.csv", ["page_id", "scientific_name"], sorted(self.scraped_rows))
        w(d / "eol/media_manifest.csv", MEDIA_COLUMNS, self.media_rows)
        taxa_rows, vern_rows = self.inat_dwca()
        w(d / "inat/dwca/taxa.csv", INAT_TAXA_COLUMNS, taxa_rows)
        w(d / "inat/dwca/VernacularNames-english.csv", INAT_VERNACULAR_COLUMNS, vern_rows)
        formats.write_json(
            d / "bioscan/BIOSCAN_Insect_Dataset_metadata.jsonld",
            [{k: rec[k] for k in BIOSCAN_KEYS} for rec in self.bioscan_records],
        )
        w(d / "itis/species_level_taxonomy_chains.csv", ITIS_COLUMNS, self.itis())
        formats.write_jsonl(d / "resolved.jsonl", self.resolved())
        formats.write_json(
            d / "rarespecies/seen_in_training.json", dict(sorted(self.seen_paths.items()))
        )
        formats.write_json(
            d / "rarespecies/unseen_in_training.json", dict(sorted(self.unseen_paths.items()))
        )
        w(d / "tol10m/catalog.csv", TOL10M_COLUMNS, self.tol10m_rows)
        w(d / "generic/labels.csv", GENERIC_COLUMNS, self.generic_rows)

        images = sorted(
            self.images, key=lambda im: (im["source"], im["container"] or "", im["path"])
        )
        totals = {
            "images": len(images),
            "by_source": count(images, "source"),
            "by_status": count(images, "status"),
            "by_reason": count([i for i in images if i["reason"]], "reason"),
            "by_label_status": count([i for i in images if i["label_status"]], "label_status"),
            "holdout": sum(i["holdout"] for i in images),
            "species": len(self.species),
            "kingdoms": sorted({t.ranks["kingdom"] for t in self.species}),
            "two_kingdom_genera": two_kingdom_genera(self.species),
            "members_lost": sum(c["members_lost"] for c in self.containers),
        }
        expected = {"format": 1, "images": images, "containers": self.containers, "totals": totals}
        formats.write_json(d / "expected.json", expected)
        broken_count = len(
            [i for i in images if i["reason"] and i["reason"] != "label_ambiguous"]
        ) + len(self.containers)
        return {
            "dest": str(d),
            "sources": totals["by_source"],
            "images": len(images),
            "broken_inputs": broken_count,
            "species": len(self.species),
            "kingdoms": totals["kingdoms"],
            "expected": str(d / "expected.json"),
        }


def count(items: list[dict], field: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for it in items:
        out[it[field]] = out.get(it[field], 0) + 1
    return dict(sorted(out.items()))


def two_kingdom_genera(species: list[Taxon]) -> list[str]:
    kingdoms: dict[str, set[str]] = {}
    for t in species:
        kingdoms.setdefault(t.ranks["genus"], set()).add(t.ranks["kingdom"])
    return sorted(g for g, ks in kingdoms.items() if len(ks) > 1)


def readable_members(gz: bytes) -> list[str]:
    """Names of the members a streaming reader gets out whole before the archive breaks."""
    names = []
    try:
        with tarfile.open(fileobj=io.BytesIO(gz), mode="r|gz") as tf:
            for info in tf:
                f = tf.extractfile(info)
                if f is not None:
                    data = f.read()
                    if len(data) != info.size:
                        break
                names.append(info.name)
    except (tarfile.TarError, EOFError, OSError):
        pass
    return names


def write_all(dest: Path) -> dict:
    t0 = time.perf_counter()
    summary = Sample(dest).build()
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    return summary
