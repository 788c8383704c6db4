"""The chat session's rules and the slash commands, on a scripted engine (fast: the model
is not the point here; test_cli_chat.py and the workbench tests run the real one)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from scripted import ScriptedEngine

from llmtui import library
from llmtui.chat import ChatSession, CommandError, Outcome, SessionError
from llmtui.chat import commands as c
from llmtui.engine import EngineError, Message


@pytest.fixture
def scripted() -> ScriptedEngine:
    return ScriptedEngine()


@pytest.fixture
def session(scripted: ScriptedEngine) -> ChatSession:
    return ChatSession(scripted, library.find("smollm2:135m"))


def say(session: ChatSession, text: str) -> str:
    return session.send(text).wait(5).text


def test_turns_are_what_the_model_is_sent(session: ChatSession, scripted: ScriptedEngine) -> None:
    assert say(session, "Hi") == "You said: Hi"
    say(session, "Again")
    sent = scripted.requests[-1].messages
    assert sent == (
        Message("user", "Hi"), Message("assistant", "You said: Hi"), Message("user", "Again"),
    )  # fmt: skip
    assert [t.outcome for t in session.turns] == [Outcome.DONE, Outcome.DONE]
    assert session.turns[0].done is not None and session.turns[0].done.eval_count == 3
    assert session.title == "Hi"


def test_a_failed_turn_stays_shown_is_not_sent_and_regenerate_retries_it(
    session: ChatSession, scripted: ScriptedEngine
) -> None:
    say(session, "One")
    scripted.fail_next = EngineError("the model broke")
    with pytest.raises(EngineError):
        session.send("Two").wait(5)
    failed = session.turns[-1]
    assert failed.outcome is Outcome.FAILED and failed.error == "the model broke"
    assert [m.content for m in session.messages()] == ["One", "You said: One"]
    # What Ctrl+R regenerates is what the user sees: the failed prompt.
    assert session.regenerate().wait(5).text == "You said: Two"
    assert [t.prompt for t in session.turns] == ["One", "Two"]
    assert session.turns[-1].outcome is Outcome.DONE


def test_a_stopped_reply_is_kept_and_sent(scripted: ScriptedEngine) -> None:
    scripted.script = lambda messages: "one two three four five six seven eight"
    scripted.delay = 0.05
    session = ChatSession(scripted, library.find("smollm2:135m"))
    handle = session.send("Count")
    while not session.turns[-1].parts:
        pass
    with pytest.raises(SessionError, match="still streaming"):
        session.send("more")
    handle.cancel()
    done = handle.wait(5)
    assert done.done_reason == "cancel" and session.turns[-1].outcome is Outcome.STOPPED
    assert session.messages()[-1] == Message("assistant", done.text)


def test_edit_truncate_delete_and_clear(session: ChatSession, scripted: ScriptedEngine) -> None:
    for text in ("a", "b", "c"):
        say(session, text)
    assert session.edit(1, "B").wait(5).text == "You said: B"
    assert [t.prompt for t in session.turns] == ["a", "B"]
    session.delete(0)
    assert [m.content for m in session.messages()] == ["B", "You said: B"]
    assert session.truncate(0) == "B" and session.turns == []
    say(session, "x")
    before = session.conversation
    session.clear()
    assert session.turns == [] and session.conversation != before and session.title == ""


def test_system_and_parameters_lie_over_the_models_own(
    session: ChatSession, scripted: ScriptedEngine
) -> None:
    assert session.run(c.parse("/set system You are a pirate.")) == "Set system message."
    assert session.run(c.parse("/set parameter temperature 0.25")) == (
        "Set parameter 'temperature' to '0.25'"
    )
    say(session, "Hi")
    job = scripted.requests[-1]
    assert job.messages is not None and job.messages[0] == Message("system", "You are a pirate.")
    assert job.options.temperature == 0.25
    assert "You are a pirate." in session.run(c.parse("/show system"))
    assert "temperature" in session.run(c.parse("/show parameters"))
    shown = session.run(c.parse("/show modelfile"))
    assert "PARAMETER temperature 0.25" in shown and "You are a pirate." in shown
    session.run(c.parse("/clear"))  # Ollama's /clear keeps the system prompt
    say(session, "Hi")
    assert scripted.requests[-1].messages[0] == Message("system", "You are a pirate.")  # type: ignore[index]


def test_load_keeps_the_conversation_and_marks_each_turn_with_its_model(
    session: ChatSession,
) -> None:
    say(session, "Hi")
    assert session.run(c.parse("/load gemma3:270m")) == "Loading model 'gemma3:270m'"
    say(session, "Hi again")
    assert [t.model for t in session.turns] == ["smollm2:135m", "gemma3:270m"]
    assert len(session.messages()) == 4
    with pytest.raises(SessionError, match=r"Couldn't load the model: .*no-such"):
        session.run(c.parse("/load no-such-model"))
    assert session.origin == "gemma3:270m"


def test_save_makes_a_model_of_the_chat(
    session: ChatSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMTUI_HOME", str(tmp_path))  # the shared home's listing stays as it is
    session.run(c.parse("/set system You speak like a robot."))
    say(session, "Hi")
    assert session.run(c.parse("/save robot-chat")) == "Created new model 'robot-chat:latest'"
    robot = library.find("robot-chat")
    assert robot.manifest is not None and robot.manifest.system == "You speak like a robot."
    with pytest.raises(SessionError, match="Couldn't save the model"):
        session.run(c.parse("/save a/../.."))


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("/frobnicate", "Unknown command '/frobnicate'. Type /? for help"),
        ("/set parameter temprature 1", "Couldn't set parameter: unknown option 'temprature'"),
        ("/set parameter num_ctx big", "Couldn't set parameter:"),
        ("/set parameter", "Usage: /set parameter NAME VALUE"),
        ("/set wordwrap", "Usage: /set parameter NAME VALUE | /set system TEXT"),
        ("/show nothing", "Usage: /show info | parameters"),
        ("/load", "Usage: /load NAME"),
        ("/save two words", "Usage: /save NAME"),
    ],
)
def test_a_wrong_command_is_one_line(line: str, error: str) -> None:
    with pytest.raises(CommandError) as raised:
        c.parse(line)
    assert str(raised.value).startswith(error) and "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("/bye", c.Bye()),
        ("/EXIT", c.Bye()),
        ("/?", c.Help()),
        ("/clear", c.Clear()),
        ('/set system """Be brief."""', c.SetSystem("Be brief.")),
        ("/set parameter stop <end> ###", c.SetParameter("stop", ("<end>", "###"), "<end> ###")),
        ("/set parameter num_ctx 2048", c.SetParameter("num_ctx", 2048, "2048")),
        ("/show template", c.Show("template")),
        ("/load gemma3:270m", c.Load("gemma3:270m")),
    ],
)
def test_commands_parse_once_into_types(line: str, command: c.Command) -> None:
    assert c.parse(line) == command


def test_without_a_model_the_session_says_so(scripted: ScriptedEngine) -> None:
    session = ChatSession(scripted)
    with pytest.raises(SessionError, match="no model is selected"):
        session.send("Hi")
    assert "/set parameter" in session.run(c.Help())


def test_observers_hear_each_change(session: ChatSession) -> None:
    heard: list[str] = []
    session.observers.append(lambda s, turn: heard.append(turn.outcome if turn else "session"))
    say(session, "Hi")
    # The turn's first words may come before the session says it has the turn: the engine
    # starts at once, on its own thread.
    assert "session" in heard and Outcome.STREAMING in heard and Outcome.DONE in heard
    session.run(c.parse("/set system Terse."))
    assert heard[-1] == "session"


def test_the_settings_parameters_lie_under_the_models_own_and_set_over_both(
    scripted: ScriptedEngine,
) -> None:
    session = ChatSession(scripted, library.find("smollm2:135m"),
                          defaults={"temperature": 0.1, "num_ctx": 2048})  # fmt: skip
    assert session.spec is not None
    session.run_with(replace(session.spec, options={"temperature": 0.5}), "a Modelfile")
    say(session, "Hi")
    assert (scripted.requests[-1].options.temperature, scripted.requests[-1].options.num_ctx) == (
        0.5, 2048,
    )  # fmt: skip
    session.run(c.parse("/set parameter temperature 0.9"))
    say(session, "Hi")
    assert scripted.requests[-1].options.temperature == 0.9
