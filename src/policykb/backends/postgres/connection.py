"""Connections to the PostgreSQL database: one per thread, opened on first use (psycopg 3, autocommit:
`PgStore` begins and ends its transactions itself). A URL that leads nowhere is a `StoreUnavailable`
that names the setting and the server, never the password, and carries no psycopg traceback."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from policykb.errors import StoreUnavailable

if TYPE_CHECKING:
    import psycopg

SETTING = "POLICYKB_DATABASE_URL"
READ_SETTING = "POLICYKB_DATABASE_READ_URL"
CONNECT_TIMEOUT = 10  # seconds, unless the URL says otherwise (libpq would wait for an unreachable host for ever)
EXAMPLE = "postgresql://USER:PASSWORD@HOST:5432/DATABASE"


def _parts(url: str) -> dict[str, str] | None:
    """The URL's parts as libpq reads them, or None when it cannot."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        return {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
    except Exception:  # noqa: BLE001 - psycopg.ProgrammingError, and anything else a malformed URL raises
        return None


def describe(url: str) -> str:
    """The database a URL names, as `host:port/database` (no user, no password)."""
    parts = _parts(url)
    if parts is None:
        return "(a URL libpq cannot read)"
    host = parts.get("host") or parts.get("hostaddr") or "localhost"
    return f"{host}:{parts.get('port') or 5432}/{parts.get('dbname') or parts.get('user') or '?'}"


def unavailable(url: str, reason: str, setting: str = SETTING) -> StoreUnavailable:
    """The error for a database that cannot be used, with the reason given (the URL and its password
    taken out of it); `setting` names where the URL came from."""
    secret = (_parts(url) or {}).get("password")
    for hidden in (url, secret):
        if hidden:
            reason = reason.replace(hidden, "***")
    where = describe(url)
    return StoreUnavailable(
        f"cannot use the PostgreSQL database {where}: {reason.strip() or 'no reason given'}. Check {setting} "
        f"(a URL such as {EXAMPLE}) and that the server runs and lets this user in",
        {"setting": setting, "database": where})


def connect(url: str, setting: str = SETTING) -> psycopg.Connection:
    """A new autocommit connection to `url` (the value of `setting`), or `StoreUnavailable`."""
    try:
        import psycopg
    except ImportError:
        raise StoreUnavailable(f"{setting} is set but PostgreSQL support is not installed: "
                               "pip install 'policykb[postgres]'", {"setting": setting}) from None
    if not url.strip():
        raise StoreUnavailable(f"{setting} is empty: give it a URL such as {EXAMPLE}", {"setting": setting})
    parts = _parts(url)
    if parts is None:  # libpq's reason would quote the URL, password and all
        raise StoreUnavailable(f"{setting} is not a URL libpq can read: give it one such as {EXAMPLE} (characters "
                               "such as spaces, @, : or / in a user name or password written as %XX)",
                               {"setting": setting})
    options = {} if "connect_timeout" in parts else {"connect_timeout": CONNECT_TIMEOUT}
    try:
        return psycopg.connect(url, autocommit=True, **options)
    except psycopg.Error as exc:
        raise unavailable(url, str(exc).splitlines()[0] if str(exc) else type(exc).__name__, setting) from None


def rollback(conn: psycopg.Connection) -> None:
    """End `conn`'s transaction after a failure; a connection that cannot even do that (lost, or
    interrupted mid-statement) is closed, and the server rolls back what it had begun."""
    import psycopg

    try:
        conn.execute("ROLLBACK", prepare=False)
    except psycopg.Error:
        conn.close()


class Connections:
    """This thread's connection to one database (made when a thread first asks), and every one made,
    to close them together. A connection whose thread has ended is closed when another is made; a
    closed or broken one is replaced at the next request."""

    def __init__(self, url: str, setting: str = SETTING) -> None:
        self.url, self.setting = url, setting
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[tuple[threading.Thread, psycopg.Connection]] = []

    def get(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = connect(self.url, self.setting)
            self._local.conn = conn
            with self._lock:
                ended = [c for thread, c in self._open if not thread.is_alive() or c.closed]
                self._open = [(t, c) for t, c in self._open if t.is_alive() and not c.closed]
                self._open.append((threading.current_thread(), conn))
            for old in ended:
                old.close()
        return conn

    def current(self) -> psycopg.Connection | None:
        """This thread's connection if it has an open one (never connects)."""
        conn = getattr(self._local, "conn", None)
        return conn if conn is not None and not conn.closed else None

    def close(self) -> None:
        with self._lock:
            opened, self._open = self._open, []
        for _, conn in opened:
            conn.close()
        self._local = threading.local()
