"""Which library reads the text layer of Chinese PDFs best (not a test): pypdfium2, pdfplumber, pypdf.

The five corpus texts are printed to PDF by Chromium (tests/documents.py: CJK font, justified text,
running head, "— N —" page numbers), each library extracts the text, and the extraction is compared
with the source text, whitespace and Markdown marks removed:
  recall     = characters of the source found in order in the extraction (difflib matching blocks)
  precision  = share of the extraction that is source text (the rest: running heads, page numbers,
               characters out of order or invented)
  spaces     = spaces inside Chinese text (between two CJK characters, digits or marks) that the
               source does not have, per 1,000 characters: they split words for search ("2 0 2 2")
  furniture  = running heads and "— N —" page numbers left in the text, per page
  pages/s    = extraction speed
"heluo" is ingest.readers.pdf (pypdfium2 + running heads removed + wrapped lines rejoined).

Run: .venv/bin/pip install pdfplumber==0.11.10 pypdf==7.1.0 (bench only, not project dependencies)
     nice -n 10 .venv/bin/python bench/pdf_readers.py     (about a minute; writes bench/results/pdf_readers.json)
"""

from __future__ import annotations

import difflib
import json
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]
RESULTS = REPO / "bench" / "results" / "pdf_readers.json"
LICENCES = {"heluo": "Apache-2.0 / BSD-3 (PDFium)", "pypdfium2": "Apache-2.0 / BSD-3 (PDFium)", "pdfplumber": "MIT (pdfminer.six MIT)", "pypdf": "BSD-3"}


def _pypdfium2(path: Path) -> str:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(path))
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


def _pdfplumber(path: Path) -> str:
    import pdfplumber

    with pdfplumber.open(str(path)) as document:
        return "\n".join(page.extract_text() or "" for page in document.pages)


def _pypdf(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)


def _heluo(path: Path) -> str:
    from ingest.readers.pdf import read_pdf

    return read_pdf(path, max_pages=10_000).text


READERS = {"heluo": _heluo, "pypdfium2": _pypdfium2, "pdfplumber": _pdfplumber, "pypdf": _pypdf}


def normalise(text: str) -> str:
    return re.sub(r"\s+|\*\*|</?b>|^#+", "", text, flags=re.MULTILINE | re.IGNORECASE)


def compare(source: str, extracted: str) -> tuple[float, float]:
    """(recall, precision) of the extraction's characters, matched in order page block by block."""
    a, b = normalise(source), normalise(extracted)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    return matched / max(1, len(a)), matched / max(1, len(b))


_INNER_SPACE = re.compile(r"(?<=[\u4e00-\u9fff\d，。、；：“”（）])[ \t\u3000]+(?=[\u4e00-\u9fff\d，。、；：“”（）])")
_FURNITURE = re.compile(r"洛阳市人民政府办公室编印|[—－–-]\s*\d{1,3}\s*[—－–-]")


def spurious_spaces(source: str, extracted: str) -> float:
    extra = len(_INNER_SPACE.findall(extracted)) - len(_INNER_SPACE.findall(source))
    return max(0, extra) * 1000 / max(1, len(normalise(source)))


def main() -> None:
    from documents import print_pdf

    import pypdfium2 as pdfium

    rows = {name: {"pages": 0, "seconds": 0.0, "recall": [], "precision": [], "spaces": [], "furniture": 0} for name in READERS}
    with tempfile.TemporaryDirectory() as tmp:
        for source in sorted((REPO / "data" / "corpus").glob("*.txt")):
            text = source.read_text(encoding="utf-8")
            pdf = print_pdf(text, Path(tmp) / f"{source.stem}.pdf")
            pages = len(pdfium.PdfDocument(str(pdf)))
            for name, reader in READERS.items():
                started = time.perf_counter()
                try:
                    extracted = reader(pdf)
                except ImportError:
                    continue
                rows[name]["seconds"] += time.perf_counter() - started
                rows[name]["pages"] += pages
                recall, precision = compare(text, extracted)
                rows[name]["recall"].append(recall)
                rows[name]["precision"].append(precision)
                rows[name]["spaces"].append(spurious_spaces(text, extracted))
                rows[name]["furniture"] += len(_FURNITURE.findall(extracted)) - len(_FURNITURE.findall(text))
    figures = {}
    for name, row in rows.items():
        if not row["recall"]:
            continue
        figures[name] = {
            "licence": LICENCES[name],
            "pages": row["pages"],
            "pages_per_second": row["pages"] / row["seconds"],
            "recall": sum(row["recall"]) / len(row["recall"]),
            "precision": sum(row["precision"]) / len(row["precision"]),
            "spurious_spaces_per_1000_chars": sum(row["spaces"]) / len(row["spaces"]),
            "furniture_per_page": row["furniture"] / row["pages"],
            "per_document_recall": [round(r, 4) for r in row["recall"]],
        }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=1, ensure_ascii=False), encoding="utf-8")
    print("| reader | licence | recall | precision | spaces /1000 chars | furniture /page | pages/s |\n|---|---|---|---|---|---|---|")
    for name, row in figures.items():
        print(
            f"| {name} | {row['licence']} | {row['recall']:.4f} | {row['precision']:.4f} | "
            f"{row['spurious_spaces_per_1000_chars']:.1f} | {row['furniture_per_page']:.2f} | {row['pages_per_second']:.1f} |"
        )
    print(f"\nwritten to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
