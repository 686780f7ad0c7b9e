"""Split: deterministic, exact counts for the exact method, old images keep their split."""

from __future__ import annotations

import sqlite3
from hashlib import sha256
from pathlib import Path

from collection import jpeg_bytes, write_small_collection
from treeoflife.cli import main
from treeoflife.config import SplitConfig
from treeoflife.stages.split import (
    SCALE,
    _hashed,
    _salted,
    _unit,
    below,
    exact_split,
    stable_split,
)

IDS = [f"{i:08x}-0000-5000-8000-000000000000" for i in range(20_000)]


def assign(
    method,
    ids: list[str],
    val: float,
    small: float,
    seed: int,
    clusters: dict | None = None,
    encoded: list[tuple[str, str | None]] | None = None,
) -> dict[str, tuple]:
    """Run a split method over a database holding ``ids`` as images, readable unless
    ``encoded`` lists (id, reject) in another order, and ``clusters`` (id -> cluster) as
    duplicate clusters."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE images (treeoflife_id TEXT PRIMARY KEY)")
    db.execute("CREATE TABLE encoded (treeoflife_id TEXT PRIMARY KEY, reject TEXT)")
    db.execute("CREATE TABLE rejects (item TEXT, stage TEXT)")  # what [filters] left out
    db.execute(
        "CREATE TABLE clusters (member TEXT PRIMARY KEY, cluster TEXT, is_eval INT DEFAULT 0)"
    )
    db.executemany("INSERT INTO images VALUES (?)", [(t,) for t in ids])
    db.executemany("INSERT INTO encoded VALUES (?, ?)", encoded or [(t, None) for t in ids])
    db.executemany("INSERT INTO clusters VALUES (?, ?, 0)", list((clusters or {}).items()))
    cfg = SplitConfig(val_percent=val, train_small_percent=small, seed=seed)
    return {tid: (split, bool(sm)) for batch in method(db, cfg) for tid, split, sm in batch}


def test_a_cluster_is_split_as_one_and_a_val_image_stays_in_val() -> None:
    ids = IDS[:4000]
    clusters = {t: ids[i - i % 3] for i, t in enumerate(ids[:3000])}  # clusters of three
    alone = assign(stable_split, ids, 5, 10, 17)
    for method in (stable_split, exact_split):
        result = assign(method, ids, 5, 10, 17, clusters)
        by_cluster: dict[str, set] = {}
        for t, c in clusters.items():
            by_cluster.setdefault(c, set()).add(result[t][0])  # train_small: per image
        assert all(len(s) == 1 for s in by_cluster.values())
        assert any(s == {"val"} for s in by_cluster.values())
    # stable: a cluster is in val when any of its images alone would be
    result = assign(stable_split, ids, 5, 10, 17, clusters)
    assert all(result[t][0] == "val" for t in ids if alone[t][0] == "val")
    assert {t for t in ids[3000:] if result[t] != alone[t]} == set()


def splits_of(out: Path) -> dict[str, tuple[str, int]]:
    with sqlite3.connect(out / "build.sqlite") as db:
        return {tid: (s, small) for tid, s, small in db.execute("SELECT * FROM splits")}


def test_exact_method_hits_the_requested_counts() -> None:
    result = assign(exact_split, IDS, 5, 10, seed=17)
    val = [t for t, (s, _) in result.items() if s == "val"]
    train = [t for t, (s, _) in result.items() if s == "train"]
    small = [t for t, (_, sm) in result.items() if sm]
    assert len(val) == 1000
    assert len(train) == 19_000
    assert len(small) == 1900 and set(small) <= set(train)


def test_both_methods_are_reproducible_and_seeded() -> None:
    for method in (exact_split, stable_split):
        assert assign(method, IDS, 5, 10, 17) == assign(method, list(reversed(IDS)), 5, 10, 17)
        assert assign(method, IDS, 5, 10, 17) != assign(method, IDS, 5, 10, 18)


def test_stable_method_keeps_every_old_images_split_when_images_are_added() -> None:
    old = assign(stable_split, IDS[:10_000], 5, 10, 17)
    new = assign(stable_split, IDS, 5, 10, 17)
    assert all(new[t] == old[t] for t in old)
    val = sum(1 for s, _ in new.values() if s == "val")
    assert 800 < val < 1200  # 5% of 20,000 within sampling noise


def test_exact_method_may_move_old_images_the_stable_one_never_does() -> None:
    old = assign(exact_split, IDS[:10_000], 5, 10, 17)
    new = assign(exact_split, IDS, 5, 10, 17)
    assert any(new[t] != old[t] for t in old)


def test_splits_are_identical_across_two_fresh_builds(tmp_path: Path) -> None:
    src = write_small_collection(tmp_path / "src", eol_images=30, inat_per_class=20)
    for name in ("a", "b"):
        assert (
            main(["split", "--sources", str(src), "--out", str(tmp_path / name), "--no-progress"])
            == 2
        )  # needs scan and resolve
        for stage in ("scan", "resolve", "split"):
            assert main([stage, "--out", str(tmp_path / name), "--no-progress"]) == 0
    assert splits_of(tmp_path / "a") == splits_of(tmp_path / "b")
    assert len(splits_of(tmp_path / "a")) == 70


def test_new_images_rerun_split_and_keep_old_assignments(tmp_path: Path, capsys) -> None:
    src = write_small_collection(tmp_path / "src", eol_images=10, inat_per_class=10)
    out = tmp_path / "out"
    main(["scan", "--sources", str(src), "--out", str(out), "--no-progress"])
    main(["resolve", "--out", str(out), "--no-progress"])
    main(["split", "--out", str(out), "--no-progress"])
    before = splits_of(out)
    cls = next((src / "inat21/train").iterdir())
    for i in range(5):
        (cls / f"added-{i}.jpg").write_bytes(jpeg_bytes(500 + i))
    capsys.readouterr()
    main(["scan", "--out", str(out), "--no-progress"])
    main(["resolve", "--out", str(out), "--no-progress"])
    main(["split", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert "up to date" not in err
    after = splits_of(out)
    assert len(after) == len(before) + 5
    assert all(after[t] == before[t] for t in before)


def test_a_rerun_counts_the_images_that_changed_split(tmp_path: Path, capsys) -> None:
    """The log's count of moved images: each image of both runs whose split differs, train
    to val and val to train (another seed and val share move both ways)."""
    src = write_small_collection(tmp_path / "src", eol_images=20, inat_per_class=20)
    out = tmp_path / "out"
    for stage in ("scan", "resolve", "split"):
        main([stage, "--sources", str(src), "--out", str(out), "--no-progress"])
    before = splits_of(out)
    cfg = tmp_path / "tol.toml"
    cfg.write_text("[split]\nseed = 18\nval_percent = 30\n")
    capsys.readouterr()
    rerun = ["split", "--sources", str(src), "--config", str(cfg), "--out", str(out)]
    assert main([*rerun, "--no-progress"]) == 0
    after = splits_of(out)
    assert after.keys() == before.keys()
    moved = [t for t in before if after[t][0] != before[t][0]]
    assert {before[t][0] for t in moved} == {"train", "val"}
    assert f"; {len(moved)} images changed split since the last run" in capsys.readouterr().err


def test_exact_method_from_the_config(tmp_path: Path) -> None:
    src = write_small_collection(tmp_path / "src", eol_images=40, inat_per_class=30)
    cfg = tmp_path / "tol.toml"
    cfg.write_text('[split]\nmethod = "exact"\nval_percent = 10\ntrain_small_percent = 50\n')
    out = tmp_path / "out"
    main(["scan", "--sources", str(src), "--config", str(cfg), "--out", str(out), "--no-progress"])
    main(["resolve", "--out", str(out), "--no-progress"])
    main(["split", "--out", str(out), "--no-progress"])
    splits = splits_of(out)
    assert sum(1 for s, _ in splits.values() if s == "val") == 10  # 10% of 100
    assert sum(small for _, small in splits.values()) == 45  # 50% of 90


def test_the_byte_bound_decides_as_the_unit_number_does() -> None:
    # the stable method compares digests with split.below(fraction) instead of making
    # _unit's float per image: it must agree on every key, also right at the bound
    for fraction in (0.0, 0.05, 0.1, 1 / 3, 0.999999, 1.0, 1.5):
        b = below(fraction)
        bound = int.from_bytes(b, "big") if len(b) == 8 else SCALE  # SCALE: every digest
        assert bound == SCALE or bound / SCALE >= fraction
        assert bound == 0 or (bound - 1) / SCALE < fraction
    assert below(1.5) > b"\xff" * 32  # past every digest
    salted = _salted(17, "val")
    awkward = ["", "é", "a,b", "x" * 200, "species:Pieris rapae", *IDS[:2000]]
    for key in awkward:
        for fraction in (0.0, 0.05, 0.5, 1.0):
            digest = sha256(salted + key.encode()).digest()
            assert (digest < below(fraction)) == (_hashed(salted, key) < fraction)


def test_stable_split_assigns_what_the_unit_number_says() -> None:
    # the rule as documented: val when the unit's val number is under val%, else
    # train_small when the image's own train_small number is under train_small%
    ids = [*IDS[:3000], "tol10m-kept-id", "Ünïcode-id", "id,with,commas"]
    clusters = {t: ids[i - i % 2] for i, t in enumerate(ids[:600])}  # clusters of two
    result = assign(stable_split, ids, 5, 10, 17, clusters)
    for t in ids:
        members = [m for m, c in clusters.items() if c == clusters[t]] if t in clusters else [t]
        unit = min(members, key=lambda m: (_unit(17, "val", m), m))
        if _unit(17, "val", unit) < 0.05:
            assert result[t] == ("val", False)
        else:
            assert result[t] == ("train", _unit(17, "train_small", t) < 0.10)


def test_an_image_is_split_by_its_own_encoded_row_in_any_storage_order() -> None:
    # split finds an image's encoded row by rowid (scan writes both tables in the same
    # order) and by id where that row is another image's: the result must not depend on it
    ids = IDS[:3000]
    aligned = assign(stable_split, ids, 5, 10, 17)
    shuffled = [(t, "image_unreadable" if t == ids[7] else None) for t in reversed(ids)]
    result = assign(stable_split, ids, 5, 10, 17, encoded=shuffled)
    assert ids[7] not in result
    assert result == {t: v for t, v in aligned.items() if t != ids[7]}
