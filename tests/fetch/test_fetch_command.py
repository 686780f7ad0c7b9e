"""``tol fetch`` end to end against the test server, then ``tol fetch-images`` and ``tol scan``."""

from __future__ import annotations

import csv
import json
import sqlite3
import tarfile

import pytest

from treeoflife.cli import main

from .conftest import VERNACULAR, dh_zip, dwca_zip, jpeg, media_manifest_tgz

FAST_SETTINGS = "timeout = 2\ndeadline = 20\ntries = 4\nbackoff = 0.01\nmax_backoff = 0.05\n"
N_IMAGES = 12


def serve_reference(server) -> dict[str, str]:
    rows = []
    for i in range(N_IMAGES):
        path = f"/media/{i}.jpg"
        if i == 4:
            server.add(path, status=404)
        else:
            server.add(path, jpeg(i), content_type="image/jpeg")
        rows.append(
            [
                str(9000 + i),
                "328672",
                f"http://example.org/src/{i}",
                server.url(path),
                "cc-by",
                "Owner",
            ]
        )
    return {
        "eol_dh": server.add("/dh21.zip", dh_zip(), drop_after=300, drops=1),
        "eol_vernacular": server.add("/vernacularnames.csv", VERNACULAR, fail=[503]),
        "inat_dwca": server.add(
            "/inaturalist-taxonomy.dwca.zip", dwca_zip(), fail=[429], retry_after="0"
        ),
        "eol_media_manifest": server.add("/media_manifest.tgz", media_manifest_tgz(rows, 1)),
    }


def write_config(tmp_path, urls: dict[str, str], extra: str = "") -> str:
    text = (
        "[fetch]\n"
        + FAST_SETTINGS
        + "".join(f'\n[fetch.{n}]\nurl = "{u}"\n' for n, u in urls.items())
    )
    path = tmp_path / "tol.toml"
    path.write_text(text + extra)
    return str(path)


def tol(*argv) -> int:
    return main([str(a) for a in argv])


