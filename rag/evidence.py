"""Retrieval evidence: does a retrieved item actually answer the question?

Refusal is decided here, before any LLM is called, because a small LLM invents numbers when the
answer is not in its context. The signals are the corpus's, not a list of phrasings:
- coverage of the question's content terms, each weighted by its rarity in the corpus (IDF), inside
  the best window of a few consecutive sentences with the item's headings as context (a work-report
  paragraph of twenty sentences must answer in one place, not by scattering the words);
- names of places, people and organisations the question names must stand in the item or its
  headings ("平顶山" is not answered by a Luoyang item), its stem counting for a place with a suffix
  ("莫斯科州" by "莫斯科"); a mis-tagged ordinary phrase ("周边地区") or rank ("第一大国") is no name;
- numbers with counters the question names ("第5次", "第十七次", "3号线") must stand there too;
- a term the question quotes, or a proper noun it uses that neither the corpus nor jieba's general
  dictionary knows ("龙贸通", "猴痘"), must stand in the item (or be abbreviated there): the thing
  asked about is not in the corpus; an everyday word the corpus never uses ("碰面") is let pass;
- names joined by 和/与/、 ("涧西区和新安县") are alternatives: an item naming one of them will do;
- a year the question asks about must be the item's year or be named by it (a year inside a title's
  brackets, "方案（2023到2025年）", is part of the title);
- the kind of answer asked for (a count in its counter, a day, a time, a rank, an outcome rather than
  a plan) must stand where the question is answered (rag.answer_types);
- a question for a figure needs a figure where the asked thing is said, or one of the kind it asks
  (a share, money, a duration, a head count) in the best window; one for an actual outcome
  of a year is not answered by a target set before that year ended.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from ingest.lexical import LexicalRow, TermMatrix, TermPresence, gram_codes
from ingest.records import Document, Item
from ingest.textutil import jieba_engine, normalize_spaces, split_sentences, words
from rag.answer_types import CLASSIFIERS as _CLASSIFIERS
from rag.answer_types import FIGURE_IN_TEXT as _FIGURE_IN_TEXT
from rag.answer_types import AskedFor, asked_for, has_figure, unanswered

# Words that frame a question rather than say what it is about (closed classes of Chinese, not the
# eval's phrasings): interrogatives; request and hedge words; aggregation frames ("一共", "分别");
# temporal deixis ("现在", "那次", "当天": the period is resolved by rag.query); hypernyms of "event"
# ("动态", "事情": a question about a day asks for whatever happened); report verbs ("提到", "提出").
_ASKING = re.compile(
    r"请问|请|听说|麻烦|帮我|给我|告诉我|想知道|一下|"
    r"百分之多少|百分之几|哪些|哪个|哪家|哪位|哪里|哪儿|哪几天|哪天|哪一天|哪年|哪月|哪几|什么|啥|多少|怎么样|怎样|怎么|如何|是否|有没有|是不是|为什么|为何|"
    r"多长|多高|多远|多大|多重|多久|多深|多宽|多快|第几[次届回期批轮个名位]?|"
    r"吗|呢|吧|谁|几号|几月|几时|何时|哪|几|去了|"
    r"分别|各自|各|主要|重要|具体|大概|大约|到底|究竟|都|一共|总共|共计|合计|累计|截至|截止|"
    r"现在|目前|如今|当前|眼下|当时|那时|那次|那天|当天|那边|这边|那里|这里|这次|此次|本次|那个|这个|后来|最近|近期|最后|最终|"
    r"动态|事情|事件|大事|新闻|消息|情况|内容|方面|介绍|总结|概括|提到|提出|说到|讲到|报道|有关|相关|"
    r"\d{2,4}\s*年(?:底|初|末|中)|\d{2,4}\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?)?|\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?|\d{1,2}\s*[日号]|"
    r"今年|去年|前年|明年|本月|上个月|上月|下个月|上半年|下半年|上旬|中旬|下旬|月初|月底|月末|年底|年初|月份|期间|当月"
)
# Words too common in government texts to say what a question is about, whatever their IDF.
_GENERIC = frozenset(
    "年 月 日 工作 活动 开展 举行 召开 时候 时间 市 政府 市政府 市里 报告 工作报告 政府工作报告 月报 政务 信息 "
    "洛阳 洛阳市 我市 全市 获得 拿到 要求 达到 计划 进行 有 是 了 天 哪 几 发生 做 做了 干".split()
)
# A number with a counter ("3号线", "第5次", "100亿元") must appear as written: near misses are different facts.
_SPECIFIC_NUMBER = re.compile(r"第?\d+(?:\.\d+)?\s*(?:号线|号|期|届|批|轮|次|个|家|项|所|座|条|名|位|亿元|万元|亿|万|元|%|％|吨|亩|公里)")
_DATE_WRITTEN = re.compile(r"(?:\d{1,2}\s*月\s*)?(?<![第\d])\d{1,2}\s*[日号](?!线)")
_CN_ORDINAL = re.compile(r"第([零一二两三四五六七八九十百]+)\s*([次届期批轮号个])")
_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_YEAR = re.compile(r"(?<!\d)(\d{4})\s*年")
# A year that names a report ("2022年政府工作报告", "2021年的市政府工作报告") is not the period asked about.
_REPORT_YEAR = re.compile(r"(\d{4})\s*年的?(?:洛阳)?[\u4e00-\u9fff]{0,4}?(?:人民)?政府工作报告")
# jieba's tags for places and organisations; person names (nr) count only when they start with a
# common surname, since jieba tags many common words nr ("青少年", "桂林").
_NAME_TAGS = ("ns", "nt")
_PERSON_TAG = "nr"
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
)
# A determiner in front makes a scope, not a name ("各县区", "全市").
_DETERMINERS = "各全本我该每此"
_CN_NUMERAL_WORD = re.compile(r"^第?[一二三四五六七八九十百两几数]+$")
# A name in this share of all items is the corpus's own setting ("洛阳", "河南"), not a specific one.
_COMMON_NAME_SHARE = 0.05
WINDOW_SENTENCES = 3


class TermWeights:
    """Inverse document frequency of a term over the corpus items, counted by substring.

    Rare terms ("阳台", "杜苏芮") say what a question is about; common ones ("城市", "项目") do not, so
    an item that shares only the common terms is no evidence. The counts come from the items'
    character unigrams and bigrams, indexed at ingest (`presence`), or from `texts` given here.
    """

    def __init__(self, texts: Iterable[str] = (), presence: TermPresence | None = None) -> None:
        if presence is None:
            rows = [LexicalRow(f"{number:09d}", "", text) for number, text in enumerate(texts)]
            presence = TermPresence(TermMatrix.build(rows, gram_codes))
        self._presence = presence
        self._cache: dict[str, float] = {}

    def idf(self, term: str) -> float:
        if term not in self._cache:
            df = self._presence.frequency(term)
            self._cache[term] = math.log((1 + self._presence.rows) / (1 + df)) + 1.0
        return self._cache[term]


def _unseen_idf(weights: TermWeights) -> float:
    """The IDF of a term no item contains (through the public `idf`, whatever backs it)."""
    return weights.idf("\u0000")


def _seen(term: str, weights: TermWeights) -> bool:
    return weights.idf(term) < _unseen_idf(weights)


def term_weight(term: str, weights: TermWeights | None) -> float:
    """A term's weight: its IDF; a term the corpus never uses (a colloquial "碰面", "新添") weighs like
    the commonest, since no item can be told apart by it."""
    if weights is None:
        return 1.0
    idf = weights.idf(term)
    return 1.0 if idf >= _unseen_idf(weights) else idf


# Conjunctions, prepositions, particles, modal words: what a question says with, not about ("或者", "关于").
_FUNCTION_TAGS = frozenset({"c", "p", "uj", "ul", "uz", "ug", "uv", "ud", "y", "e", "o"})


def key_terms(question: str) -> list[str]:
    """The question's content terms: jieba words of what remains once asking words and dates are removed."""
    stripped = _ASKING.sub(" ", normalize_spaces(question))
    function_words = {word.lower() for word, tag in _tagged(stripped) if tag in _FUNCTION_TAGS}
    terms: list[str] = []
    for token in words(stripped):
        if token in _GENERIC or (len(token) < 2 and not token.isdigit()) or token.isdigit() or token in function_words:
            continue
        if token not in terms:
            terms.append(token)
    return terms


