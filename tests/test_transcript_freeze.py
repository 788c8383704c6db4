"""Messages far above the view are frozen (one widget, same height) and thaw near it."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets.markdown import MarkdownFence

from llmtui.engine import Engine
from llmtui.tui.app import Workbench
from llmtui.tui.chat import Freezable, Reply, Transcript, UserTurn
from tests.workbench import app_for, ask

ANSWER = "\n\n".join(
    [
        "Rome grew from a village on the Tiber into an empire. " * 3,
        "- the kings\n- the republic\n- the empire",
        "```python\nprint('veni, vidi, vici')\n```",
        "It fell in the west in **476**, and in the east in 1453. " * 2,
    ]
)


async def converse(pilot: Pilot[None], app: Workbench, turns: int) -> Transcript:
    """A transcript with `turns` questions and answers, scrolled to its end."""
    transcript = app.query_one(Transcript)
    for turn in range(turns):
        await transcript.mount(UserTurn(f"Question {turn}: tell me about Rome."))
        reply = Reply()
        await transcript.mount(reply)
        await reply.finish(None, ANSWER)
    await pilot.pause(0.3)
    transcript.scroll_end(animate=False)
    await pilot.pause(0.3)
    return transcript


async def frozen_conversation(pilot: Pilot[None], app: Workbench) -> Transcript:
    """Six turns, those more than a screen above the view frozen."""
    transcript = await converse(pilot, app, 6)
    transcript.freeze_above()
    await pilot.pause(0.3)
    return transcript


def shown(message: Freezable) -> bool:
    return any(child.display for child in message.children)


async def test_sending_freezes_messages_far_above_keeping_every_height(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=(120, 36)) as pilot:
        transcript = await converse(pilot, app, 6)
        messages = list(transcript.query_children(Freezable))
        spans = [message.virtual_region for message in messages]
        await ask(pilot, app, "Say hi.")
        await pilot.pause(0.3)
        frozen = [message for message in messages if not shown(message)]
        assert frozen and frozen == messages[: len(frozen)]
        # Everything below the frozen ones still shows: the last screen and the new turn.
        assert all(shown(message) for message in messages[len(frozen) :])
        assert [message.virtual_region for message in messages] == spans
        # What a frozen message hid is no longer laid out: each layout walks fewer widgets.
        laid_out = app.screen._compositor.full_map
        assert all(message in laid_out for message in frozen)
        assert not any(inside in laid_out for m in frozen for inside in m.walk_children())


async def test_scrolling_near_a_frozen_message_thaws_it(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=(120, 36)) as pilot:
        transcript = await frozen_conversation(pilot, app)
        first = transcript.query_children(Freezable).first()
        span = first.virtual_region
        assert not shown(first)
        transcript.scroll_home(animate=False)
        await pilot.pause(0.3)
        assert shown(first) and first.virtual_region == span
        assert "Question 0" in "".join(
            strip.text for strip in app.screen._compositor.render_strips()
        )


async def test_the_cursor_thaws_the_message_it_moves_to(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=(120, 36)) as pilot:
        transcript = await frozen_conversation(pilot, app)
        fence = transcript.query(MarkdownFence).first()
        assert fence.region.height == 0  # hidden inside a frozen reply
        transcript.place(fence)
        await pilot.pause(0.3)
        assert fence.region.height > 0
        assert transcript.region.contains_region(fence.region)


async def test_a_new_width_thaws_every_frozen_message(engine: Engine) -> None:
    app = app_for(engine)
    async with app.run_test(size=(120, 36)) as pilot:
        transcript = await frozen_conversation(pilot, app)
        assert not shown(transcript.query_children(Freezable).first())
        await pilot.resize_terminal(150, 36)
        await pilot.pause(0.5)
        assert all(shown(message) for message in transcript.query_children(Freezable))
