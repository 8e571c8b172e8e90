"""The Tastebud graph: understand -> remember -> decide -> act -> respond.

Nodes take the state and the runtime (whose context carries the user id and the
shared services) and return partial updates. Routers are pure functions. The
wiring is the block at the end of the file; ``builder`` is exported so callers
compile it with their own checkpointer.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from agent.context import Context
from agent.grounding import grounded_text
from agent.llm.plan import PlannedItem, ReplyPlan
from agent.policy import Ask, Observation, asked_keys
from agent.reply import AppliedInstruction, Option, Question, Recommendation, Reply
from agent.state import InputState, State
from agent.understand import PendingQuestion, Turn
from memory.constraints import compile_filter
from memory.schema import Atom

_NEWER = re.compile(r"\b(?:too old|newer|more recent|recent|modern)\b")
_OLDER = re.compile(r"\b(?:too (?:new|recent)|older|classic)\b")
_LIGHTER = re.compile(
    r"\b(?:too (?:dark|violent|scary|sad|serious|intense)|lighter|less (?:violent|violence|dark|scary|serious)|happier|funnier)\b"
)
_HEAVY_GENRES = ("Horror", "Thriller", "Crime", "War", "Film-Noir")
_LIGHT_GENRES = ("Comedy", "Romance", "Animation", "Children's", "Musical")
_EVERYTHING = re.compile(r"\b(?:everything|all (?:my|of my) (?:data|memory)|me completely|all about me)\b")
_SESSION_RESET: dict[str, Any] = {
    "search": [],
    "wanted": [],
    "mood_genres": [],
    "query": "",
    "asked": [],
    "questions": 0,
    "pending": None,
    "shown": [],
    "rejected": [],
    "accepted": [],
    "rejected_lists": 0,
}


def _turn(state: State) -> Turn:
    return Turn.model_validate(state["understanding"])


def _last_user_text(state: State) -> object:
    for message in reversed(state["messages"]):
        if isinstance(message, HumanMessage):
            return message.content
    return ""


# ---- nodes -------------------------------------------------------------------------------------
def understand(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Read the new message: intent, constraints, item references, mood."""
    pending = state.get("pending")
    question = (
        PendingQuestion(pending["attribute"], tuple((v, lab) for v, lab in pending["options"])) if pending else None
    )
    turn = runtime.context.services.understander.read(_last_user_text(state), state.get("shown", []), question)
    return {
        "understanding": turn.model_dump(mode="json"),
        "turn": state.get("turn", 0) + 1,
        "action": None,
        "facts": [],
        "memory_changes": [],
        "focus": [],
        "applied": [],
    }


