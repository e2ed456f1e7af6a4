"""The web UI (Gradio): saved conversations with cited answers, month summaries, the document library.

Thin by design: every handler calls the Assistant (or ingest, or the history store) and renders its
structured result with ui.render. Errors a user can cause become friendly messages, never tracebacks.
A generation runs in a background stream, so the stop button and a closed tab end it at once
(Gradio closes the handler; the handler closes the answer stream, which stops the LLM).
"""

from __future__ import annotations

import ipaddress
import logging
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from functools import cached_property, partial
from pathlib import Path

import gradio as gr

from ingest.readers import SUPPORTED_SUFFIXES
from rag.digest import month_label
from rag.llms import LLM_NAMES
from rag.service import Assistant, Delta, Done
from rag.settings import Settings
from ui import render, uploads
from ui.background import BackgroundStream
from ui.history import HistoryStore, SavedTurn, follow_up_history
from ui.http_guard import guard_middleware
from ui.safe_markdown import inert
from ui.uploads import ACCEPTED_LABEL

log = logging.getLogger(__name__)

CSS_PATH = Path(__file__).parent / "static" / "heluo.css"
JS_PATH = Path(__file__).parent / "static" / "heluo.js"
EXAMPLE_QUESTIONS = [
    "2023年7月洛阳有哪些重要工作？",
    "2020年洛阳市地区生产总值是多少？",
    "12月江凌开展了哪些调研？",
    "涧西区2021年实现地区生产总值多少？",
]
# The generator list follows rag.llms.LLM_NAMES; these say what each costs, beside its name.
_CHOICE_HINTS = {"extractive": "（不用大模型，即时）", "local": "（较慢）"}
LLM_CHOICES = [("自动选择", "auto")] + [(render.LLM_LABELS.get(name, name) + _CHOICE_HINTS.get(name, ""), name) for name in LLM_NAMES]
ALL_MONTHS = ""
# How often a waiting handler yields, so that stop and a closed tab are noticed within this time.
POLL_SECONDS = 0.25

# Outputs of every handler that changes the conversation, in this order.
CHAT_OUTPUTS = ("chatbot", "turns", "conversation", "sources", "question", "conversations", "export")


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_auth(host: str, auth: str, allow_public: bool) -> tuple[str, str] | None:
    """The (user, password) to protect the app with; refuse an open non-loopback bind.

    Binding anything but loopback exposes the corpus and the index controls (upload, delete) to
    the network, so it needs HELUO_AUTH="user:password", or an explicit --allow-public.
    """
    credentials = None
    if auth:
        user, sep, password = auth.partition(":")
        if not sep or not user or not password:
            raise ValueError('HELUO_AUTH 格式应为 "用户名:密码"（user:password），例如 HELUO_AUTH="admin:s3cret"')
        credentials = (user, password)
    if credentials is None and not allow_public and not is_loopback(host):
        raise ValueError(
            f"拒绝在 {host} 上无口令开放服务：请设置 HELUO_AUTH=\"用户名:密码\"，"
            "或确认公开访问时加 --allow-public（默认只监听 127.0.0.1）"
        )
    return credentials


