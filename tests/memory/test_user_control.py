"""List, edit, delete, export; the LangGraph BaseStore adapter."""

from __future__ import annotations

import asyncio
import json

import pytest
from langgraph.store.base import BaseStore

from memory.langgraph_store import MemoryStore, label_for, user_of
from memory.service import Memory


def test_list_edit_delete_export(memory: Memory) -> None:
    memory.remember_utterance("u", "never recommend horror")
    memory.record_feedback("u", "like", "50", context="space")
    listing = memory.list("u")
    assert set(listing) == {"instructions", "preferences", "interests", "feedback"}
    (ins,) = listing["instructions"]
    edited = memory.edit("u", "instructions", ins["id"], text="never recommend westerns")
    live = memory.instructions("u")
    assert [s.id for s in live] == [edited["id"]] and live[0].atoms[0].value == "Western"
    assert memory.instructions("u", include_history=True)[0].status == "superseded"
    pref = listing["preferences"][0]
    assert memory.edit("u", "preferences", pref["id"], confidence=0.9)["confidence"] == 0.9
    entity = listing["interests"][0]["entity"]
    assert memory.edit("u", "interests", entity, weight=-2.0)["weight"] == -2.0
    with pytest.raises(ValueError):
        memory.edit("u", "interests", entity, relation="x")
    with pytest.raises(ValueError, match="cannot use that text"):
        memory.edit("u", "instructions", edited["id"], text="")
    assert memory.delete("u", "preferences", pref["id"]) and not memory.delete("u", "preferences", pref["id"])
    assert memory.delete("u", "interests", entity)
    exported = memory.export("u")
    json.dumps(exported)  # JSON-serialisable
    assert exported["user_id"] == "u" and len(exported["instructions"]) == 2 and exported["events"]
    with pytest.raises(ValueError, match="unknown memory kind"):
        memory.delete("u", "secrets", "x")


def test_labels_escape_dots() -> None:
    for user in ["a.b", "x%2Ey", "plain", "a.b.c%"]:
        assert "." not in label_for(user) and user_of(label_for(user)) == user


def test_basestore_adapter_roundtrip(memory: Memory) -> None:
    store: BaseStore = MemoryStore(memory)
    user = "ann.smith@example.com"
    ns = ("users", label_for(user), "instructions")
    store.put(ns, "no-horror", {"text": "never recommend horror"})
    item = store.get(ns, "no-horror")
    assert item is not None and item.value["atoms"][0]["value"] == "Horror"
    assert [a.instruction.id for a in memory.applicable(user, "anything")] == ["no-horror"]
    store.put(ns, "kids", {"text": "When I watch with my kids, only animation"})
    hits = store.search(ns, query="watching with my children")
    assert hits[0].key == "kids" and hits[0].score is not None
    assert [h.key for h in store.search(ns, filter={"status": "active"})] == ["no-horror", "kids"]
    store.put(ns, "horror-ok", {"text": "horror is fine now"})
    assert store.get(ns, "no-horror").value["status"] == "superseded"
    store.delete(ns, "kids")
    assert store.get(ns, "kids") is None
    # free-form namespaces live in the same file
    notes = ("users", label_for(user), "notes")
    store.put(notes, "n1", {"text": "likes popcorn", "n": 3})
    assert store.get(notes, "n1").value == {"text": "likes popcorn", "n": 3}
    assert [i.key for i in store.search(notes, filter={"n": {"$gte": 3}})] == ["n1"]
    store.put(("app", "settings"), "theme", {"dark": True})
    assert store.get(("app", "settings"), "theme").value == {"dark": True}
    namespaces = store.list_namespaces(prefix=("users",))
    assert ("users", label_for(user), "instructions") in namespaces and notes in namespaces
    assert store.list_namespaces(prefix=("users",), max_depth=2) == [("users", label_for(user))]
    # preferences and interests through the adapter
    pns = ("users", label_for(user), "preferences")
    store.put(pns, "p1", {"text": "prefers short films", "context": "weeknight"})
    assert store.get(pns, "p1").value["text"] == "prefers short films"
    ins = ("users", label_for(user), "interests")
    store.put(ins, "genre:Western", {"weight": 1.5, "relation": "catalog_genre"})
    assert memory.top_interests(user)[0].entity == "genre:Western"
    # async path
    got = asyncio.run(store.aget(ns, "no-horror"))
    assert got is not None and got.key == "no-horror"
    # isolation through the adapter
    other = ("users", "bob", "instructions")
    assert store.search(other) == [] and store.get(other, "no-horror") is None
    # forget removes everything the adapter wrote for the user
    memory.forget(user)
    assert store.search(("users", label_for(user))) == []