def remember(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Apply what the message says to long-term memory and to this conversation's search."""
    user = runtime.context.user_id
    tools = runtime.context.services.tools
    memory = tools.memory
    turn = _turn(state)
    shown = list(state.get("shown", []))
    titles = tools.catalog.titles

    if turn.intent == "invalid":
        return {"action": "error", "facts": [f"Sorry, I couldn't use that message: {turn.problem}."]}
    if turn.intent == "reset":
        return {**_SESSION_RESET, "action": "inform", "facts": ["Let's start over. What do you feel like watching?"]}
    if turn.intent == "other_user":
        return {
            "action": "inform",
            "facts": ["I can only show and change your own memory; other people's preferences stay private."],
        }
    if turn.intent == "chitchat":
        return {
            "action": "inform",
            "facts": ["Hi! Tell me what you feel like watching, or a film you loved, and I'll find something."],
        }
    if turn.intent == "show_memory":
        return {"action": "inform", "facts": _memory_summary(runtime)}
    if turn.intent == "forget":
        return {"action": "inform", **_forget(runtime, turn)}
    if turn.intent in ("explain", "item_question"):
        focus = turn.items or shown[:1]
        if not focus:
            return {"action": "inform", "facts": ["Which film do you mean? Name it and I'll tell you."]}
        return {"action": "explain" if turn.intent == "explain" else "about", "focus": focus[:3]}
    if turn.intent == "accept":
        chosen = turn.items or shown[:1]
        if not chosen:
            return {"action": "inform", "facts": ["Glad to help! Ask me for a recommendation any time."]}
        for item_id in chosen:
            memory.record_feedback(user, "accept", item_id, context=state.get("query", ""))
        names = " and ".join(titles[i] for i in chosen)
        return {
            "action": "inform",
            "accepted": state.get("accepted", []) + chosen,
            "facts": [f"Great choice: enjoy {names}! I'll remember you picked it."],
            "memory_changes": [f"accepted {titles[i]}" for i in chosen],
        }
    if turn.intent in ("like", "dislike"):
        kind = turn.intent
        for item_id in turn.items:
            memory.record_feedback(user, kind, item_id, context=turn.text)
        verb = "liked" if kind == "like" else "didn't like"
        names = " and ".join(titles[i] for i in turn.items)
        update: dict[str, Any] = {
            "facts": [f"Noted: you {verb} {names}."],
            "memory_changes": [f"{verb} {titles[i]}" for i in turn.items],
            "rejected": state.get("rejected", []) + (turn.items if kind == "dislike" else []),
        }
        if kind == "dislike":
            return {**update, "action": "inform"}
        return {**update, **_new_search(turn, keep_atoms=False)}
    if turn.intent == "reject":
        targets = [i for i in (turn.items or shown) if i in titles]
        for item_id in targets:
            memory.record_feedback(user, "reject", item_id, context=state.get("query", ""))
        whole_list = not turn.items or set(shown) <= set(targets)
        return {
            "rejected": state.get("rejected", []) + targets,
            "rejected_lists": state.get("rejected_lists", 0) + int(whole_list),
            "facts": ["No problem."] if targets else [],
            "memory_changes": [f"not for you: {titles[i]}" for i in targets],
            "pending": None,
        }
    if turn.intent == "critique":
        return _critique(runtime, state, turn)
    if turn.intent == "answer":
        return _answer(runtime, state, turn)
    if turn.intent == "instruction":
        result = memory.remember_utterance(user, turn.text)
        changes = [f"new rule: {s.text}" for s in result.stored] + [
            f"replaced rule: {s.text}" for s in result.superseded
        ]
        facts = [result.message] if result.message else [f"Got it: {'; '.join(a.describe() for a in turn.atoms)}."]
        update = {"facts": facts, "memory_changes": changes}
        if result.request_atoms or turn.mood:
            return {
                **update,
                **_new_search(turn.model_copy(update={"atoms": list(result.request_atoms)}), keep_atoms=True),
            }
        return {**update, "action": "inform"}
    return _new_search(turn, keep_atoms=True)


def decide(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Rank candidates under every hard constraint, then let the policy choose ask or recommend."""
    svc = runtime.context.services
    tools = svc.tools
    user = runtime.context.user_id
    turn = _turn(state)
    history = tools.history(user)
    query = state.get("query", "")
    applied = tools.memory.applicable(user, query or turn.text)
    filters = tools.memory.constraints(user, query or turn.text)
    for group in state.get("search", []):
        compiled = compile_filter([Atom.model_validate(a) for a in group], tools.catalog)
        if compiled is not None:
            filters.append(compiled)
    boosts = tools.memory.boosts(user, query or turn.text)
    for genre in state.get("mood_genres", []):
        boosts[genre] = boosts.get(genre, 0.0) + 1.0
    exclude = set(state.get("rejected", [])) | tools.disliked(user)
    scored = tools.score(history, filters, exclude, boosts, query=query or None)
    applied_out = [{"text": a.instruction.text, "reason": a.reason} for a in applied]
    if not len(scored.indices):
        blocking = [a.instruction.text for a in applied if a.conflicts_with_request]
        why = f' Your rule "{blocking[0]}" rules out what you asked for.' if blocking else ""
        return {
            "action": "inform",
            "applied": applied_out,
            "facts": [
                f"I couldn't find anything that fits all of that.{why} Try loosening a constraint, or say 'start over'."
            ],
            "shown": [],
        }
    obs = Observation(
        turn=state.get("turn", 1) - 1,
        candidates=scored.indices,
        scores=scored.scores,
        asked=frozenset(state.get("asked", [])),
        space=tools.space,
        k=svc.k,
        rejected_lists=state.get("rejected_lists", 0),
        history_len=len(history),
        questions=state.get("questions", 0),
    )
    action = svc.policy.decide(obs)
    # After a critique or a liked film the user wants picks now; after a rejection the policy may ask.
    wants_picks = turn.just_recommend or turn.intent in ("critique", "like")
    if isinstance(action, Ask) and not wants_picks:
        options = [[o.value, o.label] for o in action.options]
        return {
            "action": "ask",
            "applied": applied_out,
            "pending": {"attribute": action.attribute, "options": options},
            "asked": state.get("asked", []) + asked_keys(action),
            "questions": state.get("questions", 0) + 1,
        }
    top = [tools.catalog.items[i].id for i in scored.indices[: svc.k]]
    return {"action": "recommend", "applied": applied_out, "shown": top, "pending": None}


def ask(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Plan a question about the attribute the policy chose."""
    pending = state["pending"]
    assert pending is not None
    attribute, options = pending["attribute"], pending["options"]
    if len(options) == 1:
        question = f"Are you in the mood for something with {options[0][1]}?"
        labels: tuple[str, ...] = ("yes", "no")
    else:
        what = {"genre": "genre", "decade": "era"}.get(attribute, attribute.replace("_", " "))
        offered = {f"{attribute}={value}" for value, _ in options}
        again = any(k.startswith(f"{attribute}=") and k not in offered for k in state.get("asked", []))
        question = f"Another {what}, then: which of these?" if again else f"Which {what} do you feel like?"
        labels = tuple(label for _, label in options) + ("any",)
    return {
        "plan": ReplyPlan(
            kind="ask", facts=tuple(state.get("facts", [])), question=question, options=labels
        ).model_dump()
    }


def recommend(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Plan the recommendation list, each item with its one-line reason."""
    tools = runtime.context.services.tools
    user = runtime.context.user_id
    history = tools.history(user)
    wanted = state.get("wanted", [])
    items = []
    for item_id in state.get("shown", []):
        item = tools.catalog.get(item_id)
        reason = tools.reason(user, item_id, history, wanted)
        items.append(PlannedItem(item_id=item_id, title=item.title, year=item.year, reason=reason))
    return {"plan": ReplyPlan(kind="recommend", facts=tuple(state.get("facts", [])), items=tuple(items)).model_dump()}


def explain(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Plan why-this-one answers: KG links to the history, interest paths, or the request."""
    tools = runtime.context.services.tools
    user = runtime.context.user_id
    history = tools.history(user)
    items = []
    for item_id in state.get("focus", []):
        item = tools.catalog.get(item_id)
        reason = tools.reason(user, item_id, history, state.get("wanted", []))
        items.append(
            PlannedItem(item_id=item_id, title=item.title, year=item.year, reason=f"I picked it because {reason}.")
        )
    return {"plan": ReplyPlan(kind="explain", facts=tuple(state.get("facts", [])), items=tuple(items)).model_dump()}


def about(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Plan an answer about an item from catalog and KG facts."""
    tools = runtime.context.services.tools
    facts = list(state.get("facts", []))
    items = []
    for item_id in state.get("focus", []):
        item = tools.catalog.get(item_id)
        facts += tools.facts(item_id)
        items.append(PlannedItem(item_id=item_id, title=item.title, year=item.year))
    return {
        "plan": ReplyPlan(kind="explain", facts=tuple(facts), items=()).model_dump(),
        "focus": [i.item_id for i in items],
    }


def inform(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Plan a confirmation, a memory summary, a greeting or an error."""
    kind = "error" if state.get("action") == "error" else "confirm"
    return {"plan": ReplyPlan(kind=kind, facts=tuple(state.get("facts", []))).model_dump()}


def respond(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Write the reply from the plan (streaming chunks), check it is grounded, and package it."""
    svc = runtime.context.services
    tools = svc.tools
    plan = ReplyPlan.model_validate(state["plan"])
    writer = get_stream_writer()
    text = grounded_text(svc.backend, plan, svc.titles, svc.generation, genres=svc.genres, emit=writer)
    turn = _turn(state)

    def card(item_id: str, reason: str) -> Recommendation:
        item = tools.catalog.get(item_id)
        return Recommendation(
            item_id=item_id, title=item.title, year=item.year, genres=list(item.genres), reason=reason
        )

    recs = [card(i.item_id, i.reason) for i in plan.items] if plan.kind == "recommend" else []
    question = None
    if plan.kind == "ask" and state.get("pending"):
        pending = state["pending"]
        options = [Option(value=v, label=lab) for v, lab in pending["options"]]
        if len(options) == 1:
            options = [Option(value="yes", label="yes"), Option(value="no", label="no")]
        else:
            options.append(Option(value="any", label="any"))
        question = Question(text=plan.question or "", attribute=pending["attribute"], options=options)
    focus_items = [card(i, next((p.reason for p in plan.items if p.item_id == i), "")) for i in state.get("focus", [])]
    reply = Reply(
        text=text,
        action=state.get("action") or "inform",
        intent=turn.intent,
        recommendations=recs,
        question=question,
        items=focus_items,
        applied_instructions=[AppliedInstruction(**a) for a in state.get("applied", [])],
        memory_changes=list(state.get("memory_changes", [])),
        user_id=runtime.context.user_id,
    )
    return {"messages": [AIMessage(content=text)], "reply": reply.model_dump(mode="json")}


# ---- helpers of the nodes ---------------------------------------------------------------------
def _labels(atoms: list[Atom]) -> list[str]:
    """What the user asked for, as reasons name it: genres and entities, and a decade ("1990s")."""
    out = [a.label or a.value for a in atoms if a.op == "only"]
    lo = [int(a.value) for a in atoms if a.op == "year_min"]
    hi = [int(a.value) for a in atoms if a.op == "year_max"]
    if lo and hi and max(lo) % 10 == 0 and min(hi) == max(lo) + 9:
        out.append(f"{max(lo)}s")
    return out


def _new_search(turn: Turn, keep_atoms: bool) -> dict[str, Any]:
    """Start a new search from a request: its constraints, mood and text."""
    atoms = [a for a in turn.atoms if a.is_hard] if keep_atoms else []
    # What the request already fixes is not asked again ("a comedy" -> no genre question).
    known = ["genre"] if any(a.field == "genre" and a.op == "only" for a in atoms) else []
    known += ["decade"] if any(a.field == "year" for a in atoms) else []
    return {
        "search": [[a.model_dump(mode="json") for a in atoms]] if atoms else [],
        "wanted": _labels(atoms),
        "mood_genres": list(turn.mood_genres),
        "query": turn.text,
        "asked": known,
        "questions": 0,
        "pending": None,
        "rejected_lists": 0,
    }


def _answer(runtime: Runtime[Context], state: State, turn: Turn) -> dict[str, Any]:
    """Turn an answer into a constraint on this search, and into KG interests."""
    tools = runtime.context.services.tools
    user = runtime.context.user_id
    pending = state["pending"] or {}
    attribute = pending.get("attribute", "")
    options = {v: lab for v, lab in pending.get("options", [])}
    chosen = [v for v in turn.answer if v in options]
    atoms: list[Atom] = []
    if turn.answer == ["yes"] and len(options) == 1:
        chosen = list(options)
    if chosen:
        for value in chosen:
            tools.memory.record_answer(user, value if attribute != "genre" else options[value], liked=True)
        if attribute == "genre":
            atoms = [Atom(op="only", field="genre", value=v, label=options[v]) for v in chosen]
        elif attribute == "decade":
            starts = sorted(int(v[:4]) for v in chosen)
            atoms = [
                Atom(op="year_min", field="year", value=str(starts[0])),
                Atom(op="year_max", field="year", value=str(starts[-1] + 9)),
            ]
        else:
            atoms = [Atom(op="only", field="entity", value=v, label=options[v]) for v in chosen]
    elif turn.answer == ["no"] and len(options) == 1:
        (value,) = options
        if attribute == "genre":
            atoms = [Atom(op="exclude", field="genre", value=value, label=options[value])]
        elif attribute == "decade":
            atoms = [Atom(op="exclude_years", field="year", value=f"{value[:4]}-{int(value[:4]) + 9}")]
        else:
            atoms = [Atom(op="exclude", field="entity", value=value, label=options[value])]
    search = list(state.get("search", []))
    if atoms:
        search.append([a.model_dump(mode="json") for a in atoms])
    wanted = state.get("wanted", []) + [options[v] if attribute != "decade" else v for v in chosen]
    # A multiple-choice type is settled once the user picks from it or says any; after "no" it may
    # come back with other values.
    settled = [attribute] if len(options) > 1 and (chosen or turn.answer == ["any"]) else []
    return {"search": search, "wanted": wanted, "pending": None, "asked": state.get("asked", []) + settled}


def _critique(runtime: Runtime[Context], state: State, turn: Turn) -> dict[str, Any]:
    """A critique of the last list: learn from it, drop the list, and shift the search."""
    tools = runtime.context.services.tools
    user = runtime.context.user_id
    shown = list(state.get("shown", []))
    learned = tools.memory.record_feedback(
        user, "critique", shown[0] if shown else None, context=state.get("query", ""), text=turn.text
    )
    folded = turn.text.casefold()
    search = list(state.get("search", []))
    years = sorted(y for y in (tools.catalog.get(i).year for i in shown) if y)
    if years and _NEWER.search(folded):
        search.append(
            [Atom(op="year_min", field="year", value=str(years[len(years) // 2] + 1)).model_dump(mode="json")]
        )
    elif years and _OLDER.search(folded):
        search.append(
            [Atom(op="year_max", field="year", value=str(years[len(years) // 2] - 1)).model_dump(mode="json")]
        )
    mood = list(state.get("mood_genres", []))
    if _LIGHTER.search(folded):
        mood = [g for g in mood if g not in _HEAVY_GENRES] + [g for g in _LIGHT_GENRES if g not in mood]
    return {
        "search": search,
        "mood_genres": mood,
        "rejected": state.get("rejected", []) + shown,
        "facts": ["Got it, let me adjust."],
        "memory_changes": [f"learned: {p.text}" for p in learned],
        "pending": None,
    }


def _forget(runtime: Runtime[Context], turn: Turn) -> dict[str, Any]:
    """Delete the standing instructions the message points at ("forget that I said no horror")."""
    memory = runtime.context.services.tools.memory
    user = runtime.context.user_id
    if _EVERYTHING.search(turn.text.casefold()):
        memory.forget(user)
        return {
            "facts": ["Done: I have forgotten everything I knew about you."],
            "memory_changes": ["forgot everything"],
            **_SESSION_RESET,
        }
    live = memory.instructions(user)
    wanted = {(a.field, a.value.casefold()) for a in turn.atoms}
    words = set(re.findall(r"[a-z']{3,}", turn.text.casefold())) - {
        "forget",
        "that",
        "said",
        "delete",
        "remove",
        "the",
        "rule",
        "about",
        "what",
        "never",
        "please",
    }
    hits = []
    for si in live:
        keys = {(a.field, a.value.casefold()) for a in si.atoms}
        if (wanted and keys & wanted) or (
            not wanted and words and words <= set(re.findall(r"[a-z']{3,}", si.text.casefold()))
        ):
            hits.append(si)
    if not hits:
        rules = "; ".join(f'"{si.text}"' for si in live) or "none"
        return {"facts": [f"I couldn't tell which rule to forget. Your rules: {rules}."]}
    for si in hits:
        memory.delete(user, "instructions", si.id)
    return {
        "facts": [f'Done: I forgot "{si.text}".' for si in hits],
        "memory_changes": [f"removed rule: {si.text}" for si in hits],
    }


def _memory_summary(runtime: Runtime[Context]) -> list[str]:
    memory = runtime.context.services.tools.memory
    user = runtime.context.user_id
    rules = [si.text for si in memory.instructions(user)]
    interests = [i.name or i.entity for i in memory.top_interests(user, k=5)]
    prefs = [p.text for p in memory.preferences(user)[:5]]
    facts = [f"Your rules: {'; '.join(rules)}." if rules else "You have no standing rules."]
    if interests:
        facts.append(f"You seem to like: {', '.join(interests)}.")
    if prefs:
        facts.append(f"I've learned: {'; '.join(prefs)}.")
    return facts


# ---- routers ------------------------------------------------------------------------------------
def after_remember(state: State) -> Literal["decide", "explain", "about", "inform"]:
    """Intents that need no ranking go straight to their action."""
    action = state.get("action")
    if action in ("explain", "about"):
        return action
    if action in ("inform", "error"):
        return "inform"
    return "decide"


def after_decide(state: State) -> Literal["ask", "recommend", "inform"]:
    """The policy's choice."""
    action = state.get("action")
    return action if action in ("ask", "recommend") else "inform"


# ---- wiring -------------------------------------------------------------------------------------
builder = StateGraph(State, input_schema=InputState, context_schema=Context)
builder.add_node("understand", understand)
builder.add_node("remember", remember)
builder.add_node("decide", decide)
builder.add_node("ask", ask)
builder.add_node("recommend", recommend)
builder.add_node("explain", explain)
builder.add_node("about", about)
builder.add_node("inform", inform)
builder.add_node("respond", respond)
builder.add_edge(START, "understand")
builder.add_edge("understand", "remember")
builder.add_conditional_edges("remember", after_remember)
builder.add_conditional_edges("decide", after_decide)
for act in ("ask", "recommend", "explain", "about", "inform"):
    builder.add_edge(act, "respond")
builder.add_edge("respond", END)
