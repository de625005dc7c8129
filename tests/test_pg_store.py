"""What only PgStore has to show (backends/postgres/store.py): the advisory lock writers hold, a snapshot taken
when reading() begins, connections per thread and after a server closed them, values only as parameters.
What both stores do alike is tested on both (test_store.py, test_store_history.py, test_store_postings.py)."""

from __future__ import annotations

import threading
import time

import numpy as np
import psycopg
import pytest

from policykb.backends.postgres import PgStore
from policykb.backends.postgres.store import WRITE_LOCK
from policykb.models import Item, Passage


@pytest.fixture
def pg(postgres_url):
    store = PgStore(postgres_url)
    yield store
    store.close()


def _sessions(url: str) -> int:
    """Other sessions connected to the test's database."""
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND pid <> pg_backend_pid()").fetchone()[0]


def test_reading_sees_the_state_of_the_moment_it_began(pg, postgres_url):
    other = PgStore(postgres_url)
    with pg.reading():  # nothing read yet: the snapshot is taken all the same
        with other.transaction():
            other.bump_generation()
        assert pg.generation == 0
    assert pg.generation == 1
    other.close()


def test_a_writer_holds_the_lock_until_its_transaction_ends(pg, postgres_url):
    def free() -> bool:
        with psycopg.connect(postgres_url) as conn:  # a transaction of its own: the lock goes with it
            return conn.execute("SELECT pg_try_advisory_xact_lock(%s)", [WRITE_LOCK]).fetchone()[0]

    assert free()
    with pg.transaction():
        assert not free()
    assert free()
    with pytest.raises(RuntimeError):
        with pg.transaction():
            raise RuntimeError("a failure")
    assert free()


def test_a_writer_waits_for_the_lock_as_long_as_sqlite_would_then_fails(pg, postgres_url, monkeypatch):
    from policykb.backends.postgres import store

    assert store.WRITE_WAIT == "30s"  # the SQLite store's busy timeout
    monkeypatch.setattr(store, "WRITE_WAIT", "200ms")
    with psycopg.connect(postgres_url) as holder:  # another writer, in the middle of its transaction
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
        started = time.monotonic()
        with pytest.raises(psycopg.errors.LockNotAvailable):
            with pg.transaction():
                pg.bump_generation()
        assert 0.2 <= time.monotonic() - started < 5
    with pg.transaction():  # the lock is free again, and the setting went with the failed transaction
        pg.bump_generation()
        assert pg._db.execute("SHOW lock_timeout").fetchone() == ("200ms",)
    assert pg.generation == 1 and pg._db.execute("SHOW lock_timeout").fetchone() == ("0",)


def test_transactions_do_not_nest(pg):
    with pg.transaction():
        with pytest.raises(RuntimeError, match="within a transaction"):
            with pg.transaction():
                pass
        pg.bump_generation()
    assert pg.generation == 1


def test_a_connection_the_server_closed_is_replaced_when_a_transaction_begins(pg, postgres_url):
    assert pg.generation == 0
    with psycopg.connect(postgres_url, autocommit=True) as admin:  # a restart, a failover, an idle timeout
        ended = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]
    assert ended == 1
    with pg.transaction():
        pg.bump_generation()
    with pg.reading():
        assert pg.generation == 1


def test_each_thread_has_a_connection_and_ended_threads_give_theirs_back(pg, postgres_url):
    assert _sessions(postgres_url) == 1
    together = threading.Barrier(3)

    def read(wait: bool = True) -> None:
        assert pg.generation == 0
        if wait:
            together.wait(30)  # all three alive until each has connected

    threads = [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _sessions(postgres_url) == 4
    last = threading.Thread(target=read, args=(False,))  # a new connection closes those of threads that ended
    last.start()
    last.join()
    assert _sessions(postgres_url) == 2
    pg.close()
    assert _sessions(postgres_url) == 0


@pytest.mark.parametrize("hostile", ["'; DROP TABLE items; --", "100% %s %(id)s {}", "a\\b\"c", "Łódź 🙂"])
def test_values_travel_only_as_parameters(pg, hostile):
    item = Item(id=hostile, kind="document", title=hostile, summary=hostile, source=hostile, links=[hostile],
                passages=[Passage(hostile, section=hostile)], facets={"territory": [hostile], "kind": ["document"]})
    with pg.transaction():
        pg.write_item(item, [hostile])
        pg.upsert_file(hostile, hostile, 1, [hostile])
        pg.audit(hostile, hostile, hostile, before={hostile: hostile}, note=hostile)
        pg.add_contribution(hostile, hostile, {"id": hostile}, hostile, hostile, hostile, {})
        assert pg.update_contribution(hostile, "pending", {"id": hostile}, status="rejected", reason=hostile)
    pg.cache_vectors(hostile, {hostile: np.ones(2, dtype=np.float32)})
    assert pg.item_ids() == [hostile] and pg.get_items([hostile])[hostile].title == hostile
    assert pg.get_items([hostile])[hostile].facets == {"territory": [hostile], "kind": ["document"]}
    assert pg.file_record(hostile)["item_ids"] == [hostile] and pg.files_disagreeing() == []
    assert pg.audit_log(hostile)[0]["before"] == {hostile: hostile} and pg.pending_ids() == set()
    assert pg.contribution(hostile)["reason"] == hostile and pg.items_with_title(hostile) == [(hostile, hostile)]
    assert pg.passage_vectors(hostile)[1].tolist() == [[1.0, 1.0]]
