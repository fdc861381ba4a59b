"""Files as hostile input and output: read only regular files, create files without following
symbolic links.

Every file cardsim reads from a keys directory or a log path must be a regular file: a FIFO would
block the reader, a device or a directory is not data (:func:`check_regular_file`,
:func:`read_regular`). Every file it writes (key files, certificates, logs, reports and their
temporary files) is created with ``O_CREAT | O_EXCL | O_NOFOLLOW``: a symbolic link planted at
the name is refused with a one-line error, never written through (:func:`create_new`).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from urllib.parse import quote

from cardsim.errors import CardsimError

#: Largest key file, certificate or trust anchor read (a PEM file is a few kilobytes).
MAX_KEY_FILE_BYTES = 64 * 1024

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def check_regular_file(path: str | Path, what: str = "file") -> os.stat_result:
    """``path``'s status, or a :class:`CardsimError` unless it is a regular file (following
    links): FIFOs, devices, sockets and directories are refused before anything opens them."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CardsimError(f"{path}: no such {what}") from None
    except OSError as e:
        raise CardsimError(f"{path}: cannot read: {e.strerror}") from None
    _require_regular(path, st, what)
    return st


def _require_regular(path: str | Path, st: os.stat_result, what: str) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise CardsimError(f"{path}: is a directory, expected a {what}")
    if not stat.S_ISREG(st.st_mode):
        raise CardsimError(f"{path}: not a regular file (a FIFO, device or socket), expected a {what}")


def read_regular(path: str | Path, what: str = "file", limit: int = MAX_KEY_FILE_BYTES) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them. Opened non-blocking and
    checked again on the open descriptor, so a FIFO swapped in after the check cannot block."""
    check_regular_file(path, what)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise CardsimError(f"{path}: cannot read: {e.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        _require_regular(path, os.fstat(fd), what)
        data = f.read(limit + 1)
    if len(data) > limit:
        raise CardsimError(f"{path}: larger than {limit:,} bytes, expected a {what}")
    return data


def refuse_link(path: str | Path, what: str = "file") -> None:
    """A :class:`CardsimError` when ``path`` is a symbolic link (dangling or not)."""
    if os.path.islink(path):
        raise CardsimError(f"{path}: is a symbolic link; refusing to write a {what} through it")


def create_new(path: str | Path, mode: int, what: str = "file") -> int:
    """A descriptor of the new file ``path``, created with ``mode``; never follows a link and
    never opens an existing file (each a one-line :class:`CardsimError`)."""
    refuse_link(path, what)
    try:
        fd = os.open(path, _CREATE, mode)
    except FileExistsError:
        raise CardsimError(f"{path}: already exists, expected to create a new {what}") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise CardsimError(f"{path}: is a symbolic link; refusing to write a {what} through it") from None
        raise CardsimError(f"{path}: cannot create {what}: {e.strerror}") from None
    os.fchmod(fd, mode)          # exactly ``mode``, whatever the umask
    return fd


def write_new(path: str | Path, data: bytes, mode: int, what: str = "file") -> None:
    """Write ``data`` to the new file ``path`` (:func:`create_new`)."""
    with os.fdopen(create_new(path, mode, what), "wb") as f:
        f.write(data)


def open_regular(path: str | Path, mode: int, what: str = "file") -> None:
    """Create ``path`` (with ``mode``) or find it, without following a link, and check that it is
    a regular file: for files several processes share, like the card register."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | _NOFOLLOW, mode)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise CardsimError(f"{path}: is a symbolic link; refusing to write a {what} through it") from None
        raise CardsimError(f"{path}: cannot open {what}: {e.strerror}") from None
    try:
        _require_regular(path, os.fstat(fd), what)
    finally:
        os.close(fd)


def file_uri(path: str | Path, mode: str = "ro", nofollow: bool = False) -> str:
    """An SQLite URI naming exactly ``path``: every character SQLite's URI parser would read as
    syntax (``?``, ``#``, ``%``, ...) is percent-encoded, so the name cannot add parameters.
    ``nofollow``: SQLite refuses to open the file when it is a symbolic link."""
    return (f"file:{quote(os.path.abspath(path), safe='/')}?mode={mode}"
            + ("&nofollow=1" if nofollow else ""))
