"""Reason codes for everything a build sets aside or repairs: the one list every stage uses.

A row in the build's ``rejects`` table carries one of these codes, the stage that found it,
and an ``outcome``: ``dropped`` (the item is not in the dataset) or ``kept`` (it was repaired
and is in the dataset, e.g. a CMYK JPEG converted to RGB). Reports group by code, so a code
must say *what is wrong*, specifically enough for a curator to act on it.
"""

from __future__ import annotations

DROPPED = "dropped"
KEPT = "kept"

# code -> (default outcome, one-line explanation for reports)
REASONS: dict[str, tuple[str, str]] = {
    # containers and file names (scan)
    "archive_unreadable": (DROPPED, "the archive is not a readable tar/gzip file"),
    "archive_truncated": (DROPPED, "the archive ends early; members after the cut are lost"),
    "metadata_unreadable": (
        DROPPED,
        "a metadata file stops being valid JSON/UTF-8; records after that point are lost",
    ),
    "metadata_truncated": (DROPPED, "a metadata file ends early; records after the cut are lost"),
    "member_name_unparsed": (DROPPED, "the file name does not follow the source's naming scheme"),
    "file_name_not_utf8": (
        DROPPED,
        "the file or member name is not UTF-8 (shown with \\x escapes); rename it to include it",
    ),
    "archive_member_link": (
        DROPPED,
        "the archive member is a symbolic or hard link, not image data",
    ),
    "empty_file": (DROPPED, "the image file has zero bytes"),
    "not_an_image_file": (DROPPED, "the file's extension is not an image type"),
    "label_missing": (DROPPED, "the source gives no label for this image"),
    "image_missing": (DROPPED, "the source's metadata lists an image file that does not exist"),
    "duplicate_locator": (DROPPED, "the same image is listed twice by its source"),
    "path_outside_source": (
        DROPPED,
        "the path is absolute, climbs out with '..' or is a symlink leading out of the source's folder",
    ),
    # image content (shard write)
    "image_corrupt": (DROPPED, "the image data cannot be decoded"),
    "image_truncated": (DROPPED, "the image data ends before the image is complete"),
    "image_too_large": (
        DROPPED,
        "the image has more pixels than max_image_pixels (decompression bomb guard)",
    ),
    "image_unsupported": (DROPPED, "the image format or mode cannot be converted"),
    "format_mismatch": (
        KEPT,
        "the file's content is not the format its name says; decoded by content",
    ),
    "converted_cmyk": (KEPT, "a CMYK image was converted to RGB"),
    "exif_rotated": (KEPT, "the EXIF orientation was applied to the pixels"),
    # [filters] (filter, before the split): readable images left out on purpose
    "license_excluded": (
        DROPPED,
        "the image's license is not in filters.licenses, or unknown with "
        "filters.exclude_unknown_license",
    ),
    "image_too_small": (DROPPED, "a side of the source image is under filters.min_side"),
    "image_aspect_extreme": (
        DROPPED,
        "the source image is longer than filters.max_aspect_ratio times its width (or height)",
    ),
    "image_blank": (
        DROPPED,
        "a near-constant frame: pixel standard deviation under filters.min_pixel_std",
    ),
    "image_placeholder": (
        DROPPED,
        "the bytes are a known placeholder ('image not available' tile), by sha256",
    ),
    # labels (resolve)
    "label_ambiguous": (KEPT, "a name fits two lineages; the ranks that differ are left empty"),
    "label_conflict": (
        KEPT,
        "a reference disagrees with a rank the source gave; the source's rank is kept",
    ),
    "label_unresolved": (
        KEPT,
        "no reference knows this label; only the ranks the source gave are used",
    ),
    # duplicates (dedup)
    "duplicate": (
        DROPPED,
        "the same photo (identical or within the perceptual-hash threshold) is kept once per "
        "cluster; the detail names the kept sample",
    ),
    "eval_duplicate": (
        DROPPED,
        "the photo matches an image of an eval set or a held-out rare-species image; the "
        "detail names it",
    ),
    # holdout (shard plan)
    "rare_species_holdout": (
        DROPPED,
        "held out for the Rare Species benchmark; listed in predicted-catalog.csv only",
    ),
    # selection (select): the [select] rules of tol.toml, one code per rule
    "select_excluded": (DROPPED, "the image's taxon is under a taxon listed in select.exclude"),
    "select_not_included": (
        DROPPED,
        "select.include is set and the image's taxon is under none of its taxa",
    ),
    "select_rank_missing": (
        DROPPED,
        "the label stops above a rank listed in select.require_ranks",
    ),
    "select_rare_taxon": (
        DROPPED,
        "the taxon has fewer images than select.min_per_taxon",
    ),
    "select_over_cap": (
        DROPPED,
        "the taxon has more images than select.max_per_taxon; this one was not chosen",
    ),
}


def outcome(code: str) -> str:
    """The default outcome of a reason code; unknown codes are a programming error."""
    return REASONS[code][0]
