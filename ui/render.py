"""Pure rendering of a structured Answer for the web page and for export: no Gradio, no I/O.

Every piece of text that comes from a document or a generator is HTML-escaped here, so the chat can
show our own markup (citation links, ⚠ marks, source cards) and nothing else; answer text also goes
through ui.safe_markdown, so no Markdown image, link or URL in it fetches or links anything.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ingest.records import Document, Item
from rag.records import Answer, Citation
from ui.safe_markdown import inert, urls_in

LLM_LABELS = {
    "extractive": "抽取式（不用大模型）",
    "local": "本地模型（Qwen2.5 1.5B）",
    "openai": "OpenAI 兼容接口",
}
KIND_LABELS = {"bulletin": "政务信息月报", "report": "政府工作报告", "notice": "通知公告", "news": "新闻报道", "generic": "其他文档"}

_MARKER_RE = re.compile(r"\[(\d+)\]")
# Markdown line starts (headings, bullets, numbers, quotes) stay outside an ⚠ span, or the line
# would stop being a heading or list item.
_LINE_PREFIX_RE = re.compile(r"^(?:\s*(?:#{1,6}\s+|[-*+]\s+|\d{1,3}[.)]\s+|>\s*))*")
_SENTENCE_END_RE = re.compile(r"(?<=[。！？；!?;])")
# Summaries cite every item of a month: beyond this many, the in-chat source list starts folded.
_OPEN_SOURCE_LIST_MAX = 8


@dataclass(frozen=True)
class Turn:
    """One answered question of the conversation: its number (anchors are unique per turn)."""

    number: int
    question: str
    answer: Answer


def cite_anchor(turn: int, n: int) -> str:
    return f"cite-{turn}-{n}"


def _escape(text: str) -> str:
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
        out.append(_escape(text[cursor:start]))
        out.append(f"<mark>{_escape(text[start:end])}</mark>")
        cursor = end
    out.append(_escape(text[cursor:]))
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
            lines.append(f'{_escape(prefix)}<span class="heluo-unsupported" title="{title}">⚠ {inert(body, sourced)}</span>')
        else:
            lines.append(_escape(line))
    return "\n".join(lines)


def answer_body(answer: Answer, turn: int) -> str:
    """The answer's Markdown, made inert, with [n] linked to its source card and ⚠ on unsupported sentences."""
    text = answer.text
    cited = {c.n for c in answer.citations}
    sourced = sourced_urls(answer)
    pieces, cursor = [], 0
    for start, end, reason in _unsupported_spans(text, answer):
        pieces.append(inert(text[cursor:start], sourced))
        pieces.append(_mark_unsupported(text[start:end], reason, sourced))
        cursor = end
    pieces.append(inert(text[cursor:], sourced))
    return _link_markers("".join(pieces), turn, cited)


def sourced_urls(answer: Answer) -> frozenset[str]:
    """URLs that stand verbatim in the items the answer cites: the only ones it may show (as text)."""
    return frozenset(url for c in answer.citations for url in urls_in(c.item.text))


def answer_status(answer: Answer) -> str:
    """One line: which generator answered, fidelity, how many sentences could not be verified, time."""
    label = LLM_LABELS.get(answer.llm, answer.llm)
    parts = [f"生成方式：{_escape(label)}"]
    if answer.refused:
        parts.append("未作答（资料不足）")
    else:
        claims = len(answer.checks)
        supported = claims - len(answer.unsupported)
        parts.append(f"忠实度 {answer.fidelity:.2f}（{supported}/{claims} 句有来源支持）" if claims else f"忠实度 {answer.fidelity:.2f}")
        parts.append(f"{len(answer.citations)} 条来源")
    total = answer.timings_ms.get("total")
    if total is not None:
        parts.append(f"{total / 1000:.1f} 秒")
    return f'<div class="heluo-status">{" · ".join(parts)}</div>'


def notices_html(answer: Answer, requested_llm: str | None = None) -> str:
    notes = list(answer.notices)
    if requested_llm and requested_llm not in ("auto", answer.llm) and not any("改用" in n or "只给出" in n for n in notes):
        notes.append(f"所选生成器 {requested_llm} 未能使用，本次由 {LLM_LABELS.get(answer.llm, answer.llm)} 作答。")
    return "".join(f'<div class="heluo-notice">ℹ️ {inert(note)}</div>' for note in notes)


def item_meta(item: Item, documents: Mapping[str, Document] | None = None) -> str:
    """'2023-07-06 · 特别关注 · 洛阳政务信息月报（001_….txt）' with whatever the item has."""
    when = item.date or ""
    if item.date_end and item.date_end != item.date:
        when = f"{item.date} 至 {item.date_end}"
    document = (documents or {}).get(item.file)
    source = f"{document.title}（{item.file}）" if document and document.title else item.file
    return " · ".join(part for part in (when, item.section, source, page_label(item)) if part)