def required_numbers(question: str) -> list[str]:
    """Numbers with counters the answer must be about, ordinals in Chinese numerals made Arabic ("第十七次" -> "第17次")."""
    # A date ("7月20号", "20号那天") is the period asked about, which rag.query turns into a filter.
    text = _DATE_WRITTEN.sub(" ", _arabic_ordinals(normalize_spaces(question)))
    return [re.sub(r"\s+", "", m.group(0)) for m in _SPECIFIC_NUMBER.finditer(text)]


# A session of a congress or committee: "十四届八次" is the 8th meeting of the 14th term.
_CN_SESSION = re.compile(r"([一二两三四五六七八九十]+)届([一二两三四五六七八九十]+)次")


def _arabic_ordinals(text: str) -> str:
    text = _CN_ORDINAL.sub(lambda m: f"第{_small_number(m.group(1))}{m.group(2)}", text)
    text = _CN_SESSION.sub(lambda m: f"{_small_number(m.group(1))}届{_small_number(m.group(2))}次", text)
    return text


def _small_number(numeral: str) -> int:
    """一 .. 九十九 (and 一百) as an int; ordinals of events rarely go higher."""
    if numeral == "一百":
        return 100
    tens, sep, ones = numeral.partition("十")
    if not sep:
        return int("".join(str(_CN_DIGITS.get(ch, 0)) for ch in numeral))
    return (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)


