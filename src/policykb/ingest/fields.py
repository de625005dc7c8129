"""Field names as people write them, matched to the record format.

A column header or key is matched ignoring case, spaces, hyphens, underscores, camelCase, accents,
singular/plural and UK/US spelling ("Title", "Start year", "start-year", "startYear" and
"START_YEAR" are `start_year`; "Organization" is `organisation`; "Challenge" is `challenges`), and a
facet is also found by its name and its label in the taxonomy ("Territory", "Type of support").
Every other field is returned by name, so that the ingest report can say it was ignored.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from policykb.errors import InvalidRecord
from policykb.language.spelling import british
from policykb.taxonomy import Taxonomy
from policykb.language.text import fold, normalise

# The record format's fields (besides the facets).
SCALARS = ("id", "title", "summary", "description", "region", "organisation", "start_year", "end_year",
           "links", "url")
# Other names accepted for a facet's values, each read as it is (a record may give several).
ALIASES = {
    "territory": ("country", "countries", "territory", "territories"),
    "level": ("level", "territorial_level"),
    "challenge": ("challenges", "challenge", "strategic_challenges"),
    "theme": ("themes", "theme", "thematic_priorities"),
    "support": ("support", "support_types", "support_type"),
    "typology": ("typology", "type"),
    "kind": ("kind",),
    "language": ("language", "lang"),
}
# Fields that `policykb export` adds: read back without a word (they are made again from the rest).
EXPORTED = re.compile(r"^(?:rank|score|source|pages|status|[a-z_]+_label)$")


def field_key(name: Any) -> str:
    """A field name as a key: words of lower-case ASCII in British spelling, joined by "_"."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", normalise(str(name)))  # camelCase -> camel_Case
    return "_".join(british(w) for w in re.split(r"[^a-z0-9]+", fold(text)) if w)


@lru_cache(maxsize=8)
def _known(taxonomy: Taxonomy) -> dict[str, str]:
    """Every accepted key -> the field it is read as."""
    known = {key: key for key in SCALARS}
    for name in taxonomy.names:
        facet = taxonomy.facet(name)
        aliases = ALIASES.get(name, (name, facet.record_key))
        known.update({key: key for key in aliases})
        for other in (name, facet.record_key, field_key(facet.label)):
            known.setdefault(other, facet.record_key)
    known.setdefault("lang", "language")
    return known


def _lookup(key: str, known: dict[str, str]) -> str | None:
    """The field a key names, allowing a plural for a singular and the other way round."""
    for candidate in (key, key[:-3] + "y" if key.endswith("ies") else None, key[:-1] if key.endswith("s") else None,
                      key + "s", key[:-1] + "ies" if key.endswith("y") else None):
        if candidate and candidate in known:
            return known[candidate]
    return None


def record_fields(record: dict[Any, Any], taxonomy: Taxonomy) -> tuple[dict[str, Any], list[str]]:
    """The record keyed by the format's field names, and the keys it ignored (as written). Two keys
    for one field: facet values are merged; two different texts are an InvalidRecord."""
    known = _known(taxonomy)
    lists = {key for name in taxonomy.names for key in ALIASES.get(name, (name, taxonomy.facet(name).record_key))}
    lists |= {"links", "url"}
    out: dict[str, Any] = {}
    given: dict[str, Any] = {}  # field -> the key it came from
    ignored: list[str] = []
    for raw_key, value in record.items():
        key = field_key(raw_key)
        field = _lookup(key, known)
        if field is None:
            if not EXPORTED.match(key):
                ignored.append(str(raw_key))
            continue
        if field not in out or out[field] in (None, "", []):
            out[field], given[field] = value, raw_key
        elif value in (None, "", []) or value == out[field]:
            continue
        elif field in lists:
            out[field] = _listed(out[field]) + _listed(value)
        else:
            raise InvalidRecord(f"{given[field]!r} and {raw_key!r} both give the field {field}, with different "
                                "values; keep one")
    return out, ignored


def _listed(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    return [v for v in re.split(r"\s*;\s*", str(value)) if v.strip()]