def _flatten(content) -> str:
    """Gradio 6 message content may be a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("value") or "")
    if isinstance(content, (list, tuple)):
        return "".join(_flatten(part) for part in content)
    return "" if content is None else str(content)


def _messages(chat) -> list[dict]:
    return [{"role": m["role"], "content": _flatten(m.get("content"))} for m in (chat or []) if isinstance(m, dict) and m.get("role")]


def _friendly(error: Exception) -> str:
    from rag.llms import LlmUnavailable

    if isinstance(error, LlmUnavailable):
        return f"所选的生成方式暂不可用：{str(error).rstrip('。. ')}。可改选“原文摘录”或“自动选择”后重试。"
    if isinstance(error, ValueError):
        return str(error)
    return f"出错了（{type(error).__name__}），请稍后重试；若反复出现，请查看服务日志。"


def _skip(count: int = len(CHAT_OUTPUTS)) -> tuple:
    return tuple(gr.skip() for _ in range(count))


class WebHandlers:
    """The event handlers, bound to one Assistant and one history store; each returns values for
    the page's components (CHAT_OUTPUTS for the conversation handlers)."""

    def __init__(self, assistant: Assistant, settings: Settings, history: HistoryStore | None = None) -> None:
        self.assistant = assistant
        self.settings = settings
        if history is not None:
            self.history = history
        self.export_dir = Path(tempfile.mkdtemp(prefix="heluo-export-"))
        # Conversation id -> its answer being written; set when the stop button was pressed.
        self._streams: dict[str, threading.Event] = {}

    @cached_property
    def history(self) -> HistoryStore:
        return HistoryStore.for_home(self.settings.home)

    def documents(self) -> dict:
        return {d.file: d for d in self.assistant.index.catalog.documents()}

    def filter_choices(self) -> list[tuple[str, str]]:
        return [("不限月份", ALL_MONTHS)] + [(month_label(m), m) for m in self.assistant.months()]

    def summary_choices(self) -> list[tuple[str, str]]:
        return [(month_label(m), m) for m in self.assistant.months()]

    def summary_months(self) -> dict:
        choices = self.summary_choices()
        return gr.update(choices=choices, value=choices[-1][1] if choices else None)

    # -- asking ---------------------------------------------------------------------------------
    def ask(self, question: str, chat: list, turns: list[SavedTurn], conversation: str | None, month: str, llm: str) -> Iterator[tuple]:
        question = (question or "").strip()
        turn = SavedTurn(0, question, "ask", month or "", llm or "")
        events = partial(self.assistant.ask_stream, question, history=follow_up_history(turns), llm=llm or None, month=month or None)
        yield from self._converse(turn, _messages(chat), turns, conversation, events, clear_question=True)

    def summarize(self, month: str, chat: list, turns: list[SavedTurn], conversation: str | None, llm: str) -> Iterator[tuple]:
        messages = _messages(chat)
        if not month:
            messages += [
                {"role": "user", "content": "月度摘要"},
                {"role": "assistant", "content": render.error_message("请先在“摘要月份”里选择要总结的月份，再点“生成月度摘要”。")},
            ]
            yield (messages, *_skip(len(CHAT_OUTPUTS) - 1))
            return
        turn = SavedTurn(0, f"总结{month_label(month)}洛阳的重要工作", "summarize", month, llm or "")
        events = partial(self.assistant.summarize_stream, month, llm or None)
        yield from self._converse(turn, messages, turns, conversation, events)

    def regenerate(self, turns: list[SavedTurn], conversation: str | None, llm: str) -> Iterator[tuple]:
        """Ask the last question again (with the generator now chosen), replacing its answer."""
        if not turns:
            gr.Info("还没有可以重新生成的回答：请先提问。")
            yield _skip()
            return
        last, earlier = turns[-1], list(turns[:-1])
        turn = replace(last, requested_llm=llm or "", status="stopped", answer=None, partial="", feedback=None, feedback_reason="", asked="")
        if last.mode == "summarize":
            events = partial(self.assistant.summarize_stream, last.month, llm or None)
        else:
            events = partial(self.assistant.ask_stream, last.question, history=follow_up_history(earlier), llm=llm or None, month=last.month or None)
        yield from self._converse(turn, self._chat_of(earlier), earlier, conversation, events)

    def _converse(
        self,
        turn: SavedTurn,
        messages: list[dict],
        turns: list[SavedTurn],
        conversation: str | None,
        events: Callable[[], Iterable],
        clear_question: bool = False,
    ) -> Iterator[tuple]:
        """Stream one turn into the chat, save it, and render its verified answer when done.

        The turn is saved (as stopped, with what streamed so far) from its first piece on, so a
        stop, a closed tab or a crash leaves it in the conversation; its answer replaces it.
        """
        box = "" if clear_question else gr.skip()
        messages = [*messages, {"role": "user", "content": inert(turn.question or "（空问题）")}, {"role": "assistant", "content": render.pending_message()}]
        yield messages, gr.skip(), gr.skip(), gr.skip(), box, gr.skip(), gr.skip()
        documents = self.documents()
        stream = BackgroundStream(events)
        saved, streamed, cited = False, "", {}
        stop_pressed = threading.Event()
        try:
            for event in stream.poll(POLL_SECONDS):
                if stop_pressed.is_set():
                    return
                new_turn = not saved and event is not None
                if new_turn:  # the question passed validation: it is a turn now
                    conversation = conversation or self.history.create(turn.question).id
                    number = turn.number or self.history.next_number(conversation)
                    turn = replace(turn, number=number)
                    turns = [*turns, turn]
                    self.history.save_turn(conversation, turn)
                    self._streams[conversation] = stop_pressed
                    saved = True
                    listing = self._listing(conversation)
                else:
                    listing = gr.skip()
                if event is None or (isinstance(event, Delta) and not event.text and not getattr(event, "citations", ())):
                    # A heartbeat: lets Gradio stop us while the generator thinks. The first one of a
                    # turn hands the page its turn and conversation, so stop can mark it before any text.
                    yield (gr.skip(), turns, conversation, gr.skip(), box, listing, gr.skip()) if new_turn else _skip()
                elif isinstance(event, Delta):
                    streamed += event.text
                    fresh = [c for c in getattr(event, "citations", ()) if c.n not in cited]
                    cited.update((c.n, c) for c in fresh)
                    turns[-1] = replace(turn, partial=streamed)
                    messages[-1] = {"role": "assistant", "content": render.streaming_message(streamed, turn.number, list(cited.values()))}
                    sources = self._sources(turns, documents, streaming=list(cited.values())) if fresh else gr.skip()
                    yield messages, turns, conversation, sources, box, listing, gr.skip()
                elif isinstance(event, Done):
                    turn = turn.answered(event.answer, documents)
                    turns[-1] = turn
                    self.history.save_turn(conversation, turn)
                    messages[-1] = {"role": "assistant", "content": render.answer_message(event.answer, turn.number, documents, turn.requested_llm)}
                    # The last update is all an API client sees: it carries every output.
                    yield messages, turns, conversation, self._sources(turns, documents), box, self._listing(conversation), self._export(conversation, turns)
        except Exception as error:  # the edge of the app: every failure becomes a message
            if not isinstance(error, ValueError):
                log.exception("answering %r failed", turn.question)
            messages[-1] = {"role": "assistant", "content": render.error_message(_friendly(error))}
            yield messages, turns, conversation, gr.skip(), box, gr.skip(), gr.skip()
        finally:
            stream.close()  # stop pressed, tab closed, or done: the answer stream (and its LLM) stops
            if saved and turn.answer is None:
                self.history.save_turn(conversation, replace(turn, partial=streamed))
            if saved and self._streams.get(conversation) is stop_pressed:
                del self._streams[conversation]

    def stopped(self, chat: list, turns: list[SavedTurn], conversation: str | None = None) -> list[dict]:
        """The stop button: the unfinished answer stays on screen, marked as stopped.

        Gradio cancels the answer in a parallel event, so the answer could still send an update after
        this one and hide the mark: the answer of this conversation is told to send nothing more.
        """
        if conversation in self._streams:
            self._streams[conversation].set()
        messages = _messages(chat)
        if messages and messages[-1]["role"] == "assistant" and turns and turns[-1].answer is None:
            messages[-1] = {"role": "assistant", "content": render.stopped_message(turns[-1].partial)}
        return messages

    # -- conversations --------------------------------------------------------------------------
    def new_conversation(self) -> tuple:
        return [], [], None, render.sources_panel([]), "", self._listing(None), None

    def open_conversation(self, conversation: str | None) -> tuple:
        if not conversation or self.history.get(conversation) is None:
            gr.Warning("这个对话已不存在（可能已被删除）。")
            return self.new_conversation()
        turns = self.history.turns(conversation)
        chat = gr.update(value=self._chat_of(turns), feedback_value=self._feedback_of(turns))
        return chat, turns, conversation, self._sources(turns), "", self._listing(conversation), self._export(conversation, turns)

    def rename(self, conversation: str | None, title: str) -> dict:
        if not conversation:
            gr.Warning("请先在左侧选择要重命名的对话。")
            return gr.skip()
        try:
            self.history.rename(conversation, title)
        except ValueError as error:
            gr.Warning(str(error))
            return gr.skip()
        return self._listing(conversation)

    def delete_conversation(self, conversation: str | None) -> tuple:
        if conversation:
            self.history.delete(conversation)
        return self.new_conversation()

    def _listing(self, selected: str | None) -> dict:
        choices = [(render.conversation_label(c.title, c.started), c.id) for c in self.history.conversations()]
        return gr.update(choices=choices, value=selected)

    def _chat_of(self, turns: list[SavedTurn]) -> list[dict]:
        current = self.documents()
        return [m for t in turns for m in render.turn_messages(_render_turn(t), {**current, **t.documents}, t.requested_llm)]

    @staticmethod
    def _feedback_of(turns: list[SavedTurn]) -> list[str | None]:
        return [{"up": "Like", "down": "Dislike"}.get(t.feedback or "") for t in turns]

    def _sources(self, turns: list[SavedTurn], documents: dict | None = None, streaming: list | None = None) -> str:
        """The sources panel; while a turn streams, the cards of its sentences verified so far."""
        documents = {**(documents or self.documents()), **{f: d for t in turns for f, d in t.documents.items()}}
        shown = [_render_turn(t) for t in turns]
        if streaming is not None and turns:
            provisional = render.provisional_answer(turns[-1].question, turns[-1].partial, streaming)
            shown[-1] = render.Turn(turns[-1].number, turns[-1].question, provisional)
        return render.sources_panel(shown, documents)

    def _export(self, conversation: str | None, turns: list[SavedTurn]) -> str | None:
        meta = self.history.get(conversation) if conversation else None
        if meta is None:
            return None
        documents = {**self.documents(), **{f: d for t in turns for f, d in t.documents.items()}}
        markdown = render.conversation_to_markdown(meta.title, meta.started, [_render_turn(t) for t in turns], documents)
        # Sessions share the folder: a unique name keeps two users' exports apart.
        path = self.export_dir / f"heluo-conversation-{uuid.uuid4().hex[:8]}.md"
        path.write_text(markdown, encoding="utf-8")
        return str(path)

    # -- feedback -------------------------------------------------------------------------------
    def feedback(self, conversation: str | None, like: gr.LikeData) -> tuple:
        """👍/👎 on an answer is saved with its turn; a 👎 opens the optional reason box."""
        number = render.turn_of_message(_flatten(like.value))
        if not conversation or number is None:
            return gr.skip(), gr.skip(), gr.skip()
        value = {True: "up", False: "down"}.get(like.liked) if isinstance(like.liked, bool) else None
        self.history.set_feedback(conversation, number, value)
        if value == "down":
            return gr.update(visible=True), number, ""
        gr.Info("已记录反馈，谢谢！")
        return gr.update(visible=False), None, ""

    def feedback_reason(self, conversation: str | None, number: int | None, reason: str) -> tuple:
        if conversation and number is not None:
            self.history.set_feedback(conversation, number, "down", reason or "")
            gr.Info("已记录反馈和原因，谢谢！这会帮助我们改进回答。")
        return gr.update(visible=False), None, ""

    # -- the document library -------------------------------------------------------------------
    def corpus_view(self, status: str = "") -> tuple:
        documents = self.assistant.index.catalog.documents()
        files = [d.file for d in documents]
        return (
            render.documents_rows(documents),
            gr.update(choices=files, value=None),
            gr.update(choices=self.filter_choices()),
            inert(status),  # file names come from uploads and API callers
        )

    def upload(self, paths: list[str] | None, pending: list[str] | None = None) -> Iterator[tuple]:
        """Check the uploaded files, ask before replacing an indexed document, else import them."""
        uploads.discard(uploads.pending_files(pending, self.settings))  # a question left unanswered is dropped
        if not paths:
            yield self.upload_view(f"请先选择要上传的文件（支持 {ACCEPTED_LABEL}）。")
            return
        staged, problems = uploads.stage(paths, self.settings)
        if not staged:
            yield self.upload_view(_status_lines(problems))
            return
        staged, questions, notes = uploads.check(staged, self.settings)
        if not staged:
            yield self.upload_view(_status_lines(problems + notes))
            return
        if questions:
            lines = [*problems, *notes, *questions, "确认替换吗？点“确认替换”继续导入，点“取消”放弃这次上传。"]
            yield self.upload_view(_status_lines(lines), pending=[str(p) for p in staged])
            return
        yield from self._import(staged, problems + notes)

    def confirm_upload(self, pending: list[str] | None) -> Iterator[tuple]:
        staged = uploads.pending_files(pending, self.settings)
        if not staged:
            yield self.upload_view("没有等待确认的上传。")
            return
        yield from self._import(staged, [])

    def cancel_upload(self, pending: list[str] | None) -> tuple:
        uploads.discard(uploads.pending_files(pending, self.settings))
        return self.upload_view("已取消这次上传，文档库没有变化。")

    def _import(self, staged: list[Path], notes: list[str]) -> Iterator[tuple]:
        """Import in a background thread (it goes on if the page is closed) and show its progress."""
        job = uploads.start_import(staged, self.settings)
        while not job.done.wait(0.5):
            yield self.upload_view(_status_lines([*notes, job.progress_line()]), busy=True)
        self.assistant.refresh()
        yield self.upload_view(_status_lines([*notes, *job.result_lines()]))

    def upload_view(self, status: str, pending: list[str] | None = None, busy: bool = False) -> tuple:
        """The corpus tab after an upload step: table, delete list, months, status, confirm row, pending."""
        if busy:
            return gr.skip(), gr.skip(), gr.skip(), inert(status), gr.update(visible=False), None
        return (*self.corpus_view(status), gr.update(visible=bool(pending)), pending or None)

    def delete(self, file: str | None) -> tuple:
        from ingest.index import remove_document

        if not file:
            return self.corpus_view("请先在列表中选择要删除的文档。")
        # Only a document the index holds, by its exact name: never "../x" or a file it never held.
        held = self.assistant.index.catalog.fingerprints().get(file)
        if held is None or Path(file).name != file:
            return self.corpus_view(f"拒绝删除 {file}：索引中没有这个文档，只能删除文档库列表里的文档。")
        # The file goes only if it is the very one indexed: in the corpus folder, bytes unchanged.
        indexed = uploads.corpus_copy_of(file, self.settings)
        remove_document(file, self.settings)
        if indexed is not None:
            indexed.unlink(missing_ok=True)
        self.assistant.refresh()
        if indexed is None:
            return self.corpus_view(
                f"已从索引移除 {file}（原文件 {Path(held[1])} 不在文档库文件夹中或已被改动，未删除）。"
            )
        return self.corpus_view(f"已删除 {file}（文档库文件与索引均已移除）。")


