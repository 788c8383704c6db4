"""Hostile and broken input (issue 13, part 5): each case a clear sentence, nothing written
or deleted outside what was asked, and the process still standing.

Names are paths, files may be FIFOs or links, headers may lie, bytes may not be UTF-8,
templates may never end. Most cases run the real `llmtui` in a subprocess: a C abort or a
traceback there is what a user would see.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import script, tiny_gguf

from llmtui import library
from llmtui.chat import ChatSession
from llmtui.cli.chat import LineChat, interactive
from llmtui.engine import (
    Engine,
    EngineError,
    Message,
    ModelFileError,
    ModelLoadError,
    ModelSpec,
)
from llmtui.engine.gguf import read_header
from llmtui.engine.probe import ensure_loadable
from llmtui.library.create import create
from llmtui.library.manage import copy_model
from llmtui.library.names import InvalidName
from llmtui.library.names import parse as parse_name
from llmtui.library.store import Store
from llmtui.modelfile import ModelfileError, parse

HOSTILE_NAMES = [
    "a/../../../../../../../../tmp/esc", "a/..", "a/.", "../x", "./x", "/abs", "a//b",
    "a/b/c/d", "x" * 300, "a:..", "a:", ":a", "", " ", "a b", "a\x00b", "a\\b", "~/x",
    "naïve", "a:b:c", "a/.hidden", "-rf",
]  # fmt: skip


def run(
    home: Path, *args: str | bytes, stdin: bytes = b"", timeout: float = 180
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "llmtui", *args], input=stdin, capture_output=True,
        timeout=timeout, env={**os.environ, "LLMTUI_HOME": str(home)},
    )  # fmt: skip


def one_line_error(result: subprocess.CompletedProcess[bytes], lines: int = 1) -> str:
    """The process failed with a sentence, not a traceback or a signal; its first line.
    (A Modelfile's parse error takes three: the sentence, its line, a caret.)"""
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 1, (result.returncode, err)
    assert "Traceback" not in err and "terminate called" not in err, err
    assert 1 <= len(err.strip().splitlines()) <= lines, err
    return err.splitlines()[0]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


# -- names --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_name_that_is_not_a_model_name_is_refused_everywhere(
    name: str, tmp_path: Path, smollm2: ModelSpec
) -> None:
    store = Store(tmp_path / "data" / "models")
    with pytest.raises(InvalidName, match="is not a model name"):
        parse_name(name)
    with pytest.raises(ValueError, match="is not a model name"):
        create(name, parse("FROM smollm2:135m\n"), tmp_path, store)
    with pytest.raises(ValueError, match="is not a model name"):
        copy_model(library.find("smollm2:135m"), name, store)
    # Nothing was written anywhere: not in the store, not where the name climbs to.
    assert not store.root.exists() or not any(store.root.rglob("*"))
    assert not Path("/tmp/esc").exists() and not Path("/tmp/esc.toml").exists()


def test_the_cli_and_the_chat_refuse_a_climbing_name(
    home: Path, tmp_path: Path, engine: Engine
) -> None:
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text("FROM smollm2:135m\n")
    climbing = "a/../../../../../../../../../tmp/llmtui-escape"
    for args in (("create", climbing, "-f", str(modelfile)), ("cp", "smollm2:135m", climbing)):
        assert "is not a model name" in one_line_error(run(home, *args))
    out = io.StringIO()
    chat = LineChat(ChatSession(engine, library.find("smollm2:135m")), out, io.StringIO())
    assert interactive(chat, script(f"/save {climbing}", "/bye")) == 0
    assert "Couldn't save the model" in out.getvalue()
    assert "is not a model name" in out.getvalue()
    assert not list(Path("/tmp").glob("llmtui-escape*"))


