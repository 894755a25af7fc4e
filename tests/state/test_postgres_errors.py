"""The PostgreSQL state when the server cannot be used: a wrong port, host, database or role, a
server that closes the connection, a connection ended under an open state, a database that is
not an octoplan state, no schema to create one in, and a lock connection the server refuses.
Each message is asserted whole, and none carries the password of the URL it was given.

Real server (tests/fixtures/postgres.py), real refusals: nothing here is simulated but the
"server" that closes every connection, a real socket on loopback.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from octoplan.errors import StateError
from octoplan.state.open import describe, open_state
from tests.fixtures.postgres import ADMIN_URL
from tests.fixtures.project import MakeProject, run_cli

pytestmark = pytest.mark.postgres

SECRET = "s3cret-Pw-9"
ADMIN = urlsplit(ADMIN_URL)
HOST, PORT = ADMIN.hostname, ADMIN.port


def with_password(url: str, user: str | None = None, password: str = SECRET) -> str:
    parts = urlsplit(url)
    netloc = f"{user or parts.username}:{password}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def refused(location: str, tmp_path: Path) -> str:
    with pytest.raises(StateError) as caught:
        open_state(location, tmp_path).close()
    message = str(caught.value)
    assert SECRET not in message
    return message


@pytest.fixture
def closing_server() -> Iterator[int]:
    """A port whose server accepts each connection and closes it at once: a PostgreSQL behind
    a proxy or a firewall that lets the TCP handshake through, then refuses."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed at teardown
                return
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.close()
    thread.join(timeout=10)


def test_a_port_nobody_listens_on(tmp_path: Path) -> None:
    location = f"postgresql://postgres:{SECRET}@127.0.0.1:1/test"
    assert refused(location, tmp_path) == (
        "cannot connect to the state at postgresql://postgres@127.0.0.1:1/test: connection "
        'failed: connection to server at "127.0.0.1", port 1 failed: Connection refused\n'
        "\tIs the server running on that host and accepting TCP/IP connections?"
    )


def test_a_host_that_does_not_resolve(tmp_path: Path) -> None:
    location = f"postgresql://postgres:{SECRET}@no-such-host.invalid:5432/test"
    assert refused(location, tmp_path) == (
        "cannot connect to the state at postgresql://postgres@no-such-host.invalid:5432/test: "
        "failed to resolve host 'no-such-host.invalid': [Errno -2] Name or service not known"
    )


def test_a_database_that_does_not_exist(tmp_path: Path) -> None:
    name = f"octoplan_missing_{uuid.uuid4().hex[:8]}"
    location = with_password(f"postgresql://postgres@{HOST}:{PORT}/{name}")
    assert refused(location, tmp_path) == (
        f"cannot connect to the state at postgresql://postgres@{HOST}:{PORT}/{name}: "
        f'connection failed: connection to server at "{HOST}", port {PORT} failed: '
        f'FATAL:  database "{name}" does not exist'
    )


def test_a_role_the_server_does_not_know(tmp_path: Path) -> None:
    location = with_password(f"postgresql://nobody_{SECRET[:2]}@{HOST}:{PORT}/test")
    assert refused(location, tmp_path) == (
        f"cannot connect to the state at postgresql://nobody_s3@{HOST}:{PORT}/test: "
        f'connection failed: connection to server at "{HOST}", port {PORT} failed: '
        'FATAL:  role "nobody_s3" does not exist'
    )


def test_a_server_that_closes_every_connection(closing_server: int, tmp_path: Path) -> None:
    location = f"postgresql://postgres:{SECRET}@127.0.0.1:{closing_server}/test"
    assert refused(location, tmp_path) == (
        f"cannot connect to the state at postgresql://postgres@127.0.0.1:{closing_server}/test: "
        f'connection failed: connection to server at "127.0.0.1", port {closing_server} '
        "failed: server closed the connection unexpectedly\n"
        "\tThis probably means the server terminated abnormally\n"
        "\tbefore or while processing the request."
    )


