"""Files that hold personal data, readable by their owner only, whatever the umask.

State (numbers, message bodies), its lock file, the sandbox's deliveries and saved plans are
created 0600 and the directories octoplan makes for them 0700 (SPEC section 6). A file or
directory that already exists is tightened when octoplan opens it, if this user owns it (a
state written by an earlier octoplan was 0644); one owned by somebody else is left as it is.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def tighten(path: Path, mode: int = FILE_MODE) -> None:
    """Take group and other permissions away from `path` if it exists and is ours."""
    try:
        info = os.stat(path)
    except OSError:
        return
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077:
        # A read-only file system: nothing more private can be done here.
        with contextlib.suppress(OSError):
            os.chmod(path, stat.S_IMODE(info.st_mode) & mode)


def private_dir(path: Path, *, tighten_existing: bool = False) -> None:
    """Make directory `path` (and missing parents, which get the same mode) 0700; an existing
    one is tightened only if asked (octoplan's own `.octoplan/`, never a directory it merely
    uses, such as the project's root)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made by another process meanwhile
        os.chmod(directory, DIR_MODE)  # mkdir's mode goes through the umask
    if not missing and tighten_existing:
        tighten(path, DIR_MODE)


def private_file(path: Path) -> None:
    """Create `path` empty and 0600 if it does not exist; tighten it if it does. Best effort:
    a file that cannot be created here (a read-only directory) is left to whoever opens it
    next to report."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    except FileExistsError:
        tighten(path)
        return
    except OSError:
        return
    try:
        os.fchmod(fd, FILE_MODE)  # os.open's mode goes through the umask
    finally:
        os.close(fd)


def open_private(path: Path) -> int:
    """A read-write descriptor on `path`, created 0600 if missing, tightened if not."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        info = os.fstat(fd)
        if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return fd


def write_private(path: Path, text: str | Iterable[str]) -> None:
    """Write `text` (or its pieces, written as they come) to `path` atomically (a temporary
    file renamed over it), 0600."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            fd = -1
            if isinstance(text, str):
                handle.write(text)
            else:
                handle.writelines(text)
    finally:
        if fd >= 0:
            os.close(fd)
    os.replace(tmp, path)


def private_database(path: Path) -> None:
    """Before SQLite opens `path`: its directory 0700 (`.octoplan/` tightened if it exists),
    the file 0600, and the -wal and -shm files an earlier run left tightened. SQLite gives the
    -wal and -shm files it creates the database file's own mode."""
    private_dir(path.parent, tighten_existing=path.parent.name == ".octoplan")
    private_file(path)
    for suffix in ("-wal", "-shm"):
        tighten(path.with_name(path.name + suffix))
