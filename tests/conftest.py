"""Shared fixtures: settings that never touch the user's state, and one ingested copy of the corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "data" / "corpus"
# Embeddings are cached by content hash, so sharing this cache between test runs is safe and saves
# the ~100 s cold embedding of the corpus on every run after the first.
EMBEDDING_CACHE = Path(os.environ.get("HELUO_TEST_CACHE", REPO / ".heluo" / "test-cache"))

for _name in [name for name in os.environ if name.startswith("HELUO_")]:
    if _name != "HELUO_TEST_CACHE" and not _name.startswith("HELUO_TEST_"):
        del os.environ[_name]  # the user's own settings must not leak into tests
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def make_settings(home: Path, **overrides):
    from rag.settings import Settings

    values = {"home": home, "corpus": CORPUS, "cache": EMBEDDING_CACHE, "llm": "extractive"}
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings(tmp_path):
    """Fresh, empty settings under tmp_path (extractive generator, shared embedding cache)."""
    return make_settings(tmp_path / "home")


@pytest.fixture(scope="session")
def indexed_settings(tmp_path_factory):
    """Settings whose index holds the whole bundled corpus (ingested once per test session)."""
    from ingest.index import ingest

    settings = make_settings(tmp_path_factory.mktemp("indexed") / "home")
    report = ingest([CORPUS], settings)
    assert not report.failed, report.failed
    return settings


@pytest.fixture(scope="session")
def assistant(indexed_settings):
    from rag.service import Assistant

    return Assistant(indexed_settings)