# A year inside brackets or quotes belongs to a title ("建设方案（2023到2025年）", "《科技城百强榜（2023）》").
_TITLED = re.compile(r"（[^）]*）|\([^)]*\)|《[^》]*》|“[^”]*”")


def asked_years(question: str) -> list[str]:
    """Four-digit years the question asks about, not counting the year that names a work report or
    stands in a title."""
    text = _REPORT_YEAR.sub(" ", normalize_spaces(question))
    text = _TITLED.sub(" ", text)
    return list(dict.fromkeys(_YEAR.findall(text)))


def whole_years(question: str) -> list[str]:
    """The asked years that stand alone, without a month ("2021年GDP", not "2023年7月")."""
    text = _REPORT_YEAR.sub(" ", normalize_spaces(question))
    text = _TITLED.sub(" ", text)
    return list(dict.fromkeys(m.group(1) for m in _YEAR.finditer(text) if not re.match(r"\s*\d{1,2}\s*月", text[m.end() :])))


@lru_cache(maxsize=4096)
def _tagged(text: str) -> tuple[tuple[str, str], ...]:
    return tuple(jieba_engine().tag(text))


# jieba glues an unknown given name to the word after it ("姚红是哪天"): a function character that ends
# a tagged name belongs to the sentence, not the name.
_FUNCTION_TAIL = re.compile(r"(?<=[\u4e00-\u9fff]{2})[是的在和与了为被把将对向从跟同等]$")


def _clean_tagged(question: str) -> list[tuple[str, str]]:
    """jieba's tagged words, a name freed of what jieba glued to it: a function character after it
    ("姚红是" -> "姚红"), or, after a number, the 年/月/日/号 of the date before it ("2023年江凌" is
    tagged "2023" + "年江凌" -> "江凌")."""
    cleaned, previous = [], ""
    for word, tag in _tagged(question):
        if previous.isdigit() and len(word) >= 3 and word[0] in "年月日号":
            word = word[1:]
        previous = word
        cleaned.append((_FUNCTION_TAIL.sub("", word), tag))
    return cleaned


def _tagged_names(question: str) -> tuple[str, ...]:
    """Words jieba tags as names of places, organisations or (surname first) people, 2+ CJK characters."""
    names = []
    previous = ""
    for word, tag in _clean_tagged(question):
        after_numeral, previous = bool(_CN_NUMERAL_WORD.match(previous)), word
        if len(word) < 2 or not all("\u4e00" <= ch <= "\u9fff" for ch in word) or word in _GENERIC or word[0] in _DETERMINERS:
            continue
        if after_numeral:  # "第一大国", "两大国": a rank or count of a class, not a proper name
            continue
        if tag in _NAME_TAGS or (tag == _PERSON_TAG and word[0] in _SURNAMES and len(word) <= 3):
            names.append(word)
    return tuple(dict.fromkeys(names))


def specific_names(question: str, weights: TermWeights | None) -> list[str]:
    """The names a supporting item must contain: tagged names that are not the corpus's own setting
    (a name in 5% of the items, "洛阳"), nor a word built on it ("洛阳城" of "洛阳城市区")."""
    names = _tagged_names(normalize_spaces(question))
    if weights is None:
        return list(names)
    common_idf = math.log(1 / _COMMON_NAME_SHARE) + 1.0
    common = [name for name in names if weights.idf(name) <= common_idf]
    return [
        name
        for name in names
        if weights.idf(name) > common_idf
        and not any(c in name for c in common)
        and not _ordinary_phrase(name, weights)
        and not _built_on_setting(name, weights, common_idf)
    ]


def _built_on_setting(name: str, weights: TermWeights, common_idf: float) -> bool:
    """"洛阳城" cut from "洛阳城市区": the corpus's own setting plus one character that is no place
    suffix belongs to the next word, not to a name ("涧西区" stays a name)."""
    return len(name) >= 3 and not _PLACE_SUFFIX.search(name) and weights.idf(name[:-1]) <= common_idf


# A place suffix after a stem of two or more characters ("莫斯科州", "武清区"): an item naming the stem names the place.
_PLACE_SUFFIX = re.compile(r"(?<=[\u4e00-\u9fff]{2})[省市县区州镇乡村]$")


