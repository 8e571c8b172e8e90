"""Records that cross a boundary (files, tools, storage): items and interactions."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

AttributeValue = str | int | float | bool | list[str]


class Item(BaseModel):
    """One catalog item (a film, for the embedded MovieLens data).

    Attributes:
        id: External id, unique in its catalog (kept as a string).
        title: Display title.
        year: Release year, when known.
        genres: Genre names as the catalog spells them.
        description: Free text used for retrieval, when the catalog has any.
        attributes: Any further catalog attributes (e.g. language, runtime).
        entities: Knowledge-graph entity ids that stand for this item.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    year: int | None = Field(default=None, ge=1800, le=2100)
    genres: tuple[str, ...] = ()
    description: str = ""
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)
    entities: tuple[str, ...] = ()

    @field_validator("id", "title", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value.strip() if isinstance(value, str) else value


class Interaction(BaseModel):
    """One user-item event: a rating, a view or a purchase.

    Attributes:
        user: External user id.
        item: External item id.
        rating: Explicit rating, or 1.0 for implicit feedback.
        timestamp: Seconds since the epoch (0 when the source has no time).
    """

    model_config = ConfigDict(frozen=True)

    user: str
    item: str
    rating: float = 1.0
    timestamp: int = 0
