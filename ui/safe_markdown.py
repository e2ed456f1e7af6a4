"""Untrusted text (LLM output, document quotes) made into Markdown that fetches nothing and links nowhere.

Gradio's chat renders Markdown with marked (GFM): `![a](u)` becomes an <img> the browser fetches at
once; `[a](u)`, `<u>`, a bare `http://…`, `www.…` or an e-mail address becomes a live link; and a
definition line `[1]: u` turns every `[1]` into one. `inert(text)` returns Markdown that shows the
same words with none of that:
- HTML is escaped (`<img>`, `<a>`, `<iframe>`, `<script>`, autolinks `<http://…>`);
- an image becomes 〔图片已屏蔽：alt〕; a link keeps its text, and its target goes through the URL rule;
- a URL found verbatim in a cited source is shown as text with its domain; any other URL is removed
  and its domain named. URLs, domains and e-mail addresses shown have their `. : / @` written as
  character references (`&#46;`…): the browser shows them unchanged, but no autolinker sees a URL;
- what is left of link syntax (`](`, a definition's `]:`) is broken the same way, so pieces of an
  answer rendered apart cannot join into a link; code fences too (a mermaid block can draw links).
Character references, unlike backslash escapes, read the same inside an HTML block (a source card).
The only links in an answer are those ui.render adds afterwards: [n] to the source cards.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from ingest.untrusted import EMAIL_RE, URL_RE

_TARGET = r"\(\s*<?(?P<{0}>[^)\s>]*)>?(?:\s+[\"'(][^)\n]*)?\s*\)"
# Everything that can fetch or link, leftmost first: an image, a link, a bare URL, an e-mail address.
_ACTIVE = re.compile(
    r"(?P<image>!\[(?P<alt>[^\]\n]*)\]" + _TARGET.format("source") + ")"
    r"|(?P<link>\[(?P<label>[^\]\n]*)\]" + _TARGET.format("target") + ")"
    rf"|(?P<url>{URL_RE.pattern}|(?:https?|ftp)://|\bwww\.)|(?P<email>{EMAIL_RE.pattern})",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
_LEFTOVER_LINK = re.compile(r"\]\(")
_DEFINITION = re.compile(r"^(\s{0,3}\[[^\]\n]*\]):", re.MULTILINE)
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})", re.MULTILINE)
_AUTOLINK_CHARS = re.compile(r"[.:/@]")
_TRAILING = ".,;:!?)'\""  # sentence punctuation after a URL is not part of it


def inert(text: str, sourced_urls: Iterable[str] = ()) -> str:
    """`text` (raw, not yet escaped) as HTML-escaped Markdown with no image, link or fetch in it.

    sourced_urls: URLs that appear verbatim in the sources the answer cites; they stay visible as text.
    """
    sourced = frozenset(sourced_urls)
    pieces, cursor = [], 0
    for match in _ACTIVE.finditer(text):
        pieces.append(_escape_markdown(text[cursor : match.start()]))
        pieces.append(_replace(match, sourced))
        cursor = match.end()
    pieces.append(_escape_markdown(text[cursor:]))
    return "".join(pieces)


def urls_in(text: str) -> list[str]:
    """The URLs of a text, trailing sentence punctuation left off."""
    return [match.group(0).rstrip(_TRAILING) for match in URL_RE.finditer(text)]


def domain(url: str) -> str:
    return urlsplit(url if "//" in url else f"//{url}").hostname or ""


def _replace(match: re.Match[str], sourced: frozenset[str]) -> str:
    if match.group("image") is not None:
        alt = match.group("alt").strip()
        return f"〔图片已屏蔽{'：' + inert(alt) if alt else ''}〕" + _target(match.group("source"), "图片地址", sourced)
    if match.group("link") is not None:
        return inert(match.group("label"), sourced) + _target(match.group("target"), "链接", sourced)
    if match.group("email") is not None:
        return _unlinkable(match.group("email"))
    url = match.group("url")
    trimmed = url.rstrip(_TRAILING)
    return _url(trimmed, sourced) + _escape_markdown(url[len(trimmed) :])


def _target(target: str, what: str, sourced: frozenset[str]) -> str:
    """A link or image target: a URL follows the URL rule; anything else (javascript:, //host, a path) goes."""
    target = target.strip()
    if not target:
        return ""
    if URL_RE.fullmatch(target):
        return _url(target, sourced)
    scheme = _SCHEME.match(target)
    label = scheme.group(0).rstrip(":") if scheme else domain(target) if target.startswith("//") else "站内路径"
    return f"〔{what}已移除：{_unlinkable(label)}〕"


def _url(url: str, sourced: frozenset[str]) -> str:
    if url in sourced:
        return f"{_unlinkable(url)}〔来源中的网址，域名 {_unlinkable(domain(url))}，未设链接〕"
    return f"〔链接已移除：{_unlinkable(domain(url)) or '无法识别的网址'}〕"


def _escape_markdown(text: str) -> str:
    escaped = html.escape(text, quote=False)
    escaped = _LEFTOVER_LINK.sub("]&#40;", escaped)
    escaped = _DEFINITION.sub(r"\1&#58;", escaped)
    return _FENCE.sub(lambda m: f"{m.group(1)}&#{ord(m.group(2)[0])};{m.group(2)[1:]}", escaped)


def _unlinkable(text: str) -> str:
    """Text, HTML-escaped, with `. : / @` as character references: shown unchanged, read by no autolinker."""
    return _AUTOLINK_CHARS.sub(lambda m: f"&#{ord(m.group(0))};", html.escape(text, quote=False))
