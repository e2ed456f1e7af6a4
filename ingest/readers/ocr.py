"""Optical character recognition of page images: RapidOCR with the PP-OCR Chinese models its wheel ships.

The models are files inside the `rapidocr` package (nothing is downloaded at run time; `model_files`
says where they are, and `engine` refuses to start when one is missing instead of letting RapidOCR
fetch it). The engine is loaded once per process, on the first page that needs it (about a second).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from ingest.readers.layout import PageLines, TextLine, merge_fragments

# PP-OCR detection works on images up to this size; larger scans are scaled down to it.
_MAX_SIDE = 2000
_MIN_SCORE = 0.5
_lock = threading.Lock()


class OcrUnavailable(RuntimeError):
    """The OCR package or its bundled models are missing."""


def model_files() -> list[Path]:
    """The ONNX models inside the installed rapidocr package (detection, orientation, recognition)."""
    try:
        import rapidocr
    except ImportError as error:
        raise OcrUnavailable("未安装 OCR 组件 rapidocr（扫描件和图片需要它）：请运行 scripts/install.sh") from error
    return sorted((Path(rapidocr.__file__).parent / "models").glob("*.onnx"))


@lru_cache(maxsize=1)
def engine() -> Any:
    models = model_files()
    if len(models) < 3:
        raise OcrUnavailable("rapidocr 包内缺少 PP-OCR 模型文件；请重新安装 rapidocr（不会在运行时下载模型）")
    import logging

    from rapidocr import RapidOCR

    logging.getLogger("RapidOCR").setLevel(logging.WARNING)
    # Pages come upright (a PDF page, a scan): the orientation classifier is skipped.
    return RapidOCR(params={"Global.log_level": "warning", "Global.max_side_len": _MAX_SIDE, "Global.use_cls": False})


def recognize(image: Any, number: int) -> PageLines:
    """The text lines of one page image (a PIL image), in page order."""
    import numpy as np

    rgb = np.asarray(image.convert("RGB"))
    height, width = rgb.shape[:2]
    with _lock:  # one recognition at a time: ONNX Runtime already uses every core
        result = engine()(rgb)
    fragments = []
    for box, text, score in zip(result.boxes if result.boxes is not None else [], result.txts or (), result.scores or ()):
        if score < _MIN_SCORE or not text.strip():
            continue
        xs = [float(point[0]) for point in box]
        ys = [float(point[1]) for point in box]
        fragments.append(TextLine(text.strip(), min(xs), max(xs), min(ys), max(ys)))
    return PageLines(number, float(width), float(height), tuple(merge_fragments(fragments)))
