"""The demo without a browser: session state, card messages the agent understands, the memory view."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from agent.reply import Option, Question, Recommendation, Reply
from agent.understand import PatternUnderstander as Understander
from agent.understanding.reader import LearnedUnderstander
from demo.memory_view import MemoryView, interest_figure, read_memory
from demo.session import (
    MAX_CARDS,
    Session,
    card_markdown,
    card_message,
    chat_messages,
    guest_name,
    normalise_name,
    shorten,
)
from memory.instructions import PatternExtractor
from memory.resolve import Resolver
from memory.schema import InferredPreference, Interest, StandingInstruction


def _rec(i: int, title: str = "Film", genres: tuple[str, ...] = ("Comedy",)) -> Recommendation:
    return Recommendation(item_id=str(i), title=f"{title} {i}", year=1990 + i, genres=list(genres), reason="because")


def _reply(**fields: object) -> Reply:
    return Reply(**{"text": "t", "action": "inform", "intent": "request", **fields})


def test_cards_follow_recommendations_and_vanish_on_questions() -> None:
    s = Session(user="ann")
    s = s.after(_reply(action="recommend", recommendations=[_rec(i) for i in range(7)]))
    assert len(s.cards) == MAX_CARDS and s.options == ()
    kept = s.after(_reply(action="explain", items=[_rec(0)]))
    assert kept.cards == s.cards  # an explanation leaves the list on screen
    q = Question(text="Which genre?", attribute="genre", options=[Option(value="Drama", label="Drama")])
    asked = s.after(_reply(action="ask", question=q))
    assert asked.cards == () and [o.label for o in asked.options] == ["Drama"]
    assert s.after(_reply(intent="reset")).cards == ()


def test_threads_are_per_user_and_new_conversation_is_fresh() -> None:
    s = Session(user="ann")
    assert s.thread == "default"
    s2 = s.new_conversation()
    assert s2.thread != "default" and s.thread == "default"  # frozen: the old value is untouched
    assert s2.switch("bob").thread == "default"
    assert s2.switch("bob").switch("ann").thread == s2.thread


def test_names() -> None:
    assert normalise_name("  Alice   Smith ") == "alice smith"
    for bad in ("", "   ", "x" * 65, "a\x00b", None, 3):
        with pytest.raises(ValueError):
            normalise_name(bad)
    assert guest_name() != guest_name()


def test_long_messages_are_shortened_on_screen() -> None:
    assert shorten("hi") == "hi"
    long = shorten("x" * 5000)
    assert len(long) < 1600 and "5,000 characters" in long
    assert chat_messages([("user", "a"), ("assistant", "b")]) == [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
    ]


def test_card_markdown_escapes_titles() -> None:
    md = card_markdown(Recommendation(item_id="1", title="Face/Off *[x]*", year=None, reason="r_1"), 0)
    assert md.startswith("**1. Face/Off \\*\\[x\\]\\***") and "r\\_1" in md


def test_card_buttons_send_messages_the_agent_understands(catalog, encoder) -> None:
    resolver = Resolver(catalog)
    patterns = Understander(resolver, PatternExtractor(resolver), encoder=None)
    learned = LearnedUnderstander(catalog, resolver, PatternExtractor(resolver), encoder)
    shown = [it.id for it in catalog.items[:5]]
    for i in range(MAX_CARDS):
        for action, intent in (("like", "like"), ("reject", "reject"), ("why", "explain")):
            turn = patterns.read(card_message(action, i), shown)
            assert (turn.intent, turn.items) == (intent, [shown[i]]), (action, i, turn)
            turn = learned.read(card_message(action, i), shown)
            assert turn.items == [shown[i]], (action, i, turn)
            if action == "like":
                assert [f.opinion for f in turn.films] == ["liked"], (i, turn)
            else:
                assert turn.intent == intent, (action, i, turn)
    with pytest.raises(ValueError):
        card_message("like", MAX_CARDS)


class FakeMemory:
    """The slice of ``memory.service.Memory`` the panel reads, for two users."""

    def __init__(self) -> None:
        self.data = {
            "ann": (
                [StandingInstruction(id="si_1", text="never recommend horror")],
                [InferredPreference(id="ip_1", text="enjoys Comedy films", key="genre:Comedy:+", confidence=0.4)],
                [Interest(entity="genre:Comedy", relation="catalog_genre", weight=1.2, name="Comedy films")],
                [Interest(entity="m.1", relation="director", weight=-0.5, name="the director of Alien")],
            ),
        }

    def _get(self, user: str) -> tuple[list, list, list, list]:
        return self.data.get(user, ([], [], [], []))

    def instructions(self, user: str) -> list[StandingInstruction]:
        return self._get(user)[0]

    def preferences(self, user: str) -> list[InferredPreference]:
        return self._get(user)[1]

    def top_interests(self, user: str, k: int = 10, negative: bool = False) -> list[Interest]:
        return self._get(user)[3 if negative else 2][:k]


def test_memory_view_reads_one_user() -> None:
    memory = FakeMemory()
    ann = read_memory(memory, "ann")
    assert [r.text for r in ann.instructions] == ["never recommend horror"]
    assert [r.weight for r in ann.interests] == [1.2, -0.5]
    assert read_memory(memory, "bob") == MemoryView(user="bob")


@pytest.mark.parametrize("user", ["ann", "bob"])
def test_interest_picture_renders(user: str) -> None:
    fig = interest_figure(read_memory(FakeMemory(), user))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue().startswith(b"\x89PNG")


def test_build_demo_wires_without_an_agent_call() -> None:
    gr = pytest.importorskip("gradio")
    from demo.app import build_demo

    agent = SimpleNamespace(memory=FakeMemory(), history=lambda *a: [], stream=lambda *a: iter(()))
    demo = build_demo(agent)
    assert isinstance(demo, gr.Blocks)


def test_only_a_typed_turn_clears_the_message_box() -> None:
    """A card or option click may start late (queued behind the reply it raced with): what the
    user typed since must survive it. Every streamed chunk restates the status line."""
    gr = pytest.importorskip("gradio")
    from demo.app import REPLYING, build_demo

    reply = _reply(text="Here you go", action="recommend", recommendations=[_rec(1), _rec(2)])
    agent = SimpleNamespace(
        memory=FakeMemory(), history=lambda *a: [], stream=lambda *a: iter(["Here ", "you go", reply])
    )
    demo = build_demo(agent)
    fns: dict[str, object] = {}
    for f in demo.fns.values() if isinstance(demo.fns, dict) else demo.fns:
        fns.setdefault(f.name, f)  # the first "act" is the first card's Like button
    box = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "message")
    status = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "turn-status")
    session = Session(user="ann", cards=(_rec(1), _rec(2)))

    request = gr.Request(session_hash="tab-1")
    typed = list(fns["run_turn"].fn(session, "something newer", request))
    assert typed[0][box] == "" and typed[0][status] == REPLYING
    clicked = list(fns["act"].fn(session, request))
    assert len(clicked) == len(typed) and all(box not in out for out in clicked)
    assert all(out[status] == REPLYING for out in clicked[1:-1])  # the streamed chunks
    assert clicked[-1][status] == ""