def test_a_manifest_whose_name_climbs_out_is_skipped_and_rm_deletes_nothing_outside(
    tmp_path: Path, smollm2: ModelSpec
) -> None:
    store = Store(tmp_path / "models")
    create("good", parse("FROM smollm2:135m\n"), tmp_path, store)
    victim = tmp_path / "victim.toml"
    victim.write_text("precious")
    forged = store.root / "evil" / "latest.toml"
    forged.parent.mkdir(parents=True)
    text = (store.root / "good" / "latest.toml").read_text()
    forged.write_text(text.replace('name = "good:latest"', 'name = "a/../../../victim"'))
    moved = store.root / "moved" / "latest.toml"  # a valid name, in another model's file
    moved.parent.mkdir(parents=True)
    moved.write_text(text)
    manifests, problems = store.all()
    assert [m.name for m in manifests] == ["good:latest"]
    assert len(problems) == 2 and all("skipped the damaged manifest" in p for p in problems)
    with pytest.raises(ValueError):
        store.remove("a/../../../victim")
    assert victim.read_text() == "precious"


def test_create_a_then_a_dot_does_not_replace_a(tmp_path: Path) -> None:
    store = Store(tmp_path / "models")
    create("a", parse("FROM smollm2:135m\nSYSTEM first\n"), tmp_path, store)
    with pytest.raises(ValueError, match="is not a model name"):
        create("a/.", parse("FROM smollm2:135m\nSYSTEM second\n"), tmp_path, store)
    loaded = store.load("a")
    assert loaded is not None and loaded.system == "first"


# -- files that lie, and files that are not files ------------------------------------------


