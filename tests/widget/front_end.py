"""A stand-in for the browser: the widget's comm, seen from the other end.

The widget is given this comm when it is made (ipywidgets' ``comm=`` argument); messages are
delivered through the comm's public ``handle_msg``, as the kernel delivers them, and every message
the widget sends is recorded as the browser would receive it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from comm.base_comm import BaseComm

from tokens_widget import TokensWidget


class FrontEnd(BaseComm):
    """Records what the widget sends and delivers what a browser would send."""

    def __init__(self, **kwargs: Any) -> None:
        self.sent: list[dict[str, Any]] = []
        super().__init__(target_name="jupyter.widget", **kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: Any = None,
        metadata: Any = None,
        buffers: Any = None,
        **keys: Any,
    ) -> None:
        if msg_type == "comm_msg" and isinstance(data, dict):
            self.sent.append(data)

    def deliver(self, content: dict[str, Any]) -> None:
        """A custom message from the browser."""
        self.handle_msg(
            {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}
        )

    def answers(self) -> list[dict[str, Any]]:
        """The widget's answers to requests, oldest first."""
        return [m["content"] for m in self.sent if m.get("method") == "custom"]

    def state_updates(self) -> list[dict[str, Any]]:
        return [m["state"] for m in self.sent if m.get("method") == "update"]


def front_end_of(widget: TokensWidget) -> FrontEnd:
    assert isinstance(widget.comm, FrontEnd)
    return widget.comm


def open_widget(**kwargs: Any) -> TokensWidget:
    """A widget wired to a recording front end."""
    return TokensWidget(comm=FrontEnd(), **kwargs)


async def act(widget: TokensWidget, action: str, **payload: Any) -> dict[str, Any]:
    """Send a request as the browser does, and wait for everything it started."""
    front = front_end_of(widget)
    before = len(front.answers())
    front.deliver({"id": f"t:{action}", "action": action, **payload})
    await asyncio.sleep(0)  # a message from another loop is handed over on the next turn
    await widget.settled()
    answers = front.answers()[before:]
    assert len(answers) == 1, answers
    assert answers[0]["id"] == f"t:{action}"
    return answers[0]
