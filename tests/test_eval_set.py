"""The evaluation sets themselves: well-formed, grounded in the corpus, split by the written rule, and
broad enough to measure generalisation with (all documents, types, provenances, unanswerable kinds)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from eval.dataset import PROVENANCES, QUESTION_TYPES, UNANSWERABLE_KINDS, EvalQuestion, load_eval_set
from eval.metrics import matches_gold, normalize
from eval.split import DEV_ONLY, assign

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "data" / "corpus"
DEV, TEST = REPO / "eval" / "dev.jsonl", REPO / "eval" / "test.jsonl"
SMALL_DEV = REPO / "eval" / "dev_stratified21.jsonl"
LATER_BATCH = REPO / "eval" / "generate" / "hand_dev2.jsonl"
BULLETIN_MONTHS = ("2023-02", "2023-07", "2023-12")


@pytest.fixture(scope="module")
def dev() -> list[EvalQuestion]:
    return load_eval_set(DEV)


@pytest.fixture(scope="module")
def test_set() -> list[EvalQuestion]:
    return load_eval_set(TEST)


@pytest.fixture(scope="module")
def questions(dev, test_set) -> list[EvalQuestion]:
    return dev + test_set


@pytest.fixture(scope="module")
def corpus_texts() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(CORPUS.glob("*.txt"))}


def _squash(text: str) -> str:
    return "".join(text.split())


def test_ids_are_unique_across_dev_and_test(questions):
    counts = Counter(question.id for question in questions)
    assert [id_ for id_, count in counts.items() if count > 1] == []


def test_dev_holds_the_102_seed_questions_and_test_only_new_ones(dev, test_set):
    assert sum(q.provenance == "seed" for q in dev) == 102
    assert [q.id for q in test_set if q.provenance in DEV_ONLY] == []
    assert all(q.provenance in PROVENANCES for q in dev + test_set)


def test_the_later_batch_is_dev_and_moves_no_earlier_question(dev, test_set):
    """hand_dev2 was written after the split: all of it is dev, it is the batch file as written, and the
    rule over the earlier questions alone gives them the membership they have with the batch added."""
    batch = load_eval_set(LATER_BATCH)
    assert len(batch) >= 80 and {q.provenance for q in batch} == {"hand_dev2"}
    assert [q for q in dev if q.provenance == "hand_dev2"] == batch
    earlier = [q for q in dev + test_set if q.provenance != "hand_dev2"]
    with_batch = assign(dev + test_set)
    assert assign(earlier) == {q.id: with_batch[q.id] for q in earlier}


def test_the_later_batch_covers_the_weak_classes():
    batch = load_eval_set(LATER_BATCH)
    kinds = Counter(q.unanswerable_kind for q in batch if not q.answerable)
    assert set(kinds) == set(UNANSWERABLE_KINDS) - {"missing_month"} and min(kinds.values()) >= 5
    answerable = Counter(q.type for q in batch if q.answerable)
    assert answerable["multi_doc"] >= 8 and sum(answerable.values()) >= 28
    assert {g.file for q in batch for g in q.gold} == {p.name for p in CORPUS.glob("*.txt")}


def _question(id_: str, provenance: str, paraphrase_of: str = "") -> EvalQuestion:
    return EvalQuestion(id=id_, type="unanswerable", question=id_, period="", reference_answer="-", key_facts=(),
                        gold=(), answerable=False, provenance=provenance, unanswerable_kind="never_happened",
                        paraphrase_of=paraphrase_of)


def test_dev_only_provenances_and_their_rewordings_are_never_test():
    """With TEST_SHARE of 0.65, ten hand questions put some in test; the same ten as hand_dev2 (and their
    rewordings) and the seed go to dev whatever their hash."""
    hand = [_question(f"h{n:04d}", "hand") for n in range(10)]
    later = [_question(f"d{n:04d}", "hand_dev2") for n in range(10)]
    reworded = [_question(f"p{n:04d}", "paraphrase", paraphrase_of=f"d{n:04d}") for n in range(10)]
    split = assign([*hand, *later, *reworded, _question("q001", "seed")])
    assert "test" in {split[q.id] for q in hand}
    assert {split[q.id] for q in [*later, *reworded]} == {"dev"} and split["q001"] == "dev"


def test_the_files_follow_the_split_rule(dev, test_set):
    """Recomputing eval.split's rule over both files gives exactly their membership: nobody moved a question."""
    expected = assign(dev + test_set)
    assert [q.id for q in dev if expected[q.id] != "dev"] == []
    assert [q.id for q in test_set if expected[q.id] != "test"] == []


