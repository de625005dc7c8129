"""Turning files into items: record files, documents, chunking into passages."""
