"""Extracted text cached by the file's content hash and the readers' code, so a scan is read by OCR once.

A change to the parsers re-processes every file (the pipeline fingerprint): without this cache
every scanned page would be recognised again; an upload that asks before replacing reads the
file twice (preview, then ingest). Plain text files are read directly: nothing to save.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

from ingest.readers import TEXT_SUFFIXES, Limits, check_size, read_file
from ingest.readers.records import Extracted


@lru_cache(maxsize=1)
def readers_version() -> str:
    digest = hashlib.sha256()
    for module in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(module.read_bytes())
    return digest.hexdigest()[:12]


def read_cached(path: Path, data: bytes, sha256: str, limits: Limits, cache_dir: Path | None) -> Extracted:
    if cache_dir is None or path.suffix.lower() in TEXT_SUFFIXES:
        return read_file(path, data, limits)
    check_size(path, len(data), limits)  # the limits apply even when the text is cached
    entry = cache_dir / "extracted" / f"{sha256[:32]}-{readers_version()}.json"
    try:
        saved = json.loads(entry.read_text(encoding="utf-8"))
        extracted = Extracted(
            **{**saved, "line_pages": tuple(tuple(span) for span in saved["line_pages"]), "warnings": tuple(saved["warnings"])}
        )
        if extracted.pages <= limits.max_pages:
            return extracted
    except (OSError, ValueError, TypeError, KeyError):
        pass  # not cached yet, or a broken entry: read the file
    extracted = read_file(path, data, limits)
    entry.parent.mkdir(parents=True, exist_ok=True)
    partial = entry.with_suffix(".tmp")
    partial.write_text(json.dumps(asdict(extracted), ensure_ascii=False), encoding="utf-8")
    partial.replace(entry)
    return extracted
