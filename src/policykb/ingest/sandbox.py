"""Reading an untrusted document in a separate, bounded process.

A contributed file is parsed by a child process (`python -m policykb.ingest.sandbox`, at a lower
CPU priority than the API) with a wall-clock limit, a CPU-time limit and an address-space limit: a PDF whose text stream inflates to
gigabytes, a 5,000-page file or a pathological structure costs the child, which is stopped, never
the API process. Pages and characters are bounded inside the child as well (`documents.Limits`),
and a PDF with active content (JavaScript, launch actions, embedded files...) is refused there.
The child gets the bytes on stdin and answers in JSON on stdout (never pickle: a child that a
hostile file subverted must not be able to run code in the parent).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from policykb.ingest.active_content import find_active_content
from policykb.errors import InvalidRecord
from policykb.ingest.documents import Document, Limits, Section, load_document

MEMORY_BYTES = 1536 * 1024 * 1024  # address space of the child (python, pypdf and the document)
UPLOAD_NICENESS = 10  # a reading child gets CPU time after the API process, from its first import on
# (lowered before anything is imported: starting Python and pypdf is most of a small upload's cost)
LAUNCH = f"import os, runpy; os.nice({UPLOAD_NICENESS}); runpy.run_module('policykb.ingest.sandbox', run_name='__main__')"


@dataclass(frozen=True)
class UploadLimits:
    pages: int = 500
    chars: int = 1_000_000
    seconds: float = 20.0


def parse_upload(name: str, data: bytes, limits: UploadLimits) -> Document:
    """The document in `data` (named `name`), parsed in a child process within `limits`; raises
    InvalidRecord with a short reason when it cannot be read within them."""
    command = [sys.executable, "-c", LAUNCH, name, str(limits.pages), str(limits.chars), str(limits.seconds)]
    try:
        done = subprocess.run(command, input=data, capture_output=True, timeout=limits.seconds)
    except subprocess.TimeoutExpired:  # (the child is killed)
        raise InvalidRecord(f"the document took longer than {limits.seconds:g} s to read; send a smaller file") \
            from None
    try:
        answer = json.loads(done.stdout)
    except ValueError:  # the child died: out of memory or CPU time
        raise InvalidRecord("the document could not be read within the limits for uploads") from None
    if answer.get("error"):
        raise InvalidRecord(str(answer["error"])[:300])
    doc = answer["document"]
    return Document(doc["title"], [Section(**s) for s in doc["sections"]], meta=doc["meta"], pages=doc["pages"],
                    warnings=doc["warnings"])


def _main() -> None:
    import resource

    name, pages, chars, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (int(seconds) + 1, int(seconds) + 1))
    data = sys.stdin.buffer.read()
    try:
        doc = load_document(Path(name), data, sidecar=False, limits=Limits(pages, chars))
        active = find_active_content(data) if name.lower().endswith(".pdf") else []
        answer: dict = {"document": asdict(doc)} if not active else {"error": (
            f"the PDF holds active content ({', '.join(active)}), which a viewer could run or open; send a "
            "version without it (printing it to PDF again removes it)")}
    except InvalidRecord as exc:
        answer = {"error": exc.message}
    except MemoryError:
        answer = {"error": "the document needs more memory to read than an upload may use"}
    except Exception as exc:  # anything else a hostile file provokes: a short reason, never a trace
        answer = {"error": f"the document could not be read ({type(exc).__name__})"}
    sys.stdout.write(json.dumps(answer, default=str))


if __name__ == "__main__":
    _main()
