"""The workbench's chat: a view of a chat session (llmtui/chat/), with the transcript, the
prompt input, and the reply streaming in a frame at a time.

The session holds the rules (what is sent, what a regenerate or an edit does, what each
slash command means); this pane shows its turns and keeps the screen cheap while a reply
streams: one bridge between the model's thread and the UI, one frame timer per reply, and
the collector frozen meanwhile.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from textual import on, work
from textual.app import ComposeResult
from textual.css.query import NoMatches
from textual.message import Message as TextualMessage
from textual.timer import Timer
from textual.widget import AwaitMount, Widget
from textual.widgets import Label
from textual.widgets.markdown import MarkdownFence

from llmtui.chat import ChatSession, CommandError, SessionError, commands
from llmtui.chat.backend import EventCallback
from llmtui.chat.store import Conversation, ConversationStore, StoreError, Summary
from llmtui.engine import Done, EngineError, Failed
from llmtui.engine.request import RequestHandle
from llmtui.library import LibraryModel, UnknownModel, find
from llmtui.timeago import ago
from llmtui.tui.bridge import Drained, ReplyBridge, frame_interval
from llmtui.tui.chat import ModelSwitch, Note, PromptInput, Reply, Transcript, UserTurn
from llmtui.tui.conversations import Conversations
from llmtui.tui.pane import Pane
from llmtui.tui.stats import StatsPane

STREAMING = "a reply is still streaming (Esc stops it)"


class ChatPane(Pane):
    class Load(TextualMessage):
        """/load, or a conversation continued: the workbench switches model (it may ask
        about the editor's buffer); `mark` says the switch in the transcript."""

        def __init__(self, model: LibraryModel, mark: bool = True) -> None:
            super().__init__()
            self.model, self.mark = model, mark

    class Leave(TextualMessage):
        """/bye."""

    class OpenComparison(TextualMessage):
        """A kept comparison chosen in the conversations: the compare view opens it."""

        def __init__(self, conversation: Conversation) -> None:
            super().__init__()
            self.conversation = conversation

    class SessionChanged(TextualMessage):
        """A command changed the session's settings (the subtitle, the stats follow)."""

    def __init__(self, session: ChatSession, frame_ms: int = 0, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.session = session
        self.handle: RequestHandle | None = None
        self.reply: Reply | None = None
        self.queued: list[str] = []  # prompts sent while a reply streamed, in order
        self.frame = frame_interval(frame_ms)  # seconds between repaints
        self._frames: Timer | None = None
        self.store: ConversationStore | None = None  # opened after the first frame

    def compose(self) -> ComposeResult:
        yield Transcript(id="transcript")
        yield Label("↓ the reply goes on below · End (in the transcript) follows it", id="jump")
        yield PromptInput(
            id="prompt",
            placeholder="Type a message, Enter sends · Ctrl+J new line · "
            "/ for commands (/help) · F1 lists every key",
        )

    def on_mount(self) -> None:
        self.query_one("#jump").display = False
        self.transcript.anchor()

    @property
    def transcript(self) -> Transcript:
        return self.query_one("#transcript", Transcript)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one("#prompt", PromptInput)

    @property
    def streaming(self) -> bool:
        return self.handle is not None and self.handle.result is None

    # -- sending --------------------------------------------------------------------------

    @on(PromptInput.Send)
    async def _send(self, event: PromptInput.Send) -> None:
        event.stop()
        if commands.is_command(event.text):
            await self.command(event.text)
        else:
            await self.ask(event.text)

    async def ask(self, text: str) -> None:
        if self.session.spec is None:
            self.notify("no model is selected", severity="error")
            return
        if self.streaming:
            # Sent when the reply ends, in order: the text is not lost.
            self.queued.append(text)
            self.notify(f"queued: sent when the reply ends ({len(self.queued)} waiting; "
                        "Esc stops the reply)")  # fmt: skip
            return
        await self._start(text, lambda bridge: self.session.send(text, bridge))

    async def _start(self, text: str, begin: Callable[[EventCallback], RequestHandle]) -> None:
        """Show `text` and the reply to come, then start the request (`begin`)."""
        transcript = self.transcript
        transcript.freeze_above()
        transcript.anchor()
        turn = UserTurn(text)
        self.reply = Reply()
        await transcript.mount_all([turn, self.reply])
        bridge = ReplyBridge(self)
        try:
            self.handle = begin(bridge)
        except (SessionError, EngineError) as error:
            self.notify(str(error), severity="error")
            await turn.remove()
            await self.reply.remove()
            self.reply = None
            return
        turn.turn = self.session.turns[-1]
        # One repeating timer per reply releases the bridge each frame (a timer per frame
        # was a task per frame), and the prompt's cursor stops blinking meanwhile: each
        # blink is a repaint, and a repaint's region is the box around all dirty ones.
        self._frames = self.set_interval(self.frame, bridge.release)
        self.prompt.cursor_blink = False
        # Everything alive now outlives the reply: frozen, the collector's full passes
        # while it streams skip it. A reply of 1,500 tokens had two, ~55 ms each with the
        # GIL held (the model's thread waits for it between tokens); frozen, one of ~20 ms.
        # Unfrozen when the reply ends, so what the user clears later is still collected.
        gc.freeze()

    @on(ReplyBridge.Ready)
    async def _reply_ready(self, event: ReplyBridge.Ready) -> None:
        drained = event.bridge.drain()
        try:
            await self._show(drained)
        except NoMatches:
            # Only while the app closes: a reply's last message can come after the widgets
            # are gone, and there is nothing left to show it in.
            if len(self.query("#transcript, #jump, #prompt")) == 3:
                raise

    async def _show(self, drained: Drained) -> None:
        reply = self.reply
        if drained.text and reply is not None:
            await reply.write(drained.text)
            self._show_jump()
        if drained.stats is not None:
            self.app.query_one(StatsPane).show_live(drained.stats)
        for notice in drained.notices:
            self.notify(notice)
        final = drained.final
        if final is None:
            return
        if self._frames is not None:
            self._frames.stop()
        self.prompt.cursor_blink = True
        gc.unfreeze()
        if isinstance(final, Done):
            self.app.query_one(StatsPane).show_done(final)
            if reply is not None:
                await reply.finish(final, final.text)
        elif isinstance(final, Failed):
            self.notify(str(final.error), title="the model failed", severity="error")
            if reply is not None:
                await reply.failed(str(final.error))
        self._show_jump()
        if self.queued and not self.streaming:
            await self.ask(self.queued.pop(0))

    def _show_jump(self) -> None:
        jump = self.query_one("#jump")
        behind = self.streaming and not self.transcript.following
        if jump.display != behind:
            jump.display = behind

    @on(Transcript.FollowChanged)
    def _follow_changed(self) -> None:
        self._show_jump()

    def follow(self) -> None:
        self.transcript.action_follow()
        self._show_jump()

    def stop(self) -> None:
        if self.streaming:
            assert self.handle is not None
            self.handle.cancel()
        if self.queued:  # stopped: what waited goes back to the input, not to the model
            field = self.prompt
            field.text = "\n\n".join([*self.queued, field.text]).strip()
            self.queued.clear()

    # -- going back -----------------------------------------------------------------------

    def _turn_widgets(self, start: UserTurn, through_end: bool) -> list[Widget]:
        """`start` and what follows it: to the end, or to the next prompt."""
        widgets = list(self.transcript.children)
        first = widgets.index(start)
        end = first + 1
        while end < len(widgets) and (through_end or not isinstance(widgets[end], UserTurn)):
            end += 1
        return widgets[first:end]

    def _last_turn(self) -> UserTurn | None:
        if self.streaming:
            self.notify(STREAMING, severity="warning")
            return None
        turns = list(self.transcript.query(UserTurn))
        if not turns or turns[-1].turn is None:
            self.notify("there is no reply to take back yet", severity="warning")
            return None
        return turns[-1]

    async def regenerate(self) -> None:
        """The last prompt again: a new reply, or a retry of one that failed."""
        last = self._last_turn()
        if last is None:
            return
        await self.transcript.remove_children(self._turn_widgets(last, through_end=True))
        await self._start(last.text, lambda bridge: self.session.regenerate(bridge))

    async def edit_last(self) -> None:
        last = self._last_turn()
        if last is not None:
            await self.edit_from(last)

    async def edit_from(self, turn: UserTurn) -> None:
        """Branch: the conversation goes back to before this prompt, which goes to the
        input to be changed and sent again; what followed it goes."""
        if self.streaming:
            self.notify(STREAMING, severity="warning")
            return
        if turn.turn is not None:
            self.session.truncate(self.session.turns.index(turn.turn))
        await self.transcript.remove_children(self._turn_widgets(turn, through_end=True))
        self.prompt.take_back(turn.text)
        self.prompt.focus()

    async def delete(self, turn: UserTurn) -> None:
        """Delete a prompt and its reply from the conversation (and the screen)."""
        if self.streaming:
            self.notify(STREAMING, severity="warning")
            return
        if turn.turn is not None:
            self.session.delete(self.session.turns.index(turn.turn))
        widgets = self._turn_widgets(turn, through_end=False)
        await self.transcript.remove_children(
            [w for w in widgets if not isinstance(w, ModelSwitch)]
        )
        self.notify("deleted the prompt and its reply from the conversation")

    @on(Transcript.EditFrom)
    async def _edit_from(self, event: Transcript.EditFrom) -> None:
        await self.edit_from(event.turn)

    @on(Transcript.Delete)
    async def _delete(self, event: Transcript.Delete) -> None:
        await self.delete(event.turn)

    async def clear(self) -> None:
        self.stop()
        self.session.clear()
        await self.transcript.remove_children()

    async def show_turns(self) -> None:
        """Show the session's turns afresh (a conversation continued from the store)."""
        self.stop()
        await self.transcript.show(self.session.turns)

    async def model_switched(self, name: str) -> None:
        """Say in the conversation where the model changed."""
        if self.transcript.children:
            await self.transcript.mount(ModelSwitch(name))

    # -- commands -------------------------------------------------------------------------

    async def command(self, line: str) -> None:
        """A slash command, parsed and carried out as in `llmtui run`; what it says goes
        into the transcript (not the conversation), an error into a notification."""
        try:
            command = commands.parse(line)
            match command:
                case commands.Bye():
                    self.post_message(self.Leave())
                case commands.Clear():
                    await self.clear()
                    self.notify("Cleared session context")
                case commands.Load(name):
                    try:
                        model = find(name)
                    except UnknownModel as error:
                        raise SessionError(f"Couldn't load the model: {error}") from None
                    self.post_message(self.Load(model))
                case _:
                    said = self.session.run(command)
                    await self.note(said)
                    self.post_message(self.SessionChanged())
        except (CommandError, SessionError) as error:
            self.notify(str(error), severity="warning")

    def note(self, text: str) -> AwaitMount:
        """Show `text` in the transcript: not in the conversation, not sent to the model."""
        self.transcript.anchor()
        return self.transcript.mount(Note(text))

    # -- kept conversations ---------------------------------------------------------------

    @work(thread=True, exit_on_error=False)
    def open_store(self) -> None:
        """Off the UI thread: opening (or creating, or migrating) the database."""
        try:
            store = ConversationStore()
        except (StoreError, OSError) as error:
            self.app.call_from_thread(self.notify, f"conversations are not kept: {error}",
                                      severity="warning", timeout=10)  # fmt: skip
            return
        latest = store.latest()
        self.app.call_from_thread(self._store_ready, store, latest)

    def _store_ready(self, store: ConversationStore, latest: Summary | None) -> None:
        self.store = store
        store.attach(self.session)
        if store.problem:
            self.notify(store.problem, severity="warning", timeout=10)
        if latest is not None and not self.session.turns:
            self.note(
                f"Your last conversation: “{latest.title}” ({latest.model}, {latest.turns} "
                f"turn{'s' if latest.turns != 1 else ''}, {ago(latest.updated).lower()}). "
                "Ctrl+L continues it or another."
            )

    def on_unmount(self) -> None:
        if self.store is not None:
            self.store.close()

    @work(exit_on_error=False)
    async def conversations(self) -> None:
        if self.streaming:  # its last words would land in the conversation opened instead
            self.notify(STREAMING, severity="warning")
            return
        if self.store is None:
            self.notify("conversations are not kept (keep_chats in the settings)",
                        severity="warning")  # fmt: skip
            return
        key = await self.app.push_screen_wait(Conversations(self.store))
        if key is not None:
            await self.continue_conversation(key)

    async def continue_conversation(self, key: int) -> None:
        """Open a kept conversation: its turns, system prompt and parameters, and its model
        if the library still has it (else the text is there to read, and the chat goes on
        with the model it had)."""
        assert self.store is not None
        try:
            conversation = self.store.load(key)
        except StoreError as error:
            self.notify(str(error), severity="error")
            return
        if conversation.kind == "compare":
            self.post_message(self.OpenComparison(conversation))
            return
        self.session.restore(conversation)
        await self.show_turns()
        self.post_message(self.SessionChanged())
        try:
            model = find(conversation.model)
        except UnknownModel:
            self.notify(f"{conversation.model} is not in the library any more: the "
                        f"conversation goes on with {self.session.origin or 'no model'} "
                        "(/load changes it)", severity="warning", timeout=10)  # fmt: skip
            return
        if model.name != self.session.origin:
            self.post_message(self.Load(model, mark=False))

    # -- the transcript's keys ------------------------------------------------------------

    @on(Transcript.Typed)
    def _typed_in_transcript(self, event: Transcript.Typed) -> None:
        field = self.prompt
        field.focus()
        if event.character:
            field.insert(event.character)

    @on(Transcript.Copied)
    def _copied(self, event: Transcript.Copied) -> None:
        self.app.copy_to_clipboard(event.text)
        self.notify(f"copied {event.what} ({len(event.text):,} characters)")

    def copy_last(self, what: str) -> None:
        transcript = self.transcript
        kind = MarkdownFence if what == "code" else Reply
        items = [item for item in transcript.items() if isinstance(item, kind)]
        if not items:
            self.notify(f"no {'code block' if what == 'code' else 'reply'} to copy yet",
                        severity="warning")  # fmt: skip
            return
        transcript.place(items[-1])
        transcript.action_copy()
