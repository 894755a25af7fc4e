"""The SQLite backend: one file (default `.octoplan/state.db`), WAL, fsync on every commit.

Every write is a `BEGIN IMMEDIATE` transaction, so two processes writing the same file queue up
rather than fail. The apply lock is an OS lock (flock) on `state.db.lock` beside the database,
which the kernel releases when its holder ends, however it ends and in whichever container or
PID namespace it ran; a row in `locks` only says who holds it. A row whose OS lock is free was
left by a holder that died: the next apply replaces it (audited) and `state unlock` removes it.
One exception, never a takeover: when the lock file was deleted or replaced under a running
holder (a cleanup script, a cache restored over `.octoplan/`), the OS lock on the new file is
free while the holder runs on. A row naming a process of this host that still runs, with the
start time it recorded, is then respected as held: refusing on that evidence can only delay an
apply, never let two in at once.

Storage faults: a write that fails (disk full, read-only, I/O error) raises `StorageFault`,
which never advises moving the state away. Before each commit the database file and its
write-ahead log are checked to still be the files opened: when one was deleted (or replaced),
what the open connection holds is written back to disk at once (the WAL checkpointed into the
database, or the whole database copied to its path) before the command is stopped, instead of
being lost with the process. A connection that wrote checkpoints the WAL into the database
file when it closes, so each apply leaves the state whole in its main file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from octoplan import clock
from octoplan.errors import StateError
from octoplan.partition import Partition
from octoplan.private import open_private
from octoplan.state.base import (
    SCHEMA_VERSION,
    LockFileReplaced,
    LockHeld,
    LockInfo,
    StateInfo,
    StorageFault,
    describe_lock,
)
from octoplan.state.migrations import check_version
from octoplan.state.migrations.sqlite import MIGRATIONS, TIME_FORMAT
from octoplan.state.procs import host_name, process_start
from octoplan.state.sql import SqlStore
from octoplan.state.sqlread import Row, Tx, utc

_HEADER = b"SQLite format 3\x00"
_BUSY_TIMEOUT = 30.0  # seconds another writer may hold the file before we give up
_POLL = 0.1  # seconds between two looks at a held lock
_TIME_FORMAT = TIME_FORMAT
_LOCK_COLUMNS = "holder, host, pid, pid_start, acquired_at"
LOCK_SUFFIX = ".lock"  # state.db.lock: the file the apply lock is held on
_FileId = tuple[int, int] | None  # (device, inode) of a file; None: no such file
# How many stores of this process have each file open (see SqliteStore._open).
_open_here: dict[Path, int] = {}
_open_lock = threading.Lock()


def _wal(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


class _Tx:
    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        row: Row | None = self._conn.execute(sql, params).fetchone()
        return row

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        return self._conn.execute(sql, params).rowcount

    def many(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        self._conn.executemany(sql, rows)


class SqliteStore(SqlStore):
    def __init__(self, path: Path) -> None:
        self._path = path
        self._token: str | None = None
        self._wrote = False
        # (device, inode) of the database file and of its WAL, as first written; None: not yet
        self._files: tuple[_FileId, _FileId] | None = None
        self._lost: str | None = None  # the state was moved to another file: no more writes
        self._lock_fd: int | None = None  # holds the OS lock while this process has it
        self._conn = self._open()

    # -- opening ---------------------------------------------------------------------------
    def _unreadable(self, reason: object) -> StateError:
        return StateError(
            f"{self._path}: not a readable octoplan state ({reason}); nothing was changed. "
            "Restore it from a backup; do not start a new state in its place if it held "
            "records (a new state does not know what was sent, and would send it again)"
        )

    def _open(self) -> sqlite3.Connection:
        # Closing a descriptor of our own drops every POSIX lock this process holds on the file,
        # those of its open SQLite connections included: another process could then take itself
        # for the last user, checkpoint and delete the WAL under them, and their later commits
        # would be lost. So the header is not read again while this process has the file open
        # (`octoplan receive` opens a store per thread: it was checked by the first one).
        resolved = self._resolved = self._path.resolve()
        with _open_lock:
            if not _open_here.get(resolved):
                self._check_header()
        try:
            conn = sqlite3.connect(self._path, timeout=_BUSY_TIMEOUT, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._unreadable(exc) from exc
        try:
            with self._errors():
                version = self._version(conn)
                check_version(version, str(self._path))
                conn.execute("PRAGMA journal_mode = WAL")
                # FULL: a commit is on disk before the request it journals leaves.
                conn.execute("PRAGMA synchronous = FULL")
                if version < SCHEMA_VERSION:
                    self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        with _open_lock:
            _open_here[resolved] = _open_here.get(resolved, 0) + 1
        return conn

    def _check_header(self) -> None:
        try:
            with open(self._path, "rb") as handle:
                head = handle.read(len(_HEADER))
        except FileNotFoundError:
            head = b""
        except NotADirectoryError as exc:
            # A path mistake, not a damaged state: no "restore it from a backup" for it.
            blocker = next((p for p in self._path.parents if p.is_file()), self._path.parent)
            raise StateError(
                f"{self._path}: cannot hold a state: {blocker} is a file, not a directory; "
                "nothing was changed. Point OCTOPLAN_STATE (or `state:` in octoplan.yaml) at a "
                "file in a directory"
            ) from exc
        except OSError as exc:
            raise self._unreadable(exc.strerror) from exc
        # Checked by hand: SQLite would happily treat some non-database files as empty ones.
        if head and head != _HEADER:
            raise self._unreadable("file is not a database")

    def _version(self, conn: sqlite3.Connection) -> int:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if "meta" not in tables:
            if tables:
                raise self._unreadable("it holds tables of something else")
            return 0
        row = conn.execute("SELECT schema_version FROM meta WHERE id = 1").fetchone()
        if row is None:
            raise self._unreadable("its meta table is empty")
        return int(row[0])

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = self._version(conn)  # another process may have migrated meanwhile
            for target, steps in enumerate(MIGRATIONS[version:], version + 1):
                try:
                    for step in steps:
                        if isinstance(step, str):
                            conn.execute(step)
                        else:
                            step(conn)
                except sqlite3.Error:
                    raise  # told by _errors (busy, disk full, damaged file)
                except Exception as exc:
                    # A step that reads the records (a date, a body) met one it cannot read:
                    # the state is refused as it was, not taken for a bug of octoplan's.
                    raise self._unreadable(
                        f"its upgrade to schema version {target} failed: {exc}"
                    ) from exc
            if version == 0:
                conn.execute(
                    "INSERT INTO meta (id, lineage, serial, schema_version) VALUES (1, ?, 0, ?)",
                    (uuid.uuid4().hex, len(MIGRATIONS)),
                )
            else:
                conn.execute("UPDATE meta SET schema_version = ?", (len(MIGRATIONS),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- transactions ----------------------------------------------------------------------
    @contextmanager
    def _errors(self, doing: str = "opened") -> Iterator[None]:
        """sqlite3 errors as StateErrors; `doing`: "opened", "read" or "written"."""
        try:
            yield
        except sqlite3.IntegrityError as exc:
            raise StateError(f"{self._path}: {exc}") from exc
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StateError(
                    f"{self._path}: another process kept the state busy for over "
                    f"{_BUSY_TIMEOUT:g}s; try again"
                ) from exc
            # Disk full, read-only, I/O error: the file is fine, its storage is not.
            raise StorageFault(str(self._path), f"the state could not be {doing} ({exc})") from exc
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(exc) from exc

    @contextmanager
    def _transaction(self, begin: str, doing: str) -> Iterator[Tx]:
        writing = doing == "written"
        if writing and self._lost is not None:
            raise StorageFault(str(self._path), self._lost)
        with self._errors(doing):
            self._conn.execute(begin)
            try:
                yield _Tx(self._conn)
                if writing:
                    self._check_files()
                self._conn.execute("COMMIT")
            except BaseException:
                # A failed write may have ended the transaction already (disk full).
                if self._conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                raise
            if writing:
                self._wrote = True

    def _read(self) -> AbstractContextManager[Tx]:
        return self._transaction("BEGIN", "read")

    def _write(self) -> AbstractContextManager[Tx]:
        return self._transaction("BEGIN IMMEDIATE", "written")

    # -- files deleted under us ------------------------------------------------------------
    def _file_ids(self) -> tuple[_FileId, _FileId]:
        found: list[_FileId] = []
        for path in (self._path, _wal(self._path)):
            try:
                stat = os.stat(path)
            except FileNotFoundError:
                found.append(None)
            else:
                found.append((stat.st_dev, stat.st_ino))
        return found[0], found[1]

    def _check_files(self) -> None:
        """Inside a write transaction, before its commit: are the database file and its WAL
        still the ones this connection writes to? Deleted, they take every commit since the
        last checkpoint with them when the process ends; so what the connection holds is
        written back now, and the command stopped (StorageFault)."""
        current = self._file_ids()
        if self._files is None:
            self._files = current
            return
        if current == self._files:
            return
        self._conn.execute("ROLLBACK")
        (database, wal), (database_then, wal_then) = current, self._files
        if database == database_then:
            # Only the WAL went: the connection still reads it; copy it into the database.
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._reopen(self._path)
            raise StorageFault(
                str(self._path),
                f"its write-ahead log {_wal(self._path).name} was deleted while octoplan was "
                "using it; everything recorded up to then was saved into the database file, "
                "and this command stopped there",
            )
        target = self._write_back(free=database is None, own_wal=wal == wal_then)
        if target == self._path:
            what = (
                "the state file was deleted while octoplan was using it; everything recorded "
                "up to then was written back to it from the open copy, and this command "
                "stopped there"
            )
        else:
            what = (
                "the state file was replaced by another file while octoplan was using it; "
                f"everything this state recorded up to then was written to {target}, and this "
                "command stopped there. Compare the two before going on"
            )
            self._lost = f"the state was moved to {target}; this command cannot write it"
        raise StorageFault(str(self._path), what)

    def _write_back(self, *, free: bool, own_wal: bool) -> Path:
        """Copy the open database (deleted or replaced on disk) to its path if that is free,
        else beside it; the connection then reads that copy. Returns where it went."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        stamp = clock.now().strftime("%Y%m%dT%H%M%S")
        spare = self._path.with_name(f"{self._path.name}.recovered-{stamp}")
        copy = self._path.with_name(f"{self._path.name}.restoring-{os.getpid()}")
        copy.unlink(missing_ok=True)
        target = sqlite3.connect(copy)
        try:
            self._conn.backup(target)
        finally:
            target.close()
        # Its database gone from the path, a closing connection leaves its WAL files there,
        # and the next file to take the path would replay that WAL into itself: they go.
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()
        if own_wal:
            for leftover in (_wal(self._path), self._path.with_name(self._path.name + "-shm")):
                leftover.unlink(missing_ok=True)
        found = spare
        if free:
            try:
                os.link(copy, self._path)  # never over a file that appeared meanwhile
            except FileExistsError:
                pass
            else:
                found = self._path
        if found == self._path:
            copy.unlink()
        else:
            os.replace(copy, spare)
        self._connect(found)
        return found

    def _reopen(self, path: Path) -> None:
        # The old connection first: closing, it deletes the WAL files named after the path,
        # which belong to the old file; the new one then starts clean.
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()
        self._connect(path)

    def _connect(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = FULL")
        self._files = None

    def _time_in(self, moment: datetime) -> object:
        return utc(moment).strftime(_TIME_FORMAT)

    def _time_out(self, value: Any) -> datetime:
        return datetime.fromisoformat(value)

    def info(self) -> StateInfo:
        with self._read() as tx:
            row = tx.one("SELECT lineage, serial, schema_version FROM meta WHERE id = 1")
        assert row is not None
        return StateInfo(lineage=row[0], serial=row[1], schema_version=row[2], url=str(self._path))

    # -- locking ---------------------------------------------------------------------------
    @property
    def lock_path(self) -> Path:
        """The file the apply lock is held on, beside the database."""
        return self._path.with_name(self._path.name + LOCK_SUFFIX)

    def _try_os_lock(self) -> int | None:
        """A descriptor holding the OS lock on `lock_path`, or None while another holds it.

        flock(2) locks belong to the open file, so the kernel drops them when the holder dies
        however it dies, in whatever PID namespace or container it ran: nothing is inferred
        from process ids. The file is never deleted (a holder would then lock a file nobody
        else sees); should it be replaced all the same, the lock is taken again on the new one.
        """
        while True:
            try:
                fd = open_private(self.lock_path)
            except OSError as exc:
                raise StateError(
                    f"{self.lock_path}: cannot open the state's lock file: {exc.strerror}"
                ) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            except OSError as exc:
                os.close(fd)
                raise StateError(
                    f"{self.lock_path}: cannot lock the state ({exc.strerror}): its file system "
                    "does not support file locks; keep a SQLite state on a local disk, or use "
                    "PostgreSQL (OCTOPLAN_STATE=postgresql://...)"
                ) from exc
            try:
                same = os.fstat(fd).st_ino == os.stat(self.lock_path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)

    def _os_lock_held(self) -> bool:
        """Whether some process holds the OS lock now (this one included)."""
        if self._lock_fd is not None:
            return True
        if not self.lock_path.exists():
            return False
        fd = self._try_os_lock()
        if fd is None:
            return True
        os.close(fd)  # closing the file releases the lock just taken
        return False

    def _lock_row(self, tx: Tx) -> Row | None:
        return tx.one(f"SELECT {_LOCK_COLUMNS} FROM locks WHERE name = 'apply'")

    def _lock_info(self, row: Row) -> LockInfo:
        return LockInfo(holder=row[0], host=row[1], pid=row[2], acquired_at=self._time_out(row[4]))

    def _holder_runs_here(self, row: Row | None) -> bool:
        """Whether a lock row names another process of this host that still runs: the same pid
        with the start time it recorded (a pid reused since has another). Only ever used to
        refuse the lock when its file was deleted or replaced under that process."""
        if row is None or row[1] != host_name() or row[2] == os.getpid() or row[3] is None:
            return False
        return bool(process_start(int(row[2])) == row[3])

    def acquire_lock(self, holder: str, timeout: float, partition: Partition | None = None) -> None:
        # One file on one machine: a sharded apply takes the whole lock (shards run in turn).
        if self._token is not None:
            raise StateError("this process already holds the state lock")
        deadline = time.monotonic() + timeout
        while True:
            fd = self._try_os_lock()
            row: Row | None = None
            if fd is not None:
                with self._read() as tx:
                    row = self._lock_row(tx)
                if not self._holder_runs_here(row):
                    break
                os.close(fd)  # its file was replaced under a live holder: still held
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if fd is None:
                    with self._read() as tx:
                        row = self._lock_row(tx)
                info = None if row is None else self._lock_info(row)
                if fd is not None and info is not None:
                    raise LockFileReplaced(info, timeout, self.lock_path)
                raise LockHeld(info, timeout)
            time.sleep(min(_POLL, remaining))
        try:
            self._record_holder(holder)
        except BaseException:
            os.close(fd)
            raise
        self._lock_fd = fd

    def _record_holder(self, holder: str) -> None:
        """The row that tells others who holds the lock (the OS lock is the lock)."""
        token = uuid.uuid4().hex
        pid = os.getpid()
        with self._write() as tx:
            now = clock.now()
            row = self._lock_row(tx)
            if row is not None:  # its holder ended without removing it: the OS let us in
                self._audit(
                    tx,
                    now,
                    "takeover",
                    f"{holder} (pid {pid} on {host_name()})",
                    f"took over the lock of {describe_lock(self._lock_info(row))}: "
                    "its process is gone",
                )
            tx.run(
                f"INSERT OR REPLACE INTO locks (name, {_LOCK_COLUMNS}, token) "
                "VALUES ('apply', ?, ?, ?, ?, ?, ?)",
                (holder, host_name(), pid, process_start(pid), self._time_in(now), token),
            )
        self._token = token

    def release_lock(self) -> None:
        fd, token = self._lock_fd, self._token
        if fd is None or token is None:
            return
        self._lock_fd = self._token = None
        try:
            with self._write() as tx:
                tx.run("DELETE FROM locks WHERE token = ?", (token,))
        finally:
            os.close(fd)  # releases the OS lock

    def lock_info(self) -> LockInfo | None:
        with self._read() as tx:
            row = self._lock_row(tx)
        # Held by the OS lock (which is always looked at: a lock file that cannot be opened is
        # an error), or by a live process of this host whose lock file was replaced.
        if not (self._os_lock_held() or self._holder_runs_here(row)) or row is None:
            return None
        return self._lock_info(row)

    def unlock(self, actor: str, force: bool = False) -> LockInfo | None:
        # Only a record left behind can be removed: a lock the OS holds for a running process
        # ends with that process and nothing else (--force included).
        with self._write() as tx:
            row = self._lock_row(tx)
            if row is None:
                return None
            info = self._lock_info(row)
            held_by_os = self._os_lock_held()
            if not held_by_os and self._holder_runs_here(row):
                raise StateError(
                    f"the state lock is held by {describe_lock(info)}, which is still running "
                    f"on this host, though its lock file {self.lock_path.name} was deleted or "
                    "replaced; let it finish or stop it"
                )
            if held_by_os:
                raise StateError(
                    f"the state lock is held by {describe_lock(info)}, which is still running "
                    f"(the operating system keeps its lock on {self.lock_path.name} until it "
                    "ends); let it finish or stop it"
                )
            tx.run("DELETE FROM locks WHERE name = 'apply'")
            self._audit(
                tx,
                clock.now(),
                "unlock",
                actor,
                f"removed the lock of {describe_lock(info)}: its process is gone",
            )
        return info

    def close(self) -> None:
        try:
            self.release_lock()
        finally:
            try:
                if self._wrote and self._lost is None:
                    # Each command that wrote leaves the state whole in its main file: a WAL
                    # deleted later (or never copied along) then loses nothing.
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                self._conn.close()
                with _open_lock:
                    left = _open_here.pop(self._resolved, 1) - 1
                    if left:
                        _open_here[self._resolved] = left
