"""Crash-safe files: write under a unique temporary name, fsync, rename into place.

Every output of a build (shards, work files, catalogs, reports, the dataset card) is
written through here.

A reader (or a resumed build) sees either no file or a complete one. Temporary names carry
the writer's pid, so a worker orphaned by a killed build cannot collide with the resumed
build's writer; both would produce identical bytes anyway. ``remove_strays`` deletes
temporaries left by a crash (SIGKILL leaves no chance to clean up); any other failure
(an error, Ctrl-C, SIGTERM, a full disk) removes its temporaries on the way out
(``removed_on_failure``), and a full disk is said in one line naming the folder.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from treeoflife.errors import TolError
from treeoflife.shards.layout import TMP_SUFFIX


def temp_path(final: Path) -> Path:
    return final.with_name(f".{final.name}.{os.getpid()}{TMP_SUFFIX}")


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: Path, final: Path) -> None:
    """Rename a complete, fsynced temporary into place, durably."""
    os.replace(tmp, final)
    fsync_dir(final.parent)


def no_space(folder: Path, what: str, needed: int | None, *, exact: bool = False) -> TolError:
    """The one line a full disk gets: where, what needed how much, and what to do."""
    try:
        free = f"{shutil.disk_usage(folder).free:,} bytes free"
    except OSError:
        free = "free space unknown"
    if needed is None:
        need = "more room"
    else:
        need = f"{needed:,} bytes" if exact else f"more than {needed:,} bytes"
    return TolError(
        f"no space left on the device of {folder}: {what} needed {need} ({free}); "
        "free some space and run the same command again to resume"
    )


def is_no_space(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


@contextmanager
def removed_on_failure(*tmps: Path, needed: int | None = None) -> Iterator[None]:
    """Delete ``tmps`` when the block fails in any way (an error, Ctrl-C, SIGTERM, a full
    disk): otherwise each interrupted run would leave its pid-named temporaries behind.
    A full disk becomes one line naming the folder and what was needed (``needed`` when
    the size is known beforehand, else at least what the temporaries had reached)."""
    try:
        yield
    except BaseException as exc:
        written = 0
        for tmp in tmps:
            with suppress(OSError):
                written += tmp.stat().st_size
            tmp.unlink(missing_ok=True)
        if is_no_space(exc):
            what = "writing " + ", ".join(_final_name(t) for t in tmps)
            exact = needed is not None
            raise no_space(
                tmps[0].parent, what, needed if exact else written, exact=exact
            ) from None
        raise


def _final_name(tmp: Path) -> str:
    """``catalog.csv`` of ``.catalog.csv.<pid>.tmp``."""
    return tmp.name[1:].removesuffix(TMP_SUFFIX).rsplit(".", 1)[0]


def written_temp(final: Path, data: bytes) -> Path:
    """``final``'s temporary holding ``data``, fsynced but not yet published: for a writer
    that publishes it with other files (removed if the writing fails)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(final)
    with removed_on_failure(tmp, needed=len(data)), open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return tmp


def write_bytes(final: Path, data: bytes) -> None:
    tmp = written_temp(final, data)
    with removed_on_failure(tmp, needed=len(data)):
        publish(tmp, final)


def write_text(final: Path, text: str) -> None:
    write_bytes(final, text.encode("utf-8"))


def remove_strays(folder: Path) -> int:
    """Delete temporaries a crashed run left in ``folder`` (not recursive); how many."""
    if not folder.is_dir():
        return 0
    n = 0
    for p in folder.glob(f".*{TMP_SUFFIX}"):
        p.unlink(missing_ok=True)
        n += 1
    return n
