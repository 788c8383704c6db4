"""The workbench in a real terminal (tmux): a prompt typed, its reply on screen, not a line
of llama.cpp's log anywhere on it; mouse reporting off on request; 16 colours; OSC 52."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="needs tmux (.ci/run installs it)"
)


REPO = Path(__file__).resolve().parent.parent
PROMPT = "Name the seven colours of the rainbow, then stop: zebrafinch"

# The tmux server (and so llmtui in it) inherits this environment: sizes from it would
# override the real window's.
ENV = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX")}


def tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", *args], capture_output=True, text=True, check=True, env=ENV
    ).stdout


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


@contextmanager
def workbench(
    *args: str,
    env: dict[str, str] | None = None,
    via: Callable[[str], str] = str,
    remotes: str = "",
) -> Iterator[str]:
    """llmtui in a detached 160x45 tmux session, ready (its Modelfile validated); `via`
    wraps the command line that starts it (in an ssh login, say); `remotes`, the text of
    its remotes.toml."""
    session = f"llmtui-{uuid.uuid4().hex[:8]}"
    # A home of its own, as a new user has: no kept conversation offered above the prompt
    # (it pushed a prompt whose reply filled the screen out of view).
    home = tempfile.mkdtemp(prefix="tmux-", dir=os.environ["LLMTUI_HOME"])
    if remotes:
        (Path(home) / "config").mkdir()
        (Path(home) / "config" / "remotes.toml").write_text(remotes)
    settings = {
        "LLMTUI_HOME": home, "HOME": os.environ["HOME"],
        "TERM": "xterm-256color", **(env or {}),
    }  # fmt: skip
    line = " ".join(["env", *(shlex.quote(f"{k}={v}") for k, v in settings.items()),
                     shlex.quote(sys.executable), "-m", "llmtui", *args])  # fmt: skip
    command = ["new-session", "-d", "-s", session, "-x", "160", "-y", "45",
               "-c", str(REPO), via(line)]  # fmt: skip
    # The previous test's kill-session may leave the tmux server exiting: a new session
    # started at that moment fails (seen once in CI); a moment later it starts.
    for attempt in range(3):
        try:
            tmux(*command)
            break
        except subprocess.CalledProcessError:
            if attempt == 2:
                raise
            time.sleep(1)
    try:
        wait_until(lambda: "valid Modelfile" in screen(session), 60, "the workbench")
        yield session
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, env=ENV)


def screen(session: str, *flags: str) -> str:
    return tmux("capture-pane", "-p", *flags, "-t", session)


def send(session: str, text: str) -> None:
    """Text and Enter in one `send-keys` call: one write, read by the app as one burst, as
    a fast typist, a paste or an SSH link delivers them."""
    tmux("send-keys", "-t", session, text, "Enter")


def send_prompt(session: str) -> None:
    """PROMPT in one burst, its reply kept short: a sampled reply may fill the screen and
    scroll the prompt out of view before `assert_sent_whole` reads it (seen in CI)."""
    send(session, "/set parameter num_predict 40")
    send(session, PROMPT)


def assert_sent_whole(session: str) -> None:
    """PROMPT went to the model whole: a reply came, and the prompt shows on one line (a
    prompt cut by Enter shows its start in the transcript and its end in the input)."""
    wait_until(lambda: "tokens ·" in screen(session), 120, "the reply's stats line")
    rows = [row.strip(" │┃▌") for row in screen(session).splitlines()]
    assert [row for row in rows if PROMPT in row], rows


def test_prompt_reply_and_no_llama_log_on_screen() -> None:
    with workbench() as session:
        assert "llmtui — smollm2:135m" in screen(session)  # the model's name, always visible
        assert tmux("display", "-p", "-t", session, "#{mouse_any_flag}").strip() == "1"
        send_prompt(session)
        assert_sent_whole(session)
        shown = screen(session)
        assert "tokens ·" in shown and "tok/s ·" in shown
        for marker in ("llama_model_loader", "load_tensors", "llama_context", "print_info",
                       "Model metadata", "ggml_"):  # fmt: skip
            assert marker not in shown, marker
        tmux("send-keys", "-t", session, "C-q")
        wait_until(lambda: session not in subprocess.run(
            ["tmux", "ls"], capture_output=True, text=True, env=ENV).stdout,
            30, "llmtui to quit on Ctrl+Q")  # fmt: skip


def test_no_mouse_turns_mouse_reporting_off() -> None:
    with workbench("--no-mouse") as session:
        assert tmux("display", "-p", "-t", session, "#{mouse_any_flag}").strip() == "0"


def test_sixteen_colours_over_ssh() -> None:
    """OpenSSH does not forward COLORTERM: Textual then falls back to 256 colours, and with
    TEXTUAL_COLOR_SYSTEM=standard to the 16 ANSI ones, which the ansi-16 theme is made of."""
    with workbench(env={"TEXTUAL_COLOR_SYSTEM": "standard"}) as session:
        send(session, "/set system Be brief.")
        time.sleep(1)
        escapes = screen(session, "-e")
        colours = re.findall(r"\x1b\[([0-9;]*)m", escapes)
        assert colours, "no colour at all"
        for sequence in colours:
            assert "38;5" not in sequence and "38;2" not in sequence, sequence
            assert "48;5" not in sequence and "48;2" not in sequence, sequence


def test_copy_reaches_the_terminal_clipboard_by_osc52() -> None:
    with workbench() as session:
        tmux("set-option", "-s", "set-clipboard", "on")
        send(session, "Say hi.")
        wait_until(lambda: "tokens ·" in screen(session), 120, "the reply")
        tmux("send-keys", "-t", session, "F3")  # from the input to the transcript
        time.sleep(0.5)
        tmux("send-keys", "-t", session, "C-c")
        wait_until(lambda: "copied the" in screen(session), 10, "the copy")
        copied = tmux("show-buffer")
        # The reply as Markdown source; on screen its markup is rendered (*hi* shows as hi):
        # a plain word of it is on screen.
        words = re.findall(r"[A-Za-z]{3,}", copied)
        assert words and words[0] in screen(session), copied


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """An OpenSSH server on a free loopback port, for this user, with a key made here;
    yields what wraps a command line to run it in an ssh login to it, in a terminal."""
    server = shutil.which("sshd") or "/usr/sbin/sshd"
    if not os.path.exists(server):
        pytest.skip("needs OpenSSH's server (.ci/run installs it)")
    folder = tmp_path_factory.mktemp("sshd")
    for key in ("host", "user"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / key)],
                       check=True)  # fmt: skip
    (folder / "authorized_keys").write_text((folder / "user.pub").read_text())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = folder / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host'}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPidFile {folder / 'pid'}\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\nPermitRootLogin yes\n"
    )
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)  # its privilege separation directory
    process = subprocess.Popen([server, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
    try:
        wait_until(lambda: _listening(port), 10, "sshd")
        user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()

        def via(line: str) -> str:
            ssh = ["ssh", "-tt", "-p", str(port), "-i", str(folder / "user"),
                   "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                   "-o", "LogLevel=ERROR", f"{user}@127.0.0.1",
                   f"cd {shlex.quote(str(REPO))} && {line}"]  # fmt: skip
            return shlex.join(ssh)

        yield via
    finally:
        process.terminate()
        process.wait(10)


def _listening(port: int) -> bool:
    with socket.socket() as client:
        return client.connect_ex(("127.0.0.1", port)) == 0


def test_a_prompt_typed_in_one_burst_over_ssh_is_sent_whole(
    sshd: Callable[[str], str],
) -> None:
    """Over a real SSH login on loopback, keys reach the app as the network delivers them:
    the prompt and its Enter in one write."""
    with workbench(via=sshd) as session:
        send_prompt(session)
        assert_sent_whole(session)


def test_compare_in_a_real_terminal_with_keys_in_bursts() -> None:
    with workbench() as session:
        send(session, "/set parameter num_predict 30")  # preset for the chat's column
        tmux("send-keys", "-t", session, "C-g")
        wait_until(lambda: "Compare: 2 to 4 columns" in screen(session), 30, "the dialog")
        # Add the highlighted model, type its parameters, go: one burst.
        tmux("send-keys", "-t", session, "Enter", "num_predict=30 temperature=1.5", "C-s")
        wait_until(lambda: "A prompt for every column" in screen(session), 30, "the view")
        send(session, "Say hello in three words.")
        wait_until(lambda: "fastest" in screen(session), 180, "the round's summary")
        shown = screen(session)
        assert shown.count("Say hello in three words.") == 2, shown  # in each column, whole
        assert shown.count("tok/s · 30 tokens") >= 2 or shown.count("tok/s ·") >= 2, shown
        assert "temperature=1.5" in shown and "ggml_" not in shown
        # At 80x24 (an SSH window): the columns become tabs, one shown, Right the other.
        tmux("resize-window", "-t", session, "-x", "80", "-y", "24")

        def tabs() -> list[str]:
            return [row for row in screen(session).splitlines()
                    if "smollm2:135m" in row and "gemma3:270m" in row]  # fmt: skip

        def title() -> str:
            return next((row for row in screen(session).splitlines() if row.startswith("╭─")),
                        "")  # fmt: skip

        # The tabs can be drawn a frame before the column under them.
        wait_until(lambda: bool(tabs()) and bool(title()), 30, "the columns as tabs")
        # One column shown (its prompt may have scrolled out of its short view under a
        # sampled reply that wraps long at this width, as it did on a busy run).
        assert screen(session).count("Say hello in three words.") <= 1
        first = title()
        tmux("send-keys", "-t", session, "BTab", "BTab", "Right")  # to the tabs, then right
        wait_until(lambda: title() != first, 30, "the other column")
        assert {"smollm2" in first, "smollm2" in title()} == {True, False}
        tmux("resize-window", "-t", session, "-x", "160", "-y", "45")
        tmux("send-keys", "-t", session, "C-g")
        wait_until(lambda: "Type a message" in screen(session), 30, "the chat again")
        tmux("send-keys", "-t", session, "C-q")


def test_a_served_model_in_a_real_terminal() -> None:
    from serving import Server

    served = Server()
    try:
        remotes = f'[[remote]]\nname = "here"\nurl = "{served.url}"\n'
        with workbench("tui", "here/smollm2:135m", remotes=remotes) as session:
            assert "llmtui — here/smollm2:135m" in screen(session)
            send_prompt(session)
            assert_sent_whole(session)
            # Its stats line says where it ran (the figures are then the server's own).
            wait_until(lambda: "· on here " in screen(session), 30, "where it ran")
    finally:
        served.stop()
