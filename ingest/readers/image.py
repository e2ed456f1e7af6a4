"""Images of pages (scans, photos, faxes as TIFF) through OCR; a multi-page TIFF is a multi-page document."""

from __future__ import annotations

from pathlib import Path

from ingest.decode import UnreadableDocument
from ingest.readers.layout import lines_to_text
from ingest.readers.ocr import recognize
from ingest.readers.records import Extracted


def read_image(path: Path, max_pages: int) -> Extracted:
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        image = Image.open(path)
    except (UnidentifiedImageError, OSError) as error:
        raise UnreadableDocument(f"{path.name}: 无法识别的图片文件（{error}）") from error
    with image:
        frames = getattr(image, "n_frames", 1)
        if frames > max_pages:
            raise UnreadableDocument(f"{path.name}: 图片有 {frames} 页，超过上限 {max_pages} 页（HELUO_MAX_PAGES）")
        pages = [recognize(frame.copy(), number) for number, frame in enumerate(ImageSequence.Iterator(image), start=1)]
    extracted = lines_to_text(pages, "image+ocr", ocr_pages=len(pages))
    if not extracted.text.strip():
        raise UnreadableDocument(f"{path.name}: 图片中没有识别出文字")
    return extracted