def _ordinary_phrase(name: str, weights: TermWeights) -> bool:
    """A word tagged as a name that the corpus never writes whole but writes as two ordinary words, none
    of them a name ("周边地区" = "周边" + "地区"): jieba's tag is wrong, the question names no place."""
    if len(name) < 4 or _seen(name, weights):
        return False
    return any(
        all(_seen(part, weights) and not _tagged_names(part) for part in (name[:cut], name[cut:]))
        for cut in range(2, len(name) - 1)
    )


def names_in(name: str, text: str) -> bool:
    """The name, or its stem without a place suffix, stands in the (lower-cased) text."""
    return name.lower() in text or bool(_PLACE_SUFFIX.search(name) and _PLACE_SUFFIX.sub("", name).lower() in text)


# -- what kind of answer the question wants --------------------------------------------------

# "多少 / 几 / 多长" ask for a figure: an item that covers the topic but states no figure for what is
# asked ("城市阳台项目总投资是多少" where the item gives no investment) does not answer them.
_ASKS_FIGURE = re.compile(r"百分之多少|百分之几|多少|(?<![第哪])几(?![号月时日天点])|多长|多高|多远|多大|多重|多久|比例|比重|占比")
_CLAUSE_END = re.compile(r"[，。？！；,?!;：:\s]")
_ASKS_TIME = re.compile(r"哪天|哪一天|哪日|几号|几月几日|几月|什么时候|什么时间|何时|啥时候|哪年|日期|时间是")
_DATE_IN_TEXT = re.compile(r"\d{1,2}\s*月\s*\d{1,2}\s*[日号]|\d{4}\s*年|\d{1,2}\s*[日号]")
# Asking for a plan: a target set before the period ended answers it.
_ASKS_PLAN = re.compile(r"目标|计划|预期|预计|规划|力争|争取|确保|将|打算|要求|部署|提出|要[^求]|拟|定了|定的|安排")
# A sentence that states a target or plan rather than an outcome.
_STATES_TARGET = re.compile(r"目标|预期|计划|力争|争取|确保|规划|拟")


def figure_terms(question: str) -> list[str]:
    """The key terms next to the asking word in its clause ("总投资" in "总投资是多少"); [] if no figure is asked."""
    text = normalize_spaces(question)
    heads: list[str] = []
    for match in _ASKS_FIGURE.finditer(text):
        start = max((m.end() for m in _CLAUSE_END.finditer(text, 0, match.start())), default=0)
        end = next((m.start() for m in _CLAUSE_END.finditer(text, match.end())), len(text))
        before, after = key_terms(text[start : match.start()]), key_terms(text[match.end() : end])
        heads += before[-1:] + after[:1]
    return list(dict.fromkeys(heads))


# Words that state a figure in different ways: a question's "增加到多少" is answered by "增至2503家";
# a medal count ("多少奖牌") by "4金2银5铜".
_FIGURE_WORD_GROUPS = (
    frozenset("增加 增至 增到 增长 提高 提升 上升 达到 达 突破".split()),
    frozenset("总数 数量 总量 共有 共计 累计 合计 总计 规模".split()),
    frozenset("下降 降低 减少 降至 减至".split()),
    frozenset("投资 总投资 投入".split()),
    frozenset("gdp 地区生产总值 生产总值 经济总量".split()),
    frozenset("目标 预期目标 力争 确保".split()),
    frozenset("奖牌 金牌 银牌 铜牌 金 银 铜 奖 冠军".split()),
)


def _variants(head: str) -> set[str]:
    """The head and the words of its group; a compound of a group's one-character words ("金银铜") is
    that group too."""
    return set().union({head}, *(group for group in _FIGURE_WORD_GROUPS if head in group or (len(head) > 1 and all(ch in group for ch in head))))


def states_figure(item: Item, heads: Sequence[str], unit: str = "") -> bool:
    """True when a sentence of the item (its title counts) has one of the head terms (or a variant) and
    a figure (not a date; with the asked unit when one is given) stands in it or in the next two
    sentences ("主要目标是：……生产总值达到8000亿元")."""
    if not heads:
        return True
    variants = set().union(*(_variants(head) for head in heads))
    figure = _figure_pattern(unit)
    sentences = [normalize_spaces(item.title)] + split_sentences(normalize_spaces(item.text))
    for index, sentence in enumerate(sentences):
        if any(word in sentence.lower() for word in variants):
            if any(figure.search(s) for s in sentences[index : index + 3]):
                return True
    return False


