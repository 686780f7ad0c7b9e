"""License texts as sources write them become one vocabulary; the allow-list matches it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from treeoflife.config import FilterConfig, from_dict
from treeoflife.errors import TolError
from treeoflife.licenses import allowed, normalise
from treeoflife.sources.rights import inat21_images, inat21_licenses
from treeoflife.stages.filters import placeholder_digests


@pytest.mark.parametrize(
    ("text", "url", "code"),
    [
        ("cc-by-nc-sa-4.0", "", "cc-by-nc-sa-4.0"),  # EOL media manifest
        ("public domain", "", "public-domain"),
        ("cc-publicdomain", "https://creativecommons.org/publicdomain/zero/1.0", "cc0-1.0"),
        (
            "Attribution-NonCommercial License",
            "http://creativecommons.org/licenses/by-nc/4.0/",
            "cc-by-nc-4.0",
        ),  # iNat21
        (
            "CreativeCommons - Attribution Non-Commercial Share-Alike",
            "",
            "cc-by-nc-sa",
        ),  # BIOSCAN record
        ("CC BY 3.0", "", "cc-by-3.0"),
        ("CC_BY_NC_4_0", "", "cc-by-nc-4.0"),  # GBIF occurrence license
        ("CC0_1_0", "", "cc0-1.0"),
        ("CC BY-NC-ND 2.0", "", "cc-by-nc-nd-2.0"),
        ("CC0", "", "cc0-1.0"),
        ("No known copyright restrictions", "", "public-domain"),
        ("All rights reserved", "", "all-rights-reserved"),
        ("", "", "unknown"),
        ("see the photographer's website", "", "other"),
    ],
)
def test_normalise(text: str, url: str, code: str) -> None:
    assert normalise(text, url) == code


def test_allow_list_globs() -> None:
    assert allowed("cc-by-4.0", ["cc-by-*"]) and allowed("cc0-1.0", ["*"])
    assert not allowed("cc-by-nc-4.0", ["cc0-1.0", "cc-by-4.0"])
    assert allowed("cc-by-nc-4.0", ["CC-BY-NC-*"])  # codes are lower case; so is the match


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"licenses": "cc0-1.0"}, "filters.licenses must be a list"),
        ({"licenses": [""]}, "filters.licenses must be a list of license codes"),
        ({"max_aspect_ratio": 0.5}, "max_aspect_ratio must be at least 1"),
        ({"placeholder_sha256": ["abc"]}, "lower-case sha256 hex digests"),
        ({"min_sides": 3}, "unknown setting filters.min_sides"),
    ],
)
def test_filter_settings_are_checked(filters: dict, message: str) -> None:
    with pytest.raises(TolError, match=message):
        from_dict({"filters": filters})


def test_inat21_annotations_stream_licenses_and_images(tmp_path: Path) -> None:
    path = tmp_path / "train.json"
    path.write_text(
        json.dumps(
            {
                "images": [
                    {
                        "id": 1,
                        "file_name": "train/00042_Animalia_A_B_C_D_E_f/x.jpg",
                        "license": 3,
                        "rights_holder": " Ann ",
                    },
                    {"id": 2, "file_name": "no-folder.jpg", "license": 3},
                ],
                "annotations": [{"id": 1, "image_id": 1, "category_id": 42}],
                "licenses": [{"id": 3, "name": "Attribution License", "url": "http://x"}],
            }
        )
    )
    assert list(inat21_licenses(path)) == [(3, "Attribution License", "http://x")]
    assert list(inat21_images(path)) == [(42, "x.jpg", 3, "Ann")]  # no class folder: skipped
    path.write_text('{"images": [{"id": 1, ')
    with pytest.raises(TolError, match="not a readable iNat21 annotation file"):
        list(inat21_images(path))


def test_placeholder_list_reads_sha256sum_lines(tmp_path: Path) -> None:
    listing = tmp_path / "placeholders.sha256"
    digest = "ab" * 32
    listing.write_text(f"# tiles\n{digest.upper()}  tile.png\n\n")
    cfg = FilterConfig(placeholder_sha256=["cd" * 32])
    assert placeholder_digests(cfg, listing) == [digest, "cd" * 32]
    listing.write_text("not a digest\n")
    with pytest.raises(TolError, match="placeholders.sha256:1: expected a sha256 digest"):
        placeholder_digests(cfg, listing)
