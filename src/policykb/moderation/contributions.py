"""Contributions and moderation: submit, check (facet suggestions, duplicates), status, queue,
edit, approve (published at once), reject — every moderator action in the audit log; the actions
on published items (unpublish, history, restore, purge) are in `moderation/items.py`."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policykb.errors import Conflict, InvalidRecord, NotFound, RateLimited
from policykb.ingest.documents import DOCUMENT_SUFFIXES, Document, Section
from policykb.ingest.sandbox import UploadLimits, parse_upload
from policykb.ingest.loader import chunker_for, document_item
from policykb.ingest.pipeline import publish
from policykb.ingest.records import record_to_item, slugify
from policykb.moderation.duplicates import DUPLICATE_SIMILARITY, pending_duplicates
from policykb.moderation.files import published_copies, safe_name
from policykb.moderation.items import ItemModeration
from policykb.moderation.rules import actor_name, reason_text, record_changes
from policykb.models import Item, embed_text
from policykb.search.suggest import HIGH_CONFIDENCE, vote
from policykb.language.text import normalise
from policykb.language.safety import clean_record, clean_text

if TYPE_CHECKING:
    from policykb.backends.backend import Backend

SUGGESTED_FACETS = ("challenge", "theme", "support", "typology", "level")
NEIGHBOURS = 10
CONTRIBUTOR = "contributor"
CHECK_PREFIX = "check:"  # checks are counted beside submissions, each client's under its own key
KEPT_ATTEMPTS = timedelta(hours=1)  # the longest window of a rate limit


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Contributions(ItemModeration):
    """The contribution desk of one knowledge base (uploads live under `<home>/uploads/`)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.store = backend.store
        self.uploads = backend.home / "uploads"
        self._parsed: dict[str, Document] = {}  # sha256 of an upload -> its parsed document

    def _parse(self, document: tuple[str, bytes]) -> Document:
        """An uploaded document, read in a bounded child process (the file is hostile until read),
        once per desk even when checks and the item both need it."""
        key = hashlib.sha256(document[1]).hexdigest() + safe_name(document[0])
        if key not in self._parsed:
            settings = self.backend.settings
            limits = UploadLimits(settings.max_upload_pages, settings.max_upload_chars, settings.upload_parse_seconds)
            self._parsed[key] = parse_upload(safe_name(document[0]), document[1], limits)
        return self._parsed[key]

    # -- contributors -------------------------------------------------------------------------

    def check(self, record: dict[str, Any], document: tuple[str, bytes] | None = None) -> dict[str, Any]:
        """Facet suggestions from similar published items and possible duplicates (nothing is saved)."""
        text = " ".join(str(record.get(k) or "") for k in ("summary", "description")).strip()
        if document is not None:
            doc = self._parse(document)
            text = (text + " " + " ".join(s.text for s in doc.sections))[:4000].strip()
        text, title = normalise(text), normalise(str(record.get("title") or "")).strip()
        if not (title or text):
            return {"suggestions": {}, "duplicates": []}
        from policykb.search.searcher import Searcher

        searcher = Searcher(self.backend)
        nearest = searcher.nearest_passages(embed_text(title, text or title), NEIGHBOURS)
        neighbours = [(i, s) for i, s, _ in nearest]
        # a draft close to nothing published gets no suggestions: the shares of its neighbours'
        # votes said "high" for values of items 0.14 away ("Valid title here")
        cut = searcher.cutoff
        near = max((s for _, s in neighbours), default=-1.0) >= min(cut.floor, cut.cross_floor or cut.floor)
        same_title = {i for i, _ in self.store.items_with_title(title)} if title else set()
        same_file = published_copies(self.store, document[1], [i for i, _ in neighbours]) if document else set()
        exact = same_title | same_file  # (duplicates whatever their passages' similarity)
        matched = {i: (s, p) for i, s, p in nearest if s >= DUPLICATE_SIMILARITY or i in exact}
        duplicates = {i: max(matched.get(i, (0.0, 0))[0], 1.0 if i in exact else 0.0) for i in exact | set(matched)}
        items = self.store.get_items([i for i, _ in neighbours] + list(duplicates))
        passages = self.store.passages_by_id([p for _, p in matched.values()])
        return {
            "suggestions": self._suggest(record, neighbours, items) if near else {},
            "duplicates": [self._duplicate(i, s, items[i], "the same document" if i in same_file else
                                           "same title" if i in same_title else None,
                                           passages.get(matched.get(i, (0, -1))[1]))
                           for i, s in sorted(duplicates.items(), key=lambda kv: -kv[1]) if i in items],
        }

    @staticmethod
    def _duplicate(item_id: str, similarity: float, item: Item, reason: str | None,
                   passage: tuple[str, Any] | None) -> dict[str, Any]:
        """A possible duplicate with why it is one: the same document or title, or a passage close
        in meaning."""
        why = reason or f"a passage {similarity:.0%} similar in meaning"
        match = passage[1] if passage else None
        return {"id": item_id, "title": item.title, "similarity": round(similarity, 3), "why": why,
                "passage": match.text[:400] if match else None, "page": match.page if match else None}

    def _suggest(self, record: dict[str, Any], neighbours: list[tuple[str, float]],
                 items: dict[str, Item]) -> dict[str, list[dict[str, Any]]]:
        taxonomy = self.backend.taxonomy
        out: dict[str, list[dict[str, Any]]] = {}
        for facet in SUGGESTED_FACETS:
            given = set()
            for key in (facet, taxonomy.facet(facet).record_key):
                raw = record.get(key)
                given |= {str(v) for v in (raw if isinstance(raw, list) else [raw] if raw else [])}
            values_of = {i: item.facets.get(facet, []) for i, item in items.items()}
            ranked = vote(neighbours, values_of, given=given)
            if ranked:
                out[facet] = [{"value": v, "label": taxonomy.label(facet, v), "score": round(s, 3),
                               "confidence": "high" if s >= HIGH_CONFIDENCE else "low"} for v, s in ranked]
        return out

    def reserve(self, client: str) -> None:
        """Count a submission attempt against the client's hourly limit, before anything of it is
        read: counting and recording are one write, so parallel attempts cannot all pass the count,
        and an attempt that fails later (a hostile upload, an invalid record) still counts."""
        limit = self.backend.settings.contributions_per_hour
        self._count_attempt(client, limit, timedelta(hours=1), f"at most {limit} contributions per hour from one "
                            "client (attempts that were refused count too); try again later")

    def reserve_check(self, client: str) -> None:
        """Count a check of a draft (it embeds text) against the client's limit per minute, as
        `reserve` counts submissions (apart from them: a check never uses up a submission)."""
        limit = self.backend.settings.checks_per_minute
        self._count_attempt(CHECK_PREFIX + client, limit, timedelta(minutes=1),
                            f"at most {limit} checks per minute from one client; try again in a moment")

    def _count_attempt(self, key: str, limit: int, window: timedelta, message: str) -> None:
        """Record an attempt under `key`, or raise RateLimited (with `retry_after`, the seconds
        until the oldest attempt in the window expires) when `limit` were made within `window`.
        Attempts are kept for an hour, the longest window."""
        now = datetime.now(timezone.utc)
        since = (now - window).isoformat(timespec="microseconds")
        with self.store.transaction():
            count, oldest = self.store.submissions_since(key, since)
            if count >= limit:
                free_at = datetime.fromisoformat(oldest) + window if oldest else now
                retry = max(1, int((free_at - now).total_seconds()) + 1)
                raise RateLimited(message, {"retry_after": min(retry, int(window.total_seconds()))})
            self.store.add_submission(key, now.isoformat(timespec="microseconds"),
                                      forget_before=(now - KEPT_ATTEMPTS).isoformat(timespec="microseconds"))

    def submit(self, record: dict[str, Any], document: tuple[str, bytes] | None, client: str,
               reserved: bool = False) -> dict[str, Any]:
        """Validate and queue a contribution; returns its id and the private token for its status.
        The attempt is counted against the client's rate limit first, unless the caller did
        (`reserved`: the API counts it before reading the request)."""
        if not reserved:
            self.reserve(client)
        record = {k: v for k, v in clean_record(record).items() if v not in (None, "", []) and k != "id"}
        record.setdefault("kind", "example" if document is None else "document")
        record["id"] = self._new_id(record)
        warnings: list[str] = []
        item = self._build_item(record, document, source="contribution", warnings=warnings)  # raises if invalid
        checks = self.check(record, document)
        contribution_id = "c-" + secrets.token_hex(6)
        token = secrets.token_urlsafe(24)
        file_name = file_path = None
        if document is not None:
            file_name = safe_name(document[0])
            folder = self.uploads / contribution_id
            folder.mkdir(parents=True, exist_ok=True)
            (folder / file_name).write_bytes(document[1])
            file_path = str(folder / file_name)
        with self.store.transaction():
            self.store.add_contribution(contribution_id, _hash_token(token), record, file_name, file_path, client, checks)
            self.store.audit(CONTRIBUTOR, "submit", contribution_id, after=record, note=item.title)
        return {"id": contribution_id, "token": token, "status": "pending", **checks, "warnings": warnings}

    def _new_id(self, record: dict[str, Any]) -> str:
        """A fresh item id for a contribution: its title's slug and a random suffix, so that no
        answer tells a contributor whether some (perhaps hidden) item already has an id."""
        base = slugify(str(record.get("title") or "contribution"))[:80].rstrip("-") or "contribution"
        taken = self.store.pending_ids()
        while True:
            candidate = f"{base}-{secrets.token_hex(3)}"
            if candidate not in taken and not self.store.item_sources([candidate]):
                return candidate

    def _free_id(self, record: dict[str, Any]) -> str:
        """A moderator's chosen id, if no item or pending contribution has it (moderators may know)."""
        wanted = str(record.get("id") or "")
        if not wanted:
            return self._new_id(record)
        if self.store.item_sources([wanted]) or wanted in self.store.pending_ids():
            raise Conflict(f"id {wanted!r} is already used; leave id empty to get a free one", {"id": wanted})
        return wanted

    def _build_item(self, record: dict[str, Any], document: tuple[str, bytes] | None, source: str,
                    warnings: list[str] | None = None) -> Item:
        """The item a contribution makes (raises if invalid); what was read but not used (a
        document's front-matter keys that are not fields) is added to `warnings`."""
        if document is None:
            item = record_to_item(record, source, self.backend.taxonomy)
            body = "\n\n".join(t for t in (item.summary, item.description) if t) or item.title
            item.passages = chunker_for(self.backend.embedder, self.backend.settings).passages(item.title, [Section(body)])
            return item
        name = safe_name(document[0])
        if Path(name).suffix not in DOCUMENT_SUFFIXES:
            raise InvalidRecord(f"unsupported file type {Path(name).suffix or '(none)'}; send PDF, Markdown, "
                                "text or HTML", {"file": name})
        item, notes = document_item(Path(name), document[1], source, self.backend.taxonomy, chunker_for(self.backend.embedder, self.backend.settings), record,
                                    self._parse(document))
        if warnings is not None:
            warnings += notes
        return item

    def status(self, contribution_id: str, token: str) -> dict[str, Any]:
        """A contribution's status for its contributor. An unknown id and a wrong token get the same
        answer (a 403 for a wrong token told that the id exists)."""
        found = self.store.contribution(contribution_id)
        expected = found["token_hash"] if found is not None else _hash_token(secrets.token_hex(16))
        if not secrets.compare_digest(expected, _hash_token(token or "")) or found is None:
            raise NotFound(f"no contribution {contribution_id!r} with this token", {"id": contribution_id})
        return {"title": str(found["record"].get("title") or ""),
                **{k: found[k] for k in ("id", "status", "reason", "item_id", "submitted_at", "updated_at")}}

    # -- moderators ---------------------------------------------------------------------------

    def queue(self, status: str | None = "pending", limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """Contributions, oldest first. A pending one's duplicates are those of its submission (of
        published items) and the other pending contributions with the same document or title (made
        for the whole page at once, without the model: its view also names those close in meaning)."""
        total, rows = self.store.contributions(status, limit, offset)
        pending = pending_duplicates(self.backend, [c for c in rows if c["status"] == "pending"], meaning=False)
        items = [self._public(c) for c in rows]
        for c in items:
            if c["id"] in pending:
                c["checks"] = {**c["checks"], "duplicates": [*c["checks"].get("duplicates", []), *pending[c["id"]]]}
        return {"total": total, "items": items}

    def view(self, contribution_id: str) -> dict[str, Any]:
        """A contribution for moderators: its record, checks, history, and (once approved) whether
        its item is published now. A pending contribution's checks are made now, against the items
        published now and the other pending contributions (those of its submission went stale as
        soon as anything was approved)."""
        stored = self._get(contribution_id)
        found = self._public(stored)
        if found["status"] == "pending":
            checks = self.check(found["record"], self._document(stored))
            pending = pending_duplicates(self.backend, [stored])[contribution_id]
            found["checks"] = {**checks, "duplicates": checks["duplicates"] + pending}
        item_status = self.store.item_status(found["item_id"]) if found.get("item_id") else None
        return {**found, "item_status": item_status, "audit": self._titled(self.store.audit_log(contribution_id))}

    def document_path(self, contribution_id: str) -> tuple[Path, str]:
        """Where a contribution's uploaded document is, and its file name."""
        found = self._get(contribution_id)
        if not found["file_path"] or not Path(found["file_path"]).is_file():
            raise NotFound(f"contribution {contribution_id!r} has no document", {"id": contribution_id})
        return Path(found["file_path"]), found["file_name"]

    def edit(self, contribution_id: str, changes: dict[str, Any], actor: str) -> dict[str, Any]:
        actor = actor_name(actor)
        found = self._get(contribution_id, "pending")
        record = {**found["record"], **clean_record(record_changes(changes))}
        record = {k: v for k, v in record.items() if v not in (None, "", [])}
        if record.get("id") != found["record"].get("id"):
            record["id"] = self._free_id(record)
        document = self._document(found)
        self._build_item(record, document, source="contribution")
        checks = self.check(record, document)
        with self.store.transaction():
            if not self.store.update_contribution(contribution_id, "pending", found["record"], record=record,
                                                  checks=checks):
                self._changed_meanwhile(contribution_id)
            self.store.audit(actor, "edit", contribution_id, before=found["record"], after=record)
        return self.view(contribution_id)

    def approve(self, contribution_id: str, actor: str) -> dict[str, Any]:
        """Publish the contribution as an item: searchable at once, no rebuild."""
        actor = actor_name(actor)
        found = self._get(contribution_id, "pending")
        record = found["record"]
        source = found["file_path"] or f"contribution:{contribution_id}"
        item = self._build_item(record, self._document(found), source)

        def still_free() -> None:  # under the write lock: another moderator or an ingest may have acted
            self._get(contribution_id, "pending")
            if self.store.item_sources([record["id"]]):
                raise Conflict(f"id {record['id']!r} was taken meanwhile; edit the contribution's id first")

        def record_approval() -> None:  # in the write that publishes the item: all or nothing
            if not self.store.update_contribution(contribution_id, "pending", record, status="approved",
                                                  item_id=item.id, reason=None):
                self._changed_meanwhile(contribution_id)  # an edit came first: publish nothing
            self.store.audit(actor, "approve", contribution_id, before={"status": "pending"},
                             after={"status": "approved", "item_id": item.id})

        publish(self.backend, [item], first=still_free, then=record_approval)
        return self.view(contribution_id)

    def reject(self, contribution_id: str, reason: str, actor: str) -> dict[str, Any]:
        actor, reason = actor_name(actor), clean_text(reason_text(reason))
        if not reason.strip():
            raise InvalidRecord("a rejection needs a reason the contributor can read")
        self._get(contribution_id, "pending")
        with self.store.transaction():
            if not self.store.update_contribution(contribution_id, "pending", status="rejected", reason=reason.strip()):
                self._changed_meanwhile(contribution_id)
            self.store.audit(actor, "reject", contribution_id, before={"status": "pending"},
                             after={"status": "rejected"}, note=reason.strip())
        return self.view(contribution_id)

    def audit_log(self, target: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Who did what, newest first; each entry with the title of what it was done to. A target
        that no contribution, item (kept versions and purged items included) or entry has is not
        found (an empty answer looked like an item nobody moderated)."""
        entries = self.store.audit_log(target, limit)
        if target is not None and not entries and self.store.contribution(target) is None \
                and self.store.item_status(target) is None and not self.store.item_history(target):
            raise NotFound(f"no contribution, item or audit entry has the id {target!r}", {"id": target})
        return self._titled(entries)

    def _titled(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        titles: dict[str, str] = {}
        for target in {e["target"] for e in entries}:
            found = self.store.contribution(target) if target.startswith("c-") else None
            if found is not None:
                titles[target] = str(found["record"].get("title") or "")
            else:
                item = self.store.get_items([target]).get(target)
                titles[target] = item.title if item else ""
        return [{**e, "title": titles.get(e["target"], "")} for e in entries]

    # -- helpers ------------------------------------------------------------------------------

    def _get(self, contribution_id: str, status: str | None = None) -> dict[str, Any]:
        found = self.store.contribution(contribution_id)
        if found is None:
            raise NotFound(f"no contribution {contribution_id!r}", {"id": contribution_id})
        if status and found["status"] != status:
            raise Conflict(f"contribution {contribution_id!r} is {found['status']}, not {status}",
                           {"status": found["status"]})
        return found

    def _changed_meanwhile(self, contribution_id: str) -> None:
        """Raise the 409 of a moderator whose change lost to another one (the transaction rolls back)."""
        now = self._get(contribution_id)
        raise Conflict(f"contribution {contribution_id!r} was changed by someone else meanwhile (it is "
                       f"{now['status']} now); look at it again before acting", {"status": now["status"]})

    @staticmethod
    def _document(found: dict[str, Any]) -> tuple[str, bytes] | None:
        if not found["file_path"]:
            return None
        return found["file_name"], Path(found["file_path"]).read_bytes()

    @staticmethod
    def _public(found: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in found.items() if k not in ("token_hash", "file_path")}