# The head morpheme of the asked thing says which kind of quantity answers it, however the item words
# it: a share ("增长率", "桥隧比", "百分比" by "增长0.4%", "占比为32%"), money ("价格", "票价" by
# "420元"), a duration ("有效期", "时长" by "9天内有效"), a head count ("人数" by "超过500人").
_NUMERAL = r"(?:\d+(?:\.\d+)?|[一二三四五六七八九十百千两半]+)"
_APPROX = r"(?:余|多|来|几)?"
_QUANTITY_KINDS = (
    (re.compile(r"率$|比[是为]?$|比例|比重|百分"), re.compile(rf"\d(?:\.\d+)?\s*[%％]|百分之|个百分点|[一二三四五六七八九]成")),
    (re.compile(r"价|费|金额|资金|收入|工资|成本|钱"), re.compile(rf"{_NUMERAL}\s*{_APPROX}\s*(?:万|亿|千)?\s*(?:美元|欧元|英镑|日元|港元|元)")),
    (re.compile(r"(?<!星)期$|时长|天数"), re.compile(rf"(?<![\d月])(?:\d{{1,3}}(?:\.\d+)?|[一二三四五六七八九十两半]+)\s*{_APPROX}\s*(?:天|周|星期|个月|个?小时|年|分钟|秒)")),
    (re.compile(r"人数|人口|人次|数量|总数|个数"), re.compile(rf"{_NUMERAL}\s*{_APPROX}\s*(?:万|亿)?\s*[{_CLASSIFIERS}]")),
)


def quantity_pattern(heads: Sequence[str]) -> re.Pattern | None:
    """The kind of figure the asked heads call for (see _QUANTITY_KINDS), or None when they name no kind."""
    for head_morpheme, quantity in _QUANTITY_KINDS:
        if any(head_morpheme.search(head) for head in heads):
            return quantity
    return None


# A measure unit right after the asking word ("多少亿元", "百分之多少") must come with the figure:
# a growth rate does not answer "达到多少亿元".
_MEASURE_UNIT = re.compile(r"(?:多少|几)((?:万|亿|千)?(?:美元|元|公里|千米|平方公里|平方米|公顷|亩|吨|千瓦|标箱))")
_PERCENT_ASKED = re.compile(r"百分之多少|百分之几|百分比|多少个百分点")


def figure_unit(question: str) -> str:
    """"%" for a share asked, the measure unit written after 多少/几, or ""."""
    text = normalize_spaces(question)
    if _PERCENT_ASKED.search(text):
        return "%"
    match = _MEASURE_UNIT.search(text)
    return match.group(1) if match else ""


def _figure_pattern(unit: str) -> re.Pattern:
    if not unit:
        return _FIGURE_IN_TEXT
    if unit == "%":
        return re.compile(r"\d(?:\.\d+)?\s*[%％]|百分之|个百分点")
    bare = unit.lstrip("万亿千")
    return re.compile(rf"\d(?:\.\d+)?\s*(?:万|亿|千)?\s*{re.escape(bare)}|[一二三四五六七八九十百千万两]+(?:万|亿)?{re.escape(bare)}")


def asks_time(question: str) -> bool:
    return bool(_ASKS_TIME.search(question))


def has_date(text: str) -> bool:
    return bool(_DATE_IN_TEXT.search(text))


def years_in(text: str) -> set[str]:
    return set(_YEAR.findall(normalize_spaces(text)))


# -- the question, read once -----------------------------------------------------------------


@dataclass(frozen=True)
class QuestionTerms:
    """What an item must cover to answer a question, with each term's weight."""

    text: str
    terms: tuple[str, ...]
    weights: tuple[float, ...]
    names: tuple[str, ...]
    numbers: tuple[str, ...]
    years: tuple[str, ...]
    figure_heads: tuple[str, ...]
    asks_plan: bool
    unit: str = ""
    whole_years: tuple[str, ...] = ()
    asks_figure: bool = False
    # Terms that must stand (or be abbreviated) in the item: what the question quotes, and proper
    # nouns that neither the corpus nor the general dictionary knows ("龙贸通", "猴痘").
    exact: tuple[str, ...] = ()
    # Names the question joins with 和/与/、 ("涧西区和新安县"): an item naming one of them is about the question.
    coordinated: tuple[frozenset[str], ...] = ()
    # The kind of answer asked for (a count in a counter, a day, a rank, an outcome): see rag.answer_types.
    asked: AskedFor = AskedFor()
    # Every asked head is a word of the corpus (an unseen noun, "房价", is a thing no item states).
    heads_seen: bool = True

    @property
    def total_weight(self) -> float:
        return sum(self.weights)