def patched(source: Path, target: Path, key: bytes, value: int) -> Path:
    """A copy of a GGUF whose uint32 metadata `key` says `value`."""
    shutil.copyfile(source, target)
    with open(target, "r+b") as handle:
        head = handle.read(1 << 20)
        at = head.index(struct.pack("<Q", len(key)) + key) + 8 + len(key)
        assert struct.unpack_from("<I", head, at)[0] == 4  # a uint32
        handle.seek(at + 4)
        handle.write(struct.pack("<I", value))
    return target


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            b"llama.block_count",
            1000,
            "says it has 1000 layers (llama.block_count) but its tensors hold 30",
        ),
        (b"llama.block_count", 29, "says it has 29 layers"),
        (b"llama.embedding_length", 4096, "says its embeddings are 4096 wide"),
    ],
)
def test_a_header_that_lies_is_refused_before_llama_cpp_sees_it(
    key: bytes, value: int, message: str, home: Path, tmp_path: Path, smollm2: ModelSpec
) -> None:
    """block_count 1000 made llama.cpp abort the process (exit 134, a GGML_ASSERT)."""
    liar = patched(smollm2.path, tmp_path / "liar.gguf", key, value)
    with pytest.raises(ModelFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_header(liar)
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text(f"FROM {liar}\n")
    result = run(home, "create", "liar", "-f", str(modelfile))
    assert result.returncode == 1 and b"Traceback" not in result.stderr
    assert message.encode() in result.stderr


def test_a_model_that_is_not_a_lora_adapter_is_refused_as_one(
    home: Path, tmp_path: Path, smollm2: ModelSpec, engine: Engine
) -> None:
    """ADAPTER naming a model GGUF made `run` (and the workbench) die with a segfault."""
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text(f"FROM smollm2:135m\nADAPTER {smollm2.path}\n")
    result = run(home, "create", "adapted", "-f", str(modelfile))
    assert result.returncode == 1 and b"is not a LoRA adapter" in result.stderr
    # A manifest that names one anyway (written by hand, or by an older llmtui) fails its
    # request with a sentence, and the engine goes on.
    spec = ModelSpec("adapted", smollm2.path, adapter=smollm2.path)
    with pytest.raises(EngineError, match="is not a LoRA adapter"):
        engine.chat(spec, [Message("user", "Hi")], {"num_predict": 4}).wait(60)
    assert engine.chat(smollm2, [Message("user", "Hi")], {"num_predict": 4}).wait(60).eval_count


def test_special_files_are_refused_not_waited_on(home: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.gguf"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.gguf"
    loop.symlink_to(tmp_path / "loop2.gguf")
    (tmp_path / "loop2.gguf").symlink_to(loop)
    folder = tmp_path / "folder.gguf"
    folder.mkdir()
    for path, says in ((fifo, "is a FIFO"), (loop, "cannot open"), (folder, "is a folder"),
                       (Path("/dev/zero"), "is a device")):  # fmt: skip
        with pytest.raises(ModelFileError, match=says):
            read_header(path)
        modelfile = tmp_path / "Modelfile"
        modelfile.write_text(f"FROM {path}\n")
        result = run(home, "create", "special", "-f", str(modelfile), timeout=60)
        assert says in one_line_error(result, lines=3)
    # The Modelfile itself may be a FIFO too.
    assert one_line_error(run(home, "create", "x", "-f", str(fifo), timeout=60)) == (
        f"Error: {fifo} is a FIFO (named pipe), not a file"
    )


def test_rm_delete_files_never_deletes_through_a_link(home: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    folder = tmp_path / "models"
    tiny_gguf(folder / "Real.Q4_K_M.gguf")
    (folder / "Linked.Q4_K_M.gguf").symlink_to(notes)
    config = home / "config"
    config.mkdir(parents=True)
    (config / "settings.toml").write_text(f'model_folders = ["{folder}"]\n')
    result = run(home, "rm", "--delete-files", "linked:q4_k_m")
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr
    assert f"the link {folder / 'Linked.Q4_K_M.gguf'}" in out and f"(not {notes}" in out
    assert notes.read_text() == "my notes"
    # A file that is gone by the time rm runs is not reported as deleted.
    real = run(home, "rm", "--delete-files", "real:q4_k_m")
    assert b"the file" in real.stdout and not (folder / "Real.Q4_K_M.gguf").exists()


def test_ollama_layer_digests_are_checked_before_they_become_paths(
    home: Path, tmp_path: Path, smollm2: ModelSpec
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not print me")
    root = tmp_path / "ollama"
    digest = "sha256:" + "0" * 64
    (root / "blobs").mkdir(parents=True)
    (root / "blobs" / digest.replace(":", "-")).symlink_to(smollm2.path)
    manifest = root / "manifests" / "registry.ollama.ai" / "library" / "sneaky" / "latest"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"layers": [
        {"mediaType": "application/vnd.ollama.image.model", "digest": digest},
        {"mediaType": "application/vnd.ollama.image.system", "digest": str(secret)},
        {"mediaType": "application/vnd.ollama.image.params", "digest": "sha256:../../x"},
    ]}))  # fmt: skip
    env = {**os.environ, "LLMTUI_HOME": str(home), "OLLAMA_MODELS": str(root)}
    shown = subprocess.run([sys.executable, "-m", "llmtui", "show", "sneaky", "--system"],
                           capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert "do not print me" not in shown.stdout + shown.stderr
    listed = subprocess.run([sys.executable, "-m", "llmtui", "list"], capture_output=True,
                            text=True, env=env, timeout=120)  # fmt: skip
    assert "sneaky:latest" in listed.stdout
    assert "not sha256:<64 hex> (params, system): skipped them" in listed.stderr


# -- one bad entry hides nothing else ------------------------------------------------------


def test_damaged_entries_are_skipped_with_a_warning_and_the_rest_listed(
    home: Path, tmp_path: Path
) -> None:
    env_home = tmp_path / "user"
    hf = env_home / "hf" / "hub" / "models--tester--Mixed-GGUF"
    blob = hf / "blobs" / ("a" * 64)
    tiny_gguf(blob)
    snapshot = hf / "snapshots" / ("c" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "Mixed.Q4_K_M.gguf").symlink_to(blob)
    (snapshot / "Mixed.Q8_0.gguf").symlink_to(hf / "blobs" / ("b" * 64))  # dangling
    (hf / "refs").mkdir()
    (hf / "refs" / "main").write_text("c" * 40)
    data = home / "data"
    (data / "models" / "bad").mkdir(parents=True)
    (data / "models" / "bad" / "latest.toml").write_text(
        'name = "bad:latest"\nfrom = "x"\npath = "/x.gguf"\ncreated = "x"\n'
    )
    (data / "hidden.toml").write_text("names = 5\n")
    env = {**os.environ, "LLMTUI_HOME": str(home), "HOME": str(env_home),
           "HF_HOME": str(env_home / "hf")}  # fmt: skip
    listed = subprocess.run([sys.executable, "-m", "llmtui", "list"], capture_output=True,
                            text=True, env=env, timeout=120)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert "hf.co/tester/Mixed-GGUF:Q4_K_M" in listed.stdout
    assert "smollm2:135m" in listed.stdout
    assert "Mixed.Q8_0.gguf (a link to nothing)" in listed.stderr
    assert "created is 'x', not a date and time" in listed.stderr


# -- input that is not what it says ---------------------------------------------------------


def test_a_prompt_that_is_not_utf8_is_answered_with_one_warning(short_home: Path) -> None:
    big = b"Say hi. \xff\xfe\x80 " + b"\xc3" * 100
    for args, stdin in (((b"Say \xff\xfe hi.",), b""), ((), big)):
        result = run(short_home, "run", "smollm2:135m", "--keepalive", "0", *args, stdin=stdin)
        assert result.returncode == 0, result.stderr[-2000:]
        err = result.stderr.decode()
        assert (
            err.strip()
            == "llmtui: the prompt is not valid UTF-8; bytes that are not were replaced by \ufffd"
        )
        assert result.stdout.strip()


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
         "{{ messages[0].content }}", "loops more than 1,000,000 times"),
        ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}{{ messages }}", "recurses too deeply"),
        ('{{ "x" * 1000000000 }}{{ messages }}', "repeats a string or list too often"),
        ("{{ 10 ** 100000000 }}{{ messages }}", "raises a number to a power"),
        ("{{ .System }}" + "{{ if .Prompt }}" * 500 + "{{ .Prompt }}" + "{{ end }}" * 500,
         "blocks nested more than 50 deep"),
    ],
)  # fmt: skip
def test_templates_that_never_end_or_recurse_fail_at_create_with_their_line(
    template: str, says: str, tmp_path: Path
) -> None:
    text = f'FROM smollm2:135m\nSYSTEM hi\nTEMPLATE """{template}"""\n'
    started = time.monotonic()
    with pytest.raises(ModelfileError) as caught:
        create("looping", parse(text), tmp_path, Store(tmp_path / "models"))
    assert time.monotonic() - started < 30  # minutes before (a bound, not a benchmark)
    assert says in str(caught.value) and caught.value.line == 3