def test_sizes_and_coverage_meet_the_minimums(dev, test_set):
    new = [q for q in dev + test_set if q.provenance != "seed"]
    assert len(new) >= 400 and len(test_set) >= 250
    for part in (dev, test_set):
        assert set(Counter(q.type for q in part)) == set(QUESTION_TYPES)
        assert {g.file for q in part for g in q.gold} == {p.name for p in CORPUS.glob("*.txt")}
    provenance = Counter(q.provenance for q in new)
    assert {"template", "llm", "paraphrase", "hand"} <= set(provenance)
    assert provenance["hand"] + provenance["hand_dev2"] < len(new) / 2  # most questions are not written by hand


def test_unanswerable_questions_say_why_and_cover_every_kind(questions, test_set):
    assert [q.id for q in questions if not q.answerable and not q.unanswerable_kind] == []
    assert set(q.unanswerable_kind for q in test_set if not q.answerable) == set(UNANSWERABLE_KINDS)


def test_every_bulletin_month_has_a_summary_question_in_each_part(dev, test_set):
    for part in (dev, test_set):
        assert set(BULLETIN_MONTHS) <= {q.period for q in part if q.type == "month_summary"}


def test_month_summaries_name_five_to_ten_key_items(questions):
    for question in questions:
        if question.type == "month_summary":
            assert 5 <= len(question.gold) <= 10, question.id


def test_complete_gold_questions_list_several_items(questions):
    lists = [q for q in questions if q.complete_gold]
    assert len(lists) >= 30
    assert [q.id for q in lists if len(q.gold) < 2] == []


def test_every_gold_file_is_in_the_corpus(questions, corpus_texts):
    unknown = {(q.id, gold.file) for q in questions for gold in q.gold if gold.file not in corpus_texts}
    assert unknown == set()


def test_every_quote_exists_verbatim_in_its_file(questions, corpus_texts):
    """Verbatim up to whitespace: the PDF-derived report breaks lines every ~30 characters."""
    files = {name: _squash(text) for name, text in corpus_texts.items()}
    missing = [(q.id, g.quote) for q in questions for g in q.gold if _squash(g.quote) not in files.get(g.file, "")]
    assert missing == []


def test_key_facts_are_short_and_grounded(questions, corpus_texts):
    """Each key fact is in the reference answer and in a gold file: none is invented or paraphrased."""
    files = {name: normalize(text) for name, text in corpus_texts.items()}
    problems = []
    for question in questions:
        gold_texts = [files.get(gold.file, "") for gold in question.gold]
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


def test_a_paraphrase_keeps_its_source_answer(questions):
    by_id = {q.id: q for q in questions}
    paraphrases = [q for q in questions if q.provenance == "paraphrase"]
    assert len(paraphrases) >= 60
    changed = [q.id for q in paraphrases
               if (q.gold, q.key_facts, q.answerable) != (by_id[q.paraphrase_of].gold, by_id[q.paraphrase_of].key_facts, by_id[q.paraphrase_of].answerable)
               or q.question == by_id[q.paraphrase_of].question]
    assert changed == []


def test_the_small_dev_subset_is_part_of_dev(dev):
    by_id = {q.id: q for q in dev}
    subset = load_eval_set(SMALL_DEV)
    assert len(subset) == 21 and all(by_id.get(q.id) == q for q in subset)


@pytest.fixture(scope="module")
def parsed_items():
    parse = pytest.importorskip("ingest.parse")
    items = {path.name: parse.parse_path(path).items for path in sorted(CORPUS.glob("*.txt"))}
    return {file: [(item, normalize(item.text)) for item in file_items] for file, file_items in items.items()}


def test_every_gold_item_exists_among_the_parsed_items(questions, parsed_items):
    """Matched by normalised title, or by the quote inside the item's text (the parser rejoins page breaks)."""
    unmatched = []
    for question in questions:
        for gold in question.gold:
            title, quote = normalize(gold.title), normalize(gold.quote)
            if not any(normalize(item.title) == title or quote in text for item, text in parsed_items.get(gold.file, [])):
                unmatched.append((question.id, gold.file, gold.title))
    assert unmatched == []


