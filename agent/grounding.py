"""Grounded prose: the LLM may phrase the plan, never add to it.

The structured part of a reply (the list, the question's options) is always
rendered from the plan. An LLM's sentence is kept only when it names no film
outside the plan, quotes nothing, states no year the plan does not, and passes
cheap nonsense checks ("you found 5 films for your movie"); otherwise the
deterministic template sentence is used.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from agent.llm.base import ChatBackend, GenerationConfig
from agent.llm.plan import ReplyPlan
from agent.llm.template import TemplateBackend, render_plan
from recsys.catalog import Catalog

_YEAR = re.compile(r"\b(?:18|19|20)\d\d\b")
_QUOTED = re.compile(r"[\"“]([^\"”]{2,80})[\"”]")
# A small model sometimes refuses, apologises or rambles: such sentences are dropped.
_UNFIT = re.compile(
    r"\b(?:sorry|apolog\w*|as an ai|language model|i'?m not|i am not|i cannot|i can'?t|unable|not equipped|misglamour)\b",
    re.IGNORECASE,
)


def title_pattern(catalog: Catalog) -> re.Pattern[str]:
    """A regex matching catalog titles that could not appear in prose by accident ("Heat" could)."""
    titles = sorted({t for t in catalog.titles.values() if len(t) >= 8 or " " in t}, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(t) for t in titles) + r")\b", re.IGNORECASE)


def is_grounded(text: str, plan: ReplyPlan, titles: re.Pattern[str], genres: re.Pattern[str] | None = None) -> bool:
    """True when ``text`` names no catalog title (``titles``), genre, quotation or year outside the plan.

    Also False for refusals and apologies, which a small model produces instead of the task.
    """
    if _UNFIT.search(text) or len(text.split()) < 3:
        return False
    allowed_titles = {i.title.casefold() for i in plan.items}
    facts = " ".join([*plan.facts, *plan.options, *(i.reason for i in plan.items)]).casefold()
    if genres is not None and any(g.group(0).casefold() not in facts for g in genres.finditer(text)):
        return False
    for match in titles.finditer(text):
        name = match.group(0).casefold()
        if name not in allowed_titles and name not in facts:
            return False
    for quoted in _QUOTED.findall(text):
        if quoted.casefold().strip(" .!?") not in allowed_titles:
            return False
    allowed_years = {str(i.year) for i in plan.items if i.year} | set(_YEAR.findall(facts))
    return all(y in allowed_years for y in _YEAR.findall(text))


_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
_COUNT = re.compile(
    r"\b(\d+|" + "|".join(_NUMBERS) + r")\s+(?:great\s+|good\s+|new\s+|more\s+)?(?:films?|movies?|picks?|titles?)\b",
    re.IGNORECASE,
)
_USER_FOUND = re.compile(r"\byou(?:'ve| have)? found\b|\byour movie\b", re.IGNORECASE)
_STUTTER = re.compile(r"\b(\w+)(?:\W+\1\b){2,}", re.IGNORECASE)


def nonsense(sentence: str, plan: ReplyPlan) -> bool:
    """Whether a sentence fails a cheap check: a count of films that is not the plan's ("I found 3
    films" for 5), the user cast as the finder ("you found 5 films for your movie"), the same word
    three times in a row, a token over 25 characters, mostly non-letters."""
    for match in _COUNT.finditer(sentence):
        n = match.group(1).casefold()
        if plan.kind == "recommend" and (int(n) if n.isdigit() else _NUMBERS[n]) != len(plan.items):
            return True
    if _USER_FOUND.search(sentence) or _STUTTER.search(sentence):
        return True
    if any(len(token) > 25 for token in sentence.split()):
        return True
    letters = sum(ch.isalpha() for ch in sentence)
    return letters < 0.6 * len(sentence.replace(" ", ""))


def genre_pattern(genres: list[str]) -> re.Pattern[str]:
    """A regex matching genre names (and their plurals) in prose."""
    words = sorted({g.casefold().rstrip("s") for g in genres}, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")s?\b", re.IGNORECASE)


def keeps(sentence: str, plan: ReplyPlan, titles: re.Pattern[str], genres: re.Pattern[str] | None = None) -> bool:
    """Whether a model's sentence stays in the reply: grounded, and no cheap check shows it is nonsense."""
    return is_grounded(sentence, plan, titles, genres) and not nonsense(sentence, plan)


def structured_part(plan: ReplyPlan) -> str:
    """The list or the question with options: always rendered from the plan, never by the model."""
    if plan.kind == "recommend" and plan.items:
        return render_plan(ReplyPlan(kind="recommend", items=plan.items))
    if plan.kind == "ask" and plan.options:
        return "Options: " + ", ".join(plan.options)
    return ""


_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


def grounded_text(
    backend: ChatBackend,
    plan: ReplyPlan,
    titles: re.Pattern[str],
    config: GenerationConfig,
    genres: re.Pattern[str] | None = None,
    emit: Callable[[str], None] | None = None,
    note: str = "",
) -> str:
    """The reply text for a plan; ``emit`` receives chunks as they are produced (for streaming).

    ``note`` carries the user's inferred style preferences to the model (``plan_messages``).

    With a language model, prose streams sentence by sentence: each sentence is
    checked before it is emitted, and the first ungrounded one ends the model's part.
    """
    emit = emit or (lambda _chunk: None)
    if isinstance(backend, TemplateBackend) or plan.kind in ("error", "explain"):
        text = render_plan(plan)
        for n, line in enumerate(text.split("\n")):
            emit(line if n == 0 else "\n" + line)
        return text
    parts: list[str] = []

    def say(piece: str) -> None:
        piece = piece if not parts else ("\n" + piece if not piece.startswith((" ", "\n")) else piece)
        parts.append(piece)
        emit(piece)

    if plan.facts and plan.kind in ("confirm", "explain", "ask", "recommend"):
        say("\n".join(plan.facts))  # facts reach the user word for word
    buffer, ok, spoken = "", True, False
    for chunk in backend.stream_plan(plan, config, note):
        if not ok:
            continue  # drain the generator so the model is free for the next turn
        buffer += chunk
        while ok and (end := _SENTENCE_END.search(buffer)):
            sentence, buffer = buffer[: end.end()], buffer[end.end() :]
            if sentence.strip() and keeps(sentence, plan, titles, genres):
                say(sentence if spoken else sentence.strip())
                spoken = True
            elif sentence.strip():
                ok = False
    # A last fragment without an end mark was cut by the token limit: it is dropped.
    if plan.kind == "ask" and plan.question and not any("?" in p for p in parts):
        say(plan.question)
    tail = structured_part(plan)
    if tail:
        say(tail)
    return "".join(parts).strip()
