"""Moderators' actions on published items: hide or show again, the versions an item's changes
replaced (with who replaced each), restore an earlier version, purge for good; each audited."""

from __future__ import annotations

import shutil
from datetime import datetime
from typing import TYPE_CHECKING, Any

from policykb.errors import Conflict, NotFound
from policykb.ingest.pipeline import publish
from policykb.language.safety import clean_text
from policykb.moderation.rules import actor_name, reason_text

if TYPE_CHECKING:
    from pathlib import Path

    from policykb.backends.backend import Backend
    from policykb.backends.embedded.store import Store


class ItemModeration:
    """For `Contributions` (which holds the backend and its store)."""

    backend: Backend
    store: Store
    uploads: Path  # where contributed documents live, one folder per contribution

    def unpublish(self, item_id: str, reason: str, actor: str, publish_again: bool = False) -> dict[str, Any]:
        """Hide a published item from search (or show it again), recorded in the audit log. An item
        that has the status already is refused (409), nothing written (each repeat wrote one more
        audit entry); the status is read in the write that would change it, so a race cannot pass."""
        actor, reason = actor_name(actor), clean_text(reason_text(reason))
        unchanged: list[str] = []

        def audit(before: str, after: str) -> None:  # in the same transaction as the change
            if before == after:
                unchanged.append(after)
                return
            self.store.audit(actor, "publish" if publish_again else "unpublish", item_id,
                             before={"status": before}, after={"status": after}, note=reason or None)

        self.backend.set_published(item_id, publish_again, then=audit)
        if unchanged:  # (raised once the write is over: it wrote nothing, and the indexes stay loaded)
            raise Conflict(f"item {item_id!r} is already {unchanged[0]}: nothing to "
                           f"{'publish' if publish_again else 'unpublish'}", {"id": item_id, "status": unchanged[0]})
        return {"id": item_id, "status": self.store.item_status(item_id)}

    def history(self, item_id: str) -> dict[str, Any]:
        """An item's status now and the versions its changes replaced, newest first; each says who
        replaced it (`by`: the moderator from the audit log, or "ingest" for a file that changed)."""
        versions = self.store.item_history(item_id)
        status = self.store.item_status(item_id)
        if status is None and not versions:
            raise NotFound(f"no item with id {item_id!r}", {"id": item_id})
        log = self.store.audit_log(item_id, limit=10_000)
        # The audit entry written in the same transaction as a version (time stamps to the second):
        # each entry names one version at most, the closest pairs first, so that an ingest's update a
        # second before a restore is not the restorer's too.
        at_second: dict[int, list[int]] = {}
        for m, entry in enumerate(log):
            at_second.setdefault(_epoch(entry["at"]), []).append(m)
        pairs = sorted((abs(second - t), n, m) for n, v in enumerate(versions)
                       for t in [_epoch(v["replaced_at"])] for second in range(t - 2, t + 3)
                       for m in at_second.get(second, ()) if log[m]["action"] in ACTIONS.get(v["replaced_by"], ()))
        actor: dict[int, str] = {}
        used: set[int] = set()
        for _, n, m in pairs:
            if n not in actor and m not in used:
                actor[n] = log[m]["actor"]
                used.add(m)
        for n, version in enumerate(versions):
            version["by"] = actor.get(n) or ("ingest" if version["replaced_by"] in ("update", "remove") else "")
        return {"id": item_id, "status": status or "removed", "versions": versions}

    def restore(self, item_id: str, version: int, actor: str, reason: str = "") -> dict[str, Any]:
        """Make an earlier version the item's content again (the current one is kept as a version;
        the status stays, or is published for an item that was removed); audited."""
        actor, reason = actor_name(actor), clean_text(reason_text(reason))
        found = self.store.item_version(item_id, version)
        if found is None:
            raise NotFound(f"item {item_id!r} has no version {version}", {"id": item_id, "version": version})
        item = found[0]
        current = self.store.item_sources([item_id]).get(item_id)
        if current is not None and current[0] == item.content_hash():  # (each such restore kept one more
            # identical version, and said "restored")
            raise Conflict(f"version {version} of {item_id!r} is its content already: nothing to restore",
                           {"id": item_id, "version": version})

        def audit() -> None:
            self.store.audit(actor, "restore", item_id, after={"version": version}, note=reason or None)

        publish(self.backend, [item], then=audit)
        return self.history(item_id)

    def purge(self, item_id: str, actor: str, reason: str = "") -> dict[str, Any]:
        """Delete an item and every kept version of it for real (the one deletion that is); audited.
        An item of an ingested file leaves its file's list of items, and is remembered as purged:
        ingest skips its record (and says so) until the record changes. The contributions that made
        it lose their content too, and their uploaded documents are deleted (they stayed, served to
        moderators: for illegal or personal content, purging is the step that must remove it)."""
        actor, reason = actor_name(actor), clean_text(reason_text(reason))
        history = self.history(item_id)  # raises NotFound
        with self.backend.writing() as change:
            if self.store.item_status(item_id) is not None:
                content_hash, source = self.store.item_sources([item_id])[item_id]
                if self.store.file_record(source) is not None:  # an ingested file still holds its record
                    self.store.drop_from_file(source, item_id)
                    self.store.remember_purge(item_id, source, content_hash)
                change.removed += self.store.delete_item(item_id, keep=None)
                change.changed = True
            versions = self.store.purge_versions(item_id)
            contributions = self.store.forget_contributions(item_id)
            self.store.audit(actor, "purge", item_id, before={"status": history["status"], "versions": versions,
                                                               "contributions": [c for c, _ in contributions]},
                             note=reason or None)
        for contribution_id, _ in contributions:  # (after the commit: a failed purge keeps its files)
            folder = (self.uploads / contribution_id).resolve()
            if folder.parent == self.uploads.resolve() and folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
        return {"id": item_id, "purged_versions": versions, "purged_contributions": len(contributions)}


# What the audit calls the change that kept a version, by the version's `replaced_by`.
ACTIONS = {"update": ("restore",), "publish": ("publish",), "unpublish": ("unpublish",)}


def _epoch(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp())
