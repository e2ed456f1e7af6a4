"""The web UI (Gradio): chat with cited answers, month summaries, and the document library.

Thin by design: every handler calls the Assistant (or ingest) and renders its structured result
with ui.render. Errors a user can cause become friendly messages in the chat, never tracebacks.
"""

from __future__ import annotations

import ipaddress
import logging
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path

import gradio as gr

from ingest.readers import SUPPORTED_SUFFIXES
from rag.digest import month_label
from rag.service import Assistant, Delta, Done
from rag.settings import Settings
from ui import render, uploads
from ui.http_guard import guard_middleware
from ui.render import Turn
from ui.safe_markdown import inert
from ui.uploads import ACCEPTED_LABEL

log = logging.getLogger(__name__)

CSS_PATH = Path(__file__).parent / "static" / "heluo.css"
EXAMPLE_QUESTIONS = [
    "2023年7月洛阳有哪些重要工作？",
    "2020年洛阳市地区生产总值是多少？",
    "12月江凌开展了哪些调研？",
    "涧西区2021年实现地区生产总值多少？",
]
LLM_CHOICES = [("自动", "auto"), ("抽取式（不用大模型）", "extractive"), ("本地模型", "local"), ("OpenAI 兼容接口", "openai")]
ALL_MONTHS = ""

# Clicking a [n] in an answer (or its card) opens the matching source card with the item's full
# text. Delegated from the document, in the capture phase, because Gradio re-renders messages and
# its Markdown links would otherwise open a new tab.
HEAD = """
<script>
(() => {
  if (window.__heluoCitations) return;
  window.__heluoCitations = true;
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest('a[href^="#cite-"]');
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const card = document.getElementById(link.getAttribute("href").slice(1));
    if (!card) return;
    card.open = true;
    card.scrollIntoView({ behavior: "smooth", block: "start" });
    card.classList.remove("heluo-flash");
    void card.offsetWidth;
    card.classList.add("heluo-flash");
  }, true);
})();
</script>
"""

Outputs = tuple  # (chat messages, turns, sources html, question box, export file)


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
        return f"所选生成器暂不可用：{str(error).rstrip('。. ')}。可改选“抽取式”或“自动”后重试。"
    if isinstance(error, ValueError):
        return str(error)
    return f"出错了（{type(error).__name__}），请稍后重试；若反复出现，请查看服务日志。"


