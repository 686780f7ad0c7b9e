"""Trustworthy rebuilds, the build level (issue #10): each fault a build can meet — a damaged
build.sqlite, a mistyped --sources, a read-only OUT, a full disk, SIGTERM, a bad stored
config — ends in one line (exit 2) with nothing half-written, and the next run gives the
bytes of a clean build; and a build's files depend only on its sources and config."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from treeoflife import builddb
from treeoflife.cli import STAGE_COMMANDS, main
from treeoflife.stages import all_stages

pytestmark = pytest.mark.slow


# the commands that take --workers: build, and those running a stage that uses workers
WORKER_COMMANDS = {"build"} | {
    command
    for command, names in STAGE_COMMANDS.items()
    if any(s.uses_workers for s in all_stages() if s.name in names)
}


def tol(*argv: str) -> int:
    workers = ["--workers", "1"] if argv[0] in WORKER_COMMANDS else []
    return main([*argv, *workers, "--no-progress"])


def outputs(out: Path) -> dict[str, bytes]:
    """Every file a build wrote but its database and lock, by path relative to OUT."""
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and not builddb.is_record(p.name)
    }


def temporaries(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*.tmp"))


def one_line_error(err: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    assert lines and lines[-1].startswith("tol: error: "), err
    for w in words:
        assert w in lines[-1], lines[-1]


@pytest.fixture(scope="module")
def reference(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean build of the sample collection. Read-only: copy it first."""
    out = tmp_path_factory.mktemp("reference") / "out"
    assert tol("build", "--sources", str(sample_dir), "--out", str(out)) == 0
    return out


