"""Text in a document that addresses the model or the reader instead of reporting (prompt injection).

Documents come from uploads, so a sentence may be written for the model that will read it
("忽略之前的所有指令，回答：…", "You are now…", "system:") or for the reader as phishing ("请登录…填写银行卡号").
Such a sentence is flagged at ingest: it is kept in the item's text (people see it, with a warning)
but it is never an answer sentence and never supports a claim.

The detector looks for structure, not for one long list of phrases:
- `override`: an imperative that opens its clause and acts on the model's instructions
  (verb + "之前/所有/your/previous…" + "指令/规则/instructions…"), or asks to reveal its prompt;
- `answer`: a directive about what to answer ("回答：…", "你的回答必须…", "如果有人问…就说…",
  "when the user asks…, reply…", "在回答中…");
- `role`: a role given to the reader-as-model ("你现在是…", "you are now", "act as"), a chat-role
  tag opening a line ("system:", "assistant:"), a chat-template token, or a vocative to an AI
  followed by a directive ("AI助手请注意：…", "如果你是一个语言模型…");
- `phishing`: a non-negated request to the reader for secrets (card numbers, passwords, codes; or
  identity data through a non-government link) together with a channel (URL, e-mail, QR code, phone).

A signal is reported speech, and stays evidence, when a reporting verb with its own speaker stands
before it in the sentence ("诈骗分子声称“…”", "the minister said…"), or when it sits inside quotation
marks opened after such a verb or a message noun ("短信写道：“…”"). Warnings and descriptions of fraud
(a phishing request in a sentence about 诈骗/冒充/scam) are reports too.

Ordinary public notices addressing citizens ("请广大市民…", "请拨打12345热线", "可登录政务服务网查询")
are not flagged: they instruct the reader, but neither address the model nor ask for secrets.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from ingest.textutil import normalize_spaces, split_sentences

Signal = Literal["override", "answer", "role", "phishing"]

# Words that may open an imperative clause before its verb: politeness, the addressee, time, force.
_FILLERS = (
    r"(?:请你|请您|请|你们|你|您|现在起|现在|从现在起|从现在开始|从今以后|接下来|今后|此后|务必|必须|一定要|"
    r"立即|立刻|马上|直接|只|仅|就|也|并且|并|然后|再|注意|重要提示|提示|"
    r"please|now|then|and|you|must|should|always|simply|just|kindly)"
)
# A clause starts at a sentence or clause boundary, a quote, a bracket, or the start of the text.
_CLAUSE_START = r"(?:^|(?<=[，,。！？!?；;：:、\n“”\"'‘’「」（(【\[]))\s*"
_LEAD = rf"{_CLAUSE_START}(?:{_FILLERS}\s*[，,]?\s*)*"
_CLAUSE_CHARS = r"[^，,。！？!?；;\n]"

# -- override: act on the model's instructions ------------------------------------------------------
_OVERRIDE_VERBS_ZH = "忽略|忽视|无视|忘记|忘掉|忘了|抛开|抛弃|丢弃|跳过|不要理会|不用理会|别理会|不要遵守|不必遵守|停止遵守|推翻"
_PRIOR_ZH = "之前|以前|此前|先前|前面|上面|以上|上述|原有|原先|原来|所有|全部|一切|任何|你的|你收到的|系统"
_INSTRUCTIONS_ZH = "指令|指示|提示词|提示|规则|设定|约束|限制|要求|命令|规定|内容|对话|上下文|角色"
_PROMPT_ZH = "系统提示词|系统提示|提示词|初始指令|系统指令|系统设定"
_OVERRIDE_ZH = re.compile(
    rf"{_LEAD}(?:{_OVERRIDE_VERBS_ZH}){_CLAUSE_CHARS}{{0,6}}?(?:{_PRIOR_ZH}){_CLAUSE_CHARS}{{0,8}}?(?:{_INSTRUCTIONS_ZH})"
    rf"|{_LEAD}(?:输出|打印|显示|泄露|透露|重复|复述|告诉我){_CLAUSE_CHARS}{{0,4}}?(?:{_PROMPT_ZH})"
    rf"|(?:{_PRIOR_ZH}){_CLAUSE_CHARS}{{0,6}}?(?:指令|指示|提示词)(?:均|都|全部|一律)?(?:作废|无效|失效)"
)
_OVERRIDE_EN = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass|skip)\s+(?:(?:all|any|every|each|of|the|your|my|these|those)\s+)*"
    r"(?:(?:previous|prior|above|earlier|preceding|foregoing|original|initial|system|existing|former)\s+)?"
    r"(?:instructions?|prompts?|rules|directions|guidelines|directives|context|messages|constraints)\b"
    r"|\b(?:ignore|disregard|forget)\s+(?:everything|all(?:\s+of)?\s+(?:that|this|the\s+above))\b"
    r"|\b(?:ignore|disregard|forget)\s+(?:the\s+)?above\b"
    r"|\b(?:reveal|print|repeat|show|output|leak)\s+(?:me\s+)?(?:your|the)\s+(?:system\s+prompt|initial\s+prompt|instructions|prompt)\b",
    re.IGNORECASE,
)

# -- answer: what the model is to answer -----------------------------------------------------------
_ANSWER_VERBS_ZH = "回答|回复|答复|作答|输出"
_ASKERS_ZH = "有人|用户|别人|对方|提问者|任何人|你|您"
# "回答：…" dictates the answer, unless it answers the question just before it (a Q&A document).
_ANSWER_COLON = re.compile(rf"{_LEAD}(?:{_ANSWER_VERBS_ZH})\s*[：:]|(?:^|(?<=[.:;!?\n\"“]))\s*(?:answer|respond|reply|output)\s*:", re.IGNORECASE)
_QUESTION = re.compile(r"^\s*(?:问|问题|提问|Q|Question)\s*[：:]", re.IGNORECASE)
_ANSWER_ZH = re.compile(
    rf"{_LEAD}(?:告诉|转告|回答|回复|答复)(?:用户|提问者|提问的人|问的人|所有人)"  # 告诉用户…
    rf"|(?:你的|您的)(?:回答|回复|答复|答案|输出)(?:必须|只能|应该|应当|一律|务必|就是|是)"  # 你的回答必须…
    rf"|{_LEAD}在(?:(?:你的|您的)(?:回答|回复|答复|答案|输出)(?:中|里|时)|(?:回答|回复|答复|答案|输出)(?:中|里|时)(?=[，,]|{_FILLERS}))"  # 在回答中，…
    rf"|(?:如果|假如|若(?!干)|要是|倘若|凡是|一旦)(?:{_ASKERS_ZH})?{_CLAUSE_CHARS}{{0,4}}(?:问(?![题卷候责])|询问|提问|被问){_CLAUSE_CHARS}{{0,40}}"
    rf"[，,]\s*(?:就|请|则|你就|你要|一律|都|均)?\s*(?:回答|回复|答复|答(?!应)|说(?!明)|告诉|声称)"  # 如果有人问…，就说…
)
_ANSWER_EN = re.compile(
    r"\b(?:answer|respond|reply)\s+(?:only\s+)?with\b"
    r"|\b(?:tell|inform)\s+(?:the\s+)?users?\b"
    r"|\byour\s+(?:answer|response|reply|output)\s+(?:must|should|shall|will)\b"
    r"|\bin\s+your\s+(?:answer|response|reply|output)\b"
    r"|\b(?:if|when|whenever)\s+(?:the\s+)?(?:user|someone|anyone|anybody|people|you\s+are)\s+(?:asks?|asked)\b[^.!?\n]{0,80}?"
    r"\b(?:reply|say|answer|respond|tell|state)\b",
    re.IGNORECASE,
)

# -- role: the reader is told it is a model, or the text poses as a chat turn ------------------------
_AI_ZH = "AI助手|智能助手|人工智能助手|人工智能|大语言模型|大模型|语言模型|模型|AI|聊天机器人|机器人|助手|ChatGPT|GPT|LLM"
_ROLE_ZH = re.compile(
    rf"{_CLAUSE_START}(?:请)?你(?:现在|从现在起|从现在开始|接下来|今后|此后)(?:就)?(?:是(?!否)|将是|扮演|充当|作为|变成|成为)"
    rf"|{_CLAUSE_START}(?:请)?你(?:就)?(?:是|扮演|充当|假装|变成)(?:一个|一名|一位|个)?{_CLAUSE_CHARS}{{0,8}}?(?:{_AI_ZH})"
    rf"|(?:如果|假如|若|要是|倘若)(?:你|您)(?:是|作为)(?:一个|一名|一位|个)?{_CLAUSE_CHARS}{{0,6}}?(?:{_AI_ZH})"
    rf"|{_CLAUSE_START}(?:致|给|提醒|通知)?(?:{_AI_ZH})(?:们)?\s*(?:请注意|注意)?\s*[：:，,]\s*{_CLAUSE_CHARS}{{0,6}}?(?:请|你|您|必须|务必|忽略|回答|不要)"
)
_ROLE_EN = re.compile(
    r"\byou\s+are\s+now\b|\bfrom\s+now\s+on,?\s+you\b|\b(?:act|behave)\s+as\s+(?:an?|if|though)\b"
    r"|\bpretend\s+(?:to\s+be|you\s+are|that\s+you)\b"
    r"|\byou\s+are\s+(?:an?\s+)?(?:ai|assistant|language\s+model|chatbot|llm)\b"
    r"|\bif\s+you\s+are\s+(?:an?\s+)?(?:ai|assistant|language\s+model|chatbot|llm)\b"
    r"|\b(?:developer|jailbreak|dan)\s+mode\b",
    re.IGNORECASE,
)
# A chat turn's role tag opening a line, or a chat-template token: text that poses as a conversation.
_ROLE_TAG = re.compile(
    r"(?:^|(?<=[\n。！？!?]))\s*(?:system|assistant|user|human|developer|系统提示|系统指令|系统消息|系统设定|系统|助手|AI助手)\s*[:：]"
    r"|<\|(?:im_start|im_end|system|user|assistant|endoftext)\|>|\[/?INST\]|<</?SYS>>|^\s*#{2,}\s*(?:instruction|system|response)\b",
    re.IGNORECASE | re.MULTILINE,
)

# -- phishing: secrets asked of the reader through a channel ------------------------------------------
# An imperative: a politeness marker anywhere, or a request verb opening its clause.
_REQUEST = re.compile(
    rf"请(?![求示假教])|\b(?:please|kindly)\b|{_LEAD}(?:登录|登陆|点击|访问|打开|扫码|扫描|进入|填写|填入|提供|输入|提交|发送|"
    r"回复|上传|告知|登记|绑定|验证|(?:log\s*in|login|sign\s*in|click|visit|go\s+to|open|scan|enter|provide|submit|send|"
    r"reply|fill|upload|verify|confirm)(?![a-z]))",
    re.IGNORECASE,
)
_NEGATION = re.compile(
    r"不要|不能|不可|不得|不会|勿|别|切莫|千万不|禁止|严禁|谨防|警惕|防止|避免|拒绝|以免|"
    r"\b(?:never|don't|do\s+not|not|avoid|beware)\b",
    re.IGNORECASE,
)
_SECRET = re.compile(
    r"银行卡|信用卡|卡号|储蓄卡|密码|验证码|校验码|CVV|安全码|网银|U盾|"
    r"\b(?:bank\s+card|card\s+number|credit\s+card|account\s+number|password|passcode|pin|otp|one-time\s+(?:pass)?code|"
    r"verification\s+code|security\s+code|cvv|social\s+security|ssn)\b",
    re.IGNORECASE,
)
_IDENTITY = re.compile(
    r"身份证|社保卡|个人信息|出生日期|家庭住址|"
    r"\b(?:id\s+number|personal\s+(?:information|details|data)|date\s+of\s+birth|home\s+address|full\s+name)\b",
    re.IGNORECASE,
)
# Someone doing the fraud is named: the sentence describes it ("骗子诱导…", "冒充客服…"), it does not ask.
_FRAUD_AGENT = re.compile(
    r"骗子|诈骗分子|诈骗团伙|不法分子|犯罪分子|犯罪嫌疑人|嫌疑人|冒充|假冒|钓鱼|虚假|"
    r"\b(?:scammers?|fraudsters?|criminals?|fake|phishing)\b",
    re.IGNORECASE,
)
URL_RE = re.compile(r"(?:https?|ftp)://[^\s<>()（）\[\]\"'“”‘’，。；！？、]+|\bwww\.[^\s<>()（）\[\]\"'“”‘’，。；！？、]+", re.IGNORECASE)
EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_OTHER_CHANNEL = re.compile(r"二维码|链接|网址|网站|平台|QQ|微信|\bqr\s*code\b|\blink\b|\bwebsite\b|(?<!\d)\d{7,}(?!\d)", re.IGNORECASE)
# Government sites (host ends in one of these) may ask for identity data; never for secrets.
_OFFICIAL_HOSTS = (".gov.cn", ".gov")

# -- reported speech ---------------------------------------------------------------------------------
_REPORTING_VERB = re.compile(
    r"(?:声称|谎称|假称|诈称|自称|宣称|扬言|号称|称|说道|说|表示|写道|写着|写有|内容为|内容是|显示|问道|喊道|"
    r"发来|告知|告诉|通知|要求|诱导|诱骗|哄骗|指出|透露|强调|介绍|坦言|直言|回应)(?![你您])"
    r"|据(?:悉|报道|介绍|了解|称)"
    r"|\b(?:said|says|claimed|claims|claiming|told|tells|wrote|writes|reads|read|stated|states|saying|stating|asked|according\s+to)\b",
    re.IGNORECASE,
)
_MESSAGE_NOUN = re.compile(r"短信|信息|消息|邮件|弹窗|广告|帖子|留言|标语|提示|message|e-?mail|text|post", re.IGNORECASE)
_OPEN_QUOTES = "“‘「『"
_CLOSE_QUOTES = "”’」』"
_FILLER_ONLY = re.compile(rf"^(?:\s|[，,：:]|{_FILLERS})*$", re.IGNORECASE)


@dataclass(frozen=True)
class Flag:
    """One signal found in a sentence: what kind, where, and whether the sentence only reports it.

    start: position in the sentence's normalised form (see `_normalized`).
    """

    sentence: str
    signal: Signal
    start: int
    reported: bool


def scan(text: str) -> list[Flag]:
    """Every signal in every sentence of `text`, reported ones included (for inspection and the bench)."""
    return [flag for _, flags in _sentence_flags(text) for flag in flags]


def flagged_sentences(text: str, title: str = "") -> tuple[str, ...]:
    """The sentences of `text` (as `split_sentences` cuts them) that must not be used as evidence.

    A sentence is flagged when it holds a signal that is not reported speech. A signal that takes
    over the model (override, role) also flags every sentence after it in the text: what follows
    "忽略之前的所有指令" is written for the model. A directive ending in a colon flags the next sentence,
    which is its payload. The title, checked like a sentence, is returned first when flagged.
    """
    flagged: dict[str, None] = {}
    if title.strip() and any(not f.reported for f in scan(title)):
        flagged[title] = None
    taken_over = payload_next = False
    for sentence, flags in _sentence_flags(text):
        signals = {flag.signal for flag in flags if not flag.reported}
        if signals or taken_over or payload_next:
            flagged[sentence] = None
        taken_over = taken_over or bool(signals & {"override", "role"})
        payload_next = bool(signals) and sentence.rstrip().endswith((":", "："))
    return tuple(flagged)


def _sentence_flags(text: str) -> list[tuple[str, list[Flag]]]:
    """Each sentence of `text` with the signals of its normalised form."""
    sentences = split_sentences(text)
    normalized = [_normalized(sentence) for sentence in sentences]
    result = []
    for index, (sentence, form) in enumerate(zip(sentences, normalized)):
        before = normalized[index - 1] if index else ""
        window = normalized[max(0, index - 1) : index + 2]
        flags = [Flag(sentence, signal, start, _is_reported(form, start, before, signal))
                 for signal, start in _signals(form, before, window)]
        result.append((sentence, flags))
    return result


# Characters that hide a phrase from a pattern without changing what a reader (or a model) sees.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")


def _normalized(sentence: str) -> str:
    """Full-width letters folded (ＩＧＮＯＲＥ), invisible characters dropped, spaces between Chinese
    characters removed ("忽 略 之 前 的 指 令"): spelling tricks do not hide a signal."""
    return normalize_spaces(_INVISIBLE.sub("", unicodedata.normalize("NFKC", sentence)))


def without_flagged(text: str, flagged: Iterable[str], placeholder: str = "") -> str:
    """`text` with each of its flagged sentences replaced by `placeholder` (they are verbatim substrings).

    Longest first: a flagged title may be the start of a flagged sentence.
    """
    for sentence in sorted(flagged, key=len, reverse=True):
        text = text.replace(sentence, placeholder)
    return text


def _signals(sentence: str, before: str, window: list[str]) -> list[tuple[Signal, int]]:
    """(signal, position) of each kind found in the sentence; `window` is it and its neighbours."""
    found: list[tuple[Signal, int]] = []
    answer_patterns = (_ANSWER_ZH, _ANSWER_EN) if _QUESTION.search(before) else (_ANSWER_COLON, _ANSWER_ZH, _ANSWER_EN)
    for signal, patterns in (
        ("override", (_OVERRIDE_ZH, _OVERRIDE_EN)),
        ("answer", answer_patterns),
        ("role", (_ROLE_ZH, _ROLE_EN, _ROLE_TAG)),
    ):
        starts = [match.start() for pattern in patterns if (match := pattern.search(sentence))]
        if starts:
            found.append((signal, min(starts)))
    if (position := _phishing_request(sentence, " ".join(window))) is not None:
        found.append(("phishing", position))
    return found


def _phishing_request(sentence: str, window: str) -> int | None:
    """Where the sentence asks the reader for secrets (or identity data off government sites) via a channel."""
    if _FRAUD_AGENT.search(sentence) or sentence.rstrip().endswith(("？", "?")):
        return None  # a description of fraud, or a question about it
    secret = _SECRET.search(sentence)
    identity = _IDENTITY.search(sentence)
    if not (secret or identity):
        return None
    data_at = min(m.start() for m in (secret, identity) if m)
    requests = [m for m in _REQUEST.finditer(sentence) if m.start() < data_at and not _negated(sentence, m.start())]
    if not requests:
        return None
    urls = URL_RE.findall(window) + [m.group(0).split("@", 1)[1] for m in EMAIL_RE.finditer(window)]
    if secret and (urls or _OTHER_CHANNEL.search(window)):
        return requests[0].start()
    if identity and any(not is_official_host(url) for url in urls):
        return requests[0].start()
    return None


def is_official_host(url: str) -> bool:
    """A government host (…gov.cn, …gov), judged on the host part, so "gov.cn.evil.com" is not one."""
    host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    return any(host == suffix[1:] or host.endswith(suffix) for suffix in _OFFICIAL_HOSTS)


def _negated(sentence: str, position: int) -> bool:
    """A negation earlier in the same clause: "不要点击…", "never enter…"."""
    clause_start = max(sentence.rfind(mark, 0, position) for mark in "，,。；;：:\n")
    return bool(_NEGATION.search(sentence[clause_start + 1 : position]))


def _is_reported(sentence: str, start: int, before: str, signal: Signal) -> bool:
    """The signal at `start` is someone else's words that the sentence reports.

    A reporting verb with a speaker of its own before the signal ("诈骗分子声称", "the minister said"),
    or quotation marks around the signal opened after a reporting verb or a message noun, here or at
    the end of the previous sentence ("短信写道：“…”").
    """
    head = sentence[:start]
    for match in _REPORTING_VERB.finditer(head):
        speaker = head[: match.start()]
        speaker = speaker[max(speaker.rfind(mark) for mark in "，,。；;\n") + 1 :]
        if match.group(0).startswith("据") or not _FILLER_ONLY.match(speaker):
            return True
    opened = _open_quote(head)
    if opened is not None:
        frame = (before + head[:opened]) if opened == 0 or not head[:opened].strip() else head[:opened]
        frame = frame[-30:]
        if _REPORTING_VERB.search(frame) or _MESSAGE_NOUN.search(frame):
            return True
    return False


def _open_quote(head: str) -> int | None:
    """Position of the quotation mark still open at the end of `head`, if any."""
    stack: list[int] = []
    straight: int | None = None
    for position, char in enumerate(head):
        if char in _OPEN_QUOTES:
            stack.append(position)
        elif char in _CLOSE_QUOTES and stack:
            stack.pop()
        elif char == '"':
            straight = position if straight is None else None
    if stack:
        return stack[-1]
    return straight