class WebHandlers:
    """The event handlers, bound to one Assistant; each returns values for the page's components."""

    def __init__(self, assistant: Assistant, settings: Settings) -> None:
        self.assistant = assistant
        self.settings = settings
        self.export_dir = Path(tempfile.mkdtemp(prefix="heluo-export-"))

    def documents(self) -> dict:
        return {d.file: d for d in self.assistant.index.catalog.documents()}

    def month_choices(self) -> list[tuple[str, str]]:
        return [("全部月份", ALL_MONTHS)] + [(month_label(m), m) for m in self.assistant.months()]

    # -- chat -------------------------------------------------------------------------------------
    def ask(self, question: str, chat: list, turns: list[Turn], month: str, llm: str) -> Iterator[Outputs]:
        question = (question or "").strip()
        history = [(t.question, t.answer.text) for t in turns]
        events = partial(self.assistant.ask_stream, question, history=history, llm=llm or None, month=month or None)
        yield from self._converse(question or "（空问题）", chat, turns, events, llm, clear_question=True)

    def summarize(self, month: str, chat: list, turns: list[Turn], llm: str) -> Iterator[Outputs]:
        if not month:
            messages = _messages(chat) + [
                {"role": "user", "content": "总结本月"},
                {"role": "assistant", "content": render.error_message("请先在“月份”里选择要总结的月份，再点“总结本月”。")},
            ]
            yield messages, turns, gr.skip(), gr.skip(), gr.skip()
            return
        question = f"总结{month_label(month)}洛阳的重要工作"
        events = partial(self.assistant.summarize_stream, month, llm or None)
        yield from self._converse(question, chat, turns, events, llm)

    def _converse(
        self, question: str, chat: list, turns: list[Turn], events: Callable[[], Iterable], llm: str, clear_question: bool = False
    ) -> Iterator[Outputs]:
        box = "" if clear_question else gr.skip()
        messages = _messages(chat) + [{"role": "user", "content": inert(question)}, {"role": "assistant", "content": render.pending_message()}]
        yield messages, turns, gr.skip(), box, gr.skip()
        streamed = ""
        try:
            for event in events():
                if isinstance(event, Delta):
                    streamed += event.text
                    messages[-1] = {"role": "assistant", "content": render.streaming_message(streamed)}
                    yield messages, turns, gr.skip(), box, gr.skip()
                elif isinstance(event, Done):
                    turn = Turn(len(turns) + 1, question, event.answer)
                    turns = [*turns, turn]
                    documents = self.documents()
                    messages[-1] = {"role": "assistant", "content": render.answer_message(event.answer, turn.number, documents, llm)}
                    yield messages, turns, render.sources_panel(turns, documents), box, self._export(turn, documents)
        except Exception as error:  # the edge of the app: every failure becomes a message
            if not isinstance(error, ValueError):
                log.exception("answering %r failed", question)
            messages[-1] = {"role": "assistant", "content": render.error_message(_friendly(error))}
            yield messages, turns, gr.skip(), box, gr.skip()

    def _export(self, turn: Turn, documents: dict) -> str:
        # Sessions share the folder: a unique name keeps two users' answers apart.
        path = self.export_dir / f"heluo-answer-{turn.number}-{uuid.uuid4().hex[:8]}.md"
        path.write_text(render.answer_to_markdown(turn, documents), encoding="utf-8")
        return str(path)

    def clear(self) -> Outputs:
        return [], [], render.sources_panel([]), "", None

    # -- the document library -------------------------------------------------------------------
    def corpus_view(self, status: str = "") -> tuple:
        documents = self.assistant.index.catalog.documents()
        files = [d.file for d in documents]
        return (
            render.documents_rows(documents),
            gr.update(choices=files, value=None),
            gr.update(choices=self.month_choices()),
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


def _status_lines(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def build_app(assistant: Assistant, settings: Settings) -> gr.Blocks:
    handlers = WebHandlers(assistant, settings)
    default_llm = settings.llm if settings.llm in {value for _, value in LLM_CHOICES} else "auto"
    with gr.Blocks(title="河洛问答", analytics_enabled=False) as app:
        gr.Markdown("## 河洛问答 · 洛阳政务资料问答\n回答逐条标注来源 [n]，点击即可查看原文；无法核实的句子以 ⚠ 标出。")
        with gr.Tabs():
            with gr.Tab("问答", id="chat"):
                turns = gr.State([])
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(label="对话", height=560, buttons=["copy", "copy_all"], elem_id="heluo-chat", feedback_options=None)
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
                        with gr.Row():
                            month = gr.Dropdown(handlers.month_choices(), value=ALL_MONTHS, label="月份", allow_custom_value=True, elem_id="heluo-month")
                            llm = gr.Dropdown(LLM_CHOICES, value=default_llm, label="生成方式", elem_id="heluo-llm")
                        with gr.Row():
                            summarize = gr.Button("总结本月", elem_id="heluo-summarize")
                            clear = gr.Button("清空对话", elem_id="heluo-clear")
                            export = gr.DownloadButton("导出回答（Markdown）", value=None, elem_id="heluo-export")
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

        chat_outputs = [chatbot, turns, sources, question, export]
        send.click(handlers.ask, [question, chatbot, turns, month, llm], chat_outputs, api_name="ask")
        question.submit(handlers.ask, [question, chatbot, turns, month, llm], chat_outputs, api_visibility="private")
        summarize.click(handlers.summarize, [month, chatbot, turns, llm], chat_outputs, api_name="summarize")
        clear.click(handlers.clear, None, chat_outputs, api_name="clear")
        corpus_outputs = [table, doomed, month, status]
        app.load(handlers.corpus_view, None, corpus_outputs, api_visibility="private")
        upload_outputs = [*corpus_outputs, confirm_row, pending]
        upload.click(handlers.upload, [files, pending], upload_outputs, api_name="upload", concurrency_limit=1)
        confirm.click(handlers.confirm_upload, [pending], upload_outputs, api_name="confirm_upload", concurrency_limit=1)
        cancel.click(handlers.cancel_upload, [pending], upload_outputs, api_name="cancel_upload")
        delete.click(
            handlers.delete,
            [doomed],
            corpus_outputs,
            api_name="delete",
            concurrency_limit=1,
            js="(file) => (file && confirm('确定删除 ' + file + ' 吗？文件将从文档库和索引中移除。')) ? file : null",
        )
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
        head=HEAD,
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