def _render_turn(turn: SavedTurn) -> render.Turn:
    return render.Turn(turn.number, turn.question, turn.answer, turn.partial)


def _status_lines(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)




def build_app(assistant: Assistant, settings: Settings, history: HistoryStore | None = None) -> gr.Blocks:
    handlers = WebHandlers(assistant, settings, history)
    default_llm = settings.llm if settings.llm in {value for _, value in LLM_CHOICES} else "auto"
    summary_choices = handlers.summary_choices()
    with gr.Blocks(title="河洛问答", analytics_enabled=False) as app:
        turns = gr.State([])
        conversation = gr.State(None)
        disliked_turn = gr.State(None)
        with gr.Sidebar(label="对话记录", open=True, elem_id="heluo-sidebar"):
            new = gr.Button("＋ 新对话", variant="primary", elem_id="heluo-new")
            conversations = gr.Radio(
                handlers._listing(None)["choices"], value=None, label="保存的对话", elem_id="heluo-conversations"
            )
            export = gr.DownloadButton("导出整个对话（Markdown）", value=None, elem_id="heluo-export")
            with gr.Accordion("重命名或删除当前对话", open=False, elem_id="heluo-manage"):
                title = gr.Textbox(label="新标题", max_lines=1, elem_id="heluo-title")
                rename = gr.Button("重命名", elem_id="heluo-rename")
                remove = gr.Button("删除这个对话", variant="stop", elem_id="heluo-remove")
        gr.Markdown("## 河洛问答 · 洛阳政务资料问答\n回答逐句标注来源 [n]，点击即可查看原文；无法核实的句子以 ⚠ 标出。")
        with gr.Tabs():
            with gr.Tab("问答", id="chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            label="对话",
                            show_label=False,
                            height="68vh",
                            min_height=360,
                            buttons=["copy", "copy_all"],
                            feedback_options=("Like", "Dislike"),
                            elem_id="heluo-chat",
                        )
                        with gr.Row(visible=False, elem_id="heluo-feedback") as feedback_row:
                            reason = gr.Textbox(label="哪里不对？（可选）", placeholder="例如：漏掉了某个会议、数字不对、来源不相关", scale=5, elem_id="heluo-feedback-reason")
                            send_reason = gr.Button("提交原因", scale=1, elem_id="heluo-feedback-send")
                        with gr.Row():
                            question = gr.Textbox(
                                label="问题",
                                show_label=False,
                                placeholder=f"输入问题，回车提问（{settings.max_question_chars} 字以内）",
                                scale=6,
                                max_lines=4,
                                elem_id="heluo-question",
                            )
                            send = gr.Button("提问", variant="primary", scale=1, elem_id="heluo-send")
                            stop = gr.Button("停止生成", variant="stop", scale=1, visible=False, elem_id="heluo-stop")
                        with gr.Row(equal_height=True):
                            month = gr.Dropdown(handlers.filter_choices(), value=ALL_MONTHS, label="提问限定月份（可选）", scale=2, elem_id="heluo-month")
                            llm = gr.Dropdown(LLM_CHOICES, value=default_llm, label="生成方式", scale=2, elem_id="heluo-llm")
                            regenerate = gr.Button("重新生成上一个回答", scale=1, elem_id="heluo-regenerate")
                        with gr.Row(equal_height=True, elem_id="heluo-summary-box"):
                            summary_month = gr.Dropdown(
                                summary_choices,
                                value=summary_choices[-1][1] if summary_choices else None,
                                label="月度摘要：选择月份",
                                allow_custom_value=True,  # API clients may name any month: the handler answers it
                                scale=2,
                                elem_id="heluo-summary-month",
                            )
                            summarize = gr.Button("生成月度摘要", scale=1, elem_id="heluo-summarize")
                        gr.Examples([[q] for q in EXAMPLE_QUESTIONS], inputs=[question], label="示例问题")
                    with gr.Column(scale=2):
                        gr.Markdown("### 来源原文")
                        sources = gr.HTML(render.sources_panel([]), label="来源原文", max_height=780, elem_id="heluo-sources")
            with gr.Tab("文档库", id="corpus"):
                table = gr.Dataframe(headers=render.DOCUMENT_COLUMNS, value=[], label="已索引的文档", interactive=False, wrap=True, elem_id="heluo-documents")
                with gr.Row():
                    with gr.Column():
                        files = gr.File(label=f"上传文档（{ACCEPTED_LABEL}）", file_count="multiple", file_types=list(SUPPORTED_SUFFIXES), elem_id="heluo-upload")
                        upload = gr.Button("导入到文档库", variant="primary", elem_id="heluo-upload-button")
                        pending = gr.State(None)
                        with gr.Row(visible=False, elem_id="heluo-upload-confirm") as confirm_row:
                            confirm = gr.Button("确认替换", variant="primary", elem_id="heluo-upload-replace")
                            cancel = gr.Button("取消", elem_id="heluo-upload-cancel")
                    with gr.Column():
                        doomed = gr.Dropdown(
                            [d.file for d in assistant.index.catalog.documents()],
                            value=None,
                            label="选择要删除的文档",
                            allow_custom_value=True,  # API clients name a file the page never listed to them
                            elem_id="heluo-delete-choice",
                        )
                        delete = gr.Button("删除文档并重建索引", variant="stop", elem_id="heluo-delete-button")
                status = gr.Markdown(label="导入状态", elem_id="heluo-corpus-status")

        chat_outputs = [chatbot, turns, conversation, sources, question, conversations, export]
        busy = {"fn": lambda: (gr.update(visible=False), gr.update(visible=True)), "inputs": None, "outputs": [send, stop], "queue": False, "api_visibility": "private"}
        idle = {"fn": lambda: (gr.update(visible=True), gr.update(visible=False)), "inputs": None, "outputs": [send, stop], "queue": False, "api_visibility": "private"}
        ask_inputs = [question, chatbot, turns, conversation, month, llm]
        generations = [
            send.click(**busy).then(handlers.ask, ask_inputs, chat_outputs, api_name="ask"),
            question.submit(**busy).then(handlers.ask, ask_inputs, chat_outputs, api_visibility="private"),
            summarize.click(**busy).then(handlers.summarize, [summary_month, chatbot, turns, conversation, llm], chat_outputs, api_name="summarize"),
            regenerate.click(**busy).then(handlers.regenerate, [turns, conversation, llm], chat_outputs, api_name="regenerate"),
            chatbot.retry(**busy).then(handlers.regenerate, [turns, conversation, llm], chat_outputs, api_visibility="private"),
        ]
        for generation in generations:
            generation.then(**idle)
        stop.click(handlers.stopped, [chatbot, turns, conversation], [chatbot], cancels=generations, api_name="stop").then(**idle)

        new.click(handlers.new_conversation, None, chat_outputs, api_name="new_conversation")
        chatbot.clear(handlers.new_conversation, None, chat_outputs, api_visibility="private")
        # Unpreprocessed: another page (or an API client) may open an id this page's list predates;
        # open_conversation checks it against the store.
        conversations.input(handlers.open_conversation, [conversations], chat_outputs, api_name="open_conversation", preprocess=False)
        rename.click(handlers.rename, [conversation, title], [conversations], api_name="rename_conversation")
        remove.click(
            handlers.delete_conversation,
            [conversation],
            chat_outputs,
            api_name="delete_conversation",
            js="(id) => (id && confirm('确定删除这个对话吗？删除后无法恢复。')) ? id : null",
        )
        chatbot.like(handlers.feedback, [conversation], [feedback_row, disliked_turn, reason], api_visibility="private")
        send_reason.click(handlers.feedback_reason, [conversation, disliked_turn, reason], [feedback_row, disliked_turn, reason], api_visibility="private")

        corpus_outputs = [table, doomed, month, status]
        app.load(handlers.corpus_view, None, corpus_outputs, api_visibility="private")
        app.load(lambda: handlers._listing(None), None, [conversations], api_visibility="private")
        upload_outputs = [*corpus_outputs, confirm_row, pending]
        months_changed = {"fn": handlers.summary_months, "inputs": None, "outputs": [summary_month], "api_visibility": "private"}
        upload.click(handlers.upload, [files, pending], upload_outputs, api_name="upload", concurrency_limit=1).then(**months_changed)
        confirm.click(handlers.confirm_upload, [pending], upload_outputs, api_name="confirm_upload", concurrency_limit=1).then(**months_changed)
        cancel.click(handlers.cancel_upload, [pending], upload_outputs, api_name="cancel_upload")
        delete.click(
            handlers.delete,
            [doomed],
            corpus_outputs,
            api_name="delete",
            concurrency_limit=1,
            js="(file) => (file && confirm('确定删除 ' + file + ' 吗？文件将从文档库和索引中移除。')) ? file : null",
        ).then(**months_changed)
    return app


