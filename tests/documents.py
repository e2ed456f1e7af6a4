"""Real files built from the corpus texts, as offices publish them: PDF (Chromium's print-to-PDF with a
CJK font, a running head and "— N —" page numbers), Word .docx (python-docx), an HTML page with a
site's navigation around the text, and scans (PDF pages rendered to images). Used by the tests and
by bench/pdf_readers.py."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
RUNNING_HEAD = "洛阳市人民政府办公室编印"

_HEADING = re.compile(r"^(#{1,6})\s*(.*?)\s*#*\s*$")
_BOLD_LINE = re.compile(r"^\s*\*\*([^*]+)\*\*\s*$")
_TOC_LINE = re.compile(r"(?:\.{2,}|…+)\s*\d{1,3}\s*$")

_PAGE_CSS = f"""
@page {{ size: A4; margin: 22mm 20mm 22mm 20mm;
  @top-center {{ content: "{RUNNING_HEAD}"; font-size: 9pt; color: #555; }}
  @bottom-center {{ content: "— " counter(page) " —"; font-size: 10pt; }} }}
body {{ font-family: "WenQuanYi Micro Hei", sans-serif; font-size: 12pt; line-height: 1.7; }}
p {{ margin: 0 0 0.3em 0; text-indent: 2em; text-align: justify; }}
p.flat {{ text-indent: 0; }}
h1, h2, h3, h4 {{ font-size: 14pt; margin: 0.6em 0 0.3em 0; }}
"""


def _inline(text: str) -> str:
    """Escape a line, keeping its bold marks (**x** and <b>x</b>) as bold."""
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"&lt;(/?)b&gt;", r"<\1b>", escaped, flags=re.IGNORECASE)
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escaped)


def _hard_wrapped(text: str) -> bool:
    """A text converted from a PDF that kept its short printed lines (the district report)."""
    lengths = sorted(len(line.strip()) for line in text.split("\n") if line.strip())
    return bool(lengths) and lengths[int(len(lengths) * 0.95)] <= 45


def text_to_html_body(text: str) -> str:
    """One block per non-blank line: Markdown headings as headings, bold marks as bold, the rest as
    paragraphs (indented 2 em, justified). A hard-wrapped text keeps its printed lines as they were."""
    flat = _hard_wrapped(text)
    blocks = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        heading = _HEADING.match(line)
        if heading and heading.group(2):
            level = min(len(heading.group(1)), 4)
            blocks.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif flat or _BOLD_LINE.match(line) or _TOC_LINE.search(line):
            blocks.append(f'<p class="flat">{_inline(line.strip())}</p>')
        else:
            blocks.append(f"<p>{_inline(line.strip())}</p>")
    return "\n".join(blocks)


def print_html(text: str, title: str = "文档") -> str:
    """A page for printing: the document alone."""
    return (
        f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_PAGE_CSS}</style></head><body>{text_to_html_body(text)}</body></html>"
    )


def web_page(text: str, title: str) -> str:
    """The document as a government web site shows it: navigation, breadcrumbs and a footer around it."""
    menu = "".join(f'<li><a href="/{n}">{n}</a></li>' for n in ("首页", "政务公开", "政策文件", "政务服务", "互动交流", "走进洛阳"))
    return (
        f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{html.escape(title)} - 洛阳市人民政府</title>'
        '<script>var _hmt = _hmt || [];</script><style>nav li{display:inline}</style></head><body>'
        f'<header><div class="logo">洛阳市人民政府</div><nav><ul>{menu}</ul></nav></header>'
        '<div class="crumbs">当前位置：<a href="/">首页</a> &gt; <a href="/zwgk">政务公开</a> &gt; 正文</div>'
        f'<article><h1>{html.escape(title)}</h1><div class="content">{text_to_html_body(text)}</div></article>'
        '<aside><h3>相关链接</h3><ul><li><a href="/a">河南省人民政府</a></li><li><a href="/b">中国政府网</a></li></ul></aside>'
        "<footer><p>主办：洛阳市人民政府办公室　网站标识码：4103000001　豫ICP备05000001号</p>"
        "<p>联系电话：0379-63000000　地址：洛阳市洛龙区开元大道</p></footer></body></html>"
    )


def print_pdf(text: str, out: Path, title: str = "文档") -> Path:
    """Print the text to PDF with Debian's Chromium (a real text layer with a CJK font)."""
    if CHROMIUM is None:
        raise RuntimeError("Chromium is not installed: apt-get install -y chromium fonts-wqy-microhei")
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(print_html(text, title), encoding="utf-8")
        subprocess.run(
            [
                CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                "--disable-background-networking", "--disable-component-update", "--no-first-run",
                f"--user-data-dir={tmp}/profile", f"--print-to-pdf={out}", page.as_uri(),
            ],
            check=True, capture_output=True, timeout=120,
        )
    return out


def build_docx(text: str, out: Path) -> Path:
    """A Word file: Markdown headings as Heading styles, bold marks as bold runs, one paragraph per line."""
    import docx

    document = docx.Document()
    for line in text.split("\n"):
        if not line.strip():
            continue
        heading = _HEADING.match(line)
        if heading and heading.group(2):
            document.add_heading(heading.group(2), level=min(len(heading.group(1)), 4))
            continue
        paragraph = document.add_paragraph()
        plain = re.sub(r"</?b>", "**", line.strip(), flags=re.IGNORECASE)
        for index, piece in enumerate(re.split(r"\*\*", plain)):
            if piece:
                paragraph.add_run(piece).bold = index % 2 == 1
    document.save(str(out))
    return out


def scan_pdf(pdf: Path, out: Path, pages: range | None = None, scale: float = 2.0) -> Path:
    """An image-only PDF (no text layer) of the PDF's pages, as a scanner makes it."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(pdf))
    try:
        images = [document[i].render(scale=scale).to_pil().convert("L") for i in (pages or range(len(document)))]
    finally:
        document.close()
    images[0].save(out, save_all=True, append_images=images[1:], resolution=72 * scale)
    return out


def cached_document(kind: str, source: Path) -> Path:
    """A built file ("pdf", "docx", "html") of a corpus text, made once and kept under the system's
    temporary folder, keyed by the text and this builder's code (Chromium takes seconds a PDF)."""
    import hashlib

    text = source.read_text(encoding="utf-8")
    key = hashlib.sha256(text.encode() + Path(__file__).read_bytes() + kind.encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / "heluo-test-documents" / key
    target = folder / f"{source.stem}.{kind}"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"partial-{source.stem}.{kind}"
    if kind == "pdf":
        print_pdf(text, partial, source.stem)
    elif kind == "docx":
        build_docx(text, partial)
    elif kind == "html":
        partial.write_text(web_page(text, source.stem), encoding="utf-8")
    else:
        raise ValueError(kind)
    partial.replace(target)
    return target
