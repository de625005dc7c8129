"""A PostgreSQL URL that leads nowhere (backends/postgres/connection.py): a StoreUnavailable naming the setting and
the server, never the password, with no psycopg traceback chained to it."""

from __future__ import annotations

import pytest

from policykb.backends.postgres import PgStore
from policykb.backends.postgres.connection import describe
from policykb.errors import PolicyKBError, StoreUnavailable

from .pgserver import free_port


def _refused(url: str) -> StoreUnavailable:
    with pytest.raises(StoreUnavailable) as refused:
        PgStore(url)
    error = refused.value
    assert isinstance(error, PolicyKBError) and error.status == 503 and error.code == "store_unavailable"
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)  # no psycopg traceback
    assert "POLICYKB_DATABASE_URL" in error.message and error.details["setting"] == "POLICYKB_DATABASE_URL"
    return error


def test_a_server_that_does_not_listen(monkeypatch):
    port = free_port()  # nothing listens there
    error = _refused(f"postgresql://policykb:s3cret-word@127.0.0.1:{port}/kb")
    assert error.message.startswith(f"cannot use the PostgreSQL database 127.0.0.1:{port}/kb: connection failed")
    assert "s3cret-word" not in error.message and "Connection refused" in error.message
    assert error.details["database"] == f"127.0.0.1:{port}/kb"


def test_a_database_the_server_does_not_have(pg_server):
    error = _refused(pg_server.url_for("no_such_database"))
    assert f'127.0.0.1:{pg_server.port}/no_such_database: connection failed' in error.message
    assert 'database "no_such_database" does not exist' in error.message


@pytest.mark.parametrize("url", ["postgresql://user:pa ss word@[bad", "not a url at all s3cret", "mysql://u:s3cret@h/db"])
def test_a_url_that_is_not_one_says_so_without_repeating_it(url):
    error = _refused(url)
    assert "s3cret" not in error.message and "pa ss word" not in error.message
    assert "such as postgresql://USER:PASSWORD@HOST:5432/DATABASE" in error.message


def test_an_empty_url():
    assert _refused(" ").message.startswith("POLICYKB_DATABASE_URL is empty")


@pytest.mark.parametrize("url, shown", [
    ("postgresql://u:secret@db.example:6543/kb", "db.example:6543/kb"),
    ("postgresql://u@/kb?host=/run/postgresql", "/run/postgresql:5432/kb"),
    ("host=h1 dbname=kb password=x", "h1:5432/kb"),
    ("postgresql://", "localhost:5432/?"),
])
def test_describe_names_the_server_and_database_but_no_credentials(url, shown):
    assert describe(url) == shown
