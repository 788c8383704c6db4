"""The workbench's four areas share this container."""

from __future__ import annotations

from textual.containers import Vertical


class Pane(Vertical):
    """One of the four areas; F6 zooms it to the full screen."""

    ALLOW_MAXIMIZE = True
