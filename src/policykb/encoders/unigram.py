"""A SentencePiece unigram tokenizer in plain Python, for multilingual-e5-small's 250,002 pieces.

It gives the ids the `tokenizers` library gives with `models.Unigram(pieces, unk_id,
byte_fallback=False)` behind a `Metaspace("▁", prepend_scheme="always", split=True)`
pre-tokenizer (tests/test_encoders.py compares the two), in a fraction of the memory and load time:
that library's byte trie of the pieces holds ~280 MB and takes a second to build, where a dict of
the pieces takes ~40 MB and a tenth of that.

How it reads a text, as the library does: spaces become "▁", one is put in front, and the text is
cut before each "▁" into words; each word is cut into the pieces whose scores add up best
(Viterbi; on a tie, the path found first, since only a strictly better score replaces one), with a
character no piece starts with as the unknown piece (its score: the lowest piece's minus 10); unknown
characters next to each other make one unknown token.
"""

from __future__ import annotations

from dataclasses import dataclass

SPACE = "\u2581"
UNK_PENALTY = 10.0
CACHE_WORDS = 100_000  # words remembered with their ids (the cache is emptied when full)


@dataclass
class Encoding:
    """What `encode` returns (the attribute E5Inputs reads, as from the library's Encoding)."""

    ids: list[int]


class UnigramTokenizer:
    def __init__(self, pieces: list[str], scores: list[float], unk_id: int) -> None:
        self.piece_ids = dict(zip(pieces, range(len(pieces))))  # a piece listed twice: its last id
        self.scores = list(map(float, scores))
        self.unk_id = unk_id
        self.unk_score = min(self.scores) - UNK_PENALTY
        self.longest = max(map(len, pieces))
        self._cache: dict[str, list[int]] = {}

    def encode(self, text: str, add_special_tokens: bool = False) -> Encoding:
        ids: list[int] = []
        for word in words(text):
            ids += self.word_ids(word)
        return Encoding(ids)

    def word_ids(self, word: str) -> list[int]:
        ids = self._cache.get(word)
        if ids is None:
            ids = [self.piece_ids.get(token, self.unk_id) for token in self.pieces_of(word)]
            if len(self._cache) >= CACHE_WORDS:
                self._cache.clear()
            self._cache[word] = ids
        return ids

    def pieces_of(self, word: str) -> list[str]:
        """The best-scoring cut of one word into pieces, runs of unknown characters joined."""
        n = len(word)
        piece_ids, scores, unk_id = self.piece_ids, self.scores, self.unk_id
        best = [0.0] * (n + 1)
        start = [-1] * (n + 1)  # where the best path to each end begins (-1: none yet)
        token = [unk_id] * (n + 1)
        for i in range(n):
            here = best[i]
            single = False
            for j in range(i + 1, min(n, i + self.longest) + 1):
                piece = piece_ids.get(word[i:j])
                if piece is None:
                    continue
                score = scores[piece] + here
                if start[j] < 0 or score > best[j]:
                    best[j], start[j], token[j] = score, i, piece
                single = single or j == i + 1
            if not single:
                score = self.unk_score + here
                if start[i + 1] < 0 or score > best[i + 1]:
                    best[i + 1], start[i + 1], token[i + 1] = score, i, unk_id
        out: list[str] = []
        unknown: list[str] = []
        end = n
        while end > 0:
            begin = start[end]
            if token[end] == unk_id:
                unknown.append(word[begin:end])
            else:
                if unknown:
                    out.append("".join(reversed(unknown)))
                    unknown = []
                out.append(word[begin:end])
            end = begin
        if unknown:
            out.append("".join(reversed(unknown)))
        out.reverse()
        return out


def words(text: str) -> list[str]:
    """The Metaspace pre-tokenizer: spaces as "▁", one in front, cut before each "▁"."""
    text = text.replace(" ", SPACE)
    if not text.startswith(SPACE):
        text = SPACE + text
    return [SPACE + part for part in text.split(SPACE)[1:]]
