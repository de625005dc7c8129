"""PgStore's schema migrations (backends/postgres/migrations.py): applied once, in order, recorded, under a lock."""

from __future__ import annotations

import threading

import psycopg
import pytest

import policykb.backends.postgres.migrate as migrations
from policykb.backends.postgres import PgStore
from policykb.errors import StoreUnavailable
from policykb.language.terms import TOKENIZER_VERSION


SHIPPED = [(1, "schema"), (2, "vector_tables")]  # the migrations in src/policykb/backends/postgres/migrations


def _recorded(url: str) -> list[tuple[int, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()


def test_the_shipped_migrations_are_numbered_from_one_without_gaps():
    shipped = migrations.available()
    assert [m.version for m in shipped] == list(range(1, len(shipped) + 1))
    assert shipped[0].name == "schema" and "CREATE TABLE items" in shipped[0].sql


def test_a_new_database_is_migrated_once_and_a_second_open_applies_nothing(postgres_url):
    first = PgStore(postgres_url)
    first.close()
    with psycopg.connect(postgres_url) as conn:
        applied_at = conn.execute("SELECT applied_at FROM schema_migrations").fetchall()
    second = PgStore(postgres_url)
    second.close()
    assert (first.migrated, second.migrated) == ([1, 2], [])
    assert _recorded(postgres_url) == SHIPPED
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT applied_at FROM schema_migrations").fetchall() == applied_at
        assert conn.execute("SELECT key, value FROM meta ORDER BY key").fetchall() == [
            ("generation", "0"), ("schema_version", "2"), ("tokenizer", str(TOKENIZER_VERSION))]


def test_processes_opening_a_new_database_at_once_migrate_it_once(postgres_url):
    # Threads with a store each: to the server, as many clients as processes would be.
    count = 6
    start = threading.Barrier(count)
    opened: list[PgStore] = []
    failures: list[BaseException] = []

    def open_store() -> None:
        try:
            start.wait()
            opened.append(PgStore(postgres_url))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for store in opened:
        store.close()
    assert failures == []
    assert sorted(s.migrated for s in opened) == [[]] * (count - 1) + [[1, 2]]
    assert _recorded(postgres_url) == SHIPPED
    assert opened[0].generation == 0


def test_a_failed_migration_leaves_the_database_as_it_was(postgres_url, monkeypatch):
    broken = migrations.Migration(3, "broken", "CREATE TABLE later_table (id integer); SELECT no_such_function()")
    shipped = migrations.available()
    monkeypatch.setattr(migrations, "available", lambda: [*shipped, broken])
    with pytest.raises(psycopg.errors.UndefinedFunction):
        PgStore(postgres_url)
    with psycopg.connect(postgres_url) as conn:  # not even the first migration: one transaction for all
        assert conn.execute("SELECT to_regclass('schema_migrations'), to_regclass('items'), "
                            "to_regclass('later_table')").fetchone() == (None, None, None)
    monkeypatch.setattr(migrations, "available", lambda: shipped)
    PgStore(postgres_url).close()
    assert _recorded(postgres_url) == SHIPPED


def test_a_later_migration_is_applied_to_a_database_of_the_previous_schema(postgres_url, monkeypatch):
    PgStore(postgres_url).close()
    later = migrations.Migration(3, "item_notes", "ALTER TABLE items ADD COLUMN note text; "
                                               "UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    shipped = migrations.available()
    monkeypatch.setattr(migrations, "available", lambda: [*shipped, later])
    store = PgStore(postgres_url)
    store.close()
    assert store.migrated == [3] and _recorded(postgres_url) == SHIPPED + [(3, "item_notes")]
    assert store.get_meta("schema_version") == "3"


def test_a_database_migrated_by_a_newer_policykb_is_refused(postgres_url):
    PgStore(postgres_url).close()
    with psycopg.connect(postgres_url) as conn:
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (99, 'from_the_future')")
    with pytest.raises(StoreUnavailable) as refused:
        PgStore(postgres_url)
    assert "has schema migration 99, which this version of policykb does not know" in refused.value.message
    assert refused.value.details["migration"] == 99
