"""Pure rendering of a structured Answer for the web page and for export: no Gradio, no I/O.

Every piece of text that comes from a document or a generator is HTML-escaped here, so the chat can
show our own markup (citation links, ⚠ marks, source cards) and nothing else; answer text also goes
through ui.safe_markdown, so no Markdown image, link or URL in it fetches or links anything.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ingest.records import Document, Item
from rag.digest import LLM_OVERVIEW_HEADING, OVERVIEW_HEADING, overview_first
from rag.records import Answer, Citation
from ui.safe_markdown import inert, urls_in

LLM_LABELS = {
    "extractive": "原文摘录",
    "local": "本地模型",
    "openai": "大模型服务（OpenAI 兼容接口）",
    "hybrid": "原文摘录 + 大模型概括",
}
KIND_LABELS = {"bulletin": "政务信息月报", "report": "政府工作报告", "notice": "通知公告", "news": "新闻报道", "generic": "其他文档"}

_MARKER_RE = re.compile(r"\[(\d+)\]")
# Markdown line starts (headings, bullets, numbers, quotes) stay outside an ⚠ span, or the line
# would stop being a heading or list item.
_LINE_PREFIX_RE = re.compile(r"^(?:\s*(?:#{1,6}\s+|[-*+]\s+|\d{1,3}[.)]\s+|>\s*))*")
_SENTENCE_END_RE = re.compile(r"(?<=[。！？；!?;])")
# Summaries cite every item of a month: beyond this many, the in-chat source list starts folded.
_OPEN_SOURCE_LIST_MAX = 8
# Digest headings that stay open when its sections fold: the overview, and an LLM overview appended after it.
_OPEN_HEADINGS = {OVERVIEW_HEADING, LLM_OVERVIEW_HEADING}
# Service notices name generators the way engineers do; a reader gets these words instead.
_PLAIN_WORDS = (
    (re.compile(r"LLM（(\w+)）"), lambda m: LLM_LABELS.get(m.group(1), "大模型")),
    (re.compile(r"抽取式"), lambda m: "原文摘录"),
    (re.compile(r"忠实度\s*(\d(?:\.\d+)?)"), lambda m: f"有来源支持的句子仅占 {float(m.group(1)):.0%}"),
    (re.compile(r"[：:]\s*[A-Za-z_][\w.]*$"), lambda m: ""),  # a trailing exception class name
    # An English gloss in brackets, e.g. "问题不能为空 (empty question)": the Chinese says it already.
    (re.compile(r"\s*[(（](?=[^)）]*[A-Za-z])[^)）\u4e00-\u9fff]*[)）]"), lambda m: ""),
)


@dataclass(frozen=True)
class Turn:
    """One question of the conversation: its number (anchors are unique per turn) and its answer,
    or, when it was stopped before the answer was done, the text streamed until then."""

    number: int
    question: str
    answer: Answer | None
    partial: str = ""


def cite_anchor(turn: int, n: int) -> str:
    return f"cite-{turn}-{n}"


def escape(text: str) -> str:
    """Text from a user, a document or a generator, safe inside our Markdown and HTML."""
    return html.escape(text, quote=False)




def _attr(text: str) -> str:
    return html.escape(text, quote=True)


# -- the supporting quote inside the item's full text -----------------------------------------------
def quote_spans(text: str, quote: str) -> list[tuple[int, int]]:
    """Where the quote sits in text: exactly, else sentence by sentence, else ignoring whitespace.

    Quotes are verbatim from Item.text, but a quote of several sentences may skip text between
    them, and PDF-born reports may differ in line breaks; each fallback keeps the highlight exact.
    """
    quote = quote.strip()
    if not quote or not text:
        return []
    start = text.find(quote)
    if start >= 0:
        return [(start, start + len(quote))]
    spans: list[tuple[int, int]] = []
    cursor = 0
    for piece in (p.strip() for p in _SENTENCE_END_RE.split(quote)):
        if not piece:
            continue
        found = _find_loose(text, piece, cursor) or _find_loose(text, piece, 0)
        if found:
            spans.append(found)
            cursor = found[1]
    return _merge(spans)


def _find_loose(text: str, piece: str, start: int) -> tuple[int, int] | None:
    exact = text.find(piece, start)
    if exact >= 0:
        return exact, exact + len(piece)
    chars = [re.escape(c) for c in piece if not c.isspace()]
    if not chars:
        return None
    match = re.compile(r"\s*".join(chars)).search(text, start)
    return (match.start(), match.end()) if match else None


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight_quote(text: str, quote: str) -> str:
    """The full text, escaped, with the supporting quote wrapped in <mark>."""
    out, cursor = [], 0
    for start, end in quote_spans(text, quote):
        out.append(escape(text[cursor:start]))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        cursor = end
    out.append(escape(text[cursor:]))
    return "".join(out)


# -- the answer as a chat message -----------------------------------------------------------------
def _unsupported_spans(text: str, answer: Answer) -> list[tuple[int, int, str]]:
    """(start, end, reason) of each sentence verification could not support, found in order."""
    spans, cursor = [], 0
    for check in answer.checks:
        if check.supported or not check.sentence.strip():
            continue
        start = text.find(check.sentence, cursor)
        if start < 0:
            start = text.find(check.sentence)
        if start < 0:
            continue
        end = start + len(check.sentence)
        spans.append((start, end, check.reason))
        cursor = end
    return spans


def _link_markers(escaped: str, turn: int, cited: set[int]) -> str:
    def link(match: re.Match) -> str:
        n = int(match.group(1))
        if n not in cited:
            return match.group(0)
        return f'<a class="heluo-cite" href="#{cite_anchor(turn, n)}" title="查看来源 {n}">[{n}]</a>'

    return _MARKER_RE.sub(link, escaped)


def _mark_unsupported(sentence: str, reason: str, sourced: frozenset[str]) -> str:
    """Wrap each line of an unsupported sentence, leaving Markdown line prefixes outside."""
    title = _attr(f"未能核实：{reason}" if reason else "未能核实")
    lines = []
    for line in sentence.split("\n"):
        prefix = _LINE_PREFIX_RE.match(line).group(0)
        body = line[len(prefix):]
        if body.strip():
            lines.append(f'{escape(prefix)}<span class="heluo-unsupported" title="{title}">⚠ {inert(body, sourced)}</span>')
        else:
            lines.append(escape(line))
    return "\n".join(lines)


def answer_body(answer: Answer, turn: int) -> str:
    """The answer's Markdown, made inert, with [n] linked to its source card and ⚠ on unsupported sentences.

    A month summary's sections are folded (its overview stays open).
    """
    summary = is_month_summary(answer.text)
    text = overview_first(answer.text) if summary else answer.text
    cited = {c.n for c in answer.citations}
    sourced = sourced_urls(answer)
    pieces, cursor = [], 0
    for start, end, reason in _unsupported_spans(text, answer):
        pieces.append(inert(text[cursor:start], sourced))
        pieces.append(_mark_unsupported(text[start:end], reason, sourced))
        cursor = end
    pieces.append(inert(text[cursor:], sourced))
    body = _link_markers("".join(pieces), turn, cited)
    return fold_sections(body) if summary else body


def sourced_urls(answer: Answer) -> frozenset[str]:
    """URLs that stand verbatim in the items the answer cites: the only ones it may show (as text)."""
    return frozenset(url for c in answer.citations for url in urls_in(c.item.text))


def is_month_summary(text: str) -> bool:
    return text.lstrip().startswith("## ") and OVERVIEW_HEADING in text


def fold_sections(markdown: str) -> str:
    """Each '### section（counts）' block of a digest becomes a closed <details> with the counts shown.

    The overview heading (and an LLM's, if one is appended) stays an open heading. A blank line
    after <summary> and before </details> lets the Markdown inside render as a list.
    """
    out: list[str] = []
    inside = False
    for line in markdown.split("\n"):
        starts_section = line.startswith("### ") and line.strip() not in _OPEN_HEADINGS
        if inside and (starts_section or line.startswith("#")):
            out += ["", "</details>", ""]
            inside = False
        if starts_section:
            name, paren, stats = line[4:].strip().partition("（")
            counts = f' <span class="heluo-meta">（{stats}</span>' if paren else ""
            out += [f'<details class="heluo-section"><summary><b>{name}</b>{counts}</summary>', ""]
            inside = True
        else:
            out.append(line)
    if inside:
        out += ["", "</details>"]
    return "\n".join(out)


def status_text(answer: Answer) -> str:
    """In plain words: how it was answered, how much the sources support it, and the time.

    A refusal decided before any generator ran names none.
    """
    if answer.refused:
        parts = ["未作答：资料中没有足够的信息"]
    else:
        parts = [f"生成方式：{LLM_LABELS.get(answer.llm, answer.llm)}"]
        claims = len(answer.checks)
        if claims:
            parts.append(f"有来源支持的句子：{claims - len(answer.unsupported)}/{claims}")
        if answer.completeness is not None:
            parts.append(f"覆盖检索到的相关条目：{answer.completeness:.0%}")
        parts.append(f"引用来源 {len(answer.citations)} 条")
    total = answer.timings_ms.get("total")
    if total is not None:
        parts.append(f"用时 {total / 1000:.1f} 秒")
    return " · ".join(parts)


def answer_status(answer: Answer, turn: int | None = None) -> str:
    """The status line under an answer; data-turn lets feedback find the turn it is about."""
    data = f' data-turn="{turn}"' if turn is not None else ""
    return f'<div class="heluo-status"{data}>{escape(status_text(answer))}</div>'


def plain_words(note: str) -> str:
    for pattern, words in _PLAIN_WORDS:
        note = pattern.sub(words, note)
    return note


def notices_html(answer: Answer, requested_llm: str | None = None) -> str:
    notes = [plain_words(note) for note in answer.notices]
    if (
        requested_llm
        and not answer.refused
        and requested_llm not in ("auto", answer.llm)
        and not any("改用" in n or "只给出" in n or "原文摘录" in n for n in notes)
    ):
        asked = LLM_LABELS.get(requested_llm, requested_llm)
        notes.append(f"所选的生成方式“{asked}”未能使用，本次由“{LLM_LABELS.get(answer.llm, answer.llm)}”作答。")
    return "".join(f'<div class="heluo-notice">ℹ️ {inert(note)}</div>' for note in notes)


def period_label(period: str) -> str:
    """'2023-07' -> '2023年7月', '2021-02-07' -> '2021年2月7日', anything else as it is."""
    parts = (period or "").split("-")
    if len(parts) >= 2 and all(p.isdigit() for p in parts):
        label = f"{parts[0]}年{int(parts[1])}月"
        return label + (f"{int(parts[2])}日" if len(parts) == 3 else "")
    return period or ""


def document_label(file: str, documents: Mapping[str, Document] | None = None) -> str:
    """A document as a reader knows it: its title, with its period when the title lacks it."""
    document = (documents or {}).get(file)
    if document is None or not document.title:
        return file.rsplit(".", 1)[0]
    period = period_label(document.period)
    if period and period not in re.sub(r"\s+", "", document.title):
        return f"{document.title}（{period}）"
    return document.title


def item_meta(item: Item, documents: Mapping[str, Document] | None = None) -> str:
    """'2023-07-06 · 特别关注 · 政务信息月报（2023年7月）' with whatever the item has."""
    when = item.date or ""
    if item.date_end and item.date_end != item.date:
        when = f"{item.date} 至 {item.date_end}"
    return " · ".join(part for part in (when, item.section, document_label(item.file, documents), page_label(item)) if part)


def page_label(item: Item) -> str:
    """'第 3 页' or '第 3–4 页' for an item of a paged source (PDF, scan); '' otherwise."""
    if not item.page:
        return ""
    if item.page_end and item.page_end != item.page:
        return f"第 {item.page}–{item.page_end} 页"
    return f"第 {item.page} 页"


def item_place(item: Item) -> str:
    """The item's lines in a text source; '' for a paged one (item_meta names its pages)."""
    if item.page:
        return ""
    if item.line_end != item.line_start:
        return f"原文第 {item.line_start}–{item.line_end} 行"
    return f"原文第 {item.line_start} 行"


def source_list(answer: Answer, turn: int, documents: Mapping[str, Document] | None = None) -> str:
    """The numbered cards under an answer in the chat; each opens the full item in the sources panel."""
    if not answer.citations:
        return ""
    cards = "".join(
        f'<li><a class="heluo-source" href="#{cite_anchor(turn, c.n)}">'
        f'<span class="heluo-n">[{c.n}]</span> <b>{inert(c.item.title)}</b> {_flag_badge(c.item)}'
        f'<span class="heluo-meta">{inert(item_meta(c.item, documents))}</span></a></li>'
        for c in answer.citations
    )
    opened = " open" if len(answer.citations) <= _OPEN_SOURCE_LIST_MAX else ""
    return (
        f'<details class="heluo-sources"{opened}><summary>来源（{len(answer.citations)} 条，点击查看原文）</summary>'
        f'<ol class="heluo-source-list">{cards}</ol></details>'
    )


def answer_message(answer: Answer, turn: int, documents: Mapping[str, Document] | None = None, requested_llm: str | None = None) -> str:
    """The whole chat message: body, notices, status line and source cards."""
    parts = [answer_body(answer, turn), notices_html(answer, requested_llm), answer_status(answer, turn), source_list(answer, turn, documents)]
    return "\n\n".join(part for part in parts if part)


def pending_message() -> str:
    """Shown until the first words arrive (a local LLM may need seconds to load and read the sources)."""
    return '<span class="heluo-meta">正在检索资料、生成回答…</span> ▌'


def streaming_message(text: str, turn: int = 0, citations: Sequence[Citation] = ()) -> str:
    """The answer while it streams: inert, [n] linked once its sentence is verified, and a cursor."""
    sourced = frozenset(url for c in citations for url in urls_in(c.item.text))
    if is_month_summary(text):
        body = fold_sections(_link_markers(inert(overview_first(text), sourced), turn, {c.n for c in citations}))
    else:
        body = _link_markers(inert(text, sourced), turn, {c.n for c in citations})
    return f"{body} ▌"


def stopped_message(partial: str) -> str:
    """A turn the user stopped (or whose page closed) before its answer was verified."""
    body = f"{inert(partial.strip())}\n\n" if partial.strip() else ""
    return f'{body}<div class="heluo-notice">■ 已停止生成：以上内容未经核实，可点“重新生成”再问一次。</div>'


def provisional_answer(question: str, text: str, citations: Sequence[Citation]) -> Answer:
    """What is known of an answer while it streams: its text and the citations verified so far."""
    return Answer(question, text, False, "", citations=list(citations))


_TURN_OF_MESSAGE_RE = re.compile(r'class="heluo-status" data-turn="(\d+)"')


def turn_of_message(content: str) -> int | None:
    """The turn an answer message belongs to (its status line says), None for other messages."""
    match = _TURN_OF_MESSAGE_RE.search(content or "")
    return int(match.group(1)) if match else None


def conversation_label(title: str, started: str) -> str:
    """'2023年7月洛阳有哪些重要工作？ · 05-03 14:02' for the sidebar."""
    when = started.replace("T", " ")[5:16] if len(started) >= 16 else started
    return f"{title} · {when}"


def error_message(message: str) -> str:
    return f'<div class="heluo-error">⚠️ {escape(plain_words(message))}</div>'


def turn_messages(turn: Turn, documents: Mapping[str, Document] | None = None, requested_llm: str | None = None) -> list[dict]:
    """The user and assistant chat messages of one turn."""
    reply = answer_message(turn.answer, turn.number, documents, requested_llm) if turn.answer else stopped_message(turn.partial)
    return [{"role": "user", "content": inert(turn.question)}, {"role": "assistant", "content": reply}]


# -- the sources panel: every cited item's full text ------------------------------------------------
FLAGGED_WARNING = "此条含 {n} 句疑似写给模型或读者的指令、索要个人信息的文字，已排除在回答依据之外，请勿照做。"


def _flag_badge(item: Item) -> str:
    return '<span class="heluo-flagged" title="含疑似指令的文字">⚠ 含疑似指令</span> ' if item.flagged else ""


_FLAGGED_SHOWN = 3
_FLAGGED_CHARS = 60


def flagged_warning(item: Item) -> str:
    """The warning on a card whose item holds sentences ingest flagged (ingest.untrusted), naming them."""
    if not item.flagged:
        return ""
    shown = "".join(
        f"<li>{escape(s if len(s) <= _FLAGGED_CHARS else s[:_FLAGGED_CHARS] + '…')}</li>" for s in item.flagged[:_FLAGGED_SHOWN]
    )
    more = f"<li>……另 {len(item.flagged) - _FLAGGED_SHOWN} 句</li>" if len(item.flagged) > _FLAGGED_SHOWN else ""
    return f'<div class="heluo-warning">⚠ {escape(FLAGGED_WARNING.format(n=len(item.flagged)))}<ul>{shown}{more}</ul></div>'


def citation_card(citation: Citation, turn: int, documents: Mapping[str, Document] | None = None, opened: bool = False) -> str:
    item = citation.item
    place = item_place(item)
    return (
        f'<details class="heluo-card" id="{cite_anchor(turn, citation.n)}"{" open" if opened else ""}>'
        f'<summary><span class="heluo-n">[{citation.n}]</span> <b>{escape(item.title)}</b>'
        f'<div class="heluo-meta">{escape(item_meta(item, documents))}</div></summary>'
        f'{flagged_warning(item)}<div class="heluo-fulltext">{highlight_quote(item.text, citation.quote)}</div>'
        + (f'<div class="heluo-lines">{escape(place)}</div>' if place else "")
        + "</details>"
    )


def turn_sources(turn: Turn, documents: Mapping[str, Document] | None = None) -> str:
    citations = turn.answer.citations if turn.answer else []
    cards = "".join(citation_card(c, turn.number, documents) for c in citations)
    empty = "这一问没有引用来源。" if turn.answer else "这一问已停止生成，没有核实过的来源。"
    body = cards or f'<div class="heluo-empty">{empty}</div>'
    return (
        f'<section class="heluo-turn" id="turn-{turn.number}">'
        f'<div class="heluo-turn-title">第 {turn.number} 问：{escape(turn.question)}</div>{body}</section>'
    )


def sources_panel(turns: Sequence[Turn], documents: Mapping[str, Document] | None = None) -> str:
    """All turns' sources, newest first, so a [n] in any earlier answer still finds its card."""
    if not turns:
        return '<div class="heluo-sources-panel"><div class="heluo-empty">提问后，这里列出每条引用的原文；点击回答中的 [n] 或来源卡片即可展开，支持句以高亮显示。</div></div>'
    return '<div class="heluo-sources-panel">' + "".join(turn_sources(t, documents) for t in reversed(turns)) + "</div>"


# -- export ----------------------------------------------------------------------------------------
def answer_to_markdown(turn: Turn, documents: Mapping[str, Document] | None = None, heading: str = "#") -> str:
    """A self-contained Markdown answer: question, answer, checks, and numbered sources with quotes.

    heading: the question's heading level ("##" inside a whole conversation).
    """
    answer = turn.answer
    lines = [f"{heading} {inert(turn.question)}", ""]
    if answer is None:
        lines += [inert(turn.partial.strip()), "", "*已停止生成：以上内容未经核实。*"] if turn.partial.strip() else ["*已停止生成。*"]
        return "\n".join(lines).rstrip() + "\n"
    sourced = sourced_urls(answer)
    text = overview_first(answer.text) if is_month_summary(answer.text) else answer.text
    lines += [inert(text.strip(), sourced), ""]
    notes = [plain_words(note) for note in answer.notices]
    lines += [f"> {inert(note)}" for note in notes] + ([""] if notes else [])
    if answer.unsupported:
        lines += [f"{heading}# 未能核实的句子", ""] + [f"- ⚠ {inert(s, sourced)}" for s in answer.unsupported] + [""]
    lines.append(f"*{status_text(answer)}*")
    if answer.citations:
        lines += ["", f"{heading}# 来源", ""]
        for c in answer.citations:
            where = "，".join(part for part in (item_meta(c.item, documents), item_place(c.item)) if part)
            lines.append(f"[{c.n}] **{inert(c.item.title)}**（{inert(where)}）")
            lines.append(f"    > {inert(c.quote.strip(), sourced)}")
            if c.item.flagged:
                lines.append(f"    > ⚠ {FLAGGED_WARNING.format(n=len(c.item.flagged))}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def conversation_to_markdown(title: str, started: str, turns: Sequence[Turn], documents: Mapping[str, Document] | None = None) -> str:
    """A whole conversation: its title and date, then every question with its answer and sources."""
    head = [f"# {title}", "", f"*河洛问答 · 开始于 {started.replace('T', ' ')[:16]} · 共 {len(turns)} 问*", ""]
    body = [answer_to_markdown(replace(turn, question=f"第 {turn.number} 问：{turn.question}"), documents, heading="##") for turn in turns]
    return "\n".join(head) + "\n".join(body)


# -- corpus table ----------------------------------------------------------------------------------
DOCUMENT_COLUMNS = ["文件", "类型", "标题", "期间", "条目数"]


def documents_rows(documents: Sequence[Document]) -> list[list]:
    return [[d.file, KIND_LABELS.get(d.kind, d.kind), d.title, d.period, d.items] for d in documents]
