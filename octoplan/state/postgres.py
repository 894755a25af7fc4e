"""The PostgreSQL backend (`OCTOPLAN_STATE=postgresql://...`), for teams and CI runners.

Every write transaction first locks the `meta` row, so writers from several processes or hosts
queue up and `serial` counts every change exactly once. The apply lock is a session advisory
lock on a connection of its own: it dies with its process's connection, so a killed apply never
blocks the next one. A companion row in `locks` says who holds it; a row whose advisory lock is
no longer held is a leftover and counts as no lock. Sharded applies (`--shard I/N`) of one N
hold it together, each with a row of its own (see "locking" below).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from octoplan import clock
from octoplan.errors import StateError
from octoplan.partition import Partition
from octoplan.state.base import SCHEMA_VERSION, LockHeld, LockInfo, StateInfo, describe_lock
from octoplan.state.location import describe, scrub
from octoplan.state.migrations import check_version
from octoplan.state.migrations.postgres import MIGRATIONS
from octoplan.state.procs import host_name, process_start
from octoplan.state.sql import SqlStore
from octoplan.state.sqlread import Row, Tx, utc

_POLL = 0.1  # seconds between two tries of a held lock
_APPLY = "apply"  # the apply lock's name; a shard's is "apply I/N"
_CONNECT_TIMEOUT = 10  # seconds
_LOCK_COLUMNS = "holder, host, pid, pid_start, acquired_at, backend_pid"
_HELD = (
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND classid::bigint = ? AND objid::bigint = ? AND objsubid = 1 AND granted AND pid = ?)"
)


def _try(conn: psycopg.Connection[Row], function: str, key: int) -> bool:
    row = conn.execute(f"SELECT {function}(%s)", (key,)).fetchone()
    return row is not None and bool(row[0])


def _count(name: str) -> int | None:
    """N of a lock row `apply I/N`; None for the unsharded `apply`."""
    _, _, label = name.partition(" ")
    return int(label.split("/")[1]) if label else None


def _blocking(
    live: list[tuple[str, LockInfo, int]], partition: Partition | None
) -> tuple[str, LockInfo] | None:
    """The live holder that keeps an apply of `partition` waiting, to name it."""
    for name, info, _ in live:
        mine = partition is not None and name == f"{_APPLY} {partition.label}"
        other = _count(name)
        if partition is None or other is None or mine or other != partition.count:
            return name, info
    return None


def _key(*parts: str) -> int:
    """A non-negative advisory lock key: advisory locks are per database, so the schema and
    the state's lineage keep two states in one database apart."""
    digest = hashlib.blake2b(":".join(("octoplan", *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & (2**63 - 1)


# `INSERT INTO t (a, b) VALUES (?, ?)` and what follows it (ON CONFLICT...): see _Tx.many.
_VALUES = re.compile(r"(INSERT INTO \w+ \([\w, ]+\) VALUES )(\((?:\?, )*\?\))(.*)", re.DOTALL)
_ROWS_PER_STATEMENT = 500  # at most 10 columns: 5,000 parameters, far under the 65,535 limit


class _Tx:
    __slots__ = ("_cur",)
    _sql: dict[str, str] = {}  # noqa: RUF012 -- a cache of translated placeholders

    def __init__(self, cur: psycopg.Cursor[Row]) -> None:
        self._cur = cur

    @classmethod
    def _pg(cls, sql: str) -> str:
        translated = cls._sql.get(sql)
        if translated is None:
            translated = cls._sql[sql] = sql.replace("?", "%s")
        return translated

    def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._cur.execute(self._pg(sql), params).fetchall()

    def one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        return self._cur.execute(self._pg(sql), params).fetchone()

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        return self._cur.execute(self._pg(sql), params).rowcount

    def many(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        """An `INSERT ... VALUES (?, ...) [ON CONFLICT ...]` is sent as multi-row statements
        (`_ROWS_PER_STATEMENT` at a time) with numbered placeholders through a RawCursor: one
        round trip and no client-side parsing for hundreds of rows, where executemany pays the
        protocol for each row (the receiver's storage of callbacks spent most of its time
        there). PostgreSQL applies such a statement at once, so rows must not meet twice on an
        `ON CONFLICT ... DO UPDATE` key (the callers make them unique). Anything else goes
        through executemany."""
        found = _VALUES.match(sql)
        if found is None:
            self._cur.executemany(self._pg(sql), rows)
            return
        head, group, tail = found.groups()
        width = group.count("?")
        pending = list(rows)
        with psycopg.RawCursor(self._cur.connection) as raw:
            for start in range(0, len(pending), _ROWS_PER_STATEMENT):
                chunk = pending[start : start + _ROWS_PER_STATEMENT]
                statement = _numbered(head, width, tail, len(chunk))
                raw.execute(statement, [v for row in chunk for v in row])


@lru_cache(maxsize=64)
def _numbered(head: str, width: int, tail: str, count: int) -> str:
    """`head` ($1, ..., $width), ($width+1, ...), ... `count` groups, then `tail`."""
    groups = (
        "(" + ", ".join(f"${n * width + i + 1}" for i in range(width)) + ")" for n in range(count)
    )
    return f"{head}{', '.join(groups)}{tail}"


class PostgresStore(SqlStore):
    def __init__(self, url: str) -> None:
        self._url = url
        self._where = describe(url)
        self._token: str | None = None
        self._lock_conn: psycopg.Connection[Row] | None = None
        self._conn = self._connect()
        try:
            with self._errors():
                self._schema = self._open()
        except BaseException:
            self._conn.close()
            raise

    # -- opening ---------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection[Row]:
        try:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT)
            conn.execute("SET TIME ZONE 'UTC'")
        except psycopg.Error as exc:
            raise StateError(
                f"cannot connect to the state at {self._where}: {scrub(str(exc), self._url)}"
            ) from exc
        return conn

    def _version(self) -> int:
        # A plain catalog query, not to_regclass(): name lookups can answer from a stale
        # relation cache and miss a table another process just created (seen in a race).
        row = self._conn.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables "
            "WHERE schemaname = current_schema() AND tablename = 'meta')"
        ).fetchone()
        if row is None or not row[0]:
            return 0
        version = self._conn.execute("SELECT schema_version FROM meta WHERE id = 1").fetchone()
        if version is None:
            raise StateError(f"{self._where}: its meta table is empty; not an octoplan state")
        return int(version[0])

    def _open(self) -> str:
        schema_row = self._conn.execute("SELECT current_schema()").fetchone()
        if schema_row is None or schema_row[0] is None:
            raise StateError(f"{self._where}: no schema to create the state in (search_path)")
        schema = str(schema_row[0])
        check_version(self._version(), self._where)  # before anything is changed
        if self._version() < SCHEMA_VERSION:
            with self._conn.transaction():
                # Two processes opening a new state at once: the second waits, then sees it done.
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_key(schema, "migrate"),))
                version = self._version()
                check_version(version, self._where)
                for target, steps in enumerate(MIGRATIONS[version:], version + 1):
                    try:
                        for step in steps:
                            if isinstance(step, str):
                                self._conn.execute(step)
                            else:
                                step(self._conn)
                    except psycopg.Error:
                        raise  # told by _errors
                    except Exception as exc:
                        # A step that reads the records met one it cannot read (see sqlite.py).
                        raise StateError(
                            f"{self._where}: not a readable octoplan state (its upgrade to "
                            f"schema version {target} failed: {exc}); nothing was changed. "
                            "Restore it from a backup; do not start a new state in its place "
                            "if it held records (a new state does not know what was sent, and "
                            "would send it again)"
                        ) from exc
                if version == 0:
                    self._conn.execute(
                        "INSERT INTO meta (id, lineage, serial, schema_version) "
                        "VALUES (1, %s, 0, %s)",
                        (uuid.uuid4().hex, len(MIGRATIONS)),
                    )
                else:
                    self._conn.execute("UPDATE meta SET schema_version = %s", (len(MIGRATIONS),))
        return schema

    # -- transactions ----------------------------------------------------------------------
    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except pg_errors.IntegrityError as exc:
            raise StateError(f"{self._where}: {scrub(str(exc), self._url)}") from exc
        except psycopg.Error as exc:
            raise StateError(
                f"state at {self._where} failed: {scrub(str(exc), self._url)}"
            ) from exc

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Tx]:
        with self._errors(), self._conn.transaction(), self._conn.cursor() as cur:
            if write:
                cur.execute("SELECT serial FROM meta WHERE id = 1 FOR UPDATE")
            yield _Tx(cur)

    def _read(self) -> AbstractContextManager[Tx]:
        return self._transaction(write=False)

    def _write(self) -> AbstractContextManager[Tx]:
        return self._transaction(write=True)

    def _append(self) -> AbstractContextManager[Tx]:
        # Callbacks do not touch `meta`: they never queue behind an apply's transaction.
        return self._transaction(write=False)

    def _time_in(self, moment: datetime) -> object:
        return utc(moment)

    def _time_out(self, value: Any) -> datetime:
        moment: datetime = value
        return moment.astimezone(UTC)

    def info(self) -> StateInfo:
        with self._read() as tx:
            row = tx.one("SELECT lineage, serial, schema_version FROM meta WHERE id = 1")
        assert row is not None
        return StateInfo(lineage=row[0], serial=row[1], schema_version=row[2], url=self._where)

    # -- locking ---------------------------------------------------------------------------
    # An unsharded apply holds the advisory lock `apply` exclusively. `--shard I/N` holds it
    # shared (so it waits for, and holds off, an unsharded apply) and `apply I/N` exclusively
    # (two runners of one shard queue up; the shards of one N run at once). Shards of another
    # N share recipients: the row `apply I/N` says N, and a shard checks and writes its row
    # under the transaction lock `shards`, refusing while a live row of another N is there.
    def _lock_key(self, name: str = _APPLY, lineage: str | None = None) -> int:
        return _key(self._schema, lineage or self.info().lineage, name)

    def _lock_info(self, row: Sequence[Any]) -> LockInfo:
        """A `locks` row's holder (its columns as _LOCK_COLUMNS lists them)."""
        return LockInfo(row[0], row[1], row[2], self._time_out(row[4]))

    def _live_rows(self, tx: Tx, lineage: str) -> list[tuple[str, LockInfo, int]]:
        """(name, holder, backend pid) of the lock rows whose backend holds their advisory
        lock, oldest first; the others are leftovers and count as no lock."""
        rows = tx.all(
            f"SELECT name, {_LOCK_COLUMNS} FROM locks WHERE name = ? OR name LIKE ? "
            "ORDER BY acquired_at, name",
            (_APPLY, f"{_APPLY} %"),
        )
        live = []
        for name, *row in rows:
            key = self._lock_key(name, lineage)
            held = tx.one(_HELD, (key >> 32, key & 0xFFFFFFFF, row[5]))
            if held is not None and held[0]:
                info = self._lock_info(row)
                live.append((str(name), info, int(row[5])))
        return live

    def acquire_lock(self, holder: str, timeout: float, partition: Partition | None = None) -> None:
        if self._token is not None:
            raise StateError("this process already holds the state lock")
        lineage = self.info().lineage
        try:
            lock_conn = psycopg.connect(
                self._url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT
            )
        except psycopg.Error as exc:
            raise StateError(
                f"cannot connect to the state at {self._where}: {scrub(str(exc), self._url)}"
            ) from exc
        try:
            with self._errors():
                self._wait_for(lock_conn, lineage, partition, holder, timeout)
        except BaseException:
            lock_conn.close()  # also drops the advisory locks, if they were taken
            raise
        self._lock_conn = lock_conn

    def _wait_for(
        self,
        lock_conn: psycopg.Connection[Row],
        lineage: str,
        partition: Partition | None,
        holder: str,
        timeout: float,
    ) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._try_lock(lock_conn, lineage, partition, holder):
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                with self._read() as tx:
                    blocking = _blocking(self._live_rows(tx, lineage), partition)
                if blocking is None:
                    raise LockHeld(None, timeout)
                name, info = blocking
                other = _count(name)
                why = ""
                if partition is not None and other not in (None, partition.count):
                    why = (
                        f" (--shard {name.split()[1]}: shards of {other} and of "
                        f"{partition.count} share recipients)"
                    )
                raise LockHeld(info, timeout, why)
            time.sleep(min(_POLL, remaining))

    def _try_lock(
        self,
        lock_conn: psycopg.Connection[Row],
        lineage: str,
        partition: Partition | None,
        holder: str,
    ) -> bool:
        """Take the advisory locks and write our row, or take nothing and say False."""
        apply_key = self._lock_key(_APPLY, lineage)
        if partition is None:
            return _try(lock_conn, "pg_try_advisory_lock", apply_key) and self._record_holder(
                lock_conn, lineage, holder, _APPLY, None
            )
        name = f"{_APPLY} {partition.label}"
        shard_key = self._lock_key(name, lineage)
        if not _try(lock_conn, "pg_try_advisory_lock_shared", apply_key):
            return False
        if _try(lock_conn, "pg_try_advisory_lock", shard_key):
            if self._record_holder(lock_conn, lineage, holder, name, partition):
                return True
            lock_conn.execute("SELECT pg_advisory_unlock(%s)", (shard_key,))
        lock_conn.execute("SELECT pg_advisory_unlock_shared(%s)", (apply_key,))
        return False

    def _record_holder(
        self,
        lock_conn: psycopg.Connection[Row],
        lineage: str,
        holder: str,
        name: str,
        partition: Partition | None,
    ) -> bool:
        """Our row in `locks`, once our advisory locks are held; False (nothing written)
        while a shard of another N holds its row."""
        token = uuid.uuid4().hex
        pid = os.getpid()
        now = clock.now()
        with lock_conn.transaction(), lock_conn.cursor() as cur:
            tx = _Tx(cur)
            if partition is not None:
                tx.one("SELECT pg_advisory_xact_lock(?)", (self._lock_key("shards", lineage),))
                live = self._live_rows(tx, lineage)
                if any(_count(other) not in (None, partition.count) for other, _, _ in live):
                    return False
            cur.execute("SELECT serial FROM meta WHERE id = 1 FOR UPDATE")
            # Rows left by holders whose connection is gone: ours (held by us now), and, for
            # an unsharded apply (which excludes every other), all of them.
            pattern = name if partition is not None else f"{_APPLY}%"
            for left in tx.all(f"SELECT {_LOCK_COLUMNS} FROM locks WHERE name LIKE ?", (pattern,)):
                gone = self._lock_info(left)
                self._audit(
                    tx,
                    now,
                    "takeover",
                    f"{holder} (pid {pid} on {host_name()})",
                    f"took over the lock of {describe_lock(gone)}: its connection is gone",
                )
            tx.run("DELETE FROM locks WHERE name LIKE ?", (pattern,))
            tx.run(
                f"INSERT INTO locks (name, {_LOCK_COLUMNS}, token) "
                "VALUES (?, ?, ?, ?, ?, ?, pg_backend_pid(), ?)",
                (name, holder, host_name(), pid, process_start(pid), utc(now), token),
            )
        self._token = token
        return True

    def release_lock(self) -> None:
        lock_conn, token = self._lock_conn, self._token
        if lock_conn is None or token is None:
            return
        self._lock_conn = self._token = None
        try:
            with self._errors(), lock_conn.transaction():
                lock_conn.execute("DELETE FROM locks WHERE token = %s", (token,))
        finally:
            lock_conn.close()  # ends the session, and with it the advisory locks

    def lock_info(self) -> LockInfo | None:
        holders = self.lock_holders()
        return holders[0] if holders else None

    def lock_holders(self) -> list[LockInfo]:
        lineage = self.info().lineage
        with self._read() as tx:
            return [info for _, info, _ in self._live_rows(tx, lineage)]

    def unlock(self, actor: str, force: bool = False) -> LockInfo | None:
        removed = self.unlock_all(actor, force)
        return removed[0] if removed else None

    def unlock_all(self, actor: str, force: bool = False) -> list[LockInfo]:
        lineage = self.info().lineage
        with self._write() as tx:
            rows = tx.all(
                f"SELECT {_LOCK_COLUMNS} FROM locks WHERE name = ? OR name LIKE ? "
                "ORDER BY acquired_at, name",
                (_APPLY, f"{_APPLY} %"),
            )
            infos = [self._lock_info(r) for r in rows]
            live = self._live_rows(tx, lineage)
            if live and not force:
                who = " and ".join(describe_lock(info) for _, info, _ in live)
                connections = "connection is" if len(live) == 1 else "connections are"
                that = "that connection" if len(live) == 1 else "those connections"
                raise StateError(
                    f"the state lock is held by {who}, whose database {connections} still "
                    f"open; let it finish or stop it, or use --force to end {that}"
                )
            ended = {backend for _, _, backend in live}
            for backend in sorted(ended):
                tx.one("SELECT pg_terminate_backend(?)", (backend,))
            tx.run("DELETE FROM locks WHERE name = ? OR name LIKE ?", (_APPLY, f"{_APPLY} %"))
            live_infos = {info for _, info, _ in live}
            for info in infos:
                what = (
                    "ended the connection and removed the lock"
                    if info in live_infos
                    else "removed the lock"
                )
                self._audit(tx, clock.now(), "unlock", actor, f"{what} of {describe_lock(info)}")
        return infos

    def close(self) -> None:
        try:
            self.release_lock()
        finally:
            self._conn.close()
