"""The stores: what every store does alike (SQLite's `Store` and PostgreSQL's `PgStore`: transactions, one
committed state per read, writers taking turns, the same answers to the same questions), and what only the
SQLite file has (schema creation by processes meeting a new file, a damaged file)."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from policykb.models import Item, Passage


def _item(item_id: str, title: str, *texts: str, **facets: list[str]) -> Item:
    return Item(id=item_id, kind="document", title=title, source=f"{item_id}.md",
                passages=[Passage(t, page=n + 1, seq=n, section="Part" if n else None) for n, t in enumerate(texts)],
                facets={"kind": ["document"], "language": ["en"], **facets})


def _write(store, *items: Item) -> list[int]:
    added = []
    with store.transaction():
        for item in items:
            added += store.write_item(item, [f"h-{item.id}-{n}" for n in range(len(item.passages))])[1]
    return added


# -- both stores ------------------------------------------------------------------------------------------


def test_pgstore_has_every_public_method_of_the_sqlite_store_but_the_file_ones():
    import inspect

    from policykb.backends.embedded.store import Store
    from policykb.backends.postgres import PgStore

    def public(cls: type) -> dict[str, str]:
        return {name: str(inspect.signature(value)) if callable(value) else type(value).__name__
                for name, value in inspect.getmembers(cls) if not name.startswith("_")}

    sqlite_only = {"conn", "db", "keyword_top", "backup_to", "restore_from"}
    # past the IVF threshold, PostgreSQL searches vectors itself (ann.py); the SQLite store says it does not
    postgres_only = {"build_database_index", "change_database_index", "database_index", "drop_database_index",
                     "nearest_in_table", "rows_in_table", "scores_in_table"}
    assert {k: v for k, v in public(PgStore).items() if k not in postgres_only} == \
        {k: v for k, v in public(Store).items() if k not in sqlite_only}
    assert postgres_only <= set(public(PgStore)) and (Store.database_indexes, PgStore.database_indexes) == (False, True)
    assert all(name in (PgStore.__doc__ or "") for name in sqlite_only)  # and says why it has not


def test_the_knowledge_base_uses_the_store_under_test(on_store, kb):
    assert type(kb.store).__name__ == {"sqlite": "Store", "postgres": "PgStore"}[on_store]


def test_a_failed_transaction_leaves_nothing_behind(store, monkeypatch):
    from policykb.backends import segments

    _write(store, _item("kept", "Kept", "cluster vouchers"))
    before = (store.item_ids(), store.postings_stats(), store.generation, store.stats())
    monkeypatch.setattr(segments, "FLUSH_POSTINGS", 9)  # the first passage's 9 postings are written, the second's wait
    with pytest.raises(RuntimeError, match="disk full"):
        with store.transaction():
            store.write_item(_item("lost", "Lost", "regional innovation vouchers for clusters of partner firms",
                                   "textile"), ["h1", "h2"])
            store.bump_generation()
            store.audit("alice", "edit", "lost")
            raise RuntimeError("disk full")
    assert (store.item_ids(), store.postings_stats(), store.generation, store.stats()) == before
    assert store.audit_log() == [] and store.postings(("innov", "textil")) == {}
    _write(store, _item("next", "Next", "cluster missions"))  # nothing of the failed write leaks into the next one
    assert store.postings(("innov", "textil")) == {} and list(store.postings(("mission",))) == ["mission"]


def test_reading_sees_one_committed_state_while_another_writes(open_store):
    reader, writer = open_store(), open_store()  # two handles on one database: two processes
    with reader.reading():
        assert reader.generation == 0
        with writer.transaction():
            writer.bump_generation()
            writer.write_item(_item("new", "New", "text"), ["h"])
        assert (reader.generation, reader.item_ids()) == (0, [])
    assert (reader.generation, reader.item_ids()) == (1, ["new"])


def test_reading_inside_a_transaction_sees_that_transaction(store):
    with store.transaction():
        store.bump_generation()
        with store.reading():
            assert store.generation == 1
    assert store.generation == 1


def test_writers_take_turns_and_lose_no_update(open_store):
    stores, rounds = [open_store(), open_store()], 25
    start = threading.Barrier(2)
    failures = []

    def bump(store) -> None:
        try:
            start.wait()
            for _ in range(rounds):
                with store.transaction():  # read, think, write: only safe if writers take turns
                    seen = store.generation
                    time.sleep(0.001)
                    store.set_generation(seen + 1)
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=bump, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == [] and stores[0].generation == 2 * rounds


def test_a_whole_write_is_exclusive_across_processes_but_lets_short_writes_through(open_store):
    first, second = open_store(), open_store()  # two handles on one database: two processes
    with first.exclusive() as mine:
        assert mine
        with second.exclusive(wait=False) as theirs:
            assert not theirs
        with second.transaction():  # another process's short write (a contribution) is not held up
            second.bump_generation()
    with second.exclusive(wait=False) as theirs:
        assert theirs
    with pytest.raises(RuntimeError):
        with first.exclusive():
            raise RuntimeError("an ingest fails")
    with second.exclusive(wait=False) as theirs:  # and the lock went with it
        assert theirs and second.generation == 1


def test_both_stores_answer_alike(tmp_path, postgres_url):
    """The same writes give the same answers, in the same order, from every read both stores have."""
    from policykb.backends.embedded.store import Store
    from policykb.backends.postgres import PgStore

    stores = [Store(tmp_path / "kb.sqlite"), PgStore(postgres_url)]
    answers = []
    for store in stores:
        _write(store, _item("b-item", "beta Programme", "Cluster vouchers for SMEs.", "Second part on missions.",
                            territory=["FR", "DE"], challenge=["green"]),
               _item("a-item", "Éclair", "Textile firms around Łódź share design studios.", territory=["PL"]),
               _item("c-item", "alpha", "Nothing here.", territory=["DE"]))
        _write(store, _item("b-item", "Beta programme", "Cluster vouchers for SMEs abroad.", territory=["DE"]))
        with store.transaction():
            store.set_status("c-item", "unpublished")
            store.bump_generation()
            store.upsert_file("b-item.md", "d1", 10, ["b-item", "gone"])
            store.upsert_file("a-item.md", "d2", 20, ["a-item"])
            store.drop_from_file("b-item.md", "gone")
            store.remember_purge("z-item", "z.md", "zh")
            store.add_contribution("k1", "t", {"id": "a-item", "title": "Éclair"}, None, None, "127.0.0.1", {"ok": 1})
            store.update_contribution("k1", "pending", status="rejected", reason="spam")
            store.add_submission("127.0.0.1", "2026-01-01T00:00:01", forget_before="2026-01-01T00:00:00")
            store.audit("alice", "reject", "k1", before={"status": "pending"}, after={"status": "rejected"})
        store.cache_vectors("m", {f"h-{i}-{n}": np.full(3, n + len(i), dtype=np.float32) for i in ("a-item", "bb-item")
                                  for n in range(2)} | {"h-b-item-0": np.arange(3, dtype=np.float32)})
        ids = store.passage_ids_of(["b-item", "a-item", "c-item"])
        vectors = store.passage_vectors("m")
        answers.append(dict(
            item_ids=store.item_ids(), sources=store.item_sources(["c-item", "a-item", "x"]),
            items={k: vars(v) for k, v in store.get_items(["c-item", "b-item", "a-item"]).items()},
            passages=[(store.get_passages(i), store.passage_ids(i)) for i in ("a-item", "b-item")],
            passages_of=store.passages_of(["b-item", "x", "a-item"]),
            by_id=list(store.passages_by_id(ids).values()), first=store.first_passages(["b-item", "a-item"]),
            published=store.published_items(), pairs=store.facet_pairs("territory"),
            published_passages=len(store.published_passages()), texts=store.passage_texts(),
            missing=store.passages_missing_vectors("m"), vectors=(len(vectors[0]), vectors[1].tolist()),
            cached=sorted(store.cached_vectors("m", ["h-a-item-0", "nope"])),
            stats=store.stats(), postings_stats=store.postings_stats(),
            postings={t: p.tolist() for t, p in store.postings(("cluster", "voucher", "lodz")).items()},
            disagreeing=store.postings_disagreeing(10)[1], history=[
                {k: v for k, v in h.items() if k != "replaced_at"} for h in store.item_history("b-item")],
            version=vars(store.item_version("b-item", 1)[0]), files=(store.file_paths(), store.file_record("b-item.md"),
                                                                      store.files_disagreeing()),
            purged={k: v[:2] for k, v in store.purged_items(["z-item", "a-item"]).items()},
            contributions=[{k: v for k, v in c.items() if not k.endswith("_at")}
                           for c in store.contributions(None, 10)[1]],
            pending=store.pending_ids(), moderated=store.contributions_disagreeing(),
            submissions=store.submissions_since("127.0.0.1", "2026"), titles=store.items_with_title(" BETA programme"),
            audit=[{k: v for k, v in a.items() if k != "at"} for a in store.audit_log("k1")],
            generation=store.generation, pruned=store.prune_vector_cache("m"), rebuilt=store.rebuild_postings()))
        store.close()
    assert answers[0] == answers[1]
    assert answers[0]["published"] == [("b-item", None, None), ("a-item", None, None)]  # NOCASE: "É" after "B"
    of = answers[0]["passages_of"]
    assert list(of) == ["a-item", "b-item"] and of["a-item"] == answers[0]["passages"][0][0]  # (no "x": none)
    assert [p.seq for _, p in of["b-item"]] == sorted(p.seq for _, p in of["b-item"])


# -- the SQLite file only: processes meeting a new file, a damaged file (PgStore's twins: test_pg_migrate.py, and
# test_pg_connection.py for a database that cannot be used) --------------------------------------------------

OPEN = """
import sys, time
from pathlib import Path
from policykb.backends.embedded.store import Store
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # all start together
Store(Path(sys.argv[1])).close()
"""


def test_processes_opening_a_new_home_at_once_all_succeed(tmp_path):
    # CI once failed with "table meta already exists" when two `policykb ingest` runs met a new home.
    # Separate interpreters (not multiprocessing: its spawn re-runs whatever `__main__` is, which
    # other tests' Streamlit AppTest replaces).
    path = tmp_path / "kb.sqlite"
    start = time.time() + 3  # after every interpreter has imported policykb
    procs = [subprocess.Popen([sys.executable, "-c", OPEN, str(path), str(start)], stderr=subprocess.PIPE, text=True)
             for _ in range(6)]
    errors = [proc.communicate(timeout=60)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 6, errors
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchall() == [("0",)]
    conn.close()


# -- issue 18, item 9: a damaged database file is named, with the way out -------------------------------


def damage(path, how: str) -> None:
    """Make `path` (a knowledge base's SQLite file) unreadable: `garbage` (not a database at all) or
    `pages` (the header intact, the items table's root page overwritten)."""
    if how == "garbage":
        path.write_bytes(b"this is not a database at all " * 200)
        return
    conn = sqlite3.connect(path)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'items'").fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    data[(root - 1) * page_size:root * page_size] = b"\x0d" + b"\xff" * (page_size - 1)
    path.write_bytes(bytes(data))


def test_a_file_that_is_not_a_database_is_named_with_the_way_out(tmp_path):
    from policykb.errors import StoreDamaged
    from policykb.backends.embedded.store import Store

    path = tmp_path / "kb" / "kb.sqlite"
    Store(path).close()
    damage(path, "garbage")
    with pytest.raises(StoreDamaged) as refused:
        Store(path)
    assert refused.value.message.startswith(f"{path} is damaged (file is not a database); policykb cannot read it. "
                                            f"Restore the knowledge base from a backup: policykb --home {path.parent} "
                                            "restore BACKUP_FOLDER")


VINNVAXT, VOUCHERS = [("se-vinnvaxt", "Vinnväxt")], [("nl-vouchers", "Dutch innovation vouchers")]


@pytest.mark.parametrize("asked, expected", [
    ("Vinnväxt", VINNVAXT), ("VINNVÄXT", VINNVAXT), (" vinnväxt\t", VINNVAXT),
    ("Ｖｉｎｎｖäｘｔ", VINNVAXT),  # full-width letters (NFKC)
    ("Vinnva\u0308xt", VINNVAXT),  # a combining diaeresis (NFKC composes it)
    ("Dutch  innovation vouchers", VOUCHERS), ("DUTCH innovation\nvouchers ", VOUCHERS),
    ("Dutch innovation voucher", []), ("Vinnvaxt", []),
])
def test_a_title_is_the_same_whatever_its_case_spacing_or_unicode_form(store, asked, expected):
    """SQL's lower() folds A-Z only and trim() keeps inner spaces: "VINNVÄXT" was not "Vinnväxt". An
    unpublished item with the title is not one."""
    _write(store, _item("se-vinnvaxt", "Vinnväxt", "Growth."), _item("nl-vouchers", "Dutch innovation vouchers", "V."),
           _item("hidden", "VINNVÄXT", "Hidden."))
    with store.transaction():
        store.set_status("hidden", "unpublished")
        store.bump_generation()
    assert store.items_with_title(asked) == expected


@pytest.mark.parametrize("changes, since, until, expected", [
    ({1: ([], [1, 2, 3])}, 0, 1, ([1, 2, 3], [1, 2, 3])),
    ({1: ([], [1, 2]), 2: ([2], []), 3: ([], [2])}, 0, 3, ([1, 2], [1, 2])),  # hidden, then shown again
    ({1: ([], [1, 2]), 2: ([], [2]), 3: ([2], [])}, 1, 3, ([2], [])),  # shown, then hidden
    ({1: ([5], [6]), 2: ([6], [7])}, 0, 2, ([5, 6, 7], [7])),  # replaced twice
    ({1: ([], [1]), 3: ([], [3])}, 0, 3, None),  # generation 2 recorded nothing (a reindex): rebuild
    ({1: ([], [1])}, 1, 1, None),
])
def test_the_change_log_tells_what_a_run_of_generations_did(store, changes, since, until, expected):
    with store.transaction():
        for generation, (removed, added) in changes.items():
            store.record_change(generation, removed, added)
    assert store.changes_between(since, until) == expected


def test_the_change_log_forgets_old_generations(store):
    from policykb.backends.meta import KEPT_CHANGES

    with store.transaction():
        for generation in range(1, KEPT_CHANGES + 3):
            store.record_change(generation, [], [generation])
    assert store.changes_between(0, 2) is None  # generation 1 and 2 forgotten
    assert store.changes_between(2, KEPT_CHANGES + 2) == (list(range(3, KEPT_CHANGES + 3)),) * 2


def test_the_browse_order_index_is_made_in_new_files_and_added_to_older_ones(tmp_path):
    """The facet index reads the published items in title order from a covering index; a file made
    before it existed gets it when opened."""
    from policykb.backends.embedded.store import Store

    path = tmp_path / "kb.sqlite"
    Store(path).close()

    def indexes() -> set[str]:
        with sqlite3.connect(path) as conn:
            return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}

    assert "items_browse" in indexes()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP INDEX items_browse")
    assert "items_browse" not in indexes()
    Store(path).close()
    assert "items_browse" in indexes()
    with sqlite3.connect(path) as conn:  # and the browse query is read in order from it
        plan = " ".join(r[-1] for r in conn.execute(
            "EXPLAIN QUERY PLAN SELECT id, start_year, end_year FROM items WHERE status = 'published' "
            "ORDER BY title COLLATE NOCASE, id"))
    assert "items_browse" in plan and "TEMP B-TREE" not in plan
