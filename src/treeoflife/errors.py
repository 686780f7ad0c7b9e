"""The one exception a user sees: a clear sentence, never a traceback."""

from __future__ import annotations


class TolError(Exception):
    """A problem with the user's input or environment, said in one sentence.

    The CLI prints the message and exits with status 2; anything else that escapes is a
    bug in treeoflife.
    """
