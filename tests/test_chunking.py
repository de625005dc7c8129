from policykb.ingest.chunking import chunk_text, split_sentences


def words(text: str) -> int:
    return len(text.split())


def test_split_sentences_and_paragraphs():
    assert split_sentences("One two. Three four!\n\nFive six") == ["One two.", "Three four!", "Five six"]


def test_chunks_respect_budget_and_overlap():
    text = " ".join(f"Sentence {i} has five words." for i in range(20))
    chunks = chunk_text(text, words, max_tokens=20, overlap=5)
    assert all(words(c) <= 20 for c in chunks)
    assert chunks[0] == " ".join(f"Sentence {i} has five words." for i in range(4))
    assert chunks[1].startswith("Sentence 3 has five words.")  # one sentence of overlap
    assert chunks[-1].endswith("Sentence 19 has five words.")


def test_long_sentence_is_cut_into_windows():
    chunks = chunk_text("word " * 45, words, max_tokens=20, overlap=5)
    assert [words(c) for c in chunks] == [19, 19, 7]


def test_empty_text_has_no_chunks():
    assert chunk_text("  \n\n ", words) == []
