"""EOL image sets (``eol/images/images_NN.tar.gz``), their media manifest and the list of
scraped page ids (EOL pages missing from the Dynamic Hierarchy, with their dirty names).

Planted here: a CMYK, a corrupt and an oversized JPEG, a member whose name says nothing,
and a last archive cut short mid-member (a download that stopped).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from treeoflife.ids import identity_key
from treeoflife.sample import broken, formats
from treeoflife.sample.expected import ExpectedContainer, ExpectedImage
from treeoflife.sample.labels import CommonNames, empty_label, label_of, label_status
from treeoflife.sample.planted import planted_image
from treeoflife.sample.rarespecies import RareLists, rare_lists
from treeoflife.sample.seeded import ContentIds, h
from treeoflife.sample.taxa import Taxon

EOL_TARS = [f"eol/images/images_{n:02d}.tar.gz" for n in range(1, 10)]
TRUNCATED_TAR = EOL_TARS[-1]
TRUNCATED_MEMBERS, TRUNCATED_RECOVERED = 5, 3
FIRST_CONTENT_ID = 29_000_000
BAD_MEMBER_NAME = "12345_eol.jpg"

MEDIA_COLUMNS = [
    "EOL content ID",
    "EOL page ID",
    "Medium Source URL",
    "EOL Full-Size Copy URL",
    "License Name",
    "Copyright Owner",
]
# EOL pages missing from the Dynamic Hierarchy: the scraped (dirty) name of each `eolx` taxon.
SCRAPED = {
    "Vulpes vulpes": "Vulpes vulpes (Linnaeus, 1758)",
    "Ursus arctos": "<i>Ursus arctos</i> Linnaeus, 1758",
    "Mentha piperita": "Mentha × piperita L.",
    "Quercus robur": "<i>Quercus robur</i> subsp. <i>robur</i>",
    "Rosa canina": "Rosa canina var. dumalis Baker",
    "Amanita muscaria": "Amanita muscaria (L.) Lam., 1783",
}
# more scraped pages: (dirty name, key of the taxon a build finds, rank it finds it to,
# label status)
SCRAPED_EXTRA = [
    ("<i>Parus caeruleus</i> Linnaeus, 1758", "Cyanistes caeruleus", "species", "resolved"),
    ("Morus", None, "", "ambiguous"),
    ("Boletus sp.", "Boletus edulis", "genus", "partial"),
]
# pages in the scraped list that no image uses (real lists are long)
SCRAPED_UNUSED = [
    (51_234_567, "Canis lupus familiaris Linnaeus, 1758"),
    (52_345_678, "<i>Turdus</i>"),
]
# planted kind -> (taxon key, index of the archive it goes in)
PLANTED = {
    "cmyk": ("Danaus plexippus", 1),
    "corrupt": ("Falco peregrinus", 3),
    "too_large": ("Sequoia sempervirens", 4),
    "bad_name": ("Aquila chrysaetos", 5),
}
# (License Name as the manifest writes it, the code a build records)
MANIFEST_LICENSES = (
    ("cc-by-nc-sa-4.0", "cc-by-nc-sa-4.0"),
    ("cc-by-4.0", "cc-by-4.0"),
    ("cc-by-sa-3.0", "cc-by-sa-3.0"),
    ("public domain", "public-domain"),
)
SIZES = [
    (1200, 900),
    (1024, 1024),
    (1280, 960),
    (900, 1200),
    (1400, 933),
    (1600, 1200),
    (1152, 864),
]


@dataclass(frozen=True)
class EolImages:
    images: list[ExpectedImage]
    containers: list[ExpectedContainer]
    rare: RareLists  # the Rare Species lists name EOL members
    last_content_id: int  # the last content id drawn (see tol10m.write)


@dataclass(frozen=True)
class _Image:
    """One EOL image before it has a member name."""

    kind: str  # a planted kind
    taxon: Taxon | None
    page: int
    label: dict[str, str]
    label_status: str | None  # None: from the label
    index: int  # seeds the content id


@dataclass(frozen=True)
class _Named:
    name: str  # the member name
    content_id: int
    image: _Image


@dataclass(frozen=True)
class _Member:
    container: str
    name: str
    content_id: int
    image: _Image
    lost: bool  # past the cut in the truncated archive


def write(dest: Path, taxa: Sequence[Taxon], names: CommonNames) -> EolImages:
    by_key = {t.key: t for t in taxa}
    species = [t for t in taxa if t.is_species]
    wanted, scraped = _images(species, by_key, names)
    ids = ContentIds(FIRST_CONTENT_ID)
    members = _place(wanted, ids)
    rare = rare_lists((m.name, m.image.taxon) for m in members if m.image.kind != "bad_name")

    images, media, archives = [], [], {c: [] for c in EOL_TARS}
    for m in members:
        seed = h("eol-img", m.name)
        planted = planted_image(m.image.kind, seed, *SIZES[seed % len(SIZES)])
        archives[m.container].append((m.name, planted.data))
        if m.image.kind == "bad_name":
            images.append(
                ExpectedImage(
                    "eol",
                    m.container,
                    m.name,
                    identity_key=None,
                    label=empty_label(),
                    label_status=None,  # no label: the name says nothing
                    status="dropped",
                    reason="member_name_unparsed",
                )
            )
            continue
        media.append(_media_row(m, seed))
        if m.lost:
            continue
        status, reason = planted.status, planted.reason
        if m.image.label_status == "ambiguous":
            status, reason = "kept", "label_ambiguous"
        images.append(
            ExpectedImage(
                "eol",
                m.container,
                m.name,
                identity_key("eol", f"{m.content_id}_{m.image.page}"),
                m.image.label,
                m.image.label_status or label_status(m.image.label),
                status,
                reason,
                holdout=rare.lists_member(m.name),
                license=MANIFEST_LICENSES[seed % len(MANIFEST_LICENSES)][1],
            )
        )

    containers = []
    for container, tar_members in archives.items():
        gz = formats.gzip_bytes(formats.tar_bytes(tar_members))
        if container == TRUNCATED_TAR:
            gz = _cut(gz, tar_members)
            containers.append(
                ExpectedContainer(
                    container,
                    "archive_truncated",
                    TRUNCATED_RECOVERED,
                    TRUNCATED_MEMBERS - TRUNCATED_RECOVERED,
                )
            )
        formats.write_bytes(dest / container, gz)

    formats.write_table(dest / "eol/media_manifest.csv", MEDIA_COLUMNS, sorted(media))
    formats.write_table(
        dest / "eol/scraped_page_ids.csv", ["page_id", "scientific_name"], sorted(scraped)
    )
    return EolImages(images, containers, rare, ids.last)


def _images(
    species: Sequence[Taxon], by_key: dict[str, Taxon], names: CommonNames
) -> tuple[list[_Image], list[tuple[int, str]]]:
    """Every EOL image in content-id order, and the scraped page-id rows."""
    out = []
    for t in species:
        for i in range(t.count("eol")):
            lab = label_of(t, common=names.of(t, t.eol_page_id))
            out.append(_Image("ok", t, t.eol_page_id, lab, None, i))
    scraped = []
    for t in species:
        if t.has("eolx"):
            page = _scraped_page(t.key)
            scraped.append((page, SCRAPED[t.key]))
            out.append(_Image("ok", t, page, label_of(t, common=names.of(t)), None, 0))
    for name, key, upto, lstatus in SCRAPED_EXTRA:
        t = by_key[key] if key else None
        page = _scraped_page(name)
        scraped.append((page, name))
        lab = label_of(t, upto=upto, common=names.of(t) if t and upto == "species" else "")
        out.append(_Image("ok", t, page, lab, lstatus, 0))
    scraped += SCRAPED_UNUSED
    for kind, (key, _) in PLANTED.items():
        t = by_key[key]
        lab = label_of(t, common=names.of(t, t.eol_page_id))
        out.append(_Image(kind, t, t.eol_page_id, lab, None, 9))
    return out, scraped


def _scraped_page(name: str) -> int:
    return 50_000_000 + h("eolx", name) % 9_000_000


def _place(images: Sequence[_Image], ids: ContentIds) -> list[_Member]:
    """Name each image and put it in an archive; members in archive order, then name order.

    Planted ones go where PLANTED says. The truncated archive gets the first
    TRUNCATED_MEMBERS ordinary images, in a seeded order, of a known taxon on no Rare
    Species list and with the label status its label gives; the rest are dealt round the
    other archives.
    """
    placed: dict[str, list[_Named]] = {c: [] for c in EOL_TARS}
    ordinary = []
    for im in images:  # content ids are drawn in this order
        key = im.taxon.key if im.taxon else "none"
        cid = ids.next("eol", key, im.page, im.index, im.kind)
        if im.kind == "bad_name":
            named = _Named(BAD_MEMBER_NAME, cid, im)
        else:
            named = _Named(f"{cid}_{im.page}_eol-full-size-copy.jpg", cid, im)
        if im.kind in PLANTED:
            placed[EOL_TARS[PLANTED[im.kind][1]]].append(named)
        else:
            ordinary.append(named)
    ordinary.sort(key=lambda n: h("place", n.name))
    may_lose = [
        n
        for n in ordinary
        if n.image.taxon is not None
        and not (n.image.taxon.has("seen") or n.image.taxon.has("unseen"))
        and n.image.label_status is None
    ]
    placed[TRUNCATED_TAR] = may_lose[:TRUNCATED_MEMBERS]
    cut_short = {n.name for n in placed[TRUNCATED_TAR]}
    rest = [n for n in ordinary if n.name not in cut_short]
    for i, n in enumerate(rest):
        placed[EOL_TARS[i % (len(EOL_TARS) - 1)]].append(n)

    members = []
    for container in EOL_TARS:
        for i, n in enumerate(sorted(placed[container], key=lambda n: n.name)):
            lost = container == TRUNCATED_TAR and i >= TRUNCATED_RECOVERED
            members.append(_Member(container, n.name, n.content_id, n.image, lost))
    return members


def _media_row(m: _Member, seed: int) -> tuple:
    cid = m.content_id
    return (
        cid,
        m.image.page,
        f"https://static.inaturalist.org/photos/{seed % 90_000_000}/original.jpg",
        f"https://content.eol.org/data/media/{seed % 97:02x}/{seed % 89:02x}/{seed % 83:02x}/{cid}.jpg",
        MANIFEST_LICENSES[seed % len(MANIFEST_LICENSES)][0],
        ("Ken-ichi Ueda", "Jane Smith", "BioImages", "Charles J. Sharp")[seed % 4],
    )


def _cut(gz: bytes, members: Sequence[tuple[str, bytes]]) -> bytes:
    """``gz`` cut halfway through member number TRUNCATED_RECOVERED (a stopped download)."""
    assert len(members) == TRUNCATED_MEMBERS
    start, end = formats.member_offsets(members)[TRUNCATED_RECOVERED]
    gz = broken.cut_gzip(gz, (start + end) // 2)
    got = broken.readable_members(gz)
    assert got == [name for name, _ in members[:TRUNCATED_RECOVERED]], got
    return gz
