"""Searching a knowledge base: result sets, ranking, languages, the passage that answers, evaluation."""