# "哪些地方或单位", "什么名单": the noun after a "which" word names the class of the answer; items
# answer with its members ("西工区", "伊川县"), seldom with the word itself, so it weighs a quarter
# (fit on dev and the CRUD sample: at a half two list questions stayed refused; at zero a question
# made only of class nouns would have no weight at all).
_WHICH = re.compile(r"(?:哪些|哪个|哪家|哪几个|哪几家|哪几|什么样的|什么)")
_CLASS_WEIGHT = 0.25


def answer_classes(question: str) -> set[str]:
    """The nouns right after a "which" word, with those coordinated with them ("地方或单位")."""
    text = normalize_spaces(question)
    classes: set[str] = set()
    for match in _WHICH.finditer(text):
        tagged = _tagged(text[match.end() : match.end() + 12])
        for n, (word, tag) in enumerate(tagged):
            if tag.startswith("n") and len(word) >= 2:
                classes.add(word.lower())
                if n + 2 < len(tagged) and tagged[n + 1][0] in ("或", "和", "、", "及", "与") and tagged[n + 2][1].startswith("n"):
                    classes.add(tagged[n + 2][0].lower())
                break
            if not tag.startswith(("a", "m", "q", "u")):  # "哪些重要的" leads to the noun; a verb does not
                break
    return classes


_CLAUSE_BREAK = re.compile(r"(?<=[？?；;！!])")


def question_parts(question: str) -> list[str]:
    """The question, then each of its clauses when it asks several things ("…几号通车的？洛阳境内有多长？"),
    a clause counting when it has two content terms of its own ("人均呢？" leans on the one before)."""
    clauses = [clause.strip() for clause in _CLAUSE_BREAK.split(normalize_spaces(question)) if clause.strip()]
    own = [clause for clause in clauses if len(key_terms(clause)) >= 2]
    return [question, *own] if len(own) >= 2 else [question]


# "上千亿", "近百万": a quantity said in words is the kind of answer, not the thing asked about.
_QUANTITY_WORD = re.compile(r"^[上近超约逾数几]?[一二三四五六七八九十百千万亿两]+[个家项亿万元]?$")


def read_question(question: str, weights: TermWeights | None = None) -> QuestionTerms:
    terms = key_terms(question)
    # A verb the corpus never uses ("冲到", "拿奖") is the asker's wording: the figure must then stand in
    # the best window itself. A noun it never uses ("房价", "奖金") is a thing no item states.
    verbs = {word for word, tag in _tagged(normalize_spaces(question)) if tag.startswith("v") and tag != "vn"}
    heads = [
        head
        for head in figure_terms(question)
        if (weights is None or _seen(head, weights) or head not in verbs) and not _QUANTITY_WORD.match(head)
    ]
    names = specific_names(question, weights)
    classes = answer_classes(question)
    return QuestionTerms(
        text=question,
        terms=tuple(terms),
        weights=tuple(term_weight(term, weights) * (_CLASS_WEIGHT if term in classes else 1.0) for term in terms),
        names=tuple(names),
        numbers=tuple(required_numbers(question)),
        years=tuple(asked_years(question)),
        figure_heads=tuple(heads),
        asks_plan=bool(_ASKS_PLAN.search(question)),
        unit=figure_unit(question),
        whole_years=tuple(whole_years(question)),
        asks_figure=bool(_ASKS_FIGURE.search(normalize_spaces(question))),
        exact=tuple(dict.fromkeys([*quoted_terms(question, weights), *unknown_names(question, weights)])),
        coordinated=coordinated_names(question, names),
        asked=asked_for(question),
        heads_seen=weights is None or all(_seen(head, weights) for head in heads),
    )


# Quoted names and titles ("“七不得”", "《猴痘防控方案》"): the question names a thing by its own words.
_QUOTED = re.compile(r"[“\"「《]([^”\"」》]{2,20})[”\"」》]")


def quoted_terms(question: str, weights: TermWeights | None) -> list[str]:
    """What the question quotes that no item contains: a quoted name the corpus lacks is not in it."""
    if weights is None:
        return []
    quoted = (m.group(1).strip().lower() for m in _QUOTED.finditer(normalize_spaces(question)))
    return [term for term in quoted if term and not _seen(term, weights)]


# jieba's proper-noun tags (person, place, organisation, other proper name).
_PROPER_TAGS = ("nr", "ns", "nt", "nz")


def unknown_names(question: str, weights: TermWeights | None) -> list[str]:
    """Proper nouns of the question that no item contains and the general dictionary does not know:
    the thing asked about is not in the corpus ("龙贸通平台", a disease, a company), whereas an
    everyday word the corpus never uses ("碰面") is the asker's wording and is let pass."""
    if weights is None:
        return []
    engine = jieba_engine()
    found = []
    for word, tag in _clean_tagged(normalize_spaces(question)):
        if len(word) < 2 or not tag.startswith(_PROPER_TAGS) or not all("\u4e00" <= ch <= "\u9fff" for ch in word):
            continue
        if not _seen(word, weights) and not engine.has_word(word):
            found.append(word)
    return found


