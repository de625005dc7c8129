"""Fixtures: knowledge bases in `tmp_path`, a small record corpus, real PDFs made with fpdf2, and a
throw-away PostgreSQL + pgvector server with a fresh database per test."""

from __future__ import annotations

import re
import textwrap
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest

from policykb.config import Settings
from policykb.kb import KnowledgeBase

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

RECORDS = textwrap.dedent(
    """\
    - id: de-vouchers
      title: Cluster internationalisation vouchers
      summary: Vouchers that help cluster SMEs enter foreign markets through trade missions.
      country: DE
      level: national
      challenges: [internationalisation, sme-growth]
      themes: [digital]
      support: [vouchers, internationalisation]
      typology: national-programme
      start_year: 2015
      links: [https://example.org/de-vouchers]
    - id: fr-es-green
      title: Green textile cluster partnership
      summary: A cross-border partnership for circular economy in textile clusters.
      country: [FR, ES]
      level: interregional
      challenges: [green]
      themes: [textile]
      support: [networking, funding]
      typology: eu-partnership
      start_year: 2019
      end_year: 2022
    - id: at-upper-austria
      title: Upper Austria cluster programme
      summary: Regional cluster organisations connect companies and research in digital and green projects.
      country: AT
      region: Upper Austria
      level: regional
      challenges: [innovation, digital, green]
      themes: [mobility, health]
      support: [networking, collaborative-rd, training]
      typology: regional-programme
      start_year: 1998
    - id: eu-exchange
      title: Cluster staff exchange scheme
      summary: Short exchanges let cluster managers learn from peer clusters in other European countries.
      country: EU
      level: european
      challenges: [skills, internationalisation]
      themes: [cross-sectoral]
      support: [staff-mobility, networking]
      typology: eu-partnership
      start_year: 2019
    """
)


@pytest.fixture
def settings(tmp_path: Path, on_store: str) -> Settings:
    """A knowledge base's settings; every test that asks for them (or for `kb`) runs once per store
    (`on_store`: SQLite, and PostgreSQL with a database per home), but those marked `embedded_only`
    (about the SQLite file itself, or a child process that reads the home from the environment)."""
    # No warm-up: an API made from these settings is ready at once (tests/test_readiness.py tests it).
    return Settings(home=tmp_path / "kb", model="hashing", warm_up=False)


def pytest_collection_modifyitems(config, items):
    """A test marked `embedded_only` runs on the SQLite store alone."""
    kept, dropped = [], []
    for item in items:
        on_postgres = getattr(item, "callspec", None) is not None and item.callspec.params.get("store_kind") == "postgres"
        (dropped if on_postgres and item.get_closest_marker("embedded_only") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture
def kb(settings: Settings):
    with KnowledgeBase(settings) as knowledge_base:
        yield knowledge_base


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "examples").mkdir(parents=True)
    (root / "examples" / "records.yaml").write_text(RECORDS, encoding="utf-8")
    (root / "guide.md").write_text(
        "---\nid: guide-abroad\ntitle: Going abroad guide\nkind: guide\nchallenges: [internationalisation]\n"
        "country: EU\nlevel: european\n---\n# Going abroad guide\n\n## Missions\n\n"
        "Matchmaking missions take cluster firms to trade fairs abroad. Regions co-fund travel costs.\n\n"
        "## Monitoring\n\nCount new export contracts and partnerships one year after each mission.\n",
        encoding="utf-8",
    )
    return root


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


@pytest.fixture
def make_pdf() -> Callable[..., Path]:
    """Write a real multi-page PDF: one string per page (None = a page with no text at all: a
    drawing, or with `scanned` an image, as a scanner makes)."""

    def make(path: Path, pages: list[str | None], title: str | None = None, password: str | None = None,
             scanned: bool = False) -> Path:
        from fpdf import FPDF
        from PIL import Image

        pdf = FPDF()
        pdf.set_font("Helvetica", size=11)
        if title:
            pdf.set_title(title)
        for text in pages:
            pdf.add_page()
            if text is None and scanned:
                pdf.image(Image.new("L", (60, 80), 200), x=20, y=20, w=150)  # an image, no text
            elif text is None:
                pdf.rect(20, 20, 100, 60, style="F")  # a drawing, no text
            else:
                pdf.multi_cell(0, 6, _latin1(text))
        if password:
            pdf.set_encryption(owner_password="owner", user_password=password)
        path.parent.mkdir(parents=True, exist_ok=True)
        pdf.output(str(path))
        return path

    return make


