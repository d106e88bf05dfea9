"""Where workloads write: one directory per user, one per run inside it.

The default is ``/var/tmp/sensorbench-<uid>`` (on the root filesystem, not a tmpfs: that is
where real files live), created 0700 so users never share or trip over each other's
directory. ``--tmpfs`` puts it in ``/dev/shm/sensorbench-<uid>`` instead: a file system
in memory, without ext4's journal, which caps file operations at a fraction of what the
native engine issues (fanotify's file-handle marks and inotify work there too, on the
kernels we run on; ``fs_type`` is recorded with every cell). Each run
works in ``run-<pid>-<hex>/`` there and holds an exclusive lock on its ``.lock`` file for its
whole life. A run that died (kill -9, power loss) leaves its directory with a lock nobody
holds: the next run removes it. Cell directories (named by the cell's run marker) live
inside the run's directory.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import tempfile
from pathlib import Path

from bench.core.errors import BadInput
from bench.core.osapi import lock_file

LOCK = ".lock"


TMPFS = Path("/dev/shm")


def _per_user(parent: Path) -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return parent / f"sensorbench-{uid}"


def default_base() -> Path:
    return _per_user(Path("/var/tmp") if os.path.isdir("/var/tmp")
                     else Path(tempfile.gettempdir()))


def tmpfs_base() -> Path:
    """The per-user work directory on the machine's tmpfs (``--tmpfs``); BadInput when
    there is none."""
    if not TMPFS.is_dir() or fs_type(TMPFS) != "tmpfs":
        raise BadInput(f"--tmpfs: {TMPFS} is not a tmpfs here; give --workdir a directory on one")
    return _per_user(TMPFS)


def fs_type(path: Path | str) -> str:
    """The file system type of the mount ``path`` lives on (``ext4``, ``tmpfs``, ``NTFS``,
    ...), from the mount table: the longest mount point that contains it. "" if unknown."""
    import psutil

    real = os.path.realpath(path)
    best, kind = "", ""
    try:
        parts = psutil.disk_partitions(all=True)
    except OSError:
        return ""
    for p in parts:
        if (real == p.mountpoint or real.startswith(os.path.join(p.mountpoint, ""))) \
                and len(p.mountpoint) >= len(best):
            best, kind = p.mountpoint, p.fstype
    return kind


def _check_writable(path: Path, what: str) -> None:
    probe = path / f".write-test-{os.getpid()}"
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise BadInput(f"cannot write to {what} {path}: {e.strerror}") from None


def prepare_base(path: Path | None) -> tuple[Path, bool]:
    """The base directory, made if missing; (path, whether we made it). Raises BadInput in
    one line when it cannot be made or written, or (the default one) is not ours."""
    # ours (per user, in a directory every user shares): checked as the default one
    default = path is None or path == _per_user(TMPFS)
    path = default_base() if path is None else path
    what = "the work directory" if default else "--workdir"
    made = not path.exists()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise BadInput(f"cannot create {what} {path}: {e.strerror}") from None
    if not path.is_dir():
        raise BadInput(f"{what} {path} is not a directory")
    if default and hasattr(os, "getuid"):
        st = path.stat()
        if st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o077:
            raise BadInput(f"the work directory {path} belongs to uid {st.st_uid} or is open "
                           f"to others (mode {stat.S_IMODE(st.st_mode):o}): remove it, or "
                           "choose one with --workdir")
    _check_writable(path, what)
    return path, made


def clean_stale(base: Path) -> list[str]:
    """Remove run directories whose run is gone (their lock is free); returns their names."""
    removed = []
    for d in base.glob("run-*"):
        lock = d / LOCK
        if not d.is_dir() or d.is_symlink():
            continue
        try:
            fd = os.open(lock, os.O_RDONLY)  # Python opens fds non-inheritable
        except FileNotFoundError:
            fd = None  # made and killed before its lock existed: nobody owns it
        except OSError:
            continue
        try:
            if fd is not None:
                if not lock_file(fd, wait=False):
                    continue  # a live run
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d.name)
        finally:
            if fd is not None:
                os.close(fd)
    return removed


class RunDir:
    """This run's directory under the base, locked while the run lives."""

    def __init__(self, base: Path):
        self.path = base / f"run-{os.getpid()}-{secrets.token_hex(3)}"
        self.path.mkdir(mode=0o700)
        self._fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        lock_file(self._fd, wait=True)

    def remove(self) -> None:
        if self._fd >= 0:
            shutil.rmtree(self.path, ignore_errors=True)
            os.close(self._fd)
            self._fd = -1
