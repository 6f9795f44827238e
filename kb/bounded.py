"""Every file kb reads goes through here, and none is read past MAX_INPUT_BYTES.

The cap is enforced while reading (a stat size says nothing about /dev/zero, a FIFO or a pipe),
so an endless or huge input costs at most MAX_INPUT_BYTES + one chunk of memory, then exit 2.
Text is decoded strictly as UTF-8: bytes that are not UTF-8 are an error naming the file and
the offset, whatever the locale.
"""

import errno
import io
import os
import stat
import sys

from .errors import BadFile

MAX_INPUT_BYTES = 200 * 2**20  # 200 MB: documented in README.md; far above any law file, CSV of runs or draft
_CHUNK = 2**20


def read_bytes(path, limit: "int | None" = None, what: str = "file", regular_only: bool = False) -> bytes:
    """The bytes of `path` ('-' is stdin), refusing a directory, and anything longer than `limit`.
    `regular_only` also refuses FIFOs and devices (for files kb wrote itself, which are regular)."""
    label = "stdin" if str(path) == "-" else str(path)
    limit = MAX_INPUT_BYTES if limit is None else limit
    try:
        if str(path) == "-":
            if hasattr(sys.stdin, "buffer"):
                return _read_capped(sys.stdin.buffer, limit, label, what)
            # a text stream standing in for stdin (an embedding program, a test): capped the same
            return _read_capped(sys.stdin, limit, label, what).encode("utf-8")
        # regular_only: a FIFO must not block the open, and a symlink is not followed
        flags = os.O_RDONLY | ((os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)) if regular_only else 0)
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise BadFile(f"{what} {label}: no such file") from None
    except IsADirectoryError:
        raise BadFile(f"{what} {label}: is a directory") from None
    except OSError as exc:
        if regular_only and exc.errno == errno.ELOOP:
            raise BadFile(f"{what} {label}: is a symbolic link, not a regular file") from None
        raise BadFile(f"{what} {label}: cannot read ({exc.strerror or exc})") from None
    mode = os.fstat(fd).st_mode
    if stat.S_ISDIR(mode) or (regular_only and not stat.S_ISREG(mode)):
        os.close(fd)
        raise BadFile(f"{what} {label}: {'is a directory' if stat.S_ISDIR(mode) else 'not a regular file'}")
    with os.fdopen(fd, "rb") as f:
        try:
            return _read_capped(f, limit, label, what)
        except OSError as exc:
            raise BadFile(f"{what} {label}: cannot read ({exc.strerror or exc})") from None


def _read_capped(f, limit: int, label: str, what: str) -> bytes:
    chunks, size = [], 0
    while True:
        chunk = f.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            return chunk.join(chunks)  # bytes, or str from a text stream
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise BadFile(f"{what} {label}: larger than the limit of {limit // 2**20} MB")


def decode(data: bytes, label: str, what: str = "file") -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadFile(f"{what} {label}: not UTF-8 text (byte {exc.start})") from None


def read_text(path, limit: "int | None" = None, what: str = "file") -> str:
    label = "stdin" if str(path) == "-" else str(path)
    text = decode(read_bytes(path, limit, what), label, what)
    return text[1:] if text.startswith("\ufeff") else text


class _Capped(io.RawIOBase):
    """A binary file that raises BadFile once more than `limit` bytes have been read from it."""

    def __init__(self, f, limit: int, label: str, what: str):
        self._f, self._left, self._label, self._what, self._limit = f, limit, label, what, limit

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self._f.read(min(len(buffer), self._left + 1))
        if len(data) > self._left:
            raise BadFile(f"{self._what} {self._label}: larger than the limit of {self._limit // 2**20} MB")
        self._left -= len(data)
        buffer[:len(data)] = data
        return len(data)

    def close(self):
        self._f.close()
        super().close()


def open_text(path, limit: "int | None" = None, what: str = "file", encoding: str = "utf-8"):
    """A text stream over `path` for reading as it goes (rows of a large CSV), strictly decoded,
    that stops with BadFile past `limit` bytes; a directory or missing file is BadFile at once."""
    label = str(path)
    limit = MAX_INPUT_BYTES if limit is None else limit
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise BadFile(f"{what} {label}: no such file") from None
    except IsADirectoryError:
        raise BadFile(f"{what} {label}: is a directory") from None
    except OSError as exc:
        raise BadFile(f"{what} {label}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(os.fstat(f.fileno()).st_mode):
        f.close()
        raise BadFile(f"{what} {label}: is a directory")
    return io.TextIOWrapper(io.BufferedReader(_Capped(f, limit, label, what)), encoding=encoding,
                            errors="strict", newline="")
