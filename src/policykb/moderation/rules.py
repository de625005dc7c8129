"""What the moderation desk accepts from a moderator, whatever the interface (API, CLI, UI): a
name for the audit log and a reason of bounded length. The API's request models do not bound
them themselves, so that every interface refuses them with the same message."""

from __future__ import annotations

import unicodedata

from policykb.errors import InvalidRecord

MAX_REASON = 2000
MAX_ACTOR = 100
_NAME = "the moderator's name (recorded in the audit log)"


def actor_name(actor: str) -> str:
    """The moderator's name as the audit log keeps it (without surrounding spaces): not empty, at
    most MAX_ACTOR characters, no control, format (bidirectional, invisible) or separator
    characters other than the space."""
    name = (actor or "").strip()
    if not name:
        raise InvalidRecord(f"{_NAME} is empty")
    if len(name) > MAX_ACTOR:
        raise InvalidRecord(f"{_NAME} has {len(name)} characters; at most {MAX_ACTOR}", {"length": len(name)})
    if any(unicodedata.category(c)[0] == "C" or unicodedata.category(c) in ("Zl", "Zp") or (c.isspace() and c != " ")
           for c in name):
        raise InvalidRecord(f"{_NAME} holds a control character")
    return name


def reason_text(reason: str | None) -> str:
    """A moderator's reason, refused when longer than MAX_REASON characters (as given)."""
    reason = reason or ""
    if len(reason) > MAX_REASON:
        raise InvalidRecord(f"a reason has at most {MAX_REASON} characters (this one has {len(reason)})",
                            {"length": len(reason)})
    return reason


# The fields of a contribution's record (the record format), as a moderator may edit them.
FIELDS = ("title", "kind", "summary", "description", "country", "region", "level", "challenges", "themes", "support",
          "typology", "organisation", "start_year", "end_year", "links", "language", "id")
LIST_FIELDS = ("country", "challenges", "themes", "support", "links")


def record_changes(changes: dict[str, object]) -> dict[str, object]:
    """A moderator's changes to a contribution, refused when they name a field the record format
    does not have (it was kept in the record, unused)."""
    unknown = [key for key in changes if key not in FIELDS]
    if unknown:
        raise InvalidRecord(f"unknown field {str(unknown[0])[:100]!r}; a contribution's fields are {', '.join(FIELDS)}",
                            {"field": str(unknown[0])[:100]})
    return changes