def test_fetch_then_fetch_images_then_scan(server, tmp_path, capsys):
    urls = serve_reference(server)
    config = write_config(tmp_path, urls)
    src = tmp_path / "src"
    assert tol("fetch", "--sources", src, "--config", config, "--no-progress") == 0
    assert (src / "eol/dh21/taxon.tab").read_text().startswith("taxonID\t")
    assert (src / "eol/vernacularnames.csv").read_bytes() == VERNACULAR
    assert (src / "inat/dwca/taxa.csv").exists() and (
        src / "inat/dwca/VernacularNames-english.csv"
    ).exists()
    log = json.loads((src / "eol/media_manifest_log.json").read_text())
    assert log["total_entries_in_media_manifest"] == N_IMAGES
    assert not (src / ".tol-fetch").exists()
    dh_hits = server.hits("/dh21.zip")
    assert [h.status for h in dh_hits] == [200, 206] and dh_hits[1].range == "bytes=300-"
    manifest = json.loads((src / "fetch-manifest.json").read_text())
    rec = manifest["entries"]["eol_dh"]
    assert rec["etag"] == '"v1"' and rec["final_url"] == urls["eol_dh"] and len(rec["sha256"]) == 64
    assert set(rec["outputs"]) == {"eol/dh21/taxon.tab", "eol/dh21/meta.xml"}

    # a second run asks conditionally and skips everything
    before = len(server.hits())
    capsys.readouterr()
    assert tol("fetch", "--sources", src, "--config", config, "--no-progress") == 0
    err = capsys.readouterr().err
    assert err.count("current: the server says not modified") == 4
    assert {h.status for h in server.hits()[before:]} == {304}
    # offline: no request at all
    before = len(server.hits())
    assert tol("fetch", "--sources", src, "--config", config, "--offline", "--no-progress") == 0
    assert len(server.hits()) == before
    # an edited file is fetched again
    (src / "eol/vernacularnames.csv").write_text("edited")
    assert (
        tol("fetch", "eol_vernacular", "--sources", src, "--config", config, "--no-progress") == 0
    )
    assert (src / "eol/vernacularnames.csv").read_bytes() == VERNACULAR
    assert "changed" in capsys.readouterr().err

    # images from the fetched media manifest, as EOL image sets
    capsys.readouterr()
    assert (
        tol(
            "fetch-images",
            src / "eol/media_manifest.csv",
            "--out-sources",
            src,
            "--set-size",
            "5",
            "--tries",
            "1",
            "--timeout",
            "2",
            "--no-progress",
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["fetched"] == N_IMAGES - 1 and summary["failures_by_reason"] == {"http_404": 1}
    sets = sorted((src / "eol/images").glob("images_*.tar"))
    assert [s.name for s in sets] == ["images_0000.tar", "images_0001.tar", "images_0002.tar"]
    with tarfile.open(sets[0]) as tf:
        assert tf.getnames() == [f"{9000 + i}_328672_eol-full-size-copy.jpg" for i in (0, 1, 2, 3)]

    out = tmp_path / "out"
    assert tol("scan", "--sources", src, "--out", out, "--no-progress") == 0
    db = sqlite3.connect(out / "build.sqlite")
    assert (
        db.execute("SELECT COUNT(*) FROM images WHERE source='eol'").fetchone()[0] == N_IMAGES - 1
    )
    db.close()

    # and the whole build, on the fetched taxonomy, names and media manifest
    built = tmp_path / "built"
    argv = [
        "build",
        "--sources",
        src,
        "--config",
        config,
        "--out",
        built,
        "--no-progress",
        "--workers",
        "1",
    ]
    assert tol(*argv) == 0
    with (built / "catalog.csv").open(newline="") as fh:
        catalog = list(csv.DictReader(fh))
    assert len(catalog) >= N_IMAGES - 1 and {r["eol_page_id"] for r in catalog} == {"328672"}


def test_pinned_wrong_checksum_fails_clearly_and_leaves_nothing(server, tmp_path, capsys):
    url = server.add("/vernacularnames.csv", VERNACULAR)
    config = write_config(
        tmp_path, {}, f'\n[fetch.eol_vernacular]\nurl = "{url}"\nsha256 = "{"ab" * 32}"\n'
    )
    src = tmp_path / "src"
    assert (
        tol("fetch", "eol_vernacular", "--sources", src, "--config", config, "--no-progress") == 2
    )
    err = capsys.readouterr().err
    assert "failed verification: sha256" in err and "tol: error: 1 of 1 fetches failed" in err
    assert not (src / "eol/vernacularnames.csv").exists()
    assert not list(src.rglob("*.part"))


def test_unsafe_archive_is_refused_by_fetch(server, tmp_path, capsys):
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("taxon.tab", "taxonID\n")
        zf.writestr("../../escape.txt", "evil")
    url = server.add("/dh21.zip", buf.getvalue())
    config = write_config(tmp_path, {"eol_dh": url})
    src = tmp_path / "src"
    assert tol("fetch", "eol_dh", "--sources", src, "--config", config, "--no-progress") == 2
    assert "is refused: member '../../escape.txt' points outside" in capsys.readouterr().err
    assert not (src / "eol/dh21/taxon.tab").exists() and not (tmp_path / "escape.txt").exists()
    assert not list(src.rglob("*.zip"))


def test_catalogue_overrides_new_entries_and_list(server, tmp_path, capsys):
    url = server.add("/extra.csv", b"a,b\n")
    config = write_config(
        tmp_path,
        {},
        f'\n[fetch.extra]\nurl = "{url}"\ntarget = "extra/x.csv"\n'
        '\n[fetch.eol_dh]\nurl = "https://mirror.example.org/dh21.zip"\n',
    )
    assert tol("fetch", "--list", "--config", config) == 0
    listing = capsys.readouterr().out
    assert "https://mirror.example.org/dh21.zip" in listing and "extra/x.csv" in listing
    src = tmp_path / "src"
    assert tol("fetch", "extra", "--sources", src, "--config", config, "--no-progress") == 0
    assert (src / "extra/x.csv").read_bytes() == b"a,b\n"


@pytest.mark.parametrize(
    "toml, message",
    [
        ('[fetch.eol_dh]\nurl = "ftp://x"\n', "must be an http"),
        ('[fetch.eol_dh]\nsha = "x"\n', "unknown setting sha"),
        ('[fetch.new]\nurl = "http://x/y"\n', "needs at least url and target"),
        ("[fetch]\ntimeot = 3\n", "unknown setting fetch.timeot"),
        ('[fetch.eol_dh]\ntarget = "../up"\n', "inside the sources root"),
    ],
)
def test_config_mistakes_are_one_sentence(tmp_path, capsys, toml, message):
    path = tmp_path / "tol.toml"
    path.write_text(toml)
    assert tol("fetch", "--sources", tmp_path / "src", "--config", path) == 2
    assert message in capsys.readouterr().err


def test_unknown_entry_and_offline_without_copy(tmp_path, capsys):
    assert tol("fetch", "nope", "--sources", tmp_path) == 2
    assert "nothing called 'nope'" in capsys.readouterr().err
    assert tol("fetch", "eol_vernacular", "--sources", tmp_path, "--offline") == 2
    assert "--offline forbids downloading" in capsys.readouterr().err


def test_generic_images_are_scanned(server, tmp_path, capsys):
    rows = []
    for i in range(6):
        rows.append(
            {
                "url": server.add(f"/g/{i}", jpeg(i)),
                "scientific_name": "Panthera leo",
                "genus": "Panthera",
                "extra": "ignored",
                "license": "CC BY-NC 4.0" if i % 2 else "",
                "rights_holder": f"Photographer {i}",
            }
        )
    rows.append(
        {
            "url": server.add("/g/html", b"<html>", content_type="text/html"),
            "scientific_name": "X",
            "genus": "",
            "extra": "",
            "license": "",
            "rights_holder": "",
        }
    )
    urls = tmp_path / "urls.csv"
    with urls.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    src = tmp_path / "src"
    assert (
        tol("fetch-images", urls, "--out-sources", src, "--format", "generic", "--no-progress") == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["labels_rows"] == 6 and summary["failures_by_reason"] == {"not_an_image": 1}
    with (src / "generic/labels.csv").open() as fh:
        labels = list(csv.DictReader(fh))
    assert list(labels[0]) == [
        "path",
        "scientific_name",
        "genus",
        "license",
        "rights_holder",
        "url",
    ]
    assert all(
        (src / "generic" / r["path"]).is_file() and r["path"].endswith(".jpg") for r in labels
    )
    out = tmp_path / "out"
    assert tol("scan", "--sources", src, "--out", out, "--no-progress") == 0
    db = sqlite3.connect(out / "build.sqlite")
    assert db.execute("SELECT COUNT(*) FROM images WHERE source='generic'").fetchone()[0] == 6
    # the license and holder the list gave, and the URL each image was fetched from
    rights = db.execute(
        "SELECT r.license, r.rights_holder, r.source_url FROM images i "
        "LEFT JOIN rights r USING (treeoflife_id) ORDER BY r.rights_holder"
    ).fetchall()
    assert [r[0] for r in rights] == ["unknown", "cc-by-nc-4.0"] * 3
    assert [r[1] for r in rights] == [f"Photographer {i}" for i in range(6)]
    assert all(r[2].startswith("http://") for r in rights)
