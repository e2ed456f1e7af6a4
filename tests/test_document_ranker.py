"""The document vote in retrieval: a paragraph of the article that matches the question as a whole rises
above a short paragraph of another article that shares a few of the question's words (real BM25 over
a small news corpus; no embedder)."""

from __future__ import annotations

from ingest.lexical import INDEXES, Bm25Index, TermMatrix, document_rows, token_codes, window_item
from ingest.records import Document, Item
from rag import retrieve
from rag.fusion import inherit_group_ranks, reciprocal_rank_fusion
from rag.retrieve import FUSION_K, FUSION_WEIGHTS, document_vote

# The article the question is about: its paragraphs share the question's words between them.
MATCH = [
    "全国职工羽毛球大赛在乌鲁木齐开幕，来自各地工会的代表队参加比赛。",
    "比赛按照男子组、女子组两个组进行，每场一局31分。",
    "大赛由全国总工会宣传教育部主办，获得前4名的代表队将获得奖杯。",
]
# Other articles: one with a short paragraph that shares the question's words, the rest on other topics.
OTHERS = {
    "news-b.txt": ["社区文化节下周开幕，安排了书法展和戏曲演出。", "同期羽毛球大赛进行报名。", "活动持续到月底，市民可免费参观。",
                   "文化馆还将举办非遗手工艺展示，邀请老艺人现场教学。", "主办方提醒市民错峰出行，注意交通安全。",
                   "据介绍，文化节已连续举办十届，累计吸引游客五十万人次。"],
    "news-c.txt": ["全市夏粮收购进度过半，收购价格保持稳定。", "粮食部门组织两个组进行巡查。"],
    "news-e.txt": ["入夏以来，市民参与羽毛球运动的热情高涨。", "多家羽毛球馆延长了开放时间。"],
    "news-f.txt": ["青少年羽毛球培训班开始招生。", "培训按照年龄分组。"],
    "news-d.txt": ["新建的地铁线路完成试运行，预计年底开通。", "沿线设站十二座。"],
}
QUESTION = "本次羽毛球大赛按照几个组进行？"


def items_of(file: str, paragraphs: list[str]) -> list[Item]:
    return [Item(f"{file}#{n}", file, "news", n, "", "", text, n + 1, n + 1) for n, text in enumerate(paragraphs)]


def corpus() -> dict[str, Item]:
    items = items_of("news-a.txt", MATCH) + [item for file, texts in OTHERS.items() for item in items_of(file, texts)]
    return {item.item_id: item for item in items}


class Rows:
    """The catalog's two reads the row functions make, over records in memory."""

    def __init__(self, items: dict[str, Item]) -> None:
        self._items = list(items.values())

    def documents(self) -> list[Document]:
        return [Document(file, "news", "", "", "", "", 0) for file in sorted({i.file for i in self._items})]

    def items_of(self, files) -> list[Item]:
        return [item for item in self._items if item.file in set(files)]


def index(name: str, items: dict[str, Item]) -> Bm25Index:
    spec = next(spec for spec in INDEXES if spec.name == name)
    return Bm25Index(matrix=TermMatrix.build(spec.rows(Rows(items), sorted({i.file for i in items.values()})), token_codes))


def rankings(items: dict[str, Item]) -> tuple[dict[str, list[str]], list[str]]:
    """The lexical item rankings and the document ranking of the question, from the persisted indexes' rows."""
    item_rankings = {"items": index("items_bm25", items).search(QUESTION, 10),
                     "windows": list(dict.fromkeys(window_item(key) for key in index("windows_bm25", items).search(QUESTION, 20)))}
    return item_rankings, index("documents_bm25", items).search(QUESTION, 10)


def fuse(item_rankings: dict[str, list[str]], documents: list[str], items: dict[str, Item]) -> list[tuple[str, float]]:
    """The retriever's fusion: weighted RRF of the item rankings, then the document vote."""
    fused = reciprocal_rank_fusion(list(item_rankings.values()), FUSION_K, [FUSION_WEIGHTS[name] for name in item_rankings])
    return document_vote(fused, documents, items)


def test_document_rows_hold_each_document_once_in_reading_order():
    items = corpus()
    titled = [Document("news-a.txt", "news", "羽毛球大赛开幕", "", "", "", 3)]
    rows = {row.key: row for row in document_rows(titled, list(reversed(items.values())))}
    assert set(rows) == {"news-a.txt", *OTHERS}
    text = rows["news-a.txt"].text
    assert text.startswith("羽毛球大赛开幕") and text.index(MATCH[0]) < text.index(MATCH[1]) < text.index(MATCH[2])


def test_the_document_vote_lifts_the_paragraph_of_the_matching_article(monkeypatch):
    items = corpus()
    item_rankings, documents = rankings(items)
    assert documents[0] == "news-a.txt"  # the article as a whole matches best
    monkeypatch.setattr(retrieve, "DOCUMENT_WEIGHT", 0.0)
    without = [item_id for item_id, _ in fuse(item_rankings, documents, items)]
    assert without[0] == "news-b.txt#1"  # paragraphs alone: the short stray paragraph wins
    monkeypatch.undo()
    with_vote = [item_id for item_id, _ in fuse(item_rankings, documents, items)]
    assert with_vote[0] == "news-a.txt#1"
    assert set(with_vote) == set(without)  # the vote reorders the candidates, adds none


def test_inherited_ranks_keep_the_order_inside_a_group():
    fused = [("a2", 0.30), ("b1", 0.25), ("a1", 0.20), ("c1", 0.10)]
    group = {"a1": "A", "a2": "A", "b1": "B", "c1": "C"}
    scored = dict(inherit_group_ranks(fused, group.get, ["B", "A"], k=0, weight=1.0))
    assert scored == {"b1": 1.25, "a2": 0.30 + 0.5, "a1": 0.20 + 0.5, "c1": 0.10}
    assert [key for key, _ in inherit_group_ranks(fused, group.get, ["B", "A"], k=0)] == ["b1", "a2", "a1", "c1"]
    assert inherit_group_ranks(fused, group.get, []) == fused
