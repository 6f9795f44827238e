"""The one way kb writes or deletes a file: every output (--html, --md, --tex, `kb table -o`,
the `kb report` site and its manifest, the catalog cache) goes through here.

A write creates a temporary file with an unpredictable name (`tempfile.mkstemp`, O_EXCL) in
the target's directory, writes and fsyncs it, then renames it over the target, so a reader
sees the old file or the new one, never half of one. A target that is a symlink, directory,
device, FIFO or socket is refused, never replaced (a planted link cannot redirect the write).
Any OSError (read-only file system, full disk, permission) is a KbError naming the file; the
temporary file is removed. Ctrl-C is held off while a temporary file exists and takes effect
right after the write.

`inside=ROOT` confines a path to a directory: relative, no `..`, and no symlink on the way
from ROOT to the file (the site's files, and the only ones `kb report` may delete).
"""

import contextlib
import errno
import os
import signal
import stat
import tempfile
from pathlib import Path, PurePosixPath

from .errors import KbError

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    return exc.strerror or str(exc)


def _existing(path: Path) -> "os.stat_result | None":
    """lstat of the target, refusing anything but a regular file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KbError(f"cannot write {path}: {_reason(exc)}") from None
    for test, what in _KINDS:
        if test(st.st_mode):
            raise KbError(f"refusing to write {path}: it is {what}, not a regular file")
    return st


def confined(root: Path, rel: str) -> Path:
    """ROOT/rel, when rel is a relative path without `..` whose existing parts below ROOT are
    real directories (not symlinks); KbError otherwise."""
    parts = PurePosixPath(rel).parts if isinstance(rel, str) else ()
    if not parts or PurePosixPath(rel).is_absolute() or "\\" in rel or any(p in ("..", ".", "") for p in parts) \
            or "\0" in rel:
        raise KbError(f"{rel!r} is not a path inside {root}")
    here = Path(root)
    for part in parts[:-1]:
        here = here / part
        try:
            st = os.lstat(here)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise KbError(f"cannot use {here}: {_reason(exc)}") from None
        if not stat.S_ISDIR(st.st_mode):
            raise KbError(f"refusing to use {here}: it is not a real directory (a symlink?)")
    return here / parts[-1]


def _make_dirs(root: Path, path: Path) -> None:
    """Create the directories between ROOT and path, refusing a symlink among them."""
    here = Path(root)
    for part in path.relative_to(root).parts[:-1]:
        here = here / part
        try:
            os.mkdir(here)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(here).st_mode):
                raise KbError(f"refusing to use {here}: it is not a real directory (a symlink?)") from None
        except OSError as exc:
            raise KbError(f"cannot create {here}: {_reason(exc)}") from None


def _mode_for(st: "os.stat_result | None") -> int:
    if st is not None:
        return stat.S_IMODE(st.st_mode)  # a rewritten file keeps its permissions
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask  # what open() would have given a new file (mkstemp makes it 0600)


def write_bytes(path, data: bytes, *, inside=None, only_if_changed: bool = False) -> bool:
    """Atomically replace `path` with `data` (see the module doc). With `inside`, `path` is
    relative to that directory and confined to it. Returns False when `only_if_changed` and the
    file already holds exactly these bytes (nothing is written), else True."""
    if inside is not None:
        path = confined(Path(inside), str(path))
        _make_dirs(Path(inside), path)
    path = Path(path)
    st = _existing(path)
    if only_if_changed and st is not None and st.st_size == len(data):
        try:
            with open(path, "rb") as f:
                if f.read(len(data) + 1) == data:
                    return False
        except OSError:
            pass
    directory = path.parent
    if not directory.is_dir():
        raise KbError(f"cannot write {path}: directory {directory} does not exist")
    with _ctrl_c_held():
        return _write_new(path, directory, data, st)


@contextlib.contextmanager
def _ctrl_c_held():
    """Ctrl-C waits until the temporary file is renamed or removed: kb's SIGINT handler raises
    at any bytecode, and one landing between mkstemp and the `try` below, or inside its cleanup,
    left a stray temporary file (seen in tests/test_hostile.py). The signal is delivered, once,
    when the write is over; where signals cannot be masked (not POSIX) nothing changes."""
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None:
        yield
        return
    old = mask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, old)


def _write_new(path: Path, directory: Path, data: bytes, st) -> bool:
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".kb-tmp", dir=directory)
    except OSError as exc:
        raise KbError(f"cannot write {path}: {_reason(exc)}") from None
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, _mode_for(st))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:  # any failure (Ctrl-C is held off): never leave the temporary file
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise KbError(f"cannot write {path}: {_reason(exc)}") from None
        raise
    return True


def write_text(path, text: str, **options) -> bool:
    return write_bytes(path, text.encode("utf-8"), **options)


def remove_inside(root: Path, rel: str) -> None:
    """Delete ROOT/rel when it is a regular file confined to ROOT (KbError otherwise;
    a file already gone is fine)."""
    path = confined(Path(root), rel)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise KbError(f"refusing to delete {path}: not a regular file")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise KbError(f"cannot delete {path}: {_reason(exc)}") from None
