"""Contributions and moderation: the queue, the checks, moderators' actions on items."""
