"""Token counting with tiktoken, made to work offline.

tiktoken downloads its BPE files on first use. The package bpe-openai ships cl100k_base gzipped; we
write it into a cache folder under the name tiktoken looks for (sha1 of the source URL), so the normal
`tiktoken.get_encoding` loads it with its own sha256 check and never touches the network.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from functools import lru_cache
from importlib import resources
from pathlib import Path

ENCODING = "cl100k_base"
_SOURCE_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"


def _default_cache_dir() -> Path:
    return Path(os.environ.get("TIKTOKEN_CACHE_DIR") or Path(tempfile.gettempdir()) / "heluo-tiktoken")


def install_offline_bpe(name: str = ENCODING, cache_dir: Path | None = None) -> Path:
    """Place the bundled BPE file where tiktoken will find it; returns the cache folder."""
    cache_dir = cache_dir or _default_cache_dir()
    target = cache_dir / hashlib.sha1(_SOURCE_URL.format(name=name).encode()).hexdigest()
    if not target.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        packed = resources.files("bpe_openai").joinpath("data", f"{name}.tiktoken.gz").read_bytes()
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(gzip.decompress(packed))
        partial.replace(target)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
    return cache_dir


@lru_cache(maxsize=2)
def get_encoding(name: str = ENCODING):
    import tiktoken

    install_offline_bpe(name)
    return tiktoken.get_encoding(name)


def count_tokens(text: str) -> int:
    return len(get_encoding().encode(text, disallowed_special=()))
