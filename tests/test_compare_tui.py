"""The workbench's compare view, driven with Pilot: columns chosen from the library, one
prompt to all, each streaming; stop, regenerate one, a failing column, blind votes, the
diff, a narrow terminal. Most tests run on the scripted engine (the view is the point);
one runs two real models together."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from scripted import ScriptedEngine
from textual.widgets import Checkbox, DataTable, Input, OptionList
from workbench import SCREENSHOTS, burst, notes, wait_for

from llmtui.chat import Outcome
from llmtui.engine import Engine, EngineError
from llmtui.settings import Settings
from llmtui.tui.app import Workbench
from llmtui.tui.chat import Reply, UserTurn
from llmtui.tui.compare import ColumnTabs, CompareScreen, VoteBar
from llmtui.tui.compare_dialogs import ChooseColumns, DiffView, Leaderboard
from llmtui.tui.conversations import Conversations

SIZE = (160, 45)


@pytest.fixture
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LLMTUI_HOME", str(tmp_path))
    return tmp_path


def workbench(engine: Engine | ScriptedEngine, keep: bool = False) -> Workbench:
    return Workbench("smollm2:135m", engine=engine,  # type: ignore[arg-type]
                     settings=Settings(keep_chats=keep))  # fmt: skip


@contextlib.asynccontextmanager
async def greedy(tokens: int) -> AsyncIterator[Workbench]:
    """The workbench on a real engine of its own (the session's would keep gemma3 loaded,
    its one 'no chat template' notice given, which the engine's tests expect to see),
    replies greedy and `tokens` long at most."""
    engine = Engine()
    parameters = {"temperature": 0, "num_predict": tokens}
    try:
        yield Workbench("smollm2:135m", engine=engine,
                        settings=Settings(keep_chats=False, parameters=parameters))  # fmt: skip
    finally:
        engine.close()


async def open_compare(
    pilot, app: Workbench, *add: tuple[str, str], blind: bool = False
) -> CompareScreen:
    """Ctrl+G, then add a column per (model, settings) to the one preset (the chat's)."""
    await pilot.press("ctrl+g")
    await wait_for(lambda: isinstance(app.screen, ChooseColumns))
    dialog = app.screen
    sources = dialog.query_one("#sources", OptionList)
    await wait_for(lambda: sources.option_count > 0)
    for name, settings in add:
        sources.highlighted = dialog.sources.index(name)
        sources.focus()
        await pilot.press("enter")
        await pilot.pause()
        if settings:
            field = list(dialog.query(Input))[-1]
            field.value = settings
    if blind:
        dialog.query_one("#blind", Checkbox).value = True
    await pilot.press("ctrl+s")
    await wait_for(lambda: isinstance(app.screen, CompareScreen) and app.screen.columns)
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, CompareScreen)
    return screen


async def send(pilot, screen: CompareScreen, text: str) -> None:
    """Type a prompt (in one burst, as a terminal sends it) and wait for the round."""
    burst(screen.app, *text, "enter")  # type: ignore[arg-type]
    await wait_for(lambda: screen.query_one("#summary").display)
    await pilot.pause()


def replies(screen: CompareScreen) -> list[str]:
    return [column.query(Reply).last().text for column in screen.columns]


async def test_two_columns_of_one_model_stream_and_follow_ups_go_on(own_home: Path) -> None:
    engine = ScriptedEngine(delay=0.005)
    app = workbench(engine, keep=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.chat.store is not None)
        screen = await open_compare(pilot, app, ("smollm2:135m", "temperature=1.0 system=Short."))
        left, right = screen.columns
        assert left.border_title == "smollm2:135m"
        assert right.border_title == "smollm2:135m · temperature=1.0 system=Short."
        await send(pilot, screen, "Hello there")
        assert replies(screen) == ["You said: Hello there"] * 2
        assert engine.requests[-1].options.temperature == 1.0
        assert engine.requests[-1].messages[0].content == "Short."
        summary = str(screen.query_one("#summary").render())
        assert "fastest" in summary and "identical answers" in summary
        # One model file: its loaded copy answers the columns in turn, and the view says so.
        assert "run in turn (one model" in str(screen.query_one("#plan").render())
        assert "tok/s" in left.figures
        await send(pilot, screen, "And again")
        assert [m.content for m in engine.requests[-1].messages][1:] == [
            "Hello there", "You said: Hello there", "And again"]  # fmt: skip
        assert len(left.query(UserTurn)) == 2
        await pilot.press("ctrl+g")  # back to the chat, which is as it was
        await wait_for(lambda: not isinstance(app.screen, CompareScreen))
        assert not app.session.turns
        [kept] = app.chat.store.conversations()  # type: ignore[union-attr]
        assert (kept.kind, kept.turns, kept.title) == ("compare", 4, "Hello there")
        # Ctrl+L lists it; opened, it is a comparison again, and goes on.
        await pilot.press("ctrl+l")
        await wait_for(lambda: isinstance(app.screen, Conversations))
        await wait_for(lambda: app.screen.query_one(DataTable).row_count == 1)
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, CompareScreen))
        again = app.screen
        await wait_for(lambda: again.columns
                       and all(len(c.query(UserTurn)) == 2 for c in again.columns))  # fmt: skip
        assert [c.border_title for c in again.columns] == [left.border_title, right.border_title]
        await send(pilot, again, "Third")
        assert [m.content for m in engine.requests[-1].messages] == [
            "Short.", "Hello there", "You said: Hello there", "And again",
            "You said: And again", "Third"]  # fmt: skip
        assert engine.requests[-1].options.temperature == 1.0
        [kept] = app.chat.store.conversations()  # type: ignore[union-attr]
        assert kept.turns == 6


