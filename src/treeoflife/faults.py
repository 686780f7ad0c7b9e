"""The kill-and-resume test hook: ``TOL_FAULT=point:N`` SIGKILLs the driver at the N-th time
it passes ``point`` (``unit``: a scan unit recorded; ``published``: a shard renamed into place
but not yet recorded; ``shard``: a shard recorded; ``eval``: a file of an eval set hashed
and recorded). Tests use it to prove that a build
killed anywhere resumes to the bytes of an uninterrupted one."""

from __future__ import annotations

import os
import signal


class Fault:
    def __init__(self) -> None:
        point, _, n = os.environ.get("TOL_FAULT", "").partition(":")
        self.point, self.left = point, int(n) if n else 0

    def hit(self, point: str) -> None:
        if point == self.point:
            self.left -= 1
            if self.left <= 0:
                os.kill(os.getpid(), signal.SIGKILL)