def test_a_password_in_the_query_string_is_scrubbed_too(tmp_path: Path) -> None:
    location = f"postgresql://postgres@{HOST}:{PORT}/test?password={SECRET}&sslmode=bogus"
    assert describe(location) == f"postgresql://postgres@{HOST}:{PORT}/test?sslmode=bogus"
    assert refused(location, tmp_path) == (
        f"cannot connect to the state at postgresql://postgres@{HOST}:{PORT}/test?sslmode=bogus: "
        'connection is bad: invalid sslmode value: "bogus"'
    )


def test_a_password_the_driver_quotes_in_its_error_is_scrubbed(tmp_path: Path) -> None:
    # libpq quotes a malformed percent-encoded token whole: here, the password itself.
    password = f"{SECRET}%zz"
    location = with_password(f"postgresql://postgres@{HOST}:{PORT}/test", password=password)
    with pytest.raises(StateError) as caught:
        open_state(location, tmp_path)
    assert str(caught.value) == (
        f"cannot connect to the state at postgresql://postgres@{HOST}:{PORT}/test: "
        'invalid percent-encoded token: "***"\n'
    )


def test_the_cli_names_the_state_without_its_password(make_project: MakeProject) -> None:
    root = make_project()
    location = f"postgresql://postgres:{SECRET}@127.0.0.1:1/test"
    result = run_cli("status", cwd=root, env={"OCTOPLAN_STATE": location})
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: cannot connect to the state at postgresql://postgres@127.0.0.1:1/test: "
        'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection '
        "refused\n\tIs the server running on that host and accepting TCP/IP connections?\n"
    )
    assert not (root / ".octoplan").exists()


# -- a server that answers, but not as a state should ----------------------------------------


def test_a_meta_table_without_its_row_is_not_a_state(pg_url: str, tmp_path: Path) -> None:
    open_state(pg_url, tmp_path).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM meta")
    with pytest.raises(StateError) as caught:
        open_state(pg_url, tmp_path)
    assert str(caught.value) == f"{pg_url}: its meta table is empty; not an octoplan state"


def test_no_schema_on_the_search_path_creates_nothing(pg_url: str, tmp_path: Path) -> None:
    location = f"{pg_url}?options=-csearch_path%3Dnowhere"
    with pytest.raises(StateError) as caught:
        open_state(location, tmp_path)
    assert str(caught.value) == f"{location}: no schema to create the state in (search_path)"
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname NOT IN "
            "('pg_catalog', 'information_schema')"
        ).fetchall()
    assert tables == []


def test_a_connection_ended_under_an_open_state(pg_url: str, tmp_path: Path) -> None:
    store = open_state(pg_url, tmp_path)
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (urlsplit(pg_url).path.lstrip("/"),),
            )
        with pytest.raises(StateError) as caught:
            store.info()
        assert str(caught.value) == (
            f"state at {pg_url} failed: terminating connection due to administrator command"
        )
    finally:
        store.close()


@pytest.fixture
def one_connection_role(pg_url: str) -> Iterator[str]:
    """The URL (with a password) of a role that may open one connection at a time and owns
    the test's database."""
    role = f"octoplan_one_{uuid.uuid4().hex[:8]}"
    database = urlsplit(pg_url).path.lstrip("/")
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN CONNECTION LIMIT 1 PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(SECRET)
            )
        )
        admin.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(database), sql.Identifier(role)
            )
        )
    yield with_password(pg_url, user=role)
    with psycopg.connect(pg_url, autocommit=True) as owner:  # as the admin, in that database
        owner.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
        )
        owner.execute(sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(sql.Identifier(role)))
        owner.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_a_lock_connection_the_server_refuses_leaves_no_lock(
    one_connection_role: str, tmp_path: Path
) -> None:
    store = open_state(one_connection_role, tmp_path)
    try:
        with pytest.raises(StateError) as caught:
            store.acquire_lock("octoplan apply by tests", timeout=1)
        role = urlsplit(one_connection_role).username
        where = describe(one_connection_role)
        assert str(caught.value) == (
            f"cannot connect to the state at {where}: connection failed: connection to server "
            f'at "{HOST}", port {PORT} failed: FATAL:  too many connections for role "{role}"'
        )
        assert SECRET not in str(caught.value)
        assert store.lock_info() is None
        assert store.info().serial == 0  # the state itself is untouched and still usable
    finally:
        store.close()
