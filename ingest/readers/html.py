"""HTML pages through trafilatura (Apache-2.0): the main text without the site around it (menus,
breadcrumbs, related links, footers), as Markdown, so headings and bold titles reach the parsers.

A page too small for trafilatura's main-content model falls back to all of its visible text.
The page's <title> heads the text when the extracted body does not start with a heading.
"""

from __future__ import annotations

from pathlib import Path

from ingest.decode import UnreadableDocument
from ingest.readers.records import Extracted


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
    title = (tree.findtext(".//title") or "").strip()
    if title and not text.lstrip().startswith("#"):
        text = f"# {title}\n\n{text}"
    return Extracted(text=text.strip() + "\n", format="html")