def coverage(question: QuestionTerms, text: str) -> float:
    """Weighted share of the question's terms that `text` covers, in [0, 1] (0 when it has no terms)."""
    if not question.terms:
        return 0.0
    haystack = normalize_spaces(text).lower()
    covered = sum(weight * _term_coverage(term, haystack) for term, weight in zip(question.terms, question.weights))
    return covered / question.total_weight


# A term whose characters stand in order, close together, is an abbreviation of what the text
# writes out ("社科" of "社会科学", "栾卢" of "栾川至卢氏"): most of a match.
ABBREVIATION_CREDIT = 0.75


def _term_coverage(term: str, haystack: str) -> float:
    if any(variant in haystack for variant in _variants(term)):
        return 1.0
    bigrams = [term[i : i + 2] for i in range(len(term) - 1)]
    if not bigrams:
        return 0.0
    share = sum(1 for bigram in bigrams if bigram in haystack) / len(bigrams)
    if share < ABBREVIATION_CREDIT and 2 <= len(term) <= 4 and _abbreviation(term).search(haystack):
        return ABBREVIATION_CREDIT
    return share


@lru_cache(maxsize=8192)
def _abbreviation(term: str) -> re.Pattern:
    gap = f".{{0,{len(term)}}}"
    return re.compile(gap.join(re.escape(ch) for ch in term))


# -- one item against the question ------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """How well one item answers a question.

    score: the weighted term coverage of its best window (headings included), in [0, 1].
    window: (first, last + 1) sentence indexes of that window in the sentence list assessed.
    mismatch: why the item cannot answer although it may cover the words ("" when nothing is wrong).
    figure: for a question asking a figure, whether the item states one where the asked thing is said.
    """

    score: float
    window: tuple[int, int]
    mismatch: str = ""
    figure: bool = True

    @property
    def usable(self) -> bool:
        return not self.mismatch


def item_context(item: Item, document_title: str = "") -> str:
    """What every sentence of an item stands under: its document's title, section path and title."""
    return f"{document_title} {item.section.replace('/', ' ')} {item.title}"


def assess(
    question: QuestionTerms, item: Item, sentences: Sequence[str], document: Document | None = None, dated: bool = False
) -> Evidence:
    """The item's evidence for the question: best-window coverage and the first mismatch found.

    sentences: the item's candidate sentences (rag.extractive lists them). document: the item's
    document (its title is context; its date says when it was written). dated: the query carries a
    date filter, so a question with no content terms ("12月5日有什么活动") is answered by any item
    of that date.
    """
    context = item_context(item, document.title if document else "")
    whole = normalize_spaces(f"{context} {item.text}").lower()
    windows = _windows(sentences)
    if question.terms:
        scored = [(coverage(question, f"{context} {''.join(sentences[a:b])}"), (a, b)) for a, b in windows]
        score, window = max(scored, key=lambda pair: pair[0])
    else:
        score, window = (1.0 if dated else 0.0), windows[0]
    mismatch = _mismatch(question, item, whole, sentences, window, document)
    if question.figure_heads:
        figure = (
            states_figure(item, question.figure_heads, question.unit)
            or _states_quantity(question, item, sentences, window)
            or (question.heads_seen and _figure_on_topic(question, sentences[window[0] : window[1]], context))
        )
    elif question.asks_figure:
        figure = bool(_figure_pattern(question.unit).search(f"{item.title} {''.join(sentences[window[0] : window[1]])}"))
    else:
        figure = True
    return Evidence(score, window, mismatch, figure)


def _figure_on_topic(question: QuestionTerms, window: Sequence[str], context: str) -> bool:
    """A sentence of the best window that, under its item's headings, covers half of the question
    states a figure (of the asked unit): the asker named the thing otherwise ("规模有多大" for
    "改造老旧小区1200个")."""
    figure = _figure_pattern(question.unit)
    return any(figure.search(sentence) and coverage(question, f"{context} {sentence}") >= 0.5 for sentence in window)


def _states_quantity(question: QuestionTerms, item: Item, sentences: Sequence[str], window: tuple[int, int]) -> bool:
    """A figure of the kind the asked heads call for stands in the best window (the title counts) or in
    a sentence that shares half of a head ("有效期" by "9天内有效"), although the item words the asked
    thing otherwise ("增长率" answered by "同比增长0.4%")."""
    quantity = quantity_pattern(question.figure_heads)
    if quantity is None:
        return False
    if quantity.search(normalize_spaces(f"{item.title} {''.join(sentences[window[0] : window[1]])}")):
        return True
    return any(
        quantity.search(sentence) and any(_term_coverage(head, sentence.lower()) >= 0.5 for head in question.figure_heads)
        for sentence in sentences
    )