def test_a_template_that_raises_only_at_chat_time_is_one_line(home: Path, tmp_path: Path) -> None:
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text(
        'FROM smollm2:135m\nTEMPLATE """{% if "boom" in messages[-1].content %}'
        "{{ raise_exception('no booms, please') }}{% endif %}"
        '{{ messages[-1].content }}"""\n'
    )
    assert run(home, "create", "picky", "-f", str(modelfile)).returncode == 0
    line = one_line_error(run(home, "run", "picky", "--keepalive", "0", "boom"))
    assert "the chat template of picky:latest failed on this conversation" in line


# -- one line, not a traceback ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("modelfile", "says"),
    [
        ("FROM ~nosuchuser/x.gguf\n", "there is no user 'nosuchuser'"),
        ("\u200bFROM smollm2:135m\n", "U+200B ZERO WIDTH SPACE"),
        ("FROM smollm2:135m\nPARAMETER num_ctx -5\n", "between 1 and"),
    ],
)
def test_bad_modelfiles_are_one_line(modelfile: str, says: str, home: Path, tmp_path: Path) -> None:
    path = tmp_path / "Modelfile"
    path.write_text(modelfile)
    assert says in one_line_error(run(home, "create", "bad", "-f", str(path)), lines=3)


def test_a_byte_order_mark_before_from_is_not_an_error(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "Modelfile"
    path.write_bytes("\ufeffFROM smollm2:135m\n".encode())
    result = run(home, "create", "bom", "-f", str(path))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("run", "smollm2", "--keepalive", "99999999999999999h", "Hi"), "is too long"),
        (("run", "x" * 300, "Hi"), "is not a model name"),
        (("show", "a/../../etc/passwd"), "is not a model name"),
    ],
)
def test_bad_arguments_are_one_line(args: tuple[str, ...], says: str, home: Path) -> None:
    assert says in one_line_error(run(home, *args))


