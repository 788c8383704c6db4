"""create / show / cp / rm end to end, the example Modelfiles, and /save and /load."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GREEDY, script

from llmtui import library
from llmtui.chat import ChatSession
from llmtui.cli.chat import LineChat, interactive
from llmtui.engine import Engine, Message
from llmtui.library.store import Store

EXAMPLES = sorted((Path(__file__).parent.parent / "modelfiles").glob("*.Modelfile"))


def llmtui(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmtui", *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, "LLMTUI_HOME": str(home)}, cwd=cwd,
    )  # fmt: skip


@pytest.fixture
def private_home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_at_least_six_examples() -> None:
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_creates_and_runs(path: Path, engine: Engine) -> None:
    from llmtui.library.create import create
    from llmtui.modelfile import parse

    modelfile = parse(path.read_text())
    assert not modelfile.warnings
    manifest = create(f"example-{path.stem}", modelfile, path.parent)
    model = library.find(f"example-{path.stem}")
    assert model.manifest == manifest
    handle = engine.chat(model.spec(), [Message("user", "Tell me about the sea.")],
                         {"num_predict": 24})  # fmt: skip
    done = handle.wait(timeout=120)
    assert done.eval_count > 0
    assert handle.prompt is not None
    if modelfile.system:
        assert modelfile.system in handle.prompt


def test_system_and_messages_change_what_the_model_is_sent(engine: Engine) -> None:
    from llmtui.library.create import create
    from llmtui.modelfile import parse

    pirate = next(p for p in EXAMPLES if p.stem == "pirate")
    create("pirate-check", parse(pirate.read_text()), pirate.parent)
    question = [Message("user", "Hello?")]
    plain = engine.chat(library.find("smollm2:135m").spec(), question, GREEDY)
    plain.wait()
    persona = engine.chat(library.find("pirate-check").spec(), question, GREEDY)
    persona.wait()
    assert plain.prompt == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
        "Face<|im_end|>\n<|im_start|>user\nHello?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert persona.prompt == (
        "<|im_start|>system\nYou are Captain Ada, a cheerful pirate. Stay in character and keep "
        "it short.<|im_end|>\n"
        "<|im_start|>user\nWho are you?<|im_end|>\n"
        "<|im_start|>assistant\nArr, Captain Ada of the good ship Kestrel, at yer service!"
        "<|im_end|>\n"
        "<|im_start|>user\nWhere are we going?<|im_end|>\n"
        "<|im_start|>assistant\nTo the Isle of Fog, matey, where the charts run out and the rum "
        "does not!<|im_end|>\n"
        "<|im_start|>user\nHello?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_go_template_gives_a_completion_model_a_chat(engine: Engine) -> None:
    from llmtui.library.create import create
    from llmtui.modelfile import parse

    path = next(p for p in EXAMPLES if p.stem == "storyteller")
    create("storyteller-check", parse(path.read_text()), path.parent)
    handle = engine.chat(library.find("storyteller-check").spec(),
                         [Message("user", "A fox found a key.")], GREEDY)  # fmt: skip
    done = handle.wait()
    assert handle.prompt == (
        "The storyteller continues the reader's story in a few vivid sentences.\n\n"
        "Reader: A fox found a key.\nStoryteller:"
    )
    assert done.eval_count > 0 and "Reader:" not in done.text


def test_create_show_cp_rm(private_home: Path, tmp_path: Path) -> None:
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text(
        "FROM smollm2:135m\nSYSTEM You are terse.\nPARAMETER temperature 0\n"
        "PARAMETER stop <end>\nPARAMETER num_predict 12\nMESSAGE user Hi\nMESSAGE assistant Yo.\n"
        "LICENSE Apache-2.0\n"
    )
    created = llmtui(private_home, "create", "terse", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "created terse:latest"

    listed = llmtui(private_home, "list").stdout
    assert "terse:latest" in listed and "smollm2:135m" in listed

    ran = llmtui(private_home, "run", "terse", "Name a colour.", "--verbose")
    assert ran.returncode == 0, ran.stderr
    assert "eval count:" in ran.stderr and ran.stdout.strip()

    shown = llmtui(private_home, "show", "terse", "--modelfile").stdout
    assert "FROM smollm2:135m" in shown and "SYSTEM You are terse." in shown
    assert "PARAMETER stop <end>" in shown and "MESSAGE assistant Yo." in shown
    (tmp_path / "Recreated").write_text(shown)
    again = llmtui(private_home, "create", "terse2", "-f", str(tmp_path / "Recreated"))
    assert again.returncode == 0, again.stderr
    assert llmtui(private_home, "show", "terse2", "--modelfile").stdout == shown

    assert llmtui(private_home, "show", "terse", "--system").stdout == "You are terse.\n"
    assert llmtui(private_home, "show", "terse", "--license").stdout == "Apache-2.0\n"
    parameters = llmtui(private_home, "show", "terse", "--parameters").stdout
    assert "temperature         0.0" in parameters and "stop                '<end>'" in parameters
    template = llmtui(private_home, "show", "terse", "--template").stdout
    assert "<|im_start|>" in template  # the GGUF's own, as no TEMPLATE was given
    summary = llmtui(private_home, "show", "terse").stdout
    assert "architecture        llama" in summary and "You are terse." in summary

    copied = llmtui(private_home, "cp", "terse", "brief:v2")
    assert copied.stdout.strip() == "copied 'terse:latest' to 'brief:v2'"
    assert llmtui(private_home, "show", "brief:v2", "--system").stdout == "You are terse.\n"

    removed = llmtui(private_home, "rm", "terse", "brief:v2")
    assert removed.returncode == 0
    assert "deleted 'terse:latest'" in removed.stdout and "deleted 'brief:v2'" in removed.stdout
    assert "terse:latest" not in llmtui(private_home, "list").stdout


def test_base_can_be_a_created_model_and_a_path(private_home: Path, tmp_path: Path) -> None:
    gguf = library.find("smollm2:135m").spec().path
    (tmp_path / "Base").write_text(f"FROM {gguf}\nSYSTEM Base system.\nPARAMETER top_k 7\n")
    (tmp_path / "Child").write_text("FROM base\nPARAMETER temperature 0.5\n")
    assert llmtui(private_home, "create", "base", "-f", str(tmp_path / "Base")).returncode == 0
    assert llmtui(private_home, "create", "child", "-f", str(tmp_path / "Child")).returncode == 0
    shown = llmtui(private_home, "show", "child", "--modelfile").stdout
    assert "SYSTEM Base system." in shown  # inherited
    assert "PARAMETER top_k 7" in shown and "PARAMETER temperature 0.5" in shown


@pytest.mark.parametrize(
    ("modelfile", "expected"),
    [
        ("FROM ./missing.gguf\n", "Modelfile:1:6: FROM: model file not found: "),
        ("FROM smolm2\n", "Modelfile:1:6: FROM: model 'smolm2' not found; did you mean smollm2:135m?"),
        ("FROM smollm2\nADAPTER notes.txt\n", "Modelfile:2:9: ADAPTER: model file not found"),
        ("FROM smollm2\nPARAMETER temprature 0\n", "Modelfile:2:11: unknown parameter 'temprature'"),
        ("FROM hf.co/nobody/nothing:Q4_K_M\n", "Modelfile:1:6: FROM: hf.co/nobody/nothing:Q4_K_M is not in the Hugging Face cache"),
    ],
)  # fmt: skip
def test_create_errors_leave_nothing(
    private_home: Path, tmp_path: Path, modelfile: str, expected: str
) -> None:
    (tmp_path / "Modelfile").write_text(modelfile)
    result = llmtui(private_home, "create", "broken", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(expected)
    assert "Traceback" not in result.stderr
    assert "broken" not in llmtui(private_home, "list").stdout


def test_create_without_a_modelfile(private_home: Path, tmp_path: Path) -> None:
    result = llmtui(private_home, "create", "x", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: no Modelfile at Modelfile (use -f PATH)"


def test_starters_cannot_be_removed_or_overwritten(private_home: Path) -> None:
    result = llmtui(private_home, "rm", "smollm2:135m")
    assert result.returncode == 1
    assert "is a starter model that comes with its Python package" in result.stderr
    copied = llmtui(private_home, "cp", "gemma3:270m", "smollm2:135m")
    assert copied.returncode == 1 and "starter model's name" in copied.stderr


def test_damaged_manifest_is_reported_not_fatal(private_home: Path) -> None:
    broken = private_home / "data" / "models" / "oops" / "latest.toml"
    broken.parent.mkdir(parents=True)
    broken.write_text("this is = = not toml")
    result = llmtui(private_home, "list")
    assert result.returncode == 0
    assert "smollm2:135m" in result.stdout
    assert "warning: skipped the damaged manifest" in result.stderr


def test_save_and_load_in_the_chat(engine: Engine) -> None:
    out = io.StringIO()
    chat = LineChat(ChatSession(engine, library.find("smollm2")), out, io.StringIO())
    interactive(chat, script(
        "/set system You speak like a robot.",
        "/set parameter temperature 0",
        "/set parameter num_predict 8",
        "Hello",
        "/save robot",
        "/load robot",
        "/show system",
        "/load nothing-here",
    ))  # fmt: skip
    text = out.getvalue()
    assert "Created new model 'robot:latest'" in text
    assert "Loading model 'robot:latest'" in text
    assert "You speak like a robot." in text  # the saved model's system prompt
    assert "Couldn't load the model: model 'nothing-here' not found" in text
    manifest = Store().load("robot")
    assert manifest is not None
    assert manifest.parameters == {"temperature": 0.0, "num_predict": 8}
    assert [role for role, _ in manifest.messages] == ["user", "assistant"]
