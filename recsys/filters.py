"""Hard item filters shared by every recommender tool (retrieval, sequential model, baselines)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, model_validator


class ItemFilter(BaseModel):
    """Constraints an item must satisfy to be returned.

    Every field is optional; an empty filter admits every item. Genre names are
    matched case-insensitively.

    Attributes:
        genres_any: Keep items having at least one of these genres.
        genres_all: Keep items having all of these genres.
        genres_none: Drop items having any of these genres.
        year_min: Drop items released before this year (items without a year are dropped too).
        year_max: Drop items released after this year (items without a year are dropped too).
        include_ids: When given, only these item ids are eligible.
        exclude_ids: Item ids that are never returned.
        entities_none: Drop items linked to any of these knowledge-graph entities.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    genres_any: frozenset[str] = frozenset()
    genres_all: frozenset[str] = frozenset()
    genres_none: frozenset[str] = frozenset()
    year_min: int | None = None
    year_max: int | None = None
    include_ids: frozenset[str] | None = None
    exclude_ids: frozenset[str] = frozenset()
    entities_none: frozenset[str] = frozenset()

    @model_validator(mode="after")
    def _check_years(self) -> ItemFilter:
        if self.year_min is not None and self.year_max is not None and self.year_min > self.year_max:
            raise ValueError(f"year_min ({self.year_min}) is after year_max ({self.year_max})")
        return self

    def is_empty(self) -> bool:
        """True when the filter admits every item."""
        return self == ItemFilter()
