"""Failover: a primary with a synchronous streaming replica, killed during a stream of approvals and
searches; the replica is promoted and the same knowledge-base handles carry on against it (libpq's
multi-host URL with target_session_attrs=read-write). Not one acknowledged approval may be lost;
errors while no server accepts writes are counted (real PostgreSQL servers, hashing embedder)."""

from __future__ import annotations

import threading
import time
from typing import Callable

import pytest

from policykb.config import Settings
from policykb.kb import KnowledgeBase

from .pgserver import Server, start_replica


def _synchronous(primary: Server, replica: Server) -> None:
    """Commits on the primary wait until the replica has flushed them (PostgreSQL's synchronous
    replication): what a moderator is told is approved survives the primary's death."""
    with primary.connect() as conn:
        conn.autocommit = True
        conn.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
        conn.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 30
        while conn.execute("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'").fetchone()[0] == 0:
            assert time.monotonic() < deadline, "the replica never became synchronous"
            time.sleep(0.1)


@pytest.fixture
def pair(tmp_path):
    primary = Server.start(tmp_path / "primary", settings={"synchronous_commit": "on"})
    replica = None
    try:
        primary.create_database("kb")
        replica = start_replica(primary, tmp_path / "replica")
        _synchronous(primary, replica)
        yield primary, replica
    finally:
        for server in (replica, primary):
            if server is not None:
                server.stop()


@pytest.mark.parametrize("reads", ["primary", "replica"])
def test_a_failover_loses_no_acknowledged_approval(pair, corpus, tmp_path, reads):
    """Searches read from the primary (they fail while there is none), or from the replica
    (POLICYKB_DATABASE_READ_URL: they go on throughout)."""
    primary, replica = pair
    url = (f"postgresql://postgres@127.0.0.1:{primary.port},127.0.0.1:{replica.port}/kb"
           "?target_session_attrs=read-write&connect_timeout=2")
    read_url = f"postgresql://postgres@127.0.0.1:{replica.port}/kb?connect_timeout=2" if reads == "replica" else None
    settings = Settings(home=tmp_path / "idx", model="hashing", database_url=url, database_read_url=read_url,
                        warm_up=False)
    acknowledged, errors, searches = run_failover(settings, corpus, primary.kill, replica.promote)
    with KnowledgeBase(settings.model_copy(update={"database_url": replica.url_for("kb"),
                                                   "home": tmp_path / "after"})) as survivor:
        desk = survivor.contributions
        lost = [c for c in acknowledged if desk.view(c)["status"] != "approved"]
        published = {h.id for h in survivor.search("", size=1000, facets=False).hits}
        items = {desk.view(c)["item_id"] for c in acknowledged}
        assert survivor.check()["status"] == "ok"
    print(f"\nfailover (searches read from the {reads}): {len(acknowledged)} approvals acknowledged, {len(lost)} lost; errors while no primary "
          f"accepted writes: {errors}; searches before/after: {searches}")
    assert lost == []
    assert items <= published
    if reads == "replica":  # no primary for 3 s, and not one search failed
        assert errors["search"] == 0 and searches["during"] > 0


def _generation(server: Server) -> int:
    with server.connect("kb") as conn:
        return int(conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])


def test_searches_read_the_replica_unless_it_lacks_what_this_process_has_seen(pair, corpus, tmp_path):
    """With replay paused on the replica: the process that wrote finds its write (it reads the
    primary, the replica being behind what it has seen); another one reads the replica's state."""
    primary, replica = pair

    def settings(home: str) -> Settings:
        return Settings(home=tmp_path / home, model="hashing", database_url=primary.url_for("kb"),
                        database_read_url=replica.url_for("kb"), warm_up=False)

    with KnowledgeBase(settings("writer")) as writer, KnowledgeBase(settings("reader")) as reader:
        writer.ingest([corpus])
        deadline = time.monotonic() + 30
        while _generation(replica) != _generation(primary):
            assert time.monotonic() < deadline, "the replica never caught up"
            time.sleep(0.05)
        everything = {h.id for h in reader.search("", size=100, facets=False).hits}
        assert "de-vouchers" in everything
        with replica.connect() as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
        try:
            writer.set_published("de-vouchers", False)
            assert _generation(replica) < _generation(primary)
            assert {h.id for h in writer.search("", size=100, facets=False).hits} == everything - {"de-vouchers"}
            assert {h.id for h in reader.search("", size=100, facets=False).hits} == everything  # the replica's
        finally:
            with replica.connect() as conn:
                conn.execute("SELECT pg_wal_replay_resume()")
        while _generation(replica) != _generation(primary):
            assert time.monotonic() < deadline, "the replica never caught up"
            time.sleep(0.05)
        assert {h.id for h in reader.search("", size=100, facets=False).hits} == everything - {"de-vouchers"}