async def test_esc_stops_every_column_and_one_that_waits_never_starts() -> None:
    engine = ScriptedEngine(lambda messages: "word " * 400, delay=0.02)
    app = workbench(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot, app, ("smollm2:135m", ""))
        burst(app, *"Go on", "enter")
        left, right = screen.columns
        await wait_for(lambda: left.reply is not None and left.reply.text)
        assert right.waiting
        await pilot.press("escape")
        await wait_for(lambda: screen.query_one("#summary").display)
        assert left.session.turns[-1].outcome is Outcome.STOPPED
        assert not right.session.turns and "stopped before its turn" in right.figures
        assert len(engine.requests) == 1
        # Ctrl+R from the prompt box: the round again, the stopped reply replaced, and the
        # column that never started asked at last.
        engine.script = lambda messages: "Short."
        await pilot.press("ctrl+r")
        await wait_for(lambda: screen.query_one("#summary").display and not screen.streaming)
        assert [len(c.session.turns) for c in screen.columns] == [1, 1]
        assert replies(screen) == ["Short.", "Short."] and len(engine.requests) == 3
        assert [len(c.query(UserTurn)) for c in screen.columns] == [1, 1]
        # F8: a new comparison, the same columns, nothing on screen.
        await pilot.press("f8")
        await wait_for(lambda: not screen.columns[0].query(UserTurn))
        assert [c.session.turns for c in screen.columns] == [[], []]


async def test_a_failing_column_says_why_and_the_other_answers_then_one_regenerates() -> None:
    engine = ScriptedEngine()
    app = workbench(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot, app, ("smollm2:135m", "num_predict=8"))
        engine.fail_next = EngineError("the model is too big for this machine")
        await send(pilot, screen, "Hi")
        left, right = screen.columns
        assert left.query_one(Reply).has_class("-failed") and left.figures == "failed"
        assert replies(screen)[1] == "You said: Hi"
        assert "failed: smollm2:135m" in str(screen.query_one("#summary").render())
        # Ctrl+R in the failed column: it alone asks again.
        left.transcript.focus()
        await pilot.press("ctrl+r")
        await wait_for(
            lambda: left.session.turns and left.session.turns[-1].outcome is Outcome.DONE
        )
        await wait_for(lambda: screen.query_one("#summary").display)
        assert len(engine.requests) == 3 and len(left.session.turns) == 1
        assert replies(screen) == ["You said: Hi"] * 2
        assert len(left.query(UserTurn)) == 1 and len(right.query(UserTurn)) == 1


