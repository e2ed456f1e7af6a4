import pytest

from ingest.chunk import chunk_header, chunk_item
from ingest.records import Item
from ingest.textutil import split_sentences
from ingest.tokens import count_tokens


def make_item(text: str, **fields) -> Item:
    values = dict(item_id="doc#0001-abc", file="doc.txt", kind="bulletin", position=1, section="时政/领导活动",
                  title="江凌到伊川县调研", text=text, line_start=1, line_end=2, date="2023-07-05")
    values.update(fields)
    return Item(**values)


def test_offline_tiktoken_counts_chinese():
    assert count_tokens("洛阳") > 0
    assert count_tokens("洛阳市召开会议。" * 10) > count_tokens("洛阳市召开会议。")


def test_short_item_is_one_chunk_with_header():
    item = make_item("7月5日，江凌到伊川县调研。他强调要抓好项目建设。")
    [chunk] = chunk_item(item)
    assert chunk.text.startswith("时政/领导活动 > 江凌到伊川县调研（2023-07-05）\n")
    assert chunk.text.endswith("他强调要抓好项目建设。")
    assert chunk.item_id == item.item_id and chunk.tokens == count_tokens(chunk.text)


def test_date_range_in_header():
    assert chunk_header(make_item("x", date="2023-02-09", date_end="2023-02-10")).endswith("（2023-02-09至2023-02-10）")


def test_long_item_splits_at_sentence_ends_within_budget_with_overlap():
    sentences = [f"第{i}项工作稳步推进，全市新增企业{i * 7}家，完成投资{i * 3}亿元。" for i in range(60)]
    item = make_item("".join(sentences))
    chunks = chunk_item(item, max_tokens=120, overlap_tokens=30)
    assert len(chunks) > 3
    assert all(c.tokens <= 120 for c in chunks)
    bodies = [c.text.split("\n", 1)[1] for c in chunks]
    for body in bodies:  # every chunk is made of whole sentences
        assert all(s in sentences for s in split_sentences(body))
    for previous, current in zip(bodies, bodies[1:]):  # consecutive chunks share their boundary sentence
        assert split_sentences(previous)[-1] == split_sentences(current)[0]
    covered = set().union(*(split_sentences(b) for b in bodies))
    assert covered == set(sentences)


def test_a_sentence_longer_than_the_budget_is_cut_not_lost():
    long_sentence = "，".join(f"项目{i}" for i in range(400)) + "。"
    chunks = chunk_item(make_item(long_sentence), max_tokens=100, overlap_tokens=0)
    assert all(c.tokens <= 100 for c in chunks)
    assert "".join(c.text.split("\n", 1)[1] for c in chunks) == long_sentence


def test_ids_are_stable_and_content_derived():
    item = make_item("内容一。内容二。")
    assert [c.chunk_id for c in chunk_item(item)] == [c.chunk_id for c in chunk_item(item)]
    assert chunk_item(item)[0].chunk_id != chunk_item(make_item("内容一。内容三。"))[0].chunk_id


def test_tiny_budget_rejected():
    with pytest.raises(ValueError, match="HELUO_CHUNK_TOKENS"):
        chunk_item(make_item("x"), max_tokens=10)
