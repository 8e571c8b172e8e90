"""The Gradio demo: streaming chat, recommendation cards, option buttons and a memory panel you can edit.

Launch it with ``tastebud demo`` (``demo.serve``); embed it with
``build_demo(agent).launch(theme=THEME, css=CSS, **accounts.launch_options())``. The app is UI only:
every turn goes through ``Agent.stream`` and the memory panel reads and writes through ``agent.memory``.
Per-visitor data (conversation, cards on screen) lives in ``gr.State``; the only module-level
values are read-only styling constants.

Who is chatting: with sign-in (``demo.accounts``) every handler takes the user from the
request Gradio authenticated, never from anything the browser sends, and no event takes a name.
In local mode a name box chooses the user, and the page says that everyone is trusted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import gradio as gr

from agent.reply import Reply
from demo.accounts import Accounts
from demo.memory_view import MemoryView, interest_figure, read_memory
from demo.rate_limit import RateLimit, RateLimiter, refusal_text
from demo.rewrite import add_rewrite_box
from demo.session import (
    MAX_CARDS,
    MAX_OPTIONS,
    CardAction,
    Session,
    card_markdown,
    card_message,
    chat_messages,
    escape_md,
    guest_name,
    normalise_name,
    shorten,
)

log = logging.getLogger(__name__)

THEME = gr.themes.Soft(
    primary_hue="orange",
    # System fonts: the default theme fetches Google Fonts, which an offline machine cannot reach.
    font=["ui-sans-serif", "system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
)
CSS = """
.card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 8px !important;
        background: var(--background-fill-secondary); }
