"""Word .docx through python-docx: paragraphs and tables in document order, as light Markdown.

Heading styles become "#" headings and a bold lead-in becomes "**…**", the marks the parsers already
read in the bundled .txt/.md files (a bulletin's item title, a report's section heading).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from ingest.decode import UnreadableDocument
from ingest.readers.records import Extracted

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.IGNORECASE)


def read_docx(path: Path) -> Extracted:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError, PackageNotFoundError) as error:
        raise UnreadableDocument(f"{path.name}: 不是有效的 Word（.docx）文件（{error}）；若是旧版 .doc，请另存为 .docx") from error
    lines: list[str] = []
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            line = _paragraph(Paragraph(child, document))
            if line:
                lines.append(line)
        elif tag == "tbl":
            lines.extend(_table_rows(Table(child, document)))
    text = "\n\n".join(lines)
    if not text.strip():
        raise UnreadableDocument(f"{path.name}: Word 文件中没有文字")
    return Extracted(text=text + "\n", format="docx")


def _paragraph(paragraph) -> str:
    text = paragraph.text.strip()
    if not text:
        return ""
    style = paragraph.style.name if paragraph.style is not None else ""
    heading = _HEADING_STYLE.match(style or "")
    if heading or (style or "").lower() == "title":
        return f"{'#' * (int(heading.group(1)) if heading else 1)} {text}"
    lead = _bold_lead(paragraph)
    if lead and lead != text:
        return f"**{lead}** {text[len(lead):].strip()}" if text.startswith(lead) else text
    if lead == text:
        return f"**{text}**"
    return text


def _bold_lead(paragraph) -> str:
    """The text of the bold runs a paragraph starts with ("" when it does not start bold)."""
    lead = []
    for run in paragraph.runs:
        if not run.text.strip() and lead:
            lead.append(run.text)
            continue
        if not run.bold:
            break
        lead.append(run.text)
    return "".join(lead).strip()


def _table_rows(table) -> list[str]:
    """Each row as its cells joined by "；" (merged cells repeat in python-docx: kept once)."""
    rows = []
    for row in table.rows:
        cells = list(dict.fromkeys(cell.text.strip() for cell in row.cells))
        text = "；".join(cell for cell in cells if cell)
        if text:
            rows.append(text)
    return rows