async def test_blind_columns_are_letters_until_the_vote_and_the_vote_is_kept(
    own_home: Path,
) -> None:
    engine = ScriptedEngine(lambda messages: f"Answer to {messages[-1].content}")
    app = workbench(engine, keep=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: app.chat.store is not None)
        screen = await open_compare(pilot, app, ("gemma3:270m", ""), blind=True)
        await send(pilot, screen, "Which?")
        assert sorted(c.border_title for c in screen.columns) == ["A", "B"]
        assert [c.border_title for c in screen.columns] == ["A", "B"]  # as shown
        assert "smollm2" not in str(screen.query_one("#summary").render())
        bar = screen.query_one(VoteBar)
        assert bar.display and app.focused is bar
        first = screen.columns[0].column.label
        await pilot.press("a")
        await wait_for(lambda: not bar.display)
        assert screen.columns[0].border_title == f"A · {first}"
        await wait_for(lambda: any("vote kept" in n for n in notes(app)))
        [vote] = app.chat.store.votes()  # type: ignore[union-attr]
        assert vote.choice == first and set(vote.columns) == {"smollm2:135m", "gemma3:270m"}
        await pilot.press("f5")
        await wait_for(lambda: isinstance(app.screen, Leaderboard))
        table = app.screen.query_one(DataTable)
        assert table.row_count == 2 and table.get_row_at(0)[1] == first
        await pilot.press("escape")


async def test_the_diff_shows_what_differs_word_by_word_and_ctrl_s_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    engine = ScriptedEngine()
    app = workbench(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot, app, ("smollm2:135m", "system='Be odd.'"))
        engine.script = lambda messages: (
            "The sea is green." if messages[0].content == "Be odd." else "The sea is blue."
        )
        await send(pilot, screen, "Colour?")
        assert "answers differ (F3 shows how)" in str(screen.query_one("#summary").render())
        await pilot.press("ctrl+s")  # exported as Markdown, here
        await wait_for(lambda: list(tmp_path.glob("comparison-*.md")))
        [exported] = tmp_path.glob("comparison-*.md")
        text = exported.read_text()
        assert "## Round 1\n\n> Colour?" in text and "The sea is green." in text
        await pilot.press("f3")
        await wait_for(lambda: isinstance(app.screen, DiffView))
        title = str(app.screen.query_one(".title").render())
        assert title.startswith("smollm2:135m → smollm2:135m · system='Be odd.'")
        assert "(2 words differ)" in title  # blue, green
        await pilot.press("escape")
        await wait_for(lambda: app.screen is screen)


async def test_at_80x24_the_columns_are_tabs() -> None:
    app = workbench(ScriptedEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(pilot, app, ("gemma3:270m", ""))
        assert screen.has_class("-narrow")
        shown = [c for c in screen.columns if c.display and c.styles.display != "none"]
        await send(pilot, screen, "Hi")
        visible = [c for c in screen.columns if c.region.width > 0]
        assert len(visible) == 1 and visible[0].has_class("-current")
        assert shown
        tabs = screen.query_one(ColumnTabs)
        assert tabs.names == ["smollm2:135m", "gemma3:270m"] and tabs.current == 0
        tabs.focus()
        await pilot.press("right")
        await pilot.pause()
        visible = [c for c in screen.columns if c.region.width > 0]
        assert [c.index for c in visible] == [1] and tabs.current == 1
        # A click on a name shows its column: " smollm2:135m " from x 1, then 3 spaces.
        await pilot.click(ColumnTabs, offset=(3, 0))
        await pilot.pause()
        assert [c.index for c in screen.columns if c.region.width > 0] == [0]


async def test_two_real_models_answer_together() -> None:
    async with greedy(24) as app, app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot, app, ("gemma3:270m", ""))
        await send(pilot, screen, "Name a colour.")
        for column in screen.columns:
            turn = column.session.turns[-1]
            assert turn.outcome is Outcome.DONE and turn.done is not None
            assert turn.done.eval_count == 24 and turn.reply.strip()
            assert "tok/s" in column.figures
        assert "fastest" in str(screen.query_one("#summary").render())