def test_a_replica_read_that_failed_midway_leaves_its_connection_usable(pair, corpus, tmp_path):
    """A replica connection left in an aborted transaction (a statement failed inside it) is ended,
    not kept: the next searches read the replica again instead of the primary for ever."""
    import psycopg

    primary, replica = pair
    settings = Settings(home=tmp_path / "kb", model="hashing", database_url=primary.url_for("kb"),
                        database_read_url=replica.url_for("kb"), warm_up=False)
    with KnowledgeBase(settings) as kb:
        kb.ingest([corpus])
        deadline = time.monotonic() + 30
        while _generation(replica) != _generation(primary):
            assert time.monotonic() < deadline, "the replica never caught up"
            time.sleep(0.05)
        kb.search("cluster vouchers", size=5)
        conn = kb.store._replicas.current()
        assert conn is not None  # the search read the replica
        conn.execute("BEGIN")
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute("SELECT 1 / 0")
        assert conn.info.transaction_status.name == "INERROR"
        assert kb.search("cluster vouchers", size=5).total > 0
        after = kb.store._replicas.current()
        assert after is None or after.info.transaction_status.name == "IDLE"


def run_failover(settings: Settings, corpus, kill: Callable[[], None], promote: Callable[[], None] | None,
                 no_primary: float = 3.0) -> tuple[list[str], dict[str, int], dict[str, int]]:
    """Approvals and searches in two threads through one knowledge base; after 8 approvals, `kill()`
    the primary mid-stream, wait `no_primary` seconds, `promote()` the replica (None: the cluster
    promotes one itself), and go on until 5 more approvals and 5 searches succeed. Returns the
    acknowledged contribution ids, the errors and the searches before / during / after."""
    acknowledged: list[str] = []
    errors = {"approve": 0, "search": 0}
    searches = {"before": 0, "during": 0, "after": 0}
    killed, promoted, stop = threading.Event(), threading.Event(), threading.Event()

    with KnowledgeBase(settings) as kb:
        kb.ingest([corpus])

        def approve() -> None:
            desk, n = kb.contributions, 0
            while not stop.is_set():
                n += 1
                try:
                    receipt = desk.submit({"title": f"Export voucher pilot {n}", "country": "LT",
                                           "summary": "Vouchers for cluster firms entering new markets."},
                                          None, client=f"client-{n}")
                    desk.approve(receipt["id"], "moderator")
                    acknowledged.append(receipt["id"])
                except Exception:  # noqa: BLE001 - every failure is counted, none acknowledged
                    errors["approve"] += 1
                    time.sleep(0.2)

        def search() -> None:
            while not stop.is_set():
                try:
                    kb.search("cluster vouchers", size=5)
                    searches["after" if promoted.is_set() else "during" if killed.is_set() else "before"] += 1
                except Exception:  # noqa: BLE001
                    errors["search"] += 1
                    time.sleep(0.2)

        threads = [threading.Thread(target=approve), threading.Thread(target=search)]
        for thread in threads:
            thread.start()
        try:
            deadline = time.monotonic() + 120
            while len(acknowledged) < 8:
                assert time.monotonic() < deadline, f"approvals stalled before the failover: {errors}"
                time.sleep(0.05)
            kill()  # mid-stream: an approval may be on its way
            killed.set()
            before = len(acknowledged)
            if promote is not None:
                time.sleep(no_primary)
                promote()
                promoted.set()
            while len(acknowledged) < before + 5 or searches["after"] < 5:
                if promote is None and len(acknowledged) > before:
                    promoted.set()  # (a write went through: a new primary serves)
                assert time.monotonic() < deadline, f"no recovery after the failover: {errors}, {searches}"
                time.sleep(0.05)
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
    return acknowledged, errors, searches