@pytest.fixture(scope="session")
def minilm():
    """The real offline model, loaded once per test session (it is stateless)."""
    from policykb.encoders.embed import load_embedder

    return load_embedder("all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def real_sample(tmp_path_factory, minilm):
    """The shipped sample corpus built once with the real model; read-only for the tests using it."""
    with KnowledgeBase(Settings(home=tmp_path_factory.mktemp("sample") / "kb"), embedder=minilm) as kb:
        assert kb.ingest([ROOT / "ingest"]).skipped == []
        yield kb


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """A throw-away PostgreSQL + pgvector server (tests/pgserver.py), started on the first test that asks.

    Without the server binaries (the `postgres` extra) the asking tests fail, saying what to install: CI must
    run them, so they are never skipped."""
    from .pgserver import Server

    try:
        server, problem = Server.start(tmp_path_factory.mktemp("postgres")), ""
    except RuntimeError as error:
        server, problem = None, str(error)
    if server is None:
        pytest.fail(f"no PostgreSQL test server: {problem}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def postgres_url(pg_server, request) -> Iterator[str]:
    """A fresh database of its own for this test (made from a template that has `vector`), dropped after it."""
    stem = re.sub(r"[^a-z0-9_]+", "_", request.node.name.lower())[:40]
    name = f"t{uuid.uuid4().hex[:8]}_{stem}"
    url = pg_server.create_database(name)
    yield url
    pg_server.drop_database(name)


# -- the store under test: each store-level behaviour holds for the SQLite store and PgStore alike ------------


@pytest.fixture(params=["sqlite", "postgres"])
def store_kind(request) -> str:
    return request.param


@pytest.fixture
def database_for(store_kind, request) -> Iterator[Callable[[Path], str]]:
    """A PostgreSQL database per knowledge-base home (`postgres_url` for the first one asked, a fresh one for
    each other home), dropped after the test."""
    urls: dict[Path, str] = {}
    made: list[tuple[object, str]] = []  # (server, database)

    def url_for(home: Path) -> str:
        if home not in urls:
            if not urls:
                urls[home] = request.getfixturevalue("postgres_url")
            else:
                server = request.getfixturevalue("pg_server")
                made.append((server, f"t{uuid.uuid4().hex[:8]}_home{len(urls)}"))
                urls[home] = server.create_database(made[-1][1])
        return urls[home]

    yield url_for
    for server, name in made:
        server.drop_database(name)


@pytest.fixture
def open_store(store_kind, tmp_path, database_for) -> Iterator[Callable[[], object]]:
    """Opens the store under test (again, for a test that reopens it): `kb/kb.sqlite` in tmp_path, or this
    test's PostgreSQL database. Each one opened is closed after the test."""
    opened = []

    def open_again():
        if store_kind == "sqlite":
            from policykb.backends.embedded.store import Store

            opened.append(Store(tmp_path / "kb" / "kb.sqlite"))
        else:
            from policykb.backends.postgres import PgStore

            opened.append(PgStore(database_for(tmp_path / "kb")))
        return opened[-1]

    yield open_again
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store):
    """The store under test, opened once."""
    return open_store()


@pytest.fixture
def on_store(store_kind, database_for, monkeypatch) -> str:
    """Knowledge bases opened in this test keep their items in the store under test: SQLite in their home, or
    (unless their settings name a database) a PostgreSQL database of their own per home, as
    POLICYKB_DATABASE_URL would. `settings` asks for it; a test that makes its own settings asks itself."""
    if store_kind == "postgres":
        from policykb import kb as facade

        real = facade.open_backend
        monkeypatch.setattr(facade, "open_backend", lambda settings, embedder=None, taxonomy=None: real(
            settings.model_copy(update={"database_url": settings.database_url or database_for(Path(settings.home))}),
            embedder, taxonomy))
    return store_kind


def run_sql(store, query: str, params: list | tuple = ()) -> list[tuple]:
    """Run SQL on a store's database behind its back (what a damaged or older database looks like), in
    SQLite's dialect (`?` parameters, translated for PostgreSQL); the rows it returns."""
    if hasattr(store, "conn"):
        cur = store.conn.execute(query, params)
        return cur.fetchall() if cur.description else []
    import psycopg

    with psycopg.connect(store.url, autocommit=True) as conn:
        cur = conn.execute(query.replace("?", "%s"), params)
        return cur.fetchall() if cur.description else []
