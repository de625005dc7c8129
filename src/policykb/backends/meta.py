"""The knowledge base's generation, kept by each store in its meta table (`get_meta`/`set_meta`, each
store's own SQL): it moves on with every committed change, and the in-process indexes are rebuilt
whenever it differs from theirs."""

from __future__ import annotations

from typing import Callable


class GenerationMixin:
    get_meta: Callable[[str], str | None]
    set_meta: Callable[[str, str], None]

    @property
    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    def bump_generation(self) -> int:
        generation = self.generation + 1
        self.set_meta("generation", str(generation))
        return generation

    def set_generation(self, generation: int) -> None:
        self.set_meta("generation", str(generation))