def page_label(item: Item) -> str:
    """'第 3 页' or '第 3–4 页' for an item of a paged source (PDF, scan); '' otherwise."""
    if not item.page:
        return ""
    if item.page_end and item.page_end != item.page:
        return f"第 {item.page}–{item.page_end} 页"
    return f"第 {item.page} 页"


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
    parts = [answer_body(answer, turn), notices_html(answer, requested_llm), answer_status(answer), source_list(answer, turn, documents)]
    return "\n\n".join(part for part in parts if part)


def pending_message() -> str:
    """Shown until the first words arrive (a local LLM may need seconds to load and read the sources)."""
    return '<span class="heluo-meta">正在检索资料、生成回答…</span> ▌'


def streaming_message(text: str) -> str:
    """The answer while it streams: inert text and a cursor (links come with the final answer)."""
    return f"{inert(text)} ▌"


def error_message(message: str) -> str:
    return f'<div class="heluo-error">⚠️ {_escape(message)}</div>'


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
        f"<li>{_escape(s if len(s) <= _FLAGGED_CHARS else s[:_FLAGGED_CHARS] + '…')}</li>" for s in item.flagged[:_FLAGGED_SHOWN]
    )
    more = f"<li>……另 {len(item.flagged) - _FLAGGED_SHOWN} 句</li>" if len(item.flagged) > _FLAGGED_SHOWN else ""
    return f'<div class="heluo-warning">⚠ {_escape(FLAGGED_WARNING.format(n=len(item.flagged)))}<ul>{shown}{more}</ul></div>'


def citation_card(citation: Citation, turn: int, documents: Mapping[str, Document] | None = None, opened: bool = False) -> str:
    item = citation.item
    return (
        f'<details class="heluo-card" id="{cite_anchor(turn, citation.n)}"{" open" if opened else ""}>'
        f'<summary><span class="heluo-n">[{citation.n}]</span> <b>{_escape(item.title)}</b>'
        f'<div class="heluo-meta">{_escape(item_meta(item, documents))}</div></summary>'
        f'{flagged_warning(item)}<div class="heluo-fulltext">{highlight_quote(item.text, citation.quote)}</div>'
        f'<div class="heluo-lines">{_escape(item.file)} 第 {item.line_start}–{item.line_end} 行</div>'
        "</details>"
    )


def turn_sources(turn: Turn, documents: Mapping[str, Document] | None = None) -> str:
    cards = "".join(citation_card(c, turn.number, documents) for c in turn.answer.citations)
    body = cards or '<div class="heluo-empty">这一问没有引用来源。</div>'
    return (
        f'<section class="heluo-turn" id="turn-{turn.number}">'
        f'<div class="heluo-turn-title">第 {turn.number} 问：{_escape(turn.question)}</div>{body}</section>'
    )


def sources_panel(turns: Sequence[Turn], documents: Mapping[str, Document] | None = None) -> str:
    """All turns' sources, newest first, so a [n] in any earlier answer still finds its card."""
    if not turns:
        return '<div class="heluo-sources-panel"><div class="heluo-empty">提问后，这里列出每条引用的原文；点击回答中的 [n] 或来源卡片即可展开，支持句以高亮显示。</div></div>'
    return '<div class="heluo-sources-panel">' + "".join(turn_sources(t, documents) for t in reversed(turns)) + "</div>"


# -- export ----------------------------------------------------------------------------------------
def answer_to_markdown(turn: Turn, documents: Mapping[str, Document] | None = None) -> str:
    """A self-contained Markdown file: question, answer, checks, and numbered sources with quotes."""
    answer = turn.answer
    sourced = sourced_urls(answer)
    lines = [f"# {inert(turn.question)}", "", inert(answer.text.strip(), sourced), ""]
    for note in answer.notices:
        lines.append(f"> {inert(note)}")
    if answer.notices:
        lines.append("")
    if answer.unsupported:
        lines += ["## 未能核实的句子", ""] + [f"- ⚠ {inert(s, sourced)}" for s in answer.unsupported] + [""]
    lines.append(f"*生成方式：{LLM_LABELS.get(answer.llm, answer.llm)} · 忠实度 {answer.fidelity:.2f}*")
    if answer.citations:
        lines += ["", "## 来源", ""]
        for c in answer.citations:
            where = f"{item_meta(c.item, documents)}，第 {c.item.line_start}–{c.item.line_end} 行"
            lines.append(f"[{c.n}] **{inert(c.item.title)}**（{inert(where)}）")
            lines.append(f"    > {inert(c.quote.strip(), sourced)}")
            if c.item.flagged:
                lines.append(f"    > ⚠ {FLAGGED_WARNING.format(n=len(c.item.flagged))}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# -- corpus table ----------------------------------------------------------------------------------
DOCUMENT_COLUMNS = ["文件", "类型", "标题", "期间", "条目数"]


def documents_rows(documents: Sequence[Document]) -> list[list]:
    return [[d.file, KIND_LABELS.get(d.kind, d.kind), d.title, d.period, d.items] for d in documents]