def test_the_gold_rule_of_the_metrics_agrees_with_the_parsed_items(questions, parsed_items):
    """metrics.matches_gold (what the harness resolves gold with) finds the items the test above found."""
    sample = [(q, g) for q in questions[::25] for g in q.gold]
    assert sample and all(any(matches_gold(g.file, item.title, item.text, g) for item, _ in parsed_items[g.file]) for _q, g in sample)


def test_each_quote_points_at_exactly_one_parsed_item(questions, parsed_items):
    """A quote shared by two items would make retrieval scores ambiguous: quotes must be specific."""
    ambiguous = []
    for question in questions:
        for gold in question.gold:
            quote = normalize(gold.quote)
            holders = [item for item, text in parsed_items.get(gold.file, []) if quote in text]
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


OPTIONAL = (
    '{"id": "t123456", "type": "temporal", "question": "7月20号洛阳有哪些新闻？", "period": "2023-07", '
    '"reference_answer": "城市阳台开工。", "key_facts": ["城市阳台"], '
    '"gold": [{"file": "001.txt", "title": "城市阳台", "quote": "城市阳台项目正式开工"}], "answerable": true, '
    '"provenance": "template", "tags": ["on_date"], "complete_gold": true}'
)
UNANSWERABLE = (
    '{"id": "h0001", "type": "unanswerable", "question": "2023年8月洛阳有哪些大事？", "period": "2023-08", '
    '"reference_answer": "资料中没有2023年8月的月报。", "key_facts": [], "gold": [], "answerable": false, '
    '"provenance": "hand", "unanswerable_kind": "missing_month"}'
)


def test_loader_reads_the_optional_fields(tmp_path):
    paraphrase = OPTIONAL.replace('"t123456"', '"p000001"').replace('"provenance": "template"', '"provenance": "paraphrase", "paraphrase_of": "t123456"')
    listed, unanswerable, reworded = load_eval_set(_write(tmp_path, OPTIONAL, UNANSWERABLE, paraphrase))
    assert (listed.provenance, listed.tags, listed.complete_gold) == ("template", ("on_date",), True)
    assert (unanswerable.unanswerable_kind, unanswerable.complete_gold) == ("missing_month", False)
    assert reworded.paraphrase_of == "t123456"
    (plain,) = load_eval_set(_write(tmp_path, VALID_LINE))
    assert (plain.provenance, plain.tags, plain.unanswerable_kind, plain.paraphrase_of) == ("", (), "", "")


def test_written_sets_load_back_unchanged(tmp_path):
    from eval.dataset import write_eval_set

    questions = load_eval_set(_write(tmp_path, OPTIONAL, UNANSWERABLE, VALID_LINE))
    write_eval_set(tmp_path / "copy.jsonl", questions)
    assert load_eval_set(tmp_path / "copy.jsonl") == questions


@pytest.mark.parametrize(
    ("line", "change", "message"),
    [
        (OPTIONAL, ('"provenance": "template"', '"provenance": "crowd"'), "provenance"),
        (OPTIONAL, ('"tags": ["on_date"]', '"tags": ["On Date"]'), "tags"),
        (OPTIONAL, ('"complete_gold": true', '"complete_gold": "yes"'), "complete_gold"),
        (OPTIONAL, ('"complete_gold": true', '"unanswerable_kind": "missing_month"'), "unanswerable_kind"),
        (UNANSWERABLE, ('"missing_month"', '"too_hard"'), "unanswerable_kind"),
        (UNANSWERABLE, ('"answerable": false', '"answerable": false, "complete_gold": true'), "complete_gold"),
        (OPTIONAL, ('"provenance": "template"', '"provenance": "paraphrase"'), "paraphrase_of"),
        (OPTIONAL, ('"tags"', '"paraphrase_of": "q001", "tags"'), "paraphrase"),
    ],
)
def test_loader_rejects_malformed_optional_fields(tmp_path, line, change, message):
    old, new = change
    with pytest.raises(ValueError, match=message) as error:
        load_eval_set(_write(tmp_path, line.replace(old, new)))
    assert "qa.jsonl:1" in str(error.value)


def test_loader_rejects_a_paraphrase_whose_source_is_not_in_the_set(tmp_path):
    orphan = OPTIONAL.replace('"provenance": "template"', '"provenance": "paraphrase", "paraphrase_of": "t999999"')
    with pytest.raises(ValueError, match="paraphrase_of"):
        load_eval_set(_write(tmp_path, orphan))
