"""Opening files a user named: only regular files, never blocking.

A name may be a FIFO (opening it waits for a writer, for ever), a device, a folder, or a
link that loops; each is refused here with a sentence, before anything reads it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotAFile(OSError):
    """The path is not a regular file that can be read; the message says what it is."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def open_regular(path: Path) -> int:
    """A read-only descriptor of the regular file at `path` (links followed).

    Opened without blocking (a FIFO would wait for a writer), then checked: a descriptor,
    not a name, so the file cannot be swapped between the check and the read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise NotAFile(f"{path}: no such file") from None
    except IsADirectoryError:
        raise NotAFile(f"{path} is a folder, not a file") from None
    except OSError as error:  # a link loop (ELOOP), permission, a name too long...
        raise NotAFile(f"cannot open {path}: {error.strerror or error}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotAFile(f"{path} is {_kind(mode)}, not a file")
    os.set_blocking(fd, True)
    return fd


def read_text(path: Path) -> str:
    """A regular file's text (UTF-8, a leading byte-order mark dropped)."""
    with os.fdopen(open_regular(path), "rb") as handle:
        data = handle.read()
    return data.decode("utf-8").removeprefix("\ufeff")
