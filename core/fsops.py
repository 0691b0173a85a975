"""File-system operations that keep the user's data and our own files whole.

Every write of a file someone else may read while we write it (a report, a
job's metadata, a config, a feature shard) goes through `atomic_write`: the
reader sees the old file or the new one, never half of either. Every move of a
user's video goes through `rename_noreplace`: a name that exists is never
overwritten, whatever races with us. Directory entries are made durable with
`fsync_dir` / `makedirs_durable` where a journal record must not outrun them.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Literal, overload

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1


def _load_renameat2() -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_renameat2 = _load_renameat2()


def rename_noreplace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Atomically move src to dst on one file system; FileExistsError if dst exists.

    Raises OSError(EXDEV) across file systems, so the caller can copy instead.
    Where the kernel has no renameat2 (or the file system refuses the flag), a
    hard link plus unlink gives the same no-replace guarantee.
    """
    src, dst = os.fspath(src), os.fspath(dst)
    if _renameat2 is not None:
        if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), src, None, dst)
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        # No hard links here (e.g. FAT, some FUSE): check, then rename.
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, "destination exists", dst) from exc
        os.rename(src, dst)
        return
    os.unlink(src)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a directory's entries (creations, renames, unlinks) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def makedirs_durable(path: str | os.PathLike[str]) -> None:
    """mkdir -p, fsyncing each new directory's parent so its entry survives a power cut.

    (A file renamed into a directory whose own entry was never made durable could end up
    in lost+found after a crash; the done record must not outrun that.)
    """
    missing = []
    p = os.fspath(path)
    while not os.path.isdir(p):
        missing.append(p)
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    for d in reversed(missing):
        try:
            os.mkdir(d)
        except FileExistsError:
            continue
        fsync_dir(os.path.dirname(d) or ".")


@overload
def atomic_write(
    path: str | os.PathLike[str], mode: Literal["w"] = "w", *, durable: bool = False,
    encoding: str = "utf-8", errors: str = "strict", newline: str | None = None,
) -> contextlib.AbstractContextManager[IO[str]]: ...
@overload
def atomic_write(
    path: str | os.PathLike[str], mode: Literal["wb"], *, durable: bool = False,
    encoding: str = "utf-8", errors: str = "strict", newline: str | None = None,
) -> contextlib.AbstractContextManager[IO[bytes]]: ...
def atomic_write(
    path: str | os.PathLike[str], mode: str = "w", *, durable: bool = False,
    encoding: str = "utf-8", errors: str = "strict", newline: str | None = None,
) -> contextlib.AbstractContextManager[IO[Any]]:
    """A file handle whose contents replace `path` only when the block ends without error.

    The temporary file lives beside the target (same file system, so the final
    `os.replace` is atomic) under a hidden name, and is removed if the block raises.
    `durable=True` also fsyncs the file and its directory, for records a crash
    must not lose.
    """
    return _atomic_write(Path(path), mode, durable, encoding, errors, newline)


@contextlib.contextmanager
def _atomic_write(
    target: Path, mode: str, durable: bool, encoding: str, errors: str, newline: str | None
) -> Iterator[IO[str] | IO[bytes]]:
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', not {mode!r}")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=str(target.parent))
    try:
        if mode == "wb":
            fh: IO[str] | IO[bytes] = os.fdopen(fd, "wb")
        else:
            fh = os.fdopen(fd, "w", encoding=encoding, errors=errors, newline=newline)
        with fh:
            yield fh
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(target.parent)


def write_text_atomic(path: str | os.PathLike[str], text: str, *, durable: bool = False) -> None:
    with atomic_write(path, "w", durable=durable) as fh:
        fh.write(text)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, durable: bool = False) -> None:
    with atomic_write(path, "wb", durable=durable) as fh:
        fh.write(data)


def sampled_digest(path: str | os.PathLike[str], head: int, sample: int, samples: int,
                   whole_below: int) -> str:
    """BLAKE2b-128 (hex) over the size, the first and last `head` bytes and `samples` reads of
    `sample` bytes spread between them; the whole file when it is smaller than `whole_below`.

    The one sampled hash: the journal's identity check (`core.journal.fast_hash`, 640 KiB)
    and the duplicates' exact-copy hash (`core.fingerprint.content_hash`, 160 KiB) differ only
    in these sizes.
    """
    import hashlib

    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        h = hashlib.blake2b(size.to_bytes(8, "little"), digest_size=16)
        if size < whole_below:
            h.update(read_exactly(fd, size))
        else:
            h.update(os.pread(fd, head, 0))
            span = size - 2 * head - sample
            for i in range(samples):
                h.update(os.pread(fd, sample, head + span * i // (samples - 1)))
            h.update(os.pread(fd, head, size - head))
        return h.hexdigest()
    finally:
        os.close(fd)


def read_exactly(fd: int, size: int) -> bytes:
    """Exactly `size` bytes from `fd`'s position (fewer if the file shrank)."""
    chunks, got = [], 0
    while got < size:
        b = os.read(fd, size - got)
        if not b:
            break
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)