.card .card-text p { margin: 2px 0; font-size: 0.92em; }
.card button { min-width: 0 !important; }
.mem-section h4 { margin: 10px 0 2px 0; }
.mem-empty { color: var(--body-text-color-subdued); font-style: italic; }
#memory-panel { border-left: 1px solid var(--border-color-primary); padding-left: 12px; }
"""
REPLYING = "*Tastebud is replying…*"
INTRO = (
    "## Tastebud\n"
    "Tell me what you feel like watching. I ask when I need to, remember what you tell me "
    '("no films before 1980, ever"), and you can see and change everything I remember on the right. '
    "Each account has its own memory."
)
LOCAL_NOTICE = (
    "**Local mode: no sign-in.** Everyone who reaches this page is trusted: any name typed below "
    "opens that name's memory. Share the demo only with sign-in (see the README)."
)


def _history(agent: Any, session: Session) -> list[dict[str, Any]]:
    try:
        return chat_messages(agent.history(session.user, session.thread))
    except Exception:  # a broken conversation must not take the page down
        log.exception("could not read the conversation of %r", session.user)
        return []


def build_demo(agent: Any, accounts: Accounts | None = None, rate_limit: RateLimit | None = None) -> gr.Blocks:
    """The demo's Blocks app around one agent.

    Args:
        agent: An ``agent.api.Agent`` (anything with ``stream``, ``history`` and ``memory``).
        accounts: Who is chatting (``Accounts()``: local mode, a name box decides). With sign-in,
            launch with ``**accounts.launch_options()`` so Gradio authenticates every request.
        rate_limit: Turns allowed per signed-in user, or per browser session in local mode.

    Returns:
        The app; launch it with ``theme=THEME, css=CSS`` for the intended look.
    """
    memory = agent.memory
    accounts = accounts or Accounts()
    limiter = RateLimiter(rate_limit or RateLimit())

    def who(s: Session, request: gr.Request | None) -> Session:
        """The session, its user decided by the sign-in when there is one (never by what the browser sent)."""
        if not accounts.signed_in:
            return s
        user = getattr(request, "username", None)
        if not user:  # Gradio lets no unauthenticated request through; this is the belt to its braces
            raise gr.Error("You are not signed in.")
        return s if s.user == user else Session().switch(user)

    def over_limit(s: Session, request: gr.Request) -> float:
        """Seconds to wait before this write is allowed (0: allowed now, and counted).

        Signed in, the allowance is the account's (all its tabs together); in local mode, the tab's.
        """
        return limiter.try_acquire(f"user:{s.user}" if accounts.signed_in else f"session:{request.session_hash}")

    with gr.Blocks(title="Tastebud", analytics_enabled=False) as demo:
        session = gr.State(Session())
        view = gr.State(MemoryView(user=""))

        with gr.Row(equal_height=True):
            gr.Markdown(INTRO, elem_id="intro")
        with gr.Row():
            if accounts.signed_in:
                # Shown, never read: the user comes from the sign-in.
                name = gr.Textbox(label="Signed in as", elem_id="user-name", scale=4, max_lines=1, interactive=False)
            else:
                name = gr.Textbox(
                    label="Your name (each name keeps its own memory)", elem_id="user-name", scale=4, max_lines=1
                )
            with gr.Column(scale=1, min_width=160):
                switch = None if accounts.signed_in else gr.Button("Switch user", elem_id="switch-user", size="sm")
                new = gr.Button("New conversation", elem_id="new-conversation", size="sm")
                if accounts.mode == "password":  # behind a proxy, signing out is the proxy's business
                    gr.Button("Sign out", link="logout", elem_id="sign-out", size="sm")
        if accounts.signed_in:
            gr.Markdown("Signed in: what you see and change here is your account's alone.", elem_id="account-notice")
        else:
            gr.Markdown(LOCAL_NOTICE, elem_id="local-notice")

        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(elem_id="chat", height=380, label="Chat", show_label=False, buttons=["copy"])
                status = gr.Markdown("", elem_id="turn-status")
                card_cols, card_texts, card_buttons = [], [], []
                with gr.Row(elem_id="cards"):
                    for i in range(MAX_CARDS):
                        with gr.Column(visible=False, elem_classes="card", elem_id=f"card-{i}", min_width=110) as col:
                            text = gr.Markdown(elem_classes="card-text")
                            like = gr.Button("Like", size="sm", elem_classes="card-like")
                            reject = gr.Button("Not for me", size="sm", elem_classes="card-reject")
                            why = gr.Button("Why?", size="sm", elem_classes="card-why")
                        card_cols.append(col)
                        card_texts.append(text)
                        card_buttons.append((like, reject, why))

                with gr.Row(elem_id="options"):
                    option_buttons = [
                        gr.Button(visible=False, size="sm", elem_classes="option", min_width=80)
                        for _ in range(MAX_OPTIONS)
                    ]
                with gr.Row():
                    box = gr.Textbox(
                        placeholder="e.g. something light for tonight, no horror",
                        show_label=False,
                        elem_id="message",
                        scale=5,
                        max_lines=4,
                    )
                    send = gr.Button("Send", variant="primary", elem_id="send", scale=1, min_width=80)
                add_rewrite_box(agent, session, who, over_limit, limiter.limit)
            with gr.Column(scale=2, elem_id="memory-panel"):
                # One render at a time: two renders applied at once race inside Gradio (its
                # attach_load_events iterates the blocks the other one is adding: "dictionary
                # changed size during iteration", seen in CI). Renders take milliseconds.
                @gr.render(inputs=[view], concurrency_limit=1, concurrency_id="render")
                def render_memory(current: MemoryView) -> None:
                    _render_memory(current)

                picture = gr.Plot(label="Top interests", elem_id="interest-picture", show_label=True)

                @gr.render(inputs=[view], concurrency_limit=1, concurrency_id="render")
                def render_interests(current: MemoryView) -> None:
                    _render_interests(current)

        all_card_buttons = [b for row in card_buttons for b in row]
        screen = [chatbot, *card_cols, *card_texts, *option_buttons]

        # ---- helpers that build output dicts ---------------------------------------------
        def show(s: Session, messages: list[dict[str, Any]]) -> dict[Any, Any]:
            """Chat, cards and option buttons for a session (buttons enabled)."""
            out: dict[Any, Any] = {chatbot: messages}
            for i in range(MAX_CARDS):
                card = s.cards[i] if i < len(s.cards) else None
                out[card_cols[i]] = gr.Column(visible=card is not None)
                out[card_texts[i]] = card_markdown(card, i) if card is not None else ""
            for i in range(MAX_OPTIONS):
                opt = s.options[i] if i < len(s.options) else None
                out[option_buttons[i]] = gr.Button(
                    value=opt.label if opt else "", visible=opt is not None, interactive=True
                )
            for b in all_card_buttons:
                out[b] = gr.Button(interactive=True)
            return out

        def busy() -> dict[Any, Any]:
            """Disable card and option buttons while a reply streams (their ordinals may change)."""
            return {b: gr.Button(interactive=False) for b in [*all_card_buttons, *option_buttons]}

        def memory_out(user: str) -> dict[Any, Any]:
            try:
                current = read_memory(memory, user)
            except Exception:
                log.exception("could not read the memory of %r", user)
                current = MemoryView(user=user)
            return {view: current, picture: interest_figure(current)}

        # ---- one chat turn (typed, an option button, or a card button) ------------------
        def run_turn(s: Session, message: object, request: gr.Request, typed: bool = True) -> Iterator[dict[Any, Any]]:
            # Only a typed turn clears the message box: a card or option click can start late
            # (queued behind the reply it raced with) and must not wipe what the user typed since.
            s = who(s, request)
            text = message if isinstance(message, str) else ""
            clear_box = {box: ""} if typed else {}
            if not s.user:
                gr.Warning("Type your name first.")
                yield {box: gr.skip()}
                return
            if not text.strip():
                yield {box: ""} if typed else {box: gr.skip()}
                return
            messages = _history(agent, s) + [{"role": "user", "content": shorten(text)}]
            wait_s = over_limit(s, request)
            if wait_s:
                refused = {"role": "assistant", "content": refusal_text(limiter.limit, wait_s)}
                yield {**clear_box, session: s, chatbot: [*messages, refused], status: ""}
                return
            yield {
                **busy(),
                **clear_box,
                status: REPLYING,
                chatbot: [*messages, {"role": "assistant", "content": "…"}],
            }
            reply: Reply | None = None
            streamed = ""
            try:
                for chunk in agent.stream(s.user, text, s.thread):
                    if isinstance(chunk, Reply):
                        reply = chunk
                    else:
                        streamed += chunk
                        # The status is restated on every chunk: an overlapping turn of this tab that
                        # finished meanwhile has cleared it.
                        yield {chatbot: [*messages, {"role": "assistant", "content": streamed}], status: REPLYING}
            except Exception:
                log.exception("turn failed for %r", s.user)
            if reply is None:
                gr.Warning("Sorry, something went wrong with that message. Please try again.")
                yield {**show(s, _history(agent, s)), session: s, status: ""}
                return
            s = s.after(reply)
            shown = _history(agent, s)
            if len(shown) < len(messages):
                # Refused before it was stored (too long, invalid text): the history does not keep it,
                # but the person still sees what they sent and why it was refused.
                shown = [*shown, messages[-1], {"role": "assistant", "content": reply.text}]
            yield {**show(s, shown), session: s, status: "", **memory_out(s.user)}

        turn_outputs = [box, status, session, view, picture, *screen, *all_card_buttons]
        listen = dict(outputs=turn_outputs, trigger_mode="once", concurrency_id="turn")
        box.submit(run_turn, inputs=[session, box], **listen)
        send.click(run_turn, inputs=[session, box], **listen)

        for i, button in enumerate(option_buttons):

            def pick(s: Session, request: gr.Request, i: int = i) -> Iterator[dict[Any, Any]]:
                s = who(s, request)
                if i >= len(s.options):  # a stale button: ignore it
                    yield {box: gr.skip()}
                    return
                yield from run_turn(s, s.options[i].label, request, typed=False)

            button.click(pick, inputs=[session], **listen)

        actions: tuple[CardAction, ...] = ("like", "reject", "why")
        for i, row in enumerate(card_buttons):
            for action, button in zip(actions, row):

                def act(
                    s: Session, request: gr.Request, i: int = i, action: CardAction = action
                ) -> Iterator[dict[Any, Any]]:
                    s = who(s, request)
                    if i >= len(s.cards):  # the card is gone (a newer reply replaced the list)
                        yield {box: gr.skip()}
                        return
                    yield from run_turn(s, card_message(action, i), request, typed=False)

                button.click(act, inputs=[session], **listen)

        # ---- who is chatting -----------------------------------------------------------
        def opened(s: Session) -> dict[Any, Any]:
            return {**show(s, _history(agent, s)), session: s, name: s.user, **memory_out(s.user)}

        def switch_user(s: Session, typed: object) -> dict[Any, Any]:
            """Local mode only: the typed name becomes the user."""
            try:
                user = normalise_name(typed)
            except ValueError as exc:
                gr.Warning(str(exc))
                return {name: s.user}
            return opened(s.switch(user))

        def start(s: Session, request: gr.Request) -> dict[Any, Any]:
            if accounts.signed_in:
                return opened(who(s, request))
            return switch_user(s, s.user or guest_name())

        def new_conversation(s: Session, request: gr.Request) -> dict[Any, Any]:
            s = who(s, request)
            if not s.user:
                return {session: s}
            s = s.new_conversation()
            return {**show(s, []), session: s}

        switch_outputs = [session, name, view, picture, *screen, *all_card_buttons]
        demo.load(start, inputs=[session], outputs=switch_outputs)
        if switch is not None:  # with sign-in no event takes a name: there is nothing to switch to
            switch.click(switch_user, inputs=[session, name], outputs=switch_outputs, concurrency_id="turn")
            name.submit(switch_user, inputs=[session, name], outputs=switch_outputs, concurrency_id="turn")
        new_outputs = [session, *screen, *all_card_buttons]
        new.click(new_conversation, inputs=[session], outputs=new_outputs, concurrency_id="turn")
        chatbot.clear(new_conversation, inputs=[session], outputs=new_outputs, concurrency_id="turn")

        # ---- the memory panel ----------------------------------------------------------
        def _render_memory(current: MemoryView) -> None:
            who = escape_md(current.user) if current.user else "you"
            gr.Markdown(f"### What Tastebud remembers about {who}", elem_id="memory-owner")
            with gr.Column(elem_classes="mem-section", elem_id="mem-instructions"):
                gr.Markdown("#### Your standing instructions")
                if not current.instructions:
                    gr.Markdown(
                        'None yet. Say one in the chat, e.g. "never recommend musicals".', elem_classes="mem-empty"
                    )
                for row in current.instructions:
                    with gr.Row(elem_classes="mem-item mem-instruction", equal_height=True):
                        text = gr.Textbox(
                            value=row.text,
                            info=row.meaning or None,
                            show_label=False,
                            scale=4,
                            max_lines=2,
                            interactive=True,
                        )
                        save = gr.Button("Save", size="sm", scale=0, min_width=50, elem_classes="mem-save")
                        drop = gr.Button("Delete", size="sm", variant="stop", scale=0, min_width=60)
                    save.click(edit_instruction(row.id), inputs=[session, text], outputs=[view, picture])
                    drop.click(delete("instructions", row.id), inputs=[session], outputs=[view, picture])

            with gr.Column(elem_classes="mem-section", elem_id="mem-preferences"):
                gr.Markdown("#### What I inferred (confidence 0-1)")
                if not current.preferences:
                    gr.Markdown("Nothing inferred yet.", elem_classes="mem-empty")
                for pref in current.preferences:
                    with gr.Row(elem_classes="mem-item mem-preference", equal_height=True):
                        text = gr.Textbox(
                            value=pref.text, show_label=False, scale=4, max_lines=1, min_width=140, interactive=True
                        )
                        conf = gr.Number(
                            value=pref.confidence,
                            minimum=0,
                            maximum=1,
                            step=0.05,
                            show_label=False,
                            scale=1,
                            min_width=70,
                            interactive=True,
                        )
                        save = gr.Button("Save", size="sm", scale=0, min_width=50)
                        drop = gr.Button(
                            "Delete", size="sm", variant="stop", scale=0, min_width=60, elem_classes="mem-delete"
                        )
                    save.click(edit_preference(pref.id), inputs=[session, text, conf], outputs=[view, picture])
                    drop.click(delete("preferences", pref.id), inputs=[session], outputs=[view, picture])

        def _render_interests(current: MemoryView) -> None:
            with gr.Column(elem_classes="mem-section", elem_id="mem-interests"):
                gr.Markdown("#### Interests in the knowledge graph (weight; negative = dislike)")
                if not current.interests:
                    gr.Markdown("No interests yet.", elem_classes="mem-empty")
                for interest in current.interests:
                    with gr.Row(elem_classes="mem-item mem-interest", equal_height=True):
                        gr.Markdown(f"{interest.name} · *{interest.relation}*", elem_classes="mem-name")
                        weight = gr.Number(
                            value=interest.weight, step=0.1, show_label=False, scale=1, min_width=70, interactive=True
                        )
                        save = gr.Button("Save", size="sm", scale=0, min_width=50)
                        drop = gr.Button("Delete", size="sm", variant="stop", scale=0, min_width=60)
                    save.click(edit_interest(interest.entity), inputs=[session, weight], outputs=[view, picture])
                    drop.click(delete("interests", interest.entity), inputs=[session], outputs=[view, picture])

        def _change(s: Session, request: gr.Request, kind: str, ref_id: str, **changes: Any) -> dict[Any, Any]:
            s = who(s, request)
            if not s.user:
                return {view: gr.skip()}
            try:
                if changes:
                    memory.edit(s.user, kind, ref_id, **changes)
                elif not memory.delete(s.user, kind, ref_id):
                    gr.Warning("That was already gone.")
            except (KeyError, ValueError) as exc:
                gr.Warning(str(exc).strip("'\""))
            return memory_out(s.user)

        def edit_instruction(ref_id: str) -> Any:
            def fn(s: Session, text: object, request: gr.Request) -> dict[Any, Any]:
                if not isinstance(text, str) or not text.strip():
                    gr.Warning("An instruction needs some words; use Delete to remove it.")
                    return {view: gr.skip()}
                return _change(s, request, "instructions", ref_id, text=text)

            return fn

        def edit_preference(ref_id: str) -> Any:
            def fn(s: Session, text: object, confidence: object, request: gr.Request) -> dict[Any, Any]:
                changes: dict[str, Any] = {}
                if isinstance(text, str) and text.strip():
                    changes["text"] = " ".join(text.split())[:200]
                if isinstance(confidence, int | float):
                    changes["confidence"] = min(1.0, max(0.0, float(confidence)))
                if not changes:
                    return {view: gr.skip()}
                return _change(s, request, "preferences", ref_id, **changes)

            return fn

        def edit_interest(entity: str) -> Any:
            def fn(s: Session, weight: object, request: gr.Request) -> dict[Any, Any]:
                if not isinstance(weight, int | float):
                    gr.Warning("A weight is a number, e.g. 0.5 or -1.")
                    return {view: gr.skip()}
                return _change(s, request, "interests", entity, weight=float(weight))

            return fn

        def delete(kind: str, ref_id: str) -> Any:
            def fn(s: Session, request: gr.Request) -> dict[Any, Any]:
                return _change(s, request, kind, ref_id)

            return fn

    return demo
