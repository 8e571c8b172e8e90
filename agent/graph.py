"""The Tastebud graph: understand -> remember -> decide -> act -> respond.

Nodes take the state and the runtime (whose context carries the user id and the
shared services) and return partial updates. Routers are pure functions. The
wiring is the block at the end of the file; ``builder`` is exported so callers
compile it with their own checkpointer.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from agent import remembering, scope
from agent.context import Context
from agent.feedback import log_said
from agent.grounding import grounded_text
from agent.llm.base import style_note
from agent.llm.plan import PlannedItem, ReplyPlan
from agent.policy import Ask, Observation, asked_keys
from agent.reply import AppliedInstruction, Option, Question, Recommendation, Reply
from agent.search import (
    SESSION_RESET,
    answer_update,
    critique_update,
    honour_rules,
    keep_search,
    narrow_search,
    new_search,
    only_narrows,
    search_weights,
)
from agent.state import InputState, State
from agent.turn import PendingQuestion, Turn
from memory.feedback import style_preferences
from memory.schema import Atom


def _turn(state: State) -> Turn:
    return Turn.model_validate(state["understanding"])


def _last_user_text(state: State) -> object:
    for message in reversed(state["messages"]):
        if isinstance(message, HumanMessage):
            return message.content
    return ""


# ---- nodes -------------------------------------------------------------------------------------
def understand(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Read the new message: intent, constraints, films named, what lasts, mood."""
    pending = state.get("pending")
    question = (
        PendingQuestion(pending["attribute"], tuple((v, lab) for v, lab in pending["options"])) if pending else None
    )
    turn = runtime.context.services.understander.read(
        _last_user_text(state), state.get("shown", []), question, state.get("mentioned", [])
    )
    return {
        "understanding": turn.model_dump(mode="json"),
        "turn": state.get("turn", 0) + 1,
        "action": None,
        "facts": [],
        "memory_changes": [],
        "focus": [],
        "applied": [],
        "mentioned": list(dict.fromkeys(state.get("mentioned", []) + [f.item_id for f in turn.films])),
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
        return {**SESSION_RESET, "action": "inform", "facts": ["Let's start over. What do you feel like watching?"]}
    if turn.intent == "other_user":
        return {
            "action": "inform",
            "facts": ["I can only show and change your own memory; other people's preferences stay private."],
        }
    if turn.intent == "out_of_domain":
        return {
            "action": "inform",
            "facts": [
                f"I only recommend {runtime.context.services.domain}, so I can't help with that, and I haven't "
                "saved anything from it. Tell me what you'd like to watch."
            ],
        }
    if turn.intent == "chitchat":
        return {
            "action": "inform",
            "facts": ["Hi! Tell me what you feel like watching, or a film you loved, and I'll find something."],
        }
    if turn.intent == "show_memory":
        return {"action": "inform", "facts": remembering.summary(memory, user)}
    if turn.intent == "forget":
        return {"action": "inform", **remembering.forget(memory, user, turn, SESSION_RESET)}
    if turn.intent in ("explain", "item_question"):
        # A film outside the catalog ("tell me about Superbad") is not one of this list's.
        focus = turn.items or ([] if turn.unknown_titles else state.get("discussed") or shown[:1])
        if not focus and turn.unknown_titles:
            return {
                "action": "inform",
                "facts": [tools.not_in_catalog(turn.unknown_titles, runtime.context.services.domain)],
            }
        if not focus:
            return {"action": "inform", "facts": ["Which film do you mean? Name it and I'll tell you."]}
        action = "explain" if turn.intent == "explain" else "about"
        return {"action": action, "focus": focus[:3], "discussed": focus[:3]}
    if turn.intent == "accept":
        chosen = turn.items or state.get("discussed") or shown[:1]
        if not chosen:
            return {"action": "inform", "facts": ["Glad to help! Ask me for a recommendation any time."]}
        log_said(memory, user, dict(state), "accept", chosen)  # before memory learns: the snapshot is as it was
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
        log_said(memory, user, dict(state), "like" if kind == "like" else "not_for_me", turn.items)
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
        return {**update, **new_search(turn, keep_atoms=False)}
    if turn.intent == "reject":
        targets = [i for i in (turn.items or shown) if i in titles]
        if targets:
            log_said(memory, user, dict(state), "reject", [] if set(shown) <= set(targets) else targets)
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
        log_said(memory, user, dict(state), "critique", [], text=turn.text)
        learned = memory.record_feedback(
            user, "critique", shown[0] if shown else None, context=state.get("query", ""), text=turn.text
        )
        # "More like the second one": the film pointed at is liked, and seeds the next list.
        liked = [f.item_id for f in turn.films if f.opinion == "liked" and f.item_id in titles]
        for item_id in liked:
            memory.record_feedback(user, "like", item_id, context=turn.text)
        years = [y for y in (tools.catalog.get(i).year for i in shown) if y]
        return {
            **critique_update(dict(state), turn, years),
            "facts": ["Got it, let me adjust."],
            "memory_changes": [f"liked {titles[i]}" for i in liked] + [f"learned: {p.text}" for p in learned],
        }
    pending = state.get("pending") or {}
    if turn.intent == "answer" and pending.get("attribute") == scope.SCOPE:
        return scope.settle(memory, user, turn.answer, pending)
    if turn.intent == "answer":
        return answer_update(dict(state), turn, lambda value, liked: memory.record_answer(user, value, liked=liked))
    return _statement(runtime, state, turn)


def _statement(runtime: Runtime[Context], state: State, turn: Turn) -> dict[str, Any]:
    """A request, a preference, feedback on films or an instruction: store what lasts, then search."""
    user = runtime.context.user_id
    tools = runtime.context.services.tools
    memory = tools.memory
    changes, liked, disliked = remembering.record_films(memory, user, turn, tools.catalog)
    facts: list[str] = []
    if turn.remember:
        facts, stored = remembering.store_lasting(memory, user, turn.remember)
        changes += stored
    elif turn.intent == "instruction":
        facts, stored, request_atoms = remembering.remember_instruction_text(memory, user, turn)
        changes += stored
        if not (request_atoms or turn.mood):
            return {"action": "inform", "facts": facts, "memory_changes": changes}
        turn = turn.model_copy(update={"atoms": request_atoms})
    if turn.ambiguous:
        facts.append(f"I wasn't sure which film you meant by {', '.join(turn.ambiguous)}, so I left it out.")
    if turn.unknown_titles:
        facts.append(tools.not_in_catalog(turn.unknown_titles, runtime.context.services.domain))
    update: dict[str, Any] = {
        "facts": facts,
        "memory_changes": changes,
        "rejected": state.get("rejected", []) + disliked,
    }
    # What a lasting rule forbids is enforced from memory; the message asks for something only if it
    # adds a constraint, a wanted mood or a liked film beyond that ("never recommend horror" keeps
    # the search at hand instead of starting a new one).
    stored = {a.key for r in turn.remember for a in r.atoms}
    added = [a for a in turn.atoms if a.key not in stored]
    asks_nothing = not (
        added
        or any(w > 0 for w in turn.genre_weights.values())
        or turn.mood_genres
        or liked
        or turn.era
        or (turn.situation and not turn.remember)  # "something for date night"
    )
    if turn.intent == "instruction" and asks_nothing:
        return {**update, "action": "inform"}
    if turn.just_recommend or (asks_nothing and state.get("query")):
        # "just recommend something" (or a message that adds nothing to the search) keeps this search.
        return {**update, **keep_search(dict(state), turn, update["rejected"])}
    hard = [a for a in added if a.is_hard]
    if state.get("query") and only_narrows(turn, hard, bool(liked)):
        # "no romance please" during a search rules romance out of it; a new request starts a new one.
        return {**update, **narrow_search(dict(state), turn, hard)}
    if scope.should_ask(turn.maybe_remember, dict(state)):
        # The constraint holds for this search whatever the answer; only "from now on" stores it.
        return {
            **update,
            **new_search(turn, keep_atoms=True),
            "action": "ask",
            "pending": scope.question(turn.maybe_remember),
        }
    fresh = new_search(turn, keep_atoms=True)
    if asks_nothing and turn.remember:
        # A statement of taste ("I hate musicals") asks for nothing beyond what memory now holds: its
        # words must not steer the search's text match toward what it rules out.
        fresh["query"] = ""
    if (state.get("pending") or {}).get("attribute") == scope.SCOPE:
        # An unanswered scope question: the constraint it asked about still holds for this search.
        fresh["search"] = list(state.get("search", [])) + fresh["search"]
        fresh["asked"] = list(dict.fromkeys(state.get("asked", []) + fresh["asked"]))
    return {**update, **fresh}


def decide(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Rank candidates under every hard constraint, then let the policy choose ask or recommend."""
    svc = runtime.context.services
    tools = svc.tools
    user = runtime.context.user_id
    turn = _turn(state)
    history = tools.history(user)
    query = state.get("query", "")
    request = query or turn.text
    applied = tools.memory.applicable(user, request)
    filters = tools.memory.constraints(user, request)
    groups = [[Atom.model_validate(a) for a in group] for group in state.get("search", [])]
    weights = search_weights(state)
    groups, notes = honour_rules(groups, [a.instruction for a in applied], weights)
    boosts = tools.memory.boosts(user, request)
    for genre, w in weights.items():
        boosts[genre] = boosts.get(genre, 0.0) + w
    exclude = set(state.get("rejected", [])) | tools.disliked(user)
    applied_out = [{"text": a.instruction.text, "reason": a.reason} for a in applied]
    scored, dropped = tools.search(history, filters, groups, exclude, boosts, query or None, era=state.get("era"))
    notes += [f"Nothing fit all of that, so I dropped: {d}." for d in dropped]
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
    # After a critique or films the user liked, the user wants picks now; after a rejection the policy
    # may ask, unless the user asked for no questions in this search.
    wants_picks = (
        turn.just_recommend
        or state.get("no_questions", False)
        or turn.intent in ("critique", "like")
        or any(f.opinion == "liked" for f in turn.films)
    )
    facts = list(state.get("facts", [])) + notes
    if isinstance(action, Ask) and not wants_picks:
        options = [[o.value, o.label] for o in action.options]
        return {
            "action": "ask",
            "applied": applied_out,
            "facts": facts,
            "pending": {"attribute": action.attribute, "options": options},
            "asked": state.get("asked", []) + asked_keys(action),
            "questions": state.get("questions", 0) + 1,
        }
    top = [tools.catalog.items[i].id for i in scored.indices[: svc.k]]
    return {
        "action": "recommend",
        "applied": applied_out,
        "facts": facts,
        "shown": top,
        "discussed": [],
        "pending": None,
    }


def ask(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Plan a question about the attribute the policy chose."""
    pending = state["pending"]
    assert pending is not None
    attribute, options = pending["attribute"], pending["options"]
    if attribute == scope.SCOPE:
        question, labels = scope.wording(pending), tuple(label for _, label in options)
    elif len(options) == 1:
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
    prefs = style_preferences(tools.memory.preferences(runtime.context.user_id)) if svc.style_prompt else []
    note = style_note([p.text for p in prefs])
    text = grounded_text(svc.backend, plan, svc.titles, svc.generation, genres=svc.genres, emit=writer, note=note)
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
        if pending["attribute"] == scope.SCOPE:
            pass
        elif len(options) == 1:
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


# ---- routers ------------------------------------------------------------------------------------
def after_remember(state: State) -> Literal["decide", "ask", "explain", "about", "inform"]:
    """Intents that need no ranking go straight to their action (a scope question is asked before ranking)."""
    action = state.get("action")
    if action in ("ask", "explain", "about"):
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
