"""The boundary between the experiment thread and the UI: every engine event arrives as this Message."""

from __future__ import annotations

from textual.message import Message

from baltui.core.events import Event


class EngineEvent(Message):
    """An engine event, posted from the worker thread (post_message is thread-safe)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event
