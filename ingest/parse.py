"""Turn one file into a ParsedDocument: decode, recognise its kind, parse, apply manifest overrides.

The optional manifest (manifest.json in the corpus folder) overrides what is inferred, per file name:
    {"003_a8f260f074064d1f.txt": {"kind": "report", "period": "2022-04-23", "title": "…"}}
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from ingest.bulletin import looks_like_bulletin, parse_bulletin
from ingest.generic import parse_generic
from ingest.readers import SUPPORTED_SUFFIXES, Limits, read_file
from ingest.records import DocumentMeta, ParsedDocument
from ingest.report import looks_like_report, parse_report

MANIFEST_NAME = "manifest.json"
DOCUMENT_SUFFIXES = SUPPORTED_SUFFIXES
_OVERRIDABLE = ("kind", "title", "period")
# notice, news and generic documents share one parser, which tells them apart itself.
_PARSERS = {"bulletin": parse_bulletin, "report": parse_report, "notice": parse_generic, "news": parse_generic, "generic": parse_generic}

log = logging.getLogger(__name__)


def load_manifest(folder: Path) -> dict[str, dict[str, str]]:
    """Per-file overrides from folder/manifest.json; a broken manifest is an error worth stopping for."""
    path = folder / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: 无法读取清单文件 (invalid JSON manifest: {error}); fix or remove it") from error
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError(f'{path}: 清单应为 {{"文件名": {{"kind": …, "period": …, "title": …}}}} 的形式')
    for file, override in data.items():
        unknown = set(override) - set(_OVERRIDABLE)
        if unknown:
            raise ValueError(f"{path}: {file}: unknown keys {sorted(unknown)}; allowed: {list(_OVERRIDABLE)}")
        if override.get("kind") not in (None, *_PARSERS):
            raise ValueError(f"{path}: {file}: kind must be one of {list(_PARSERS)}")
    return data


def detect_kind(text: str) -> str:
    if looks_like_bulletin(text):
        return "bulletin"
    if looks_like_report(text):
        return "report"
    return "generic"


def parse_text(text: str, file: str, override: dict[str, str] | None = None) -> ParsedDocument:
    override = override or {}
    kind = override.get("kind") or detect_kind(text)
    parsed = _PARSERS[kind](text, file)
    if not parsed.items:
        raise ValueError(f"{file}: 没有解析出任何条目 (no items found); is this a bulletin or a work report?")
    meta_changes = {key: override[key] for key in ("title", "period") if override.get(key)}
    if override.get("kind") and override["kind"] != parsed.meta.kind:
        meta_changes["kind"] = override["kind"]
    if meta_changes:
        evidence = f"清单覆盖 (manifest): {', '.join(f'{k}={v}' for k, v in meta_changes.items())}"
        meta: DocumentMeta = replace(parsed.meta, **meta_changes, evidence=evidence)
        parsed = replace(parsed, meta=meta)
    for warning in parsed.warnings:
        log.warning("%s: %s", file, warning)
    return parsed


def parse_path(path: Path, override: dict[str, str] | None = None, limits: Limits | None = None) -> ParsedDocument:
    """Parse one file of any supported format; raises UnreadableDocument (a ValueError) when it cannot be read."""
    extracted = read_file(path, path.read_bytes(), limits or Limits(max_bytes=2**62, max_pages=10**6))
    if override is None:
        override = load_manifest(path.parent).get(path.name)
    return parse_text(extracted.text, path.name, override)
