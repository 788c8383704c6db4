"""The chat core: sessions, slash commands and kept conversations, for every face."""

from llmtui.chat.backend import ChatEngine
from llmtui.chat.commands import CommandError
from llmtui.chat.session import ChatSession, Outcome, SessionError, Turn

__all__ = ["ChatEngine", "ChatSession", "CommandError", "Outcome", "SessionError", "Turn"]
