"""Template questions generated from every parsed item, with key facts and gold quotes taken from the item.

Each family reads the parsed items (`eval.generate.corpus`) and writes questions in the eval-set shape
(`eval.dataset`), with provenance "template" and a tag naming the family. A question is kept only when
its key facts are in its gold item's text and each quote is verbatim in the file (up to whitespace)
and held by exactly one item, so the set test passes by construction and a failure means the corpus
or the parser changed. Which items a family uses is decided by a hash of the item, never by how heluo
does on them.

Families (tag: type):
- `date_of`: temporal, "<title>是哪一天？" -> the item's date.
- `on_date`: temporal list, "<day>洛阳有哪些动态？" -> every item dated that day (complete gold).
- `title_figure`: numeric, the figure in a title asked back ("新增多少家…？").
- `body_figure`: numeric, a clause with a figure from the body, the figure asked back.
- `meeting_partner`: factoid, who a city leader met ("与…的哪位负责人举行工作会谈？").
- `led_by`: factoid, who led a delegation ("…是由谁带队的？").
- `report_figure`: report, a figure from a work-report paragraph asked back.
- `glossary`: report, what a term in the district report's glossary means.
- `section_list`: temporal list, every item of one section of one month (complete gold).
- `leader_list`: temporal list, every research trip / talk of the city leaders in a month (complete gold).
- `month_overview`: month_summary, the month's special-attention items and its plenary meetings.
- `missing_month` / `other_report` / `other_city`: unanswerable versions of the above for a month the
  corpus lacks, a report it does not hold, a city it does not cover.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from eval.generate.corpus import Corpus, CorpusItem, day_label, month_label, sentences, squash, stable_hash

# Figures a question can ask back: a number with the unit that says what it counts.
_UNITS = "人次|万人|亿元|万元|千米|公里|平方米|万亩|亩|个|家|项|名|人|件|所|座|元|户|条|枚|场|台|辆|吨|支|批|部|款|篇|种|处|首|%|％"
FIGURE = re.compile(rf"(?<![\d.第])(\d+(?:\.\d+)?)\s*(余|多)?\s*(万|亿)?\s*({_UNITS})")
KEY_FACT_MAX = 20
QUOTE_MAX = 150
# Words too common in titles to tell one item from another (they name no event).
LEADERS = ("江凌", "徐衣显", "杨骁")
GENERIC = frozenset(
    "洛阳 洛阳市 我市 全市 召开 举行 会议 工作 调研 开展 推进 研究 来洛 在洛 获得 成功 活动 市委 市政府 专题 "
    "主持 专题会议 会谈 工作会谈 座谈会 市长 书记 一行 率队 考察 部署 有关 相关".split()
) | frozenset(LEADERS)
_ROLES = (
    "党委书记、董事长|党委书记、行长|党委书记、执行董事|党委书记、执行副会长|董事长|副总裁|总裁|总经理|副总经理|"
    "副行长|行长|院长|大使|首席投资官|副会长|会长|党委书记"
)
_MEETING_TITLE = re.compile(rf"^(?P<leaders>[^与]+)与(?P<org>.+?)(?P<role>{_ROLES})(?P<name>[\u4e00-\u9fff]{{2,3}})(?:一行)?(?:举行工作会谈|会商座谈)$")
_LED_BY = re.compile(
    r"(?P<org>[\u4e00-\u9fff]{2,14}?)(?P<role>副?(?:局长|厅长|主任|部长|主席|市长|会长|总监|安全总监|委员会副主任))"
    r"(?P<name>[\u4e00-\u9fff]{2,3}?)(?:率|带队|带领)"
)
# Bulletin sections asked about as a whole: leaf section -> how a reader names it.
SECTION_PHRASES = {
    "特别关注": "有哪些上级部门和外地代表团来洛阳考察调研",
    "亮点聚焦": "有哪些亮点工作和荣誉",
    "体育": "在体育方面取得了哪些成绩",
    "科技": "在科技方面有哪些进展",
    "卫生": "在医疗卫生方面有哪些动态",
    "文化": "有哪些文化方面的活动",
    "教育": "在教育方面有哪些动态",
    "交通": "在交通方面有哪些动态",
    "旅游": "在旅游方面有哪些动态",
    "县区动态": "各县区有哪些动态",
    "工作动态": "在政务工作上有哪些新动态",
    "生态": "在生态保护方面有哪些动态",
    "生态文明": "在生态文明方面有哪些动态",
    "项目": "有哪些重大项目的进展",
    "经济运行": "在经济运行方面有哪些动态",
}
SECTION_LIST_MAX = 13
# A clause that starts like this continues the one before it: it names no subject of its own.
_DANGLING = re.compile(r"^(其中|并|还|共|同时|此外|另|均|分别|以及|及|和|占|比|较|为|达|累计)|这里|此次|本次|该|其")
# Bulletin months the corpus lacks, next to each it has (for the missing-month family).
# Later months only: a bulletin also reports late news of the month before it, so an earlier month
# could hold the same event. A month of another year is the "adjacent year" kind.
NEIGHBOUR_MONTHS = {"2023-02": ("2023-04", "2022-02"), "2023-07": ("2023-09", "2022-07"), "2023-12": ("2023-10", "2022-12")}
OTHER_CITIES = ("开封", "郑州", "平顶山", "三门峡")
OTHER_DISTRICTS = ("西工区", "老城区", "瀍河区")


@dataclass(frozen=True)
class Gold:
    item: CorpusItem
    quote: str


def question(
    type_: str,
    text: str,
    period: str,
    gold: Sequence[Gold],
    key_facts: Sequence[str],
    tag: str,
    complete_gold: bool = False,
) -> dict:
    """An eval-set record (without id): the reference answer is the quotes, so every key fact is in it."""
    record = {
        "type": type_,
        "question": text,
        "period": period,
        "reference_answer": "；".join(dict.fromkeys(g.quote for g in gold)) + "。",
        "key_facts": list(dict.fromkeys(key_facts)),
        "gold": [{"file": g.item.file, "title": g.item.title, "quote": g.quote} for g in gold],
        "answerable": True,
        "provenance": "template",
        "tags": [tag],
    }
    if complete_gold:
        record["complete_gold"] = True
    return record


def unanswerable(text: str, period: str, kind: str, tag: str, reference: str) -> dict:
    return {
        "type": "unanswerable",
        "question": text,
        "period": period,
        "reference_answer": reference,
        "key_facts": [],
        "gold": [],
        "answerable": False,
        "provenance": "template",
        "tags": [tag],
        "unanswerable_kind": kind,
    }


# -- helpers ----------------------------------------------------------------------------------------


def pick(items: Iterable, n: int, salt: str, key: Callable = lambda item: item.key) -> list:
    """The first n of `items` in the order of a salted hash: a fixed sample nobody chose by hand."""
    return sorted(items, key=lambda item: stable_hash(f"{salt}|{key(item)}"))[:n]


def variant(options: Sequence[str], salt: str) -> str:
    return options[int(stable_hash(salt)[:8], 16) % len(options)]


def quote_for(corpus: Corpus, item: CorpusItem, facts: Sequence[str]) -> str:
    """The item's first sentence holding every fact, cut to the clauses around them when long; verbatim in
    the file and held by this item alone. "" when there is none."""
    keys = [squash(fact) for fact in facts]
    for sentence in sentences(item.text):
        if not all(key in squash(sentence) for key in keys):
            continue
        for candidate in (sentence, *_clause_windows(sentence, keys)):
            if len(candidate) > QUOTE_MAX or len(squash(candidate)) < 8:
                continue
            if corpus.in_file(item.file, candidate) and len(corpus.holders(item.file, candidate)) == 1:
                return candidate
    return ""


def _clause_windows(sentence: str, keys: Sequence[str]) -> list[str]:
    """Runs of consecutive clauses (split at ，；：) that hold every key, shortest first."""
    clauses = re.split(r"(?<=[，；：])", sentence)
    runs = []
    for start in range(len(clauses)):
        for end in range(start + 1, len(clauses) + 1):
            run = "".join(clauses[start:end]).rstrip("，；：")
            if all(key in squash(run) for key in keys):
                runs.append(run)
                break
    return sorted(runs, key=len)


def title_anchor(item: CorpusItem) -> str:
    """The longest run the title shares with the text (4-16 characters) that holds a distinctive word:
    what the item is about, in its own words ("" when title and text share nothing telling)."""
    title, text = squash(item.title), squash(item.text)
    blocks = difflib.SequenceMatcher(None, title, text, autojunk=False).get_matching_blocks()
    for block in sorted(blocks, key=lambda b: -b.size):
        anchor = title[block.a : block.a + block.size].strip("，、：“”《》（）")[:16]
        if len(anchor) >= 4 and distinctive_words(anchor):
            return anchor
    return ""


def unique_title(corpus: Corpus, item: CorpusItem) -> bool:
    """No other item of the corpus has this title: a question naming it names one item."""
    key = squash(item.title)
    return sum(squash(other.title) == key for other in corpus.items) == 1


def distinctive_words(text: str) -> list[str]:
    from ingest.textutil import words

    return [w for w in words(text) if len(w) >= 2 and w not in GENERIC and not re.search(r"\d", w)]


def figure_fact(match: re.Match[str]) -> str:
    number, approx, magnitude, unit = match.groups()
    return f"{number}{approx or ''}{magnitude or ''}{unit}"


def cloze(text: str, match: re.Match[str]) -> str:
    """The text with one figure replaced by 多少 (+ its magnitude and unit)."""
    _number, _approx, magnitude, unit = match.groups()
    asked = "百分之多少" if unit in "%％" else f"多少{magnitude or ''}{unit}"
    return text[: match.start()] + asked + text[match.end() :]


def bulletins(corpus: Corpus) -> list[CorpusItem]:
    return [item for item in corpus.items if item.kind == "bulletin"]


def leaf(section: str) -> str:
    return section.rsplit("/", 1)[-1]


def report_label(item: CorpusItem) -> str:
    """'洛阳市涧西区政府工作报告（2022年4月23日，王烨）' -> '洛阳市涧西区2022年政府工作报告'."""
    name = item.doc_title.split("（", 1)[0]
    return name.replace("政府工作报告", f"{item.period[:4]}年政府工作报告")


def _plan_section(item: CorpusItem) -> bool:
    return bool(re.search(r"重点工作|主要工作|目标", item.section))


# -- families ---------------------------------------------------------------------------------------


def date_of(corpus: Corpus, n: int = 45) -> list[dict]:
    eligible = [i for i in bulletins(corpus) if i.date and not re.search(r"\d+月", i.title) and title_anchor(i) and unique_title(corpus, i)]
    out = []
    for item in pick(eligible, n, "date_of"):
        fact = day_label(item.date)
        quote = quote_for(corpus, item, [fact])
        if not quote:
            continue
        forms = ("{t}是哪一天的事？", "{t}是在几月几日？", "{m}，{t}是哪天？", "“{t}”发生在什么时候？")
        text = variant(forms, item.key).format(t=item.title, m=month_label(item.period))
        out.append(question("temporal", text, item.period, [Gold(item, quote)], [fact], "date_of"))
    return out


def on_date(corpus: Corpus, n: int = 22) -> list[dict]:
    by_day: dict[str, list[CorpusItem]] = defaultdict(list)
    for item in bulletins(corpus):
        if item.date:
            by_day[item.date].append(item)
    out = []
    eligible = [day for day, items in by_day.items() if 2 <= len(items) <= 4]
    for day in pick(eligible, n, "on_date", key=lambda d: d):
        gold, facts = [], []
        for item in by_day[day]:
            anchor = title_anchor(item)
            quote = quote_for(corpus, item, [anchor]) if anchor else ""
            if not quote:
                break
            gold.append(Gold(item, quote))
            facts.append(anchor)
        else:
            year, month, date = day.split("-")
            forms = ("{y}年{m}月{d}日洛阳有哪些政务动态？", "{m}月{d}日那天洛阳市都有什么事？", "{y}年{m}月{d}日，洛阳发生了哪些事情？")
            text = variant(forms, day).format(y=year, m=int(month), d=int(date))
            out.append(question("temporal", text, day[:7], gold, facts, "on_date", complete_gold=True))
    return out


def title_figure(corpus: Corpus) -> list[dict]:
    out = []
    for item in bulletins(corpus):
        matches = list(FIGURE.finditer(item.title))
        if len(matches) != 1 or not unique_title(corpus, item):
            continue
        fact = figure_fact(matches[0])
        quote = quote_for(corpus, item, [fact])
        if not quote or len(squash(fact)) > KEY_FACT_MAX:
            continue
        asked = cloze(item.title, matches[0]).rstrip("。")
        prefix = variant(("", f"{month_label(item.period)}，", "听说"), item.key)
        if re.search(r"\d{4}年", asked) and prefix != "听说":
            prefix = ""
        if re.search(r"去年|今年|明年|上年|本年", asked):
            prefix = f"{month_label(item.period)}，"  # a relative year needs the bulletin's date
        out.append(question("numeric", f"{prefix}{asked}？", item.period, [Gold(item, quote)], [fact], "title_figure"))
    return out


def body_figure(corpus: Corpus, n: int = 45) -> list[dict]:
    candidates = []
    for item in bulletins(corpus):
        if FIGURE.search(item.title):
            continue  # title_figure asks about it
        words = distinctive_words(item.title)
        for sentence in sentences(item.text):
            for clause in re.split(r"[，；：]", sentence):
                matches = list(FIGURE.finditer(clause))
                if (
                    len(matches) == 1
                    and 10 <= len(clause) <= 45
                    and not _DANGLING.search(clause)
                    and (sum(w in clause for w in words) >= 2 or any(len(w) >= 3 and w in clause for w in words))
                    and len(distinctive_words(clause)) >= 2
                ):
                    candidates.append((item, clause, matches[0]))
    out = []
    for item, clause, match in pick(candidates, n * 2, "body_figure", key=lambda c: f"{c[0].key}|{c[1]}"):
        if len(out) >= n or any(o["gold"][0]["title"] == item.title and o["gold"][0]["file"] == item.file for o in out):
            continue
        fact = figure_fact(match)
        quote = quote_for(corpus, item, [squash(clause)])
        if not quote:
            continue
        asked = re.sub(r"^\d{1,2}月\d{1,2}日(?:至\d{1,2}日)?", "", cloze(clause, match)).strip("，、 ")
        text = f"{month_label(item.period)}，{asked}？"
        out.append(question("numeric", text, item.period, [Gold(item, quote)], [fact], "body_figure"))
    return out


def meeting_partner(corpus: Corpus) -> list[dict]:
    out = []
    for item in bulletins(corpus):
        match = _MEETING_TITLE.match(item.title)
        if not match or not item.date:
            continue
        leaders = match["leaders"]
        org, role, name = match["org"], match["role"], match["name"]
        form = variant(("who", "leader", "when"), item.key)
        month = month_label(item.period)
        if form == "who":
            text, fact = f"{month}，{leaders}与{org}的哪位{role.split('、')[-1]}举行了工作会谈？", name
        elif form == "leader":
            text, fact = f"{org}{role}{name}与洛阳哪位市领导举行了工作会谈？", leaders.split("、")[0]
        else:
            text, fact = f"{leaders}与{org}{role}{name}是哪天会谈的？", day_label(item.date)
        quote = quote_for(corpus, item, [fact])
        if quote:
            type_ = "temporal" if form == "when" else "factoid"
            out.append(question(type_, text, item.period, [Gold(item, quote)], [fact], "meeting_partner"))
    return out


def led_by(corpus: Corpus) -> list[dict]:
    out = []
    for item in bulletins(corpus):
        first = sentences(item.text)[:1]
        match = _LED_BY.search(first[0]) if first else None
        if not match or any(leader in match["name"] for leader in LEADERS) or not unique_title(corpus, item):
            continue
        quote = quote_for(corpus, item, [match["name"]])
        if not quote:
            continue
        text = variant(("{t}是由谁带队的？", "{m}{t}，带队的是谁？"), item.key).format(t=item.title, m=month_label(item.period))
        out.append(question("factoid", text, item.period, [Gold(item, quote)], [match["name"]], "led_by"))
    return out


def report_figure(corpus: Corpus, per_report: int = 26) -> list[dict]:
    out = []
    for file in sorted({i.file for i in corpus.items if i.kind == "report"}):
        candidates = []
        for item in corpus.items_of(file):
            if item.section.endswith("名词解释"):
                continue
            for sentence in sentences(item.text):
                for clause in re.split(r"[，；：]", sentence):
                    matches = list(FIGURE.finditer(clause))
                    if len(matches) == 1 and 9 <= len(clause) <= 40 and len(distinctive_words(clause)) >= 2:
                        candidates.append((item, clause, matches[0]))
        chosen = 0
        for item, clause, match in pick(candidates, len(candidates), f"report_figure|{file}", key=lambda c: f"{c[0].key}|{c[1]}"):
            if chosen >= per_report:
                break
            fact = figure_fact(match)
            quote = quote_for(corpus, item, [squash(clause)])
            if not quote:
                continue
            verb = "提出" if _plan_section(item) else "提到"
            text = f"{report_label(item)}{verb}，{cloze(clause, match).strip('，、 ')}？"
            out.append(question("report", text, item.period, [Gold(item, quote)], [fact], "report_figure"))
            chosen += 1
    return out


def glossary(corpus: Corpus, n: int = 20) -> list[dict]:
    terms = [i for i in corpus.items if i.kind == "report" and i.section.endswith("名词解释") and "：" in i.text]
    out = []
    for item in pick(terms, n, "glossary"):
        term, _, definition = item.text.partition("：")
        parts = [re.sub(r"^(是指|指的是|指|即|包括|又称)", "", p) for p in re.split(r"[、，；。：（）“”]", definition)]
        facts = [p for p in parts if 3 <= len(squash(p)) <= 12 and not p.endswith("的简称")][:3]
        quote = quote_for(corpus, item, facts) if len(facts) >= 2 else ""
        if not quote:
            continue
        text = variant(("{r}里说的“{t}”指什么？", "“{t}”是什么意思？", "政府工作报告中的“{t}”具体包括哪些内容？"), item.key)
        text = text.format(r=report_label(item), t=term.strip("“”"))
        out.append(question("report", text, item.period, [Gold(item, quote)], facts, "glossary"))
    return out


def _list_question(corpus: Corpus, items: Sequence[CorpusItem], text: str, period: str, tag: str) -> dict | None:
    gold, facts = [], []
    for item in items:
        anchor = title_anchor(item)
        quote = quote_for(corpus, item, [anchor]) if anchor else ""
        if not quote:
            return None
        gold.append(Gold(item, quote))
        facts.append(anchor)
    return question("temporal", text, period, gold, facts, tag, complete_gold=True)


def section_list(corpus: Corpus) -> list[dict]:
    groups: dict[tuple[str, str], list[CorpusItem]] = defaultdict(list)
    for item in bulletins(corpus):
        groups[(item.period, leaf(item.section))].append(item)
    out = []
    for (period, section), items in sorted(groups.items()):
        phrase = SECTION_PHRASES.get(section)
        if not phrase or not 2 <= len(items) <= SECTION_LIST_MAX:
            continue
        subject = variant(("洛阳", "洛阳市", "我市"), f"{period}|{section}")
        record = _list_question(corpus, items, f"{month_label(period)}{subject}{phrase}？", period, "section_list")
        if record:
            out.append(record)
    return out


def leader_list(corpus: Corpus) -> list[dict]:
    kinds = {"调研": ("调研", "考察"), "会谈": ("会谈", "会商")}
    phrases = {"调研": "市领导到哪些地方或单位调研考察过", "会谈": "市领导和哪些单位的负责人举行了工作会谈"}
    out = []
    for period in sorted({i.period for i in bulletins(corpus)}):
        for kind, words in kinds.items():
            items = [i for i in bulletins(corpus) if i.period == period and leaf(i.section) == "领导活动" and any(w in i.title for w in words)]
            if not 2 <= len(items) <= 16:
                continue
            record = _list_question(corpus, items, f"{month_label(period)}，{phrases[kind]}？", period, "leader_list")
            if record:
                out.append(record)
    return out


def month_overview(corpus: Corpus) -> list[dict]:
    plenary = re.compile(r"全会|常委会召开|常务会议|经济工作会议|工作会议召开|代表大会")
    forms = ("{m}洛阳有哪些大事？", "帮我梳理一下{m}洛阳市的重点工作。")
    out = []
    for period in sorted({i.period for i in bulletins(corpus)}):
        items = [i for i in bulletins(corpus) if i.period == period]
        special = [i for i in items if leaf(i.section) == "特别关注"]
        meetings = [i for i in items if leaf(i.section) == "重要会议" and plenary.search(i.title)]
        key_items = (special[:6] + meetings)[:8]
        gold, facts = [], []
        for item in key_items:
            anchor = title_anchor(item)
            quote = quote_for(corpus, item, [anchor]) if anchor else ""
            if quote:
                gold.append(Gold(item, quote))
                facts.append(anchor)
        if len(gold) >= 5:
            text = variant(forms, period).format(m=month_label(period))
            out.append(question("month_summary", text, period, gold, facts[:5], "month_overview"))
    return out


# -- unanswerable -----------------------------------------------------------------------------------


def missing_month(answerable: Sequence[dict], n: int = 24) -> list[dict]:
    """A bulletin question moved to a neighbouring month the corpus has no bulletin for."""
    # Not date_of: "which day in <another month> was X" has an answer (the day it really was).
    eligible = [q for q in answerable if q["tags"][0] in ("title_figure", "body_figure", "leader_list") and q["period"] in NEIGHBOUR_MONTHS]
    out = []
    for record in pick(eligible, n, "missing_month", key=lambda q: q["question"]):
        months = NEIGHBOUR_MONTHS[record["period"]]
        target = variant(months, record["question"])
        label = month_label(record["period"])
        text = record["question"]
        if label in text:
            text = text.replace(label, month_label(target))
        elif re.match(r"^\d{1,2}月", text):
            continue
        else:
            text = f"{month_label(target)}，{text.removeprefix('听说')}"
        kind = "missing_month" if target[:4] == record["period"][:4] else "adjacent_year_or_place"
        out.append(unanswerable(text, target, kind, "missing_month", f"资料中没有{month_label(target)}的政务信息月报。"))
    return out


def other_report(answerable: Sequence[dict], corpus: Corpus, n: int = 16) -> list[dict]:
    """A report question asked of a report the corpus lacks: the next year's, or a neighbouring district's."""
    eligible = [q for q in answerable if q["tags"][0] == "report_figure"]
    labels = {report_label(i) for i in corpus.items if i.kind == "report"}
    out = []
    for record in pick(eligible, n, "other_report", key=lambda q: q["question"]):
        label = next(l for l in labels if record["question"].startswith(l))
        if "涧西区" in label:
            other = label.replace("涧西区", variant(OTHER_DISTRICTS, record["question"]))
        else:
            year = int(re.search(r"(\d{4})年", label)[1])
            other = label.replace(f"{year}年", f"{year + variant((1, 2), record['question'])}年")
        text = record["question"].replace(label, other, 1)
        out.append(unanswerable(text, "", "adjacent_year_or_place", "other_report", f"资料中没有{other}。"))
    return out


def other_city(answerable: Sequence[dict], corpus: Corpus, n: int = 10) -> list[dict]:
    """A Luoyang figure asked of another city the bulletins do not cover."""
    # Only where 洛阳 names the city ("洛阳市…", a question opening with 洛阳), not a site such as 隋唐洛阳城.
    eligible = [q for q in answerable if q["tags"][0] == "title_figure" and re.search(r"^(听说)?洛阳|洛阳市", q["question"])]
    out = []
    for record in pick(eligible, n, "other_city", key=lambda q: q["question"]):
        city = variant(OTHER_CITIES, record["question"])
        item_text = next(i.text for i in corpus.items_of(record["gold"][0]["file"]) if i.title == record["gold"][0]["title"])
        if city in item_text:
            continue
        text = re.sub(r"^(听说)?洛阳|洛阳市", lambda m: (m.group(1) or "") + city + ("市" if m.group(0).endswith("市") else ""), record["question"], count=1)
        out.append(unanswerable(text, record["period"], "adjacent_year_or_place", "other_city", f"资料只涉及洛阳，没有{city}的相关信息。"))
    return out


def generate(corpus: Corpus) -> list[dict]:
    """Every template family, answerable first, then the unanswerable ones derived from them."""
    answerable = [
        *date_of(corpus),
        *on_date(corpus),
        *title_figure(corpus),
        *body_figure(corpus),
        *meeting_partner(corpus),
        *led_by(corpus),
        *report_figure(corpus),
        *glossary(corpus),
        *section_list(corpus),
        *leader_list(corpus),
        *month_overview(corpus),
    ]
    seen: set[str] = set()
    unique = []
    for record in answerable:
        if squash(record["question"]) not in seen:
            seen.add(squash(record["question"]))
            unique.append(record)
    return unique + missing_month(unique) + other_report(unique, corpus) + other_city(unique, corpus)


__all__ = ["generate"]
