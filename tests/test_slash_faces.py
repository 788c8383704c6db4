"""The same slash command typed in `llmtui run` and in the workbench does the same thing and
says the same line (one parser, one session). On a scripted engine: the commands are the
point, not the model."""

from __future__ import annotations

import io

from conftest import script
from scripted import ScriptedEngine
from workbench import notes, wait_for

from llmtui import library
from llmtui.chat import ChatSession
from llmtui.chat.commands import HELP
from llmtui.cli.chat import LineChat, interactive
from llmtui.settings import Settings
from llmtui.tui.app import Workbench
from llmtui.tui.chat import Note

# (line, what either face says, or None where only the state is compared)
TABLE = [
    ("/set parameter temperature 0.3", "Set parameter 'temperature' to '0.3'"),
    ("/set parameter stop <end> ###", "Set parameter 'stop' to '<end> ###'"),
    ('/set system """Be brief."""', "Set system message."),
    ("/show system", "Be brief."),
    ("/show parameters", "temperature         0.3"),
    ("/show modelfile", "PARAMETER temperature 0.3"),
    ("/show info", "architecture      llama"),
    ("/set parameter temprature 1",
     "Couldn't set parameter: unknown option 'temprature' (did you mean temperature?)"),
    ("/set parameter num_ctx big", "Couldn't set parameter: option num_ctx must be an integer"),
    ("/set parameter", "Usage: /set parameter NAME VALUE"),
    ("/show nothing", "Usage: /show info | parameters | system | template | modelfile"),
    ("/frobnicate", "Unknown command '/frobnicate'. Type /? for help"),
    ("/load nothing-here", "Couldn't load the model: model 'nothing-here' not found"),
    ("/save", "Usage: /save NAME"),
    ("/help", HELP.splitlines()[1]),
    ("/clear", "Cleared session context"),
]  # fmt: skip


def cli_says(lines: list[str]) -> tuple[str, ChatSession]:
    session = ChatSession(ScriptedEngine(), library.find("smollm2:135m"))
    out = io.StringIO()
    interactive(LineChat(session, out, io.StringIO()), script(*lines, "/bye"))
    return out.getvalue(), session


async def workbench_says(lines: list[str]) -> tuple[str, ChatSession]:
    app = Workbench("smollm2:135m", engine=ScriptedEngine(),  # type: ignore[arg-type]
                    settings=Settings(keep_chats=False))  # fmt: skip
    said: list[str] = []

    def heard() -> list[str]:
        """What appeared since the last line: a note in the transcript, or a notification."""
        new = [n.text for n in app.query(Note)] + notes(app)
        return [text for text in new if text not in said]

    async with app.run_test(size=(160, 45)) as pilot:
        for line in lines:
            # Set, not typed: typing (test_keys.py) is not the point, and 560 keys took 17 s.
            app.chat.prompt.text = line
            await pilot.press("enter")
            await wait_for(heard, 5)
            said.extend(heard())
        return "\n".join(said), app.session


async def test_both_faces_say_the_same_and_end_in_the_same_state() -> None:
    """The table's lines in turn (each after those above it), in both faces."""
    lines = [line for line, _ in TABLE]
    cli_out, cli_session = cli_says(lines)
    tui_out, tui_session = await workbench_says(lines)
    for line, said in TABLE:
        assert said in cli_out and said in tui_out, line
    assert tui_session.options == cli_session.options == {
        "temperature": 0.3, "stop": ("<end>", "###"),
    }  # fmt: skip
    assert tui_session.system == cli_session.system == "Be brief."
