"""The knowledge base's generation, kept by each store in its meta table (`get_meta`/`set_meta`, each
store's own SQL): it moves on with every committed change, and the in-process indexes follow it.
Beside it, the change each recent generation made to the searchable passages and the items it
changed (`record_change`), so that a process whose indexes are a few generations behind (another
process or server wrote, or this one) catches up by those changes instead of rebuilding from
every stored vector and every item."""

from __future__ import annotations

import json
import secrets
from contextlib import AbstractContextManager
from typing import Callable

KEPT_CHANGES = 64  # generations whose change is remembered; an index further behind is rebuilt


class GenerationMixin:
    get_meta: Callable[[str], str | None]
    set_meta: Callable[[str, str], None]
    delete_meta: Callable[[str], None]

    transaction: Callable[[], AbstractContextManager[None]]

    def store_id(self) -> str:
        """This store's own random id, made once (a copy gets its own): index files saved for one
        store are never taken for another's (`Backend` keeps it beside them)."""
        found = self.get_meta("store_id")
        if found is None:
            with self.transaction():
                found = self.get_meta("store_id")  # another process may have made it meanwhile
                if found is None:
                    found = secrets.token_hex(8)
                    self.set_meta("store_id", found)
        return found

    @property
    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    def bump_generation(self) -> int:
        generation = self.generation + 1
        self.set_meta("generation", str(generation))
        return generation

    def set_generation(self, generation: int) -> None:
        self.set_meta("generation", str(generation))

    def touch_items(self, *item_ids: str) -> None:
        """Note items a write changes (row, facets, passages or status: each store's item writes
        call it), for the next `record_change` (the facet index follows them). A write rolled back
        leaves its ids for the next one: an item noted for nothing is only read again."""
        self.__dict__.setdefault("_touched_items", set()).update(item_ids)

    def record_change(self, generation: int, removed: list[int], added: list[int]) -> None:
        """What `generation` did to the searchable passages and which items it changed (inside the
        write that made it); the change of the generation `KEPT_CHANGES` before it is forgotten."""
        items = sorted(self.__dict__.pop("_touched_items", set()))
        self.set_meta(f"change:{generation}", json.dumps({"removed": sorted(set(removed)), "added": sorted(set(added)),
                                                           "items": items}))
        self.delete_meta(f"change:{generation - KEPT_CHANGES}")

    def items_changed_between(self, since: int, until: int) -> set[str] | None:
        """The items changed from generation `since` to `until`, or None unless each generation in
        between recorded them."""
        if not 0 <= since < until or until - since > KEPT_CHANGES:
            return None
        items: set[str] = set()
        for generation in range(since + 1, until + 1):
            raw = self.get_meta(f"change:{generation}")
            change = json.loads(raw) if raw is not None else {}
            if "items" not in change:  # (not recorded, or recorded before items were)
                return None
            items.update(change["items"])
        return items

    def changes_between(self, since: int, until: int) -> tuple[list[int], list[int]] | None:
        """From generation `since` to `until`: (every passage id touched, those searchable at
        `until`), or None unless each generation in between recorded its change (a reindex, a
        restore or a copy records none: their indexes are rebuilt)."""
        if not 0 <= since < until or until - since > KEPT_CHANGES:
            return None
        present: dict[int, bool] = {}
        for generation in range(since + 1, until + 1):
            raw = self.get_meta(f"change:{generation}")
            if raw is None:
                return None
            change = json.loads(raw)
            present.update(dict.fromkeys(change["removed"], False))
            present.update(dict.fromkeys(change["added"], True))  # within one generation: removed, then added
        return sorted(present), sorted(p for p, there in present.items() if there)
