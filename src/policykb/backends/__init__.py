"""Where a knowledge base keeps and searches its items: one interface, an embedded and a PostgreSQL implementation."""
