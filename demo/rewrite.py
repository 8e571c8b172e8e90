"""The demo's "rewrite this reply" box: the user's own version of the last reply goes to ``agent.feedback``.

An edit is the richest feedback there is (PRELUDE/CIPHER): it says how the user wanted the
reply written. ``rewrite_last`` is plain Python (tested without a browser); ``add_rewrite_box``
places the box inside the demo's Blocks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import gradio as gr

from demo.rate_limit import RateLimit, refusal_text
from demo.session import Session, escape_md

log = logging.getLogger(__name__)


def last_reply(agent: Any, session: Session) -> str:
    """The agent's last reply in the session's conversation ("" when there is none)."""
    if not session.user:
        return ""
    try:
        replies = [text for role, text in agent.history(session.user, session.thread) if role == "assistant"]
    except ValueError:
        return ""
    return replies[-1] if replies else ""


def rewrite_last(agent: Any, session: Session, text: object) -> str:
    """Send the user's version of the last reply as ``edit`` feedback; the status line to show."""
    if not session.user:
        return "Type your name first."
    if not isinstance(text, str) or not text.strip():
        return "Write your version of the reply first."
    if text.strip() == last_reply(agent, session).strip():
        return "That is the reply as it was: change it the way you'd have liked it."
    try:
        result = agent.feedback(session.user, session.thread, "edit", text=text)
    except ValueError as err:  # no conversation yet, or text over the limit
        return f"Couldn't save that: {escape_md(str(err).splitlines()[0])}"
    learned = "; ".join(result.learned)
    return "Thanks, saved." + (f" I'll remember: {escape_md(learned)}." if learned else "")


def add_rewrite_box(
    agent: Any,
    session: gr.State,
    who: Callable[[Session, gr.Request | None], Session] = lambda s, _request: s,
    over_limit: Callable[[Session, gr.Request], float] = lambda _s, _request: 0.0,
    limit: RateLimit | None = None,
) -> None:
    """The box, inside the caller's Blocks context: fill it from the last reply, edit, save.

    Args:
        agent: The demo's agent.
        session: The tab's ``Session`` state.
        who: The app's resolver from (session, request) to the session of the signed-in user, so
            with accounts the box reads and writes that user's conversation only.
        over_limit: The app's rate limit: seconds to wait before a save is allowed (0: now). A save
            writes to memory like a turn does, so it counts against the same allowance.
        limit: That limit, for the refusal's wording.
    """
    with gr.Accordion("Rewrite the last reply the way you'd have liked it", open=False, elem_id="rewrite"):
        text = gr.Textbox(show_label=False, lines=4, max_lines=12, elem_id="rewrite-text")
        with gr.Row():
            fill = gr.Button("Start from the last reply", size="sm", elem_id="rewrite-fill")
            save = gr.Button("Save my version", size="sm", variant="primary", elem_id="rewrite-save")
        note = gr.Markdown("", elem_id="rewrite-status")

    def fill_fn(s: Session, request: gr.Request) -> str:
        return last_reply(agent, who(s, request))

    def save_fn(s: Session, rewrite: object, request: gr.Request) -> str:
        s = who(s, request)
        wait_s = over_limit(s, request) if s.user else 0.0
        if wait_s:
            return refusal_text(limit or RateLimit(), wait_s)
        return rewrite_last(agent, s, rewrite)

    fill.click(fill_fn, inputs=[session], outputs=[text], api_name="rewrite_fill")
    save.click(save_fn, inputs=[session, text], outputs=[note], concurrency_id="turn", api_name="rewrite_save")