def test_a_failed_request_then_exit_does_not_abort(home: Path) -> None:
    """With keep_alive 0 the model's thread frees the model as the error reaches the user;
    the process exited meanwhile and died in llama.cpp (exit 134, "terminate called without
    an active exception") about one time in two. The engine now waits for that thread."""
    for _ in range(3):
        result = run(home, "run", "smollm2:135m", "--keepalive", "0", stdin=b"word " * 6000)
        assert "the context holds 4096" in one_line_error(result)


def test_a_huge_num_batch_runs(home: Path, tmp_path: Path) -> None:
    """num_batch 2**31-1 was a MemoryError traceback: llama.cpp never batches more than the
    context, so that is what it is given."""
    path = tmp_path / "Modelfile"
    path.write_text("FROM smollm2:135m\nPARAMETER num_batch 2147483647\nPARAMETER num_predict 4\n")
    assert run(home, "create", "batchy", "-f", str(path)).returncode == 0
    result = run(home, "run", "batchy", "--keepalive", "0", "Hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_an_unwritable_home_and_a_full_stdout_are_one_line(tmp_path: Path) -> None:
    unwritable = tmp_path / "file-not-folder"
    unwritable.write_text("")
    result = run(unwritable / "home", "list")
    assert "Not a directory" in one_line_error(result)
    with open("/dev/full", "wb") as full:
        listed = subprocess.run([sys.executable, "-m", "llmtui", "list"], stdout=full,
                                stderr=subprocess.PIPE, timeout=120)  # fmt: skip
    assert listed.returncode == 1
    assert listed.stderr.decode().strip() == "Error: No space left on device"


def test_options_after_the_model_are_read(home: Path) -> None:
    result = run(home, "run", "smollm2", "--verbose", "--keepalive", "0", "Say", "hi.")
    assert result.returncode == 0, result.stderr
    assert b"eval rate:" in result.stderr


def test_ctrl_c_during_a_one_shot_run_exits_130(home: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "llmtui", "run", "smollm2:135m", "Write a long essay on Rome."],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "LLMTUI_HOME": str(home)},
    )  # fmt: skip
    assert process.stdout is not None
    process.stdout.read(20)  # the answer has begun
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert b"Traceback" not in err


def test_a_killed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    store = Store(tmp_path / "models")
    create("kept", parse("FROM smollm2:135m\n"), tmp_path, store)
    stale = store.root / "kept" / ".latest.toml.abc123.tmp"  # a create killed mid-write
    stale.write_text("half")
    fresh = store.root / "kept" / ".latest.toml.def456.tmp"  # one being written now
    fresh.write_text("half")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    assert [m.name for m in store.all()[0]] == ["kept:latest"]
    assert not stale.exists() and fresh.exists()


# -- what no check can see: the first load of a file happens in a child process -------------


def test_a_file_that_crashes_llama_cpp_crashes_only_a_test_load(
    tmp_path: Path, smollm2: ModelSpec, engine: Engine
) -> None:
    """The header checks refuse the files known to crash llama.cpp; for the ones no check
    can see, a file's first load is a test load in a child process. Here the checks are
    bypassed to show it: llama.cpp aborts on a header that says 1000 layers, and segfaults
    on a model given as a LoRA adapter, and both cost only the child."""
    liar = patched(smollm2.path, tmp_path / "liar.gguf", b"llama.block_count", 1000)
    with pytest.raises(ModelLoadError, match=r"llama.cpp crashed \(SIGABRT\) loading .*liar.gguf"):
        ensure_loadable(liar)
    with pytest.raises(ModelLoadError, match=r"llama.cpp crashed \(SIGSEGV\) loading"):
        ensure_loadable(smollm2.path, adapter=smollm2.path)
    ensure_loadable(smollm2.path)  # a good file passes, once for all later loads
    assert engine.chat(smollm2, [Message("user", "Hi")], {"num_predict": 4}).wait(60).eval_count