def serve(app: gr.Blocks, settings: Settings, host: str | None = None, port: int | None = None, allow_public: bool = False, block: bool = True):
    """Queue and launch a built app; returns Gradio's (app, local_url, share_url) when block=False."""
    host = host or settings.host
    credentials = resolve_auth(host, settings.auth, allow_public)
    app.queue(default_concurrency_limit=settings.concurrency)
    return app.launch(
        server_name=host,
        server_port=port or settings.port,
        auth=credentials,
        auth_message="河洛问答：请输入用户名和密码" if credentials else None,
        prevent_thread_lock=not block,
        css=CSS_PATH.read_text(encoding="utf-8"),
        head=f"<script>\n{JS_PATH.read_text(encoding='utf-8')}\n</script>",
        footer_links=["api"],
        show_error=False,
        quiet=not block,
        app_kwargs={"middleware": [guard_middleware(throttle_logins=credentials is not None)]},
    )


def launch(settings: Settings, host: str | None = None, port: int | None = None, allow_public: bool = False) -> None:
    """`heluo serve`: check the bind rule before loading anything heavy, then serve until stopped."""
    resolve_auth(host or settings.host, settings.auth, allow_public)
    assistant = Assistant(settings)
    # The local LLM takes seconds to load: do it while the page opens, not on the first question.
    threading.Thread(target=assistant.warm_up, name="heluo-warm-up", daemon=True).start()
    serve(build_app(assistant, settings), settings, host, port, allow_public)
