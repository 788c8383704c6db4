"""How often a streaming reply is repainted: set, or chosen by what the UI shares with the
model."""

from __future__ import annotations

import pytest

from llmtui.engine import Engine
from llmtui.settings import Settings
from llmtui.tui import bridge
from tests.workbench import app_for


@pytest.mark.parametrize(
    ("cores", "cpus", "frame"),
    [
        (2, 2, bridge.SHARED_FRAME),  # every CPU runs a model thread
        (1, 1, bridge.SHARED_FRAME),
        (2, 4, bridge.FRAME),  # hyper-threads left for the UI
        (8, 8, bridge.FRAME),  # the UI's share is an eighth as large
    ],
)
def test_frames_are_slower_where_the_ui_takes_the_models_cpu(
    monkeypatch: pytest.MonkeyPatch, cores: int, cpus: int, frame: float
) -> None:
    monkeypatch.setattr(bridge, "physical_cores", lambda: cores)
    monkeypatch.setattr(bridge, "usable_cpus", lambda: cpus)
    assert bridge.frame_interval() == frame
    assert bridge.frame_interval(40) == 0.04


async def test_the_workbench_repaints_at_the_settings_frame(engine: Engine) -> None:
    for settings, frame in ((Settings(frame_ms=150, keep_chats=False), 0.15),
                            (None, bridge.frame_interval())):  # fmt: skip
        app = app_for(engine, settings)
        async with app.run_test():
            assert app.chat.frame == frame
