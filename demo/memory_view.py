"""What the memory panel shows: a snapshot read through the memory API, and the interest picture.

The snapshot is a frozen value so Gradio can tell when it changed (the panel re-renders then).
The picture is a star graph, the user in the middle and their strongest knowledge-graph
interests around them: green for likes, red for dislikes, thicker for stronger.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

import networkx as nx
from matplotlib.figure import Figure

from memory.schema import describe_atoms

TOP_INTERESTS = 8
TOP_DISLIKES = 4


@dataclass(frozen=True)
class InstructionRow:
    """One live standing instruction: id, the user's words, and how Tastebud reads them."""

    id: str
    text: str
    meaning: str


@dataclass(frozen=True)
class PreferenceRow:
    """One inferred preference and how sure Tastebud is of it."""

    id: str
    text: str
    confidence: float


@dataclass(frozen=True)
class InterestRow:
    """One knowledge-graph interest after time decay (negative weight = a dislike)."""

    entity: str
    name: str
    relation: str
    weight: float


@dataclass(frozen=True)
class MemoryView:
    """Everything the panel shows for one user."""

    user: str
    instructions: tuple[InstructionRow, ...] = ()
    preferences: tuple[PreferenceRow, ...] = ()
    interests: tuple[InterestRow, ...] = ()


def read_memory(memory: Any, user: str) -> MemoryView:
    """The user's live memory through the ``memory.service.Memory`` API (never another user's)."""
    instructions = tuple(
        InstructionRow(
            id=si.id,
            text=si.text,
            meaning=describe_atoms(si.atoms) + (f" (when: {si.scope.text})" if si.scope else ""),
        )
        for si in memory.instructions(user)
    )
    preferences = tuple(
        PreferenceRow(id=p.id, text=p.text, confidence=round(float(p.confidence), 2))
        for p in sorted(memory.preferences(user), key=lambda p: -p.confidence)
    )
    likes = memory.top_interests(user, TOP_INTERESTS)
    dislikes = memory.top_interests(user, TOP_DISLIKES, negative=True)
    interests = tuple(
        InterestRow(entity=i.entity, name=i.name or i.entity, relation=i.relation, weight=round(float(i.weight), 3))
        for i in [*likes, *dislikes]
    )
    return MemoryView(user=user, instructions=instructions, preferences=preferences, interests=interests)


def interest_figure(view: MemoryView) -> Figure:
    """A star graph of the user's top interests (a matplotlib figure, no pyplot state)."""
    fig = Figure(figsize=(5.2, 3.9), dpi=100)
    ax = fig.add_subplot()
    ax.set_axis_off()
    if not view.interests:
        ax.text(
            0.5,
            0.5,
            "No interests yet.\nLike or reject a few films\nand they appear here.",
            ha="center",
            va="center",
            fontsize=11,
            color="#666666",
            transform=ax.transAxes,
        )
        return fig
    graph = nx.Graph()
    you = "\x00you"  # a node name no interest can have
    graph.add_node(you)
    labels = {you: "you"}
    for row in view.interests:
        graph.add_edge(you, row.entity, weight=row.weight)
        labels[row.entity] = textwrap.fill(row.name, 18)
    pos = nx.shell_layout(graph, nlist=[[you], [r.entity for r in view.interests]])
    peak = max(abs(r.weight) for r in view.interests) or 1.0
    edges = [(you, r.entity) for r in view.interests]
    nx.draw_networkx_edges(
        graph,
        pos,
        edgelist=edges,
        ax=ax,
        width=[1.0 + 5.0 * abs(r.weight) / peak for r in view.interests],
        edge_color=["#2e9e5b" if r.weight > 0 else "#d64545" for r in view.interests],
        alpha=0.75,
    )
    nx.draw_networkx_nodes(
        graph,
        pos,
        nodelist=[you, *(r.entity for r in view.interests)],
        node_color=["#f08c00", *("#d3f0dd" if r.weight > 0 else "#f8d7d7" for r in view.interests)],
        node_size=[900, *(350 + 650 * abs(r.weight) / peak for r in view.interests)],
        ax=ax,
    )
    nx.draw_networkx_labels(graph, pos, labels=labels, font_size=7.5, ax=ax)
    ax.margins(0.22, 0.12)
    fig.tight_layout(pad=0.2)
    return fig
