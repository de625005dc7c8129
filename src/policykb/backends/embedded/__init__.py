"""The embedded backend: one SQLite file (`Store`), FAISS indexes per model, BM25 and facets in numpy."""
