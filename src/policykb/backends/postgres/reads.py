"""The read side of `PgStore`: items, facets, passages, what the in-process indexes are built from,
and the statistics. Rows come back in the SQLite store's orders (text compares byte by byte)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from policykb.backends.rows import ITEM_READ, item_from_row
from policykb.models import Item, Passage

if TYPE_CHECKING:
    import psycopg

PUBLISHED = "SELECT id FROM items WHERE status = 'published'"


def _ids(values: list[int]) -> list[int]:
    return [int(i) for i in values]  # numpy integers too


class ReadsMixin:
    _db: psycopg.Connection
    generation: int

    def item_sources(self, ids: list[str]) -> dict[str, tuple[str, str]]:
        """`{id: (content_hash, source)}` for the ids that exist."""
        rows = self._db.execute("SELECT id, content_hash, source FROM items WHERE id = ANY(%s::text[]) ORDER BY id",
                                [list(ids)])
        return {r[0]: (r[1], r[2]) for r in rows}

    def item_status(self, item_id: str) -> str | None:
        row = self._db.execute("SELECT status FROM items WHERE id = %s", [item_id]).fetchone()
        return row[0] if row else None

    def item_ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT id FROM items ORDER BY id")]

    def _facets_of(self, ids: list[str]) -> dict[str, dict[str, list[str]]]:
        out: dict[str, dict[str, list[str]]] = {i: {} for i in ids}
        rows = self._db.execute("SELECT item_id, facet, value FROM item_facets WHERE item_id = ANY(%s::text[]) "
                                "ORDER BY item_id, facet, id", [list(ids)])
        for item_id, facet, value in rows:
            out[item_id].setdefault(facet, []).append(value)
        return out

    def get_items(self, ids: list[str]) -> dict[str, Item]:
        """Items by id (without passages); missing ids are left out."""
        rows = self._db.execute(f"SELECT {', '.join(ITEM_READ)} FROM items WHERE id = ANY(%s::text[]) ORDER BY id",
                                [list(ids)]).fetchall()
        facets = self._facets_of([r[0] for r in rows])
        return {r[0]: item_from_row(r, facets[r[0]]) for r in rows}

    # -- passages -----------------------------------------------------------------------------

    def passage_ids(self, item_id: str) -> list[int]:
        return [r[0] for r in self._db.execute("SELECT id FROM passages WHERE item_id = %s ORDER BY seq, id", [item_id])]

    def get_passages(self, item_id: str) -> list[tuple[int, Passage]]:
        return self.passages_of([item_id]).get(item_id, [])

    def passages_of(self, item_ids: list[str]) -> dict[str, list[tuple[int, Passage]]]:
        """Each item's `(passage id, passage)`s in order, read at once; items with none are left out."""
        out: dict[str, list[tuple[int, Passage]]] = {}
        for r in self._db.execute("SELECT item_id, id, seq, page, section, text FROM passages "
                                  "WHERE item_id = ANY(%s::text[]) ORDER BY item_id, seq, id", [list(item_ids)]):
            out.setdefault(r[0], []).append((r[1], Passage(text=r[5], page=r[3], seq=r[2], section=r[4])))
        return out

    def passages_by_id(self, passage_ids: list[int]) -> dict[int, tuple[str, Passage]]:
        """`{passage id: (item id, passage)}`."""
        rows = self._db.execute("SELECT id, item_id, seq, page, section, text FROM passages "
                                "WHERE id = ANY(%s::bigint[]) ORDER BY id", [_ids(passage_ids)])
        return {r[0]: (r[1], Passage(text=r[5], page=r[3], seq=r[2], section=r[4])) for r in rows}

    def first_passages(self, item_ids: list[str]) -> dict[str, Passage]:
        """Each item's first passage (for browsing, where no passage is better than another)."""
        rows = self._db.execute(
            "SELECT item_id, seq, page, section, text FROM passages WHERE id IN (SELECT min(id) FROM passages "
            "WHERE item_id = ANY(%s::text[]) GROUP BY item_id) ORDER BY id", [list(item_ids)])
        return {r[0]: Passage(text=r[4], page=r[2], seq=r[1], section=r[3]) for r in rows}

    def passage_ids_of(self, item_ids: list[str]) -> list[int]:
        rows = self._db.execute("SELECT id FROM passages WHERE item_id = ANY(%s::text[]) ORDER BY item_id, id",
                                [list(item_ids)])
        return [r[0] for r in rows]

    # -- what the in-process indexes are built from -------------------------------------------

    def published_items(self) -> list[tuple[str, int | None, int | None]]:
        """(id, start year, end year) of the searchable items, in browse (title) order."""
        # SQLite's NOCASE: A-Z folded to a-z (lower() of a "C" text folds ASCII letters only), then bytes.
        return self._db.execute("SELECT id, start_year, end_year FROM items WHERE status = 'published' "
                                "ORDER BY lower(title), id").fetchall()

    def facet_pairs(self, facet: str) -> list[tuple[str, str]]:
        return self._db.execute("SELECT item_id, value FROM item_facets WHERE facet = %s ORDER BY value, id",
                                [facet]).fetchall()

    def published_passages(self) -> list[tuple[int, str, int]]:
        """(passage id, item id, length in tokens) of the searchable passages, by passage id."""
        return self._db.execute(f"SELECT id, item_id, tokens FROM passages WHERE item_id IN ({PUBLISHED}) ORDER BY id",
                                binary=True).fetchall()

    def browse_keys(self, ids: list[str]) -> dict[str, str]:
        """Each listed item's title as browse order compares it (ASCII letters folded; then bytes)."""
        return dict(self._db.execute("SELECT id, lower(title) FROM items WHERE id = ANY(%s::text[])", [list(ids)]))

    def published_items_of(self, ids: list[str]) -> list[tuple[str, int | None, int | None]]:
        """`published_items` of the listed items only (in no particular order)."""
        return self._db.execute("SELECT id, start_year, end_year FROM items WHERE status = 'published' "
                                "AND id = ANY(%s::text[])", [list(ids)]).fetchall()

    def facet_pairs_of(self, ids: list[str]) -> list[tuple[str, str, str]]:
        """(item id, facet, value) of the listed items."""
        return self._db.execute("SELECT item_id, facet, value FROM item_facets WHERE item_id = ANY(%s::text[]) "
                                "ORDER BY id", [list(ids)]).fetchall()

    def published_passages_of(self, ids: list[str]) -> list[tuple[int, str, int]]:
        """`published_passages` of the listed items only."""
        return self._db.execute("SELECT p.id, p.item_id, p.tokens FROM passages p JOIN items i ON i.id = p.item_id "
                                "WHERE i.status = 'published' AND p.item_id = ANY(%s::text[]) ORDER BY p.id",
                                [list(ids)]).fetchall()

    def passage_texts(self) -> list[tuple[str, str, str]]:
        """(hash, context, text) of every passage, as the model sees them."""
        return self._db.execute("SELECT hash, title, text FROM passages ORDER BY id").fetchall()

    # -- statistics ---------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        def one(sql: str) -> Any:
            return self._db.execute(sql).fetchone()[0]

        kinds = dict(self._db.execute(f"SELECT kind, count(*) FROM items WHERE id IN ({PUBLISHED}) GROUP BY kind "
                                      "ORDER BY kind").fetchall())
        return {
            "items": one(f"SELECT count(*) FROM ({PUBLISHED}) AS published"),
            "by_kind": kinds,
            "unpublished": one("SELECT count(*) FROM items WHERE status <> 'published'"),
            "passages": one(f"SELECT count(*) FROM passages WHERE item_id IN ({PUBLISHED})"),
            "files": one("SELECT count(*) FROM files"),
            "territories": one("SELECT count(DISTINCT value) FROM item_facets WHERE facet = 'territory' "
                               f"AND item_id IN ({PUBLISHED})"),
            "generation": self.generation,
        }
