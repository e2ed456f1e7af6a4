"""The evaluation set itself: well-formed, grounded in the corpus, and broad enough to measure with."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from eval.dataset import QUESTION_TYPES, EvalQuestion, load_eval_set
from eval.metrics import matches_gold, normalize

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "data" / "corpus"
EVAL_SET = REPO / "eval" / "qa.jsonl"
BULLETIN_MONTHS = ("2023-02", "2023-07", "2023-12")


@pytest.fixture(scope="module")
def questions() -> list[EvalQuestion]:
    return load_eval_set(EVAL_SET)


@pytest.fixture(scope="module")
def corpus_texts() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(CORPUS.glob("*.txt"))}


def test_ids_are_unique(questions):
    counts = Counter(question.id for question in questions)
    assert [id_ for id_, count in counts.items() if count > 1] == []


def test_type_counts_meet_the_minimums(questions):
    counts = Counter(question.type for question in questions)
    assert len(questions) >= 70
    assert counts["unanswerable"] >= 12
    assert set(counts) == set(QUESTION_TYPES)


def test_every_bulletin_month_has_a_summary_question(questions):
    summary_periods = {question.period for question in questions if question.type == "month_summary"}
    assert set(BULLETIN_MONTHS) <= summary_periods


def test_month_summaries_name_five_to_ten_key_items(questions):
    for question in questions:
        if question.type == "month_summary":
            assert 5 <= len(question.gold) <= 10, question.id


def test_every_gold_file_is_in_the_corpus(questions, corpus_texts):
    unknown = {(q.id, gold.file) for q in questions for gold in q.gold if gold.file not in corpus_texts}
    assert unknown == set()


def test_every_corpus_file_is_used_by_some_gold_item(questions, corpus_texts):
    used = {gold.file for question in questions for gold in question.gold}
    assert set(corpus_texts) <= used


def test_every_quote_exists_verbatim_in_its_file(questions, corpus_texts):
    missing = [
        (question.id, gold.quote)
        for question in questions
        for gold in question.gold
        if gold.quote not in corpus_texts.get(gold.file, "")
    ]
    assert missing == []


def test_key_facts_are_short_and_grounded(questions, corpus_texts):
    """Each key fact is in the reference answer and in a gold file: none is invented or paraphrased."""
    problems = []
    for question in questions:
        gold_texts = [normalize(corpus_texts.get(gold.file, "")) for gold in question.gold]
        for fact in question.key_facts:
            fact_key = normalize(fact)
            if len(fact_key) > 20:
                problems.append((question.id, fact, "too long to match"))
            if fact_key not in normalize(question.reference_answer):
                problems.append((question.id, fact, "not in the reference answer"))
            if not any(fact_key in text for text in gold_texts):
                problems.append((question.id, fact, "not in any gold file"))
    assert problems == []


def test_multi_doc_questions_span_two_documents(questions):
    single_document = [q.id for q in questions if q.type == "multi_doc" and len({g.file for g in q.gold}) < 2]
    assert single_document == []


@pytest.fixture(scope="module")
def parsed_items():
    parse = pytest.importorskip("ingest.parse")
    return {path.name: parse.parse_path(path).items for path in sorted(CORPUS.glob("*.txt"))}


def test_every_gold_item_exists_among_the_parsed_items(questions, parsed_items):
    """Matched by normalised title, or by the quote inside the item's text (the parser rejoins page breaks)."""
    unmatched = [
        (question.id, gold.file, gold.title)
        for question in questions
        for gold in question.gold
        if not any(matches_gold(gold.file, item.title, item.text, gold) for item in parsed_items.get(gold.file, []))
    ]
    assert unmatched == []


def test_each_quote_points_at_exactly_one_parsed_item(questions, parsed_items):
    """A quote shared by two items would make retrieval scores ambiguous: quotes must be specific."""
    ambiguous = []
    for question in questions:
        for gold in question.gold:
            quote = normalize(gold.quote)
            holders = [item for item in parsed_items.get(gold.file, []) if quote in normalize(item.text)]
            if len(holders) > 1:
                ambiguous.append((question.id, gold.quote, len(holders)))
    assert ambiguous == []


VALID_LINE = (
    '{"id": "q001", "type": "numeric", "question": "2022年洛阳常住人口多少？", "period": "2023-02", '
    '"reference_answer": "707.9万人。", "key_facts": ["707.9万人"], '
    '"gold": [{"file": "000.txt", "title": "人口", "quote": "常住人口707.9万人"}], "answerable": true}'
)


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_loader_reads_typed_records(tmp_path):
    (question,) = load_eval_set(_write(tmp_path, VALID_LINE, ""))
    assert question.key_facts == ("707.9万人",)
    assert question.gold[0].quote == "常住人口707.9万人"
    assert question.answerable is True


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('"type": "numeric"', '"type": "trivia"'), "type"),
        (('"period": "2023-02"', '"period": "2023年2月"'), "period"),
        (('"answerable": true', '"answerable": "yes"'), "answerable"),
        (('"key_facts": ["707.9万人"]', '"key_facts": []'), "key fact"),
        (('"type": "numeric"', '"type": "unanswerable"'), "unanswerable"),
        (('"id": "q001"', '"id": "Q-1"'), "id"),
        (('"reference_answer": "707.9万人。", ', ""), "missing"),
        (('"title": "人口", ', ""), "gold"),
    ],
)
def test_loader_rejects_malformed_lines_with_the_line_number(tmp_path, change, message):
    old, new = change
    path = _write(tmp_path, VALID_LINE.replace(old, new))
    with pytest.raises(ValueError, match=message) as error:
        load_eval_set(path)
    assert "qa.jsonl:1" in str(error.value)


def test_loader_rejects_duplicate_ids_and_broken_json(tmp_path):
    with pytest.raises(ValueError, match="重复"):
        load_eval_set(_write(tmp_path, VALID_LINE, VALID_LINE))
    with pytest.raises(ValueError, match="JSON"):
        load_eval_set(_write(tmp_path, VALID_LINE, "{not json"))


def test_loader_rejects_an_unanswerable_question_with_gold(tmp_path):
    line = VALID_LINE.replace('"type": "numeric"', '"type": "unanswerable"')
    line = line.replace('"answerable": true', '"answerable": false')
    with pytest.raises(ValueError, match="gold"):
        load_eval_set(_write(tmp_path, line))
