"""policykb: semantic search and policy-toolkit knowledge base for cluster and innovation policy."""

__version__ = "0.1.0"
