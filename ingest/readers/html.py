"""HTML pages through trafilatura (Apache-2.0): the main text without the site around it (menus,
breadcrumbs, related links, footers), as Markdown, so headings and bold titles reach the parsers.

A page too small for trafilatura's main-content model falls back to all of its visible text.
The page's <title> heads the text when the extracted body does not start with a heading, and the
publication date a site puts in its <meta> tags follows it as "发布日期：…", where ingest.docdate
finds it (the body rarely repeats it).
"""

from __future__ import annotations

from pathlib import Path

from ingest.decode import UnreadableDocument
from ingest.readers.records import Extracted

# <meta name=… content=…> that carry a page's publication date (Chinese government sites, Open Graph).
_DATE_META = ("pubdate", "publishdate", "firstpublishedtime", "article:published_time", "dc.date", "date")


def read_html(path: Path, data: bytes) -> Extracted:
    import lxml.html
    import trafilatura

    try:
        tree = lxml.html.fromstring(data)
    except (ValueError, lxml.etree.ParserError) as error:
        raise UnreadableDocument(f"{path.name}: 无法解析 HTML（{error}）") from error
    text = trafilatura.extract(
        tree,
        output_format="markdown",
        include_formatting=True,
        include_tables=True,
        include_comments=False,
        include_links=False,
        include_images=False,
        favor_recall=True,
        deduplicate=False,
    )
    if not text or not text.strip():
        for hidden in tree.xpath("//script|//style|//noscript"):
            hidden.drop_tree()
        text = "\n\n".join(line.strip() for line in tree.text_content().splitlines() if line.strip())
    if not text.strip():
        raise UnreadableDocument(f"{path.name}: 网页中没有正文文字")
    published = _published(tree)
    if published and published not in text[:300]:
        text = f"发布日期：{published}\n\n{text}"
    title = (tree.findtext(".//title") or "").strip()
    if title and not text.lstrip().startswith("#"):
        text = f"# {title}\n\n{text}"
    return Extracted(text=text.strip() + "\n", format="html")


def _published(tree) -> str:
    for meta in tree.iter("meta"):
        name = (meta.get("name") or meta.get("property") or "").strip().lower()
        if name in _DATE_META and (meta.get("content") or "").strip():
            return meta.get("content").strip()
    return ""
