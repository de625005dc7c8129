"""The keyword index's postings stay in step with the passages: segments, merges, rollbacks,
knowledge bases made before the postings existed, and `policykb check`. Every test runs on both stores
(`on_store`) but the one about SQLite files made before the postings existed."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from policykb.backends import segments
from policykb.language import terms
from policykb.cli.main import cli
from policykb.config import Settings
from policykb.kb import KnowledgeBase
from policykb.models import Item, Passage

from .conftest import run_sql


def _item(i: int, text: str) -> Item:
    return Item(id=f"item-{i}", kind="document", title=f"Item {i}", source="test", passages=[Passage(text)],
                facets={"territory": ["DE" if i % 2 else "FR"], "kind": ["document"], "language": ["en"]})


def _write(kb: KnowledgeBase, items: list[Item]) -> None:
    with kb.writing() as change:
        for item in items:
            change.added += kb.store.write_item(item, [f"hash-{item.id}-{hash(item.passages[0].text)}"])[1]
        change.changed = True


def _segments(kb: KnowledgeBase, term: str) -> list[int]:
    return [len(p) for p in kb.store._segments(
        [r[0] for r in run_sql(kb.store, "SELECT id FROM postings WHERE term = ? ORDER BY id", [term])])]


def _keyword_ids(kb: KnowledgeBase, query: str) -> list[str]:
    return [h.id for h in kb.search(query, mode="keyword", size=1000, facets=False).hits]


def test_segments_merge_like_a_binary_counter(kb):
    for i in range(64):  # 64 writes of one item each, every one holding "cluster"
        _write(kb, [_item(i, f"cluster number {i}")])
    sizes = _segments(kb, "cluster")
    assert sum(sizes) == 64
    assert len(sizes) <= 7  # log2(64) + 1
    assert all(older > 2 * newer for older, newer in zip(sizes, sizes[1:]))
    assert sorted(_keyword_ids(kb, "cluster")) == sorted(f"item-{i}" for i in range(64))


def test_rewritten_items_leave_no_postings_behind_once_merged(kb):
    for version in range(40):
        _write(kb, [_item(1, f"cluster vouchers version {version}")])
    assert _keyword_ids(kb, "vouchers") == ["item-1"]
    assert _keyword_ids(kb, "version 39") == ["item-1"]
    assert _keyword_ids(kb, "version 3") == []  # no passage holds "3" any more, and "version" alone is half the query
    assert sum(_segments(kb, "voucher")) < 8  # 40 written, dead ones dropped at each merge


def test_rolled_back_write_adds_no_postings(kb):
    _write(kb, [_item(1, "cluster vouchers")])
    before = kb.store.postings_stats()
    with pytest.raises(RuntimeError):
        with kb.writing() as change:
            change.added += kb.store.write_item(_item(2, "regional innovation vouchers"), ["h2"])[1]
            change.changed = True
            raise RuntimeError("disk full")
    assert kb.store.postings_stats() == before
    _write(kb, [_item(3, "cluster missions")])  # nothing from the failed write leaks into the next one
    assert _keyword_ids(kb, "innovation") == []
    assert _keyword_ids(kb, "missions") == ["item-3"]


@pytest.mark.usefixtures("on_store")  # (no `settings`: it makes its own)
def test_long_write_flushes_in_parts_with_the_same_results(tmp_path, monkeypatch, corpus):
    with KnowledgeBase(Settings(home=tmp_path / "one", model="hashing")) as kb:
        kb.ingest([corpus])
        expected = {q: _keyword_ids(kb, q) for q in ("cluster", "green textile", "missions abroad")}
    monkeypatch.setattr(segments, "FLUSH_POSTINGS", 7)
    writes = []
    take = segments.PostingsBuffer.take
    monkeypatch.setattr(segments.PostingsBuffer, "take", lambda self: writes.append(len(self)) or take(self))
    with KnowledgeBase(Settings(home=tmp_path / "parts", model="hashing")) as kb:
        kb.ingest([corpus])
        assert len([n for n in writes if n]) > 3  # written in many parts inside one transaction
        stats = kb.store.postings_stats()
        assert stats["segments"] == stats["terms"]  # and merged at commit
        assert {q: _keyword_ids(kb, q) for q in expected} == expected


@pytest.mark.embedded_only  # older SQLite files
def test_knowledge_base_made_before_postings_is_indexed_on_open(settings, corpus):  # SQLite only: its older files
    with KnowledgeBase(settings) as kb:
        kb.ingest([corpus])
        expected = kb.search("cluster vouchers abroad", mode="keyword").hits
        with kb.store.transaction():  # what a knowledge base of the previous schema looks like
            kb.store.conn.execute("DROP TABLE postings")
            kb.store.conn.execute("ALTER TABLE passages DROP COLUMN tokens")
    with KnowledgeBase(settings) as kb:
        assert kb.store.postings_stats()["terms"] > 50
        assert kb.search("cluster vouchers abroad", mode="keyword").hits == expected
        assert kb.check()["status"] == "ok"


def test_postings_of_an_older_tokenizer_are_made_again_on_open(settings, corpus):
    with KnowledgeBase(settings) as kb:
        kb.ingest([corpus])
        _write(kb, [_item(1, "Textile firms around Łódź share design studios.")])
        # what a knowledge base indexed with FTS5's own tokens looks like
        run_sql(kb.store, "UPDATE postings SET term = 'łodz' WHERE term = 'lodz'")
        run_sql(kb.store, "DELETE FROM meta WHERE key = 'tokenizer'")
    with KnowledgeBase(settings) as kb:
        assert kb.store.get_meta("tokenizer") == str(terms.TOKENIZER_VERSION)
        assert kb.store.postings(("łodz",)) == {}
        assert _keyword_ids(kb, "Lodz") == _keyword_ids(kb, "Łódź") == ["item-1"]
        assert kb.check(sample=1000)["keyword_disagreeing"] == []


def test_reindex_compacts_to_one_segment_per_term(kb, corpus):
    kb.ingest([corpus])
    for version in range(5):
        _write(kb, [_item(1, f"cluster note {version}")])
    expected = _keyword_ids(kb, "cluster note")
    kb.reindex()
    stats = kb.store.postings_stats()
    assert stats["segments"] == stats["terms"]
    assert _keyword_ids(kb, "cluster note") == expected


def test_check_compares_postings_with_the_stored_text(settings, corpus):
    with KnowledgeBase(settings) as kb:
        kb.ingest([corpus])
        passages = kb.store.stats()["passages"]
        report = kb.check(sample=1000)
        assert report["status"] == "ok" and report["keyword_checked"] == passages
        assert report["keyword_disagreeing"] == []
        run_sql(kb.store, "DELETE FROM postings WHERE term = 'voucher'")  # lose one term's postings
        holders = kb.store.passage_ids("de-vouchers")  # the only item that mentions vouchers
        report = kb.check(sample=1000)
        assert report["status"] == "inconsistent" and report["keyword_disagreeing"] == holders
    result = CliRunner().invoke(cli, ["--home", str(settings.home), "--model", "hashing", "check", "--sample", "1000"])
    assert result.exit_code == 1
    assert f"disagreeing: {', '.join(map(str, holders))}" in result.output