async def test_the_columns_dialog_says_what_is_wrong_and_f2_offers_them_again() -> None:
    app = workbench(ScriptedEngine())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+g")
        await wait_for(lambda: isinstance(app.screen, ChooseColumns))
        dialog = app.screen
        error = dialog.query_one(".error")
        await pilot.press("ctrl+s")  # one column (the chat's): not a comparison
        assert "at least 2 columns" in str(error.render())
        await pilot.press("enter")  # the highlighted model, again
        await pilot.pause()
        field = list(dialog.query(Input))[-1]
        for wrong, said in (("temprature=1", "column 2: temprature=1: unknown option"),
                            ("system=Be brief.", "column 2: takes KEY=VALUE, not 'brief.'"),
                            ("temperature='1", "column 2: No closing quotation")):  # fmt: skip
            field.value = wrong
            await pilot.press("ctrl+s")
            assert str(error.render()).startswith(said) and app.screen is dialog
        field.value = "temperature=0.2"
        await pilot.press("ctrl+s")
        await wait_for(lambda: isinstance(app.screen, CompareScreen))
        await pilot.press("f2")  # other columns: the dialog again, these preset
        await wait_for(lambda: isinstance(app.screen, ChooseColumns))
        rows = [field.value for field in app.screen.query(Input)]
        assert rows == ["", "temperature=0.2"]
        await pilot.press("escape")
        await wait_for(lambda: app.screen.id == "_default")
        assert app.query_one("#prompt").has_focus


async def test_screenshot_of_two_models_streaming_side_by_side() -> None:
    async with greedy(400) as app, app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot, app, ("gemma3:270m", ""))
        burst(app, *"Explain how a bicycle works.", "enter")
        await wait_for(lambda: all(c.reply is not None and len(c.reply.text) > 300
                                   for c in screen.columns))  # fmt: skip
        path = app.save_screenshot(filename="compare.svg", path=str(SCREENSHOTS))
        assert screen.streaming  # taken while the replies stream
        screen.action_stop()
        await wait_for(lambda: not screen.streaming)
        assert "bicycle" in Path(path).read_text()


async def test_screenshot_of_a_blind_vote_at_80x24() -> None:
    async with greedy(60) as app, app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(pilot, app, ("gemma3:270m", ""), blind=True)
        await send(pilot, screen, "Write a haiku about the sea.")
        await pilot.pause(0.3)
        path = app.save_screenshot(filename="compare-blind-vote.svg", path=str(SCREENSHOTS))
        text = Path(path).read_text().replace("&#160;", " ")
        assert "Which answer is better?" in text and "gemma3" not in text


async def test_a_column_and_its_parameters_typed_in_one_burst() -> None:
    # Enter, the parameters and Ctrl+S as a terminal delivers them: all at once. The field
    # used to take the focus a message after Enter, and the first key went to the list.
    app = workbench(ScriptedEngine())
    async with app.run_test(size=SIZE) as pilot:
        burst(app, "ctrl+g")
        await wait_for(lambda: isinstance(app.screen, ChooseColumns))
        await pilot.pause()
        burst(app, "down", "enter", *"num_predict=30 temperature=1.5", "ctrl+s")
        await wait_for(lambda: isinstance(app.screen, CompareScreen) and app.screen.columns)
        labels = [column.column.label for column in app.screen.columns]
        assert labels == ["smollm2:135m", "smollm2:135m · num_predict=30 temperature=1.5"]