def _windows(sentences: Sequence[str]) -> list[tuple[int, int]]:
    if len(sentences) <= WINDOW_SENTENCES:
        return [(0, len(sentences))]
    return [(start, start + WINDOW_SENTENCES) for start in range(len(sentences) - WINDOW_SENTENCES + 1)]


def _mismatch(
    question: QuestionTerms, item: Item, whole: str, sentences: Sequence[str], window: tuple[int, int], document: Document | None
) -> str:
    missing_name = next((name for name in question.names if not names_in(name, whole) and not _partner_named(question, name, whole)), None)
    if missing_name:
        return f"没有提到“{missing_name}”"
    missing_exact = next((term for term in question.exact if _term_coverage(term.lower(), whole) < ABBREVIATION_CREDIT), None)
    if missing_exact:
        return f"没有提到“{missing_exact}”"
    canonical = _arabic_ordinals(whole).replace(" ", "")
    missing_number = next((number for number in question.numbers if not any(v in canonical for v in _number_variants(number.lower()))), None)
    if missing_number:
        return f"没有“{missing_number}”"
    if question.years and not _names_a_year(question.years, item, document):
        return f"不是{'、'.join(question.years)}年的资料"
    if _only_a_target(question, sentences, window, item.date or (document.period if document else "")):
        return "只有目标，没有实际结果"
    return unanswered(question.asked, item, sentences, window)


# Counters of people and the generic one stand for each other ("去了19个人" is "19名运动员").
_PERSON_COUNTERS = "个名人位"


def _number_variants(number: str) -> list[str]:
    if number[-1] in _PERSON_COUNTERS and number[:-1]:
        return [number[:-1] + counter for counter in _PERSON_COUNTERS]
    return [number]


_COORDINATOR = re.compile(r"\s*(?:和|与|及|以及|、|或|跟|同)\s*")


def coordinated_names(question: str, names: Sequence[str]) -> tuple[frozenset[str], ...]:
    """Groups of names written side by side with a coordinator between them ("涧西区和新安县")."""
    text = normalize_spaces(question)
    spans = sorted((text.find(name), text.find(name) + len(name), name) for name in names if name in text)
    groups: list[set[str]] = []
    for (_, end, first), (start, _, second) in zip(spans, spans[1:]):
        if start > end and _COORDINATOR.fullmatch(text[end:start]):
            if groups and first in groups[-1]:
                groups[-1].add(second)
            else:
                groups.append({first, second})
    return tuple(frozenset(group) for group in groups)


def _partner_named(question: QuestionTerms, name: str, whole: str) -> bool:
    return any(name in group and any(names_in(other, whole) for other in group - {name}) for group in question.coordinated)


def _names_a_year(years: Sequence[str], item: Item, document: Document | None) -> bool:
    """The item is dated in one of the years, or its headings or text name one. A work report's date
    does not count: it says when the report was given, not which year an item is about; a bulletin's
    month or a news article's date does."""
    own = {(item.date or "")[:4], (item.date_end or "")[:4]}
    if document and document.period and document.kind != "report":
        own.add(document.period[:4])
    text = normalize_spaces(f"{item.section} {item.title} {item.text}")
    return any(year in own or year in text for year in years)


def _only_a_target(question: QuestionTerms, sentences: Sequence[str], window: tuple[int, int], document_date: str) -> bool:
    """An outcome of a year asked, from a document written before that year ended, whose best
    sentences state a target: "2021年GDP实际增长了多少" is not answered by the 2021 report's goal."""
    if not (question.asks_figure or question.asked.outcome) or question.asks_plan or len(question.years) != 1 or len(question.whole_years) != 1 or not document_date:
        return False
    if int(question.whole_years[0]) < int(document_date[:4]):
        return False
    text = "".join(sentences[window[0] : window[1]])
    return bool(_STATES_TARGET.search(text))


def evidence_score(
    question: str, item: Item, dated: bool = False, weights: TermWeights | None = None, document_title: str = ""
) -> float:
    """Best-window coverage of the question by the item, 0 when a name, number or year it asks about is
    missing (the item's sentences split as rag.extractive does)."""
    from rag.extractive import candidate_sentences

    document = Document(item.file, item.kind, document_title, "", "", "", 0) if document_title else None
    evidence = assess(read_question(question, weights), item, candidate_sentences(item), document, dated=dated)
    return evidence.score if evidence.usable and evidence.figure else 0.0
