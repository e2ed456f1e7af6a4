"""Parse government work reports (政府工作报告) into sections and paragraph items.

Steps: source lines -> split off the front matter (cover, title, "——2021年2月7日在…会议上", speaker)
-> rebuild paragraphs (ingest.generic repairs a hard-wrapped PDF layout) -> headings and items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from ingest.generic import SourceLine, build_paragraphs, items_from_blocks, join_fragments, source_lines
from ingest.records import DocumentMeta, ParsedDocument
from ingest.textutil import normalize_spaces

# "——2021年2月7日在洛阳市第十五届人民代表大会第四次会议上", dashes of any width, spaces anywhere.
_DELIVERY_LINE = re.compile(r"^[—\-－─–]{1,4}\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*(.*)$")
_GOVERNMENT_IN_MEETING = re.compile(r"在\s*(.+?)\s*第\s*[一二三四五六七八九十百零〇\d]+\s*届")
_SPEAKER_LINE = re.compile(r"^(.{0,20}?人民政府)\s*(代?(?:省|市|区|县|州|旗)长|主席)\s*(\S.{0,10})$")
_TITLE_LINE = re.compile(r"^#*\s*(.{0,12}工作报告)\s*$")
_SALUTATION = re.compile(r"^各位代表")
_FRONT_MATTER_WINDOW = 12  # the delivery line sits within the first lines of a report


@dataclass(frozen=True)
class _FrontMatter:
    title_line: str  # "政府工作报告", "" when absent
    cover: tuple[str, ...]  # lines above the title ("涧西区十六届人大", "一次会议文件（一）")
    delivery: str  # the "——…会议上" sentence, wrapped lines joined, "" when absent
    speaker: str  # "刘宛康" (spaces inside the name removed), "" when absent
    speaker_office: str  # "洛阳市人民政府市长"
    body_start: int  # index of the first body line


def looks_like_report(text: str) -> bool:
    """A 政府工作报告: its title near the top, with the delivery line or the "各位代表" salutation."""
    head = [line.text for line in source_lines(text)[:20]]
    has_title = any(_TITLE_LINE.match(line) and "政府工作报告" in line for line in head)
    has_delivery = any(_DELIVERY_LINE.match(line) for line in head)
    has_salutation = any(_SALUTATION.match(line) for line in head)
    return has_title and (has_delivery or has_salutation)


def parse_report(text: str, file: str) -> ParsedDocument:
    """Sections from numbered (and short un-numbered) headings, one item per paragraph."""
    lines = source_lines(text)
    if not lines:
        raise ValueError(f"{file}: 报告文本为空；请检查文件内容或编码")
    front = _split_front_matter(lines)
    body = lines[front.body_start :]
    if not body:
        raise ValueError(f"{file}: 只有封面和标题，没有正文；请检查文件是否完整")
    blocks = build_paragraphs(body)
    meta, warnings = _meta(front, file)
    items = items_from_blocks(blocks, preface_section=front.title_line or "政府工作报告")
    return ParsedDocument(meta=meta, items=items, warnings=warnings)


def _split_front_matter(lines: list[SourceLine]) -> _FrontMatter:
    window = [line.text for line in lines[:_FRONT_MATTER_WINDOW]]
    title_index = next((i for i, line in enumerate(window) if _TITLE_LINE.match(line)), None)
    delivery_index = next((i for i, line in enumerate(window) if _DELIVERY_LINE.match(line)), None)
    end, delivery = -1, ""
    if delivery_index is not None:
        end, delivery = delivery_index, window[delivery_index]
        # The delivery sentence may wrap onto a second line ("第一次会议上").
        while not delivery.endswith("上") and end + 1 < len(window) and _is_front_continuation(window[end + 1]):
            end += 1
            delivery = join_fragments(delivery, window[end])
    elif title_index is not None:
        end = title_index
    speaker, office = "", ""
    speaker_match = _SPEAKER_LINE.match(window[end + 1]) if end + 1 < len(window) else None
    if speaker_match:
        end += 1
        office = normalize_spaces(speaker_match.group(1) + speaker_match.group(2))
        speaker = "".join(speaker_match.group(3).split())
    if title_index is not None and title_index > end:
        title_index = None  # a "工作报告" line inside the body is not the title
    cover_end = next((i for i in (title_index, delivery_index) if i is not None), 0)
    title_line = _TITLE_LINE.match(window[title_index]).group(1).strip() if title_index is not None else ""
    return _FrontMatter(
        title_line=title_line,
        cover=tuple(window[:cover_end]),
        delivery=re.sub(r"^([—\-－─–]+)\s+", r"\1", normalize_spaces(delivery)),
        speaker=speaker,
        speaker_office=office,
        body_start=end + 1,
    )


def _is_front_continuation(line: str) -> bool:
    return not _SPEAKER_LINE.match(line) and not _SALUTATION.match(line) and len(line) <= 20


def _meta(front: _FrontMatter, file: str) -> tuple[DocumentMeta, list[str]]:
    warnings: list[str] = []
    period = ""
    when = ""
    match = _DELIVERY_LINE.match(front.delivery) if front.delivery else None
    if match:
        year, month, day = (int(group) for group in match.groups()[:3])
        try:
            period = date(year, month, day).isoformat()
            when = f"{year}年{month}月{day}日"
        except ValueError:
            warnings.append(f"{file}: 报告日期“{front.delivery}”不是有效日期；period 留空，可在清单中指定")
    else:
        warnings.append(f"{file}: 未找到“——YYYY年M月D日在…会议上”一行；period 留空，可在清单中指定")
    government = _government(front)
    title_line = front.title_line or "政府工作报告"
    # A title line that already names its government ("嵩县2024年政府工作报告") is not prefixed again.
    title = title_line if government and title_line.startswith(government[-2:]) else f"{government}{title_line}"
    details = "，".join(part for part in (when, front.speaker) if part)
    if details:
        title += f"（{details}）"
    evidence_parts = [f"报告日期行：{front.delivery}" if front.delivery else "无报告日期行"]
    if front.speaker:
        evidence_parts.append(f"报告人：{front.speaker_office}{front.speaker}")
    if front.cover:
        evidence_parts.append("封面：" + normalize_spaces("".join(front.cover)))
    return DocumentMeta(kind="report", title=title, period=period, evidence="；".join(evidence_parts)), warnings


def _government(front: _FrontMatter) -> str:
    """Which government reports: "洛阳市涧西区" from the meeting name, else from the speaker line."""
    meeting = _GOVERNMENT_IN_MEETING.search(front.delivery)
    if meeting:
        return meeting.group(1)
    return front.speaker_office.split("人民政府")[0]