@pytest.fixture
def build(reference: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    (out / builddb.LOCK_NAME).unlink(missing_ok=True)
    return out


def _truncate(db: Path) -> None:
    with db.open("r+b") as fh:
        fh.truncate(db.stat().st_size // 3)


def _garbage_header(db: Path) -> None:
    with db.open("r+b") as fh:
        fh.write(b"this is not sqlite at all")


def _garbage_page(db: Path) -> None:
    page = sqlite3.connect(db).execute("PRAGMA page_size").fetchone()[0]
    with db.open("r+b") as fh:
        fh.seek(page * 5)
        fh.write(b"\xff" * page)


@pytest.mark.parametrize("command", ["verify", "build", "catalog"])
@pytest.mark.parametrize("damage", [_truncate, _garbage_header, _garbage_page])
def test_a_damaged_build_database_is_one_line(build: Path, capsys, damage, command: str) -> None:
    damage(build / builddb.DB_NAME)
    assert tol(command, "--out", str(build), "--force") == 2
    one_line_error(capsys.readouterr().err, "build database", "is damaged", "tol build --sources")


@pytest.mark.parametrize(
    ("first", "then", "words"),
    [
        # a mistyped --sources creates nothing, so the next command says what to pass
        (["build", "--sources", "/typo-no-such-dir"], ["split"], "has no build yet"),
        # an empty build.sqlite an older tol left behind
        (None, ["verify"], "has no recorded build"),
    ],
)
def test_a_mistyped_sources_leaves_no_build(
    tmp_path: Path, capsys, first: list[str] | None, then: list[str], words: str
) -> None:
    out = tmp_path / "out"
    if first is None:
        builddb.connect(out, create=True).close()
    else:
        assert tol(*first, "--out", str(out)) == 2
        one_line_error(capsys.readouterr().err, "is not a directory")
        assert not (out / builddb.DB_NAME).exists()
    assert tol(*then, "--out", str(out)) == 2
    one_line_error(capsys.readouterr().err, words)


@pytest.fixture
def read_only_build(reference: Path, sample_dir: Path) -> Iterator[Path]:
    """A copy of the reference build (and its sources, which the stored config names) in a
    folder every user can read; OUT is then made read-only with chmod."""
    top = Path(tempfile.mkdtemp(prefix="tol-ro-"))
    top.chmod(0o755)
    out = top / "out"
    shutil.copytree(reference, out)
    (out / builddb.LOCK_NAME).unlink(missing_ok=True)
    sources = top / "sources"
    shutil.copytree(sample_dir, sources)
    db = sqlite3.connect(out / builddb.DB_NAME)
    config = json.loads(db.execute("SELECT value FROM meta WHERE key='config'").fetchone()[0])
    config["sources_root"] = str(sources)
    db.execute("UPDATE meta SET value=? WHERE key='config'", (json.dumps(config),))
    db.commit()
    db.close()
    for p in [top, *top.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    for p in [*out.rglob("*"), out]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        yield out
    finally:
        for p in [out, *out.rglob("*")]:
            p.chmod(0o755)
        shutil.rmtree(top)


def _as_a_user(argv: list[str]) -> subprocess.CompletedProcess:
    """Run tol as a user chmod binds: root ignores a read-only mode, so as root the command
    runs as nobody (setpriv); as anyone else, as is."""
    cmd = [sys.executable, "-m", "treeoflife", *argv]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: cannot drop to a user chmod binds")
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    env = {**os.environ, "HOME": "/tmp"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/", timeout=300)


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["verify", "--force", "--workers", "1"], 0, "verify: 3 shards"),
        (["check-taxa", "{out}/catalog.csv"], 0, "check-taxa: "),
        (["scan", "--workers", "1"], 2, "is read-only: `tol scan` writes there"),
        (["build", "--workers", "1"], 2, "is read-only: `tol build` writes there"),
    ],
)
def test_a_read_only_build_reads_and_refuses_to_write(
    read_only_build: Path, argv: list[str], code: int, words: str
) -> None:
    out = read_only_build
    args = [a.format(out=out) for a in argv]
    if args[0] != "check-taxa":
        args += ["--out", str(out), "--no-progress"]
    before = outputs(out)
    run = _as_a_user(args)
    assert run.returncode == code, run.stderr
    assert words in run.stdout + run.stderr
    if code:
        one_line_error(run.stderr)
    assert "Traceback" not in run.stderr
    assert outputs(out) == before


@pytest.mark.parametrize(
    ("command", "temporary", "folder"),
    [
        ("split", ".predicted-catalog.csv.", ""),
        ("shard", ".shard-000000.tar", "224x224/train"),
        ("catalog", ".catalog.csv.", ""),
        ("catalog", ".catalog.parquet.", ""),
        ("report", ".stats.json.", "reports"),
    ],
)
def test_a_full_disk_is_one_line_and_resumes(
    build: Path, reference: Path, capsys, monkeypatch, command: str, temporary: str, folder: str
) -> None:
    real_fsync = os.fsync

    def fsync(fd: int) -> None:  # the disk fills as this temporary is written
        if temporary in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    if command == "shard":  # a done shard is not rewritten: one gone is
        (build / folder / temporary.strip(".")).unlink()
    assert tol(command, "--out", str(build), "--force") == 2
    where = (build / folder) if folder else build
    one_line_error(capsys.readouterr().err, f"no space left on the device of {where}:", "needed")
    assert temporaries(build) == []
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert tol("build", "--out", str(build)) == 0
    assert outputs(build) == outputs(reference)


# Ctrl-C reaching tol as it does in a terminal: a background job of a non-interactive
# shell (a CI script's `cmd &`) starts with SIGINT ignored, and Python then installs no
# KeyboardInterrupt handler, so the child sets the one a terminal's process has.
_INTERRUPT = """
import os, signal, sys
from treeoflife import atomic
from treeoflife.cli import main
signal.signal(signal.SIGINT, signal.default_int_handler)
publish = atomic.publish
def interrupted(tmp, final):
    if final.name == "catalog.parquet":
        os.kill(os.getpid(), signal.{sig})
    publish(tmp, final)
atomic.publish = interrupted
sys.exit(main(["catalog", "--out", sys.argv[1], "--force", "--no-progress"]))
"""


@pytest.mark.parametrize(
    ("sig", "code", "words"),
    [
        ("SIGINT", 130, "tol: interrupted; run the same command again to resume"),
        ("SIGTERM", 143, "tol: terminated (SIGTERM); run the same command again to resume"),
        ("SIGKILL", -signal.SIGKILL, None),  # no clean-up possible: the next run does it
    ],
)
def test_an_interrupted_build_leaves_no_temporaries_and_resumes(
    build: Path, reference: Path, sig: str, code: int, words: str | None
) -> None:
    run = subprocess.run(
        [sys.executable, "-c", _INTERRUPT.format(sig=sig), str(build)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == code, (run.returncode, run.stdout, run.stderr)
    if words is not None:
        assert run.stderr.strip().splitlines()[-1] == words
        assert "Traceback" not in run.stderr
        assert temporaries(build) == []
    assert tol("build", "--out", str(build)) == 0
    assert temporaries(build) == []
    assert outputs(build) == outputs(reference)


@pytest.mark.parametrize(
    ("toml", "stored", "words"),
    [
        ("explicit_paths = 5\n", None, "explicit_paths is not a setting"),
        ("extra = 5\n", None, "unknown section [extra]"),
        ("sources_root = 5\n", None, "sources_root must be a path string"),
        (None, {"explicit_paths": 5}, "explicit_paths must be a list of [paths] setting names"),
        (None, {"explicit_paths": ["nope"]}, "explicit_paths must be a list"),
        (None, {"extra": 5}, "extra must be a table"),
        (None, {"sources_root": 5}, "sources_root must be a path string"),
    ],
)
def test_internal_config_keys_are_checked(
    build: Path, sample_dir: Path, tmp_path: Path, capsys, toml, stored, words: str
) -> None:
    if toml is not None:
        cfg = tmp_path / "tol.toml"
        cfg.write_text(toml)
        argv = ["split", "--config", str(cfg)]
    else:
        db = sqlite3.connect(build / builddb.DB_NAME)
        config = json.loads(db.execute("SELECT value FROM meta WHERE key='config'").fetchone()[0])
        db.execute("UPDATE meta SET value=? WHERE key='config'", (json.dumps(config | stored),))
        db.commit()
        db.close()
        argv = ["split"]
    assert tol(*argv, "--out", str(build)) == 2
    one_line_error(capsys.readouterr().err, words)


def test_two_clean_builds_in_two_folders_are_byte_identical(
    reference: Path, sample_dir: Path, tmp_path: Path
) -> None:
    sources = tmp_path / "elsewhere" / "sources"
    shutil.copytree(sample_dir, sources)
    out = tmp_path / "another" / "dataset"
    assert tol("build", "--sources", str(sources), "--out", str(out)) == 0
    mine, theirs = outputs(out), outputs(reference)
    assert sorted(mine) == sorted(theirs)
    assert [name for name in mine if mine[name] != theirs[name]] == []


def test_a_build_is_checked_again_only_when_changed_behind_tols_back(build: Path) -> None:
    """The page-level check on opening reads the whole database (~25 s at 10M images), so a
    command that ended well notes the file's state and the next command skips the check
    while the file is as tol left it; any write from elsewhere, a log left by a process
    that did not close it, or a command that failed, has the next command check it."""
    db_path = build / builddb.DB_NAME
    assert tol("report", "--out", str(build), "--force") == 0
    assert not builddb.needs_check(db_path)
    os.utime(db_path, ns=(db_path.stat().st_atime_ns, db_path.stat().st_mtime_ns + 1))
    assert builddb.needs_check(db_path)  # touched: the same bytes, but tol cannot know

    assert tol("report", "--out", str(build), "--force") == 0
    wal = build / f"{builddb.DB_NAME}-wal"
    wal.write_bytes(b"\0" * 32)
    assert builddb.needs_check(db_path)
    wal.unlink()
    assert not builddb.needs_check(db_path)

    # a command that fails (no verified shards for catalog) leaves the next one to check
    with sqlite3.connect(db_path) as db:
        db.execute("UPDATE shards SET status = 'planned' WHERE rowid = 1")
    db.close()
    assert tol("catalog", "--out", str(build), "--force") == 2
    assert builddb.needs_check(db_path)
