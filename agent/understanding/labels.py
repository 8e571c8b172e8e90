"""The label vocabulary of the understanding model, and the schema of one labelled message.

The same schema serves the real seeker messages (``data/understanding/redial_labels.jsonl``), the
team-written training corpus and the model's own output, so training, evaluation and inference
speak one language. ``docs/understanding/labelling.md`` says what each value means.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

INTENTS: tuple[str, ...] = (
    "request",
    "preference",
    "feedback",
    "accept",
    "reject",
    "critique",
    "instruction",
    "explain",
    "item_question",
    "chitchat",
    "out_of_domain",
    "forget",
    "show_memory",
    "reset",
)
LASTING: tuple[str, ...] = ("none", "preference", "rule")
SITUATIONS: tuple[str, ...] = (
    "none",
    "kids",
    "family",
    "partner",
    "friends",
    "parents",
    "alone",
    "late",
    "weekend",
    "weeknight",
    "down",
    "tired",
    "holiday",
    "travel",
    "other",
)
ERAS: tuple[str, ...] = ("none", "older", "newer")
OPINIONS: tuple[str, ...] = ("neutral", "liked", "disliked")
GENRE_STANCES: tuple[str, ...] = ("none", "wanted", "unwanted")
PREVIOUS: tuple[str, ...] = ("none", "asked", "recommended")
"""What the agent did just before the message (the model's context)."""

LABEL_GENRES: tuple[str, ...] = (
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
"""The genres labels use (MovieLens'). The model reads genres by their names, so other catalogs' genres work too."""

Intent = Literal[
    "request",
    "preference",
    "feedback",
    "accept",
    "reject",
    "critique",
    "instruction",
    "explain",
    "item_question",
    "chitchat",
    "out_of_domain",
    "forget",
    "show_memory",
    "reset",
]
Opinion = Literal["liked", "disliked", "neutral"]


class NamedFilm(BaseModel):
    """A film a message names: the exact characters, the film meant, and the speaker's opinion."""

    model_config = ConfigDict(extra="forbid")

    surface: str
    title: str | None = None
    year: int | None = None
    opinion: Opinion = "neutral"


class NamedPerson(BaseModel):
    """A film person a message names."""

    model_config = ConfigDict(extra="forbid")

    surface: str
    name: str | None = None
    opinion: Opinion = "neutral"


class MessageLabel(BaseModel):
    """What one message means, as a labeller (or the model) reads it."""

    model_config = ConfigDict(extra="forbid")

    id: str = ""
    intent: Intent
    lasting: Literal["none", "preference", "rule"] = "none"
    situation: str | None = None
    genres_wanted: list[str] = Field(default_factory=list)
    genres_unwanted: list[str] = Field(default_factory=list)
    era: str | None = None
    films: list[NamedFilm] = Field(default_factory=list)
    people: list[NamedPerson] = Field(default_factory=list)
    note: str = ""

    @field_validator("situation")
    @classmethod
    def _situation(cls, value: str | None) -> str | None:
        if value is not None and value not in SITUATIONS:
            raise ValueError(f"unknown situation {value!r}; one of {SITUATIONS}")
        return None if value == "none" else value

    @field_validator("genres_wanted", "genres_unwanted")
    @classmethod
    def _genres(cls, value: list[str]) -> list[str]:
        unknown = [g for g in value if g not in LABEL_GENRES]
        if unknown:
            raise ValueError(f"unknown genres {unknown}; labels use {LABEL_GENRES}")
        return list(dict.fromkeys(value))

    @property
    def era_class(self) -> str:
        """``older``/``newer``/``none``: the soft era the model learns (decades are read by exact rules)."""
        return self.era if self.era in ("older", "newer") else "none"
