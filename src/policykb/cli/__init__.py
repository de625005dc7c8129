"""The `policykb` command line: each command a thin wrapper over one `KnowledgeBase` method."""
