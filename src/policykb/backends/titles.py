"""The published items by title, as duplicate checks compare titles (`title_key`: case-folded, spacing
collapsed, Unicode NFKC), for both stores alike. SQL cannot compare them so (SQLite's lower() folds
A-Z only, and neither database folds like Python), so a store reads its published titles once per
generation of the knowledge base and looks a title up in memory after that. No SQL here: each store
gives its own rows."""

from __future__ import annotations

from typing import Callable, Iterable

from policykb.language.text import title_key


class PublishedTitles:
    """`(id, title)` of the published items by `title_key`, remade when the generation moves (every
    write of an item or of its status moves it, in the transaction that made the change)."""

    def __init__(self) -> None:
        self._made: tuple[int, dict[str, list[tuple[str, str]]]] | None = None

    def find(self, title: str, generation: int, rows: Callable[[], Iterable[tuple[str, str]]],
             keep: bool = True) -> list[tuple[str, str]]:
        """The published items titled `title` (by `title_key`), by id. `generation` and `rows` (the
        published items' `(id, title)`) are read from one committed state. Not `keep`: read inside a
        transaction (the stores cannot tell a write from a read one here; a write may have changed
        titles before it moves the generation), so the rows are compared without being kept, and
        without what is kept."""
        made = self._made
        if not keep or made is None or made[0] != generation:
            by_key: dict[str, list[tuple[str, str]]] = {}
            for item_id, item_title in rows():
                by_key.setdefault(title_key(item_title), []).append((item_id, item_title))
            made = (generation, by_key)
            if keep:
                self._made = made
        return sorted(made[1].get(title_key(title), []))
