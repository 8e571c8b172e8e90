"""Property: for any compiled standing instruction and any candidate set, the filter never lets a violating item through."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memory.constraints import compile_filter, violations
from memory.schema import Atom
from recsys.catalog import Catalog


def atom_strategy(catalog: Catalog) -> st.SearchStrategy[Atom]:
    genres = sorted(catalog.genres.values())
    ids = [it.id for it in catalog.items]
    entities = sorted(catalog.entity_items)[:3000]
    year = st.integers(1900, 2005)
    return st.one_of(
        st.builds(
            lambda g, op: Atom(op=op, field="genre", value=g),
            st.sampled_from(genres),
            st.sampled_from(["exclude", "only"]),
        ),
        st.builds(
            lambda i, op: Atom(op=op, field="item", value=i), st.sampled_from(ids), st.sampled_from(["exclude", "only"])
        ),
        st.builds(
            lambda e, op: Atom(op=op, field="entity", value=e),
            st.sampled_from(entities),
            st.sampled_from(["exclude", "only"]),
        ),
        st.builds(lambda y: Atom(op="year_min", field="year", value=str(y)), year),
        st.builds(lambda y: Atom(op="year_max", field="year", value=str(y)), year),
        st.builds(lambda a, b: Atom(op="exclude_years", field="year", value=f"{min(a, b)}-{max(a, b)}"), year, year),
        # soft and unknown atoms must never loosen the hard ones
        st.builds(
            lambda g, op: Atom(op=op, field="genre", value=g),
            st.sampled_from(genres),
            st.sampled_from(["prefer", "avoid", "allow"]),
        ),
        st.builds(lambda w: Atom(op="exclude", field="unknown", value=w), st.text(min_size=1, max_size=10)),
    )


def check(catalog: Catalog, instructions: list[list[Atom]], candidates: list[int]) -> None:
    filters = [f for f in (compile_filter(atoms, catalog) for atoms in instructions) if f is not None]
    mask = catalog.mask(filters)
    for pos in candidates:
        if mask[pos]:
            item = catalog.items[pos]
            for atoms in instructions:
                assert not violations(atoms, item, catalog), (item, atoms)


def test_filter_never_admits_a_violating_item_ml100k(ml100k: Catalog) -> None:
    n = len(ml100k.items)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.lists(st.lists(atom_strategy(ml100k), min_size=1, max_size=5), min_size=1, max_size=3),
        st.lists(st.integers(0, n - 1), min_size=1, max_size=200),
    )
    def prop(instructions: list[list[Atom]], candidates: list[int]) -> None:
        check(ml100k, instructions, candidates)

    prop()


def test_filter_never_admits_a_violating_item_named_catalog(small_catalog: Catalog) -> None:
    n = len(small_catalog.items)

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(st.lists(atom_strategy(small_catalog), min_size=1, max_size=6), min_size=1, max_size=3),
        st.lists(st.integers(0, n - 1), min_size=1, max_size=n),
    )
    def prop(instructions: list[list[Atom]], candidates: list[int]) -> None:
        check(small_catalog, instructions, candidates)

    prop()


def test_compiled_filter_is_not_vacuous(ml100k: Catalog) -> None:
    """Sanity: the checker agrees with the filter on the whole catalog for a typical rule."""
    atoms = [Atom(op="exclude", field="genre", value="Horror"), Atom(op="year_min", field="year", value="1980")]
    mask = ml100k.mask([compile_filter(atoms, ml100k)])
    expected = np.array([not violations(atoms, it, ml100k) for it in ml100k.items])
    assert (mask == expected).all() and 0 < mask.sum() < len(mask)
