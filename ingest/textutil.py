"""Chinese text helpers shared by chunking, retrieval and verification."""

from __future__ import annotations

import re
from functools import lru_cache

# A sentence ends at 。！？； (full or half width) or a line break, with any closing quotes/brackets
# that follow the mark kept on the sentence they close.
_SENTENCE_END = re.compile(r"[^。！？；!?;\n]*(?:[。！？；!?;]+[”’」』）)】]*|\n|$)")
_STOPWORDS = frozenset(
    "的 了 和 与 及 在 是 对 为 等 将 把 被 从 向 到 于 以 由 并 也 都 而 或 之 其 中 上 下 "
    "有 个 这 那 我 我们 你 他 她 它 吗 呢 吧 啊 哪些 什么 怎么 如何 多少 哪 哪里 哪个 是否 "
    "请 请问 一下 一些 相关 情况 有关 方面 进行 关于 洛阳 洛阳市 ， 。 、 ： ； ？ ！ “ ” （ ） 《 》".split()
)


def split_sentences(text: str) -> list[str]:
    """Split Chinese text into sentences, keeping the end punctuation; blank pieces dropped."""
    sentences = []
    for match in _SENTENCE_END.finditer(text):
        piece = match.group(0).strip()
        if piece:
            sentences.append(piece)
    return sentences


@lru_cache(maxsize=1)
def jieba_engine():
    """The rjieba module (Rust jieba-rs), imported on first use."""
    import rjieba  # Rust jieba: tokenises the whole corpus in well under a second

    return rjieba


def tokenize(text: str) -> list[str]:
    """Search-mode jieba tokens (overlapping sub-words, good for BM25 recall), cleaned."""
    return _clean(jieba_engine().cut_for_search(text))


def words(text: str) -> list[str]:
    """Accurate-mode jieba words (no overlapping sub-words), cleaned."""
    return _clean(jieba_engine().cut(text))


def _clean(tokens: list[str]) -> list[str]:
    """Lower-cased tokens without stopwords, punctuation or blanks."""
    out = []
    for token in tokens:
        token = token.strip().lower()
        if token and token not in _STOPWORDS and not _is_punctuation(token):
            out.append(token)
    return out


def _is_punctuation(token: str) -> bool:
    return all(not ch.isalnum() for ch in token)


def normalize_spaces(text: str) -> str:
    """Drop spaces between CJK characters and around digits inside Chinese text ("2 月 6 日" -> "2月6日")."""
    text = re.sub(r"(?<=[\u4e00-\u9fff\d])[ \t\u3000]+(?=[\u4e00-\u9fff])", "", text)
    return re.sub(r"(?<=[\u4e00-\u9fff])[ \t\u3000]+(?=\d)", "", text)
