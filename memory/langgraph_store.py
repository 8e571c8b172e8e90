"""Memory as a LangGraph ``BaseStore``: namespaces ``("users", user_id, kind)``.

Kinds ``instructions``, ``preferences``, ``interests`` and ``feedback`` map onto
the typed memory (values are the records as JSON); any other namespace is a
plain JSON key-value space in the same store (SQLite or PostgreSQL), so an app can swap this for
LangGraph's PostgresStore and keep its code. Namespace labels cannot contain
``.``, so user ids are escaped with ``label_for`` ("a.b" -> "a%2Eb").
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)

from memory.schema import InferredPreference
from memory.service import Memory

TYPED_KINDS = ("instructions", "preferences", "interests", "feedback")


def label_for(user_id: str) -> str:
    """A user id as a namespace label (no ``.``)."""
    return user_id.replace("%", "%25").replace(".", "%2E")


def user_of(label: str) -> str:
    """Inverse of ``label_for``."""
    return label.replace("%2E", ".").replace("%25", "%")


def _dt(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return datetime.now(UTC)


_OPS = {
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: a is not None and a > b,
    "$gte": lambda a, b: a is not None and a >= b,
    "$lt": lambda a, b: a is not None and a < b,
    "$lte": lambda a, b: a is not None and a <= b,
}


def _matches(value: dict[str, Any], flt: dict[str, Any] | None) -> bool:
    for field, cond in (flt or {}).items():
        actual = value.get(field)
        if isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond):
            try:
                if not all(_OPS[op](actual, want) for op, want in cond.items()):
                    return False
            except (KeyError, TypeError):
                return False
        elif actual != cond:
            return False
    return True


class MemoryStore(BaseStore):
    """A LangGraph store backed by ``Memory``.

    Args:
        memory: The memory facade (its SQLite file holds everything).
    """

    supports_ttl = False

    def __init__(self, memory: Memory) -> None:
        self.memory = memory

    # ---- BaseStore ------------------------------------------------------------------------
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run operations in order."""
        results: list[Result] = []
        for op in ops:
            if isinstance(op, GetOp):
                results.append(self._get(op.namespace, op.key))
            elif isinstance(op, PutOp):
                self._put(op.namespace, op.key, op.value)
                results.append(None)
            elif isinstance(op, SearchOp):
                results.append(self._search(op))
            elif isinstance(op, ListNamespacesOp):
                results.append(self._list_namespaces(op))
            else:
                raise ValueError(f"unsupported store operation {type(op).__name__}")
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async ``batch`` (runs in a worker thread; SQLite calls block)."""
        return await asyncio.to_thread(self.batch, list(ops))

    # ---- records ---------------------------------------------------------------------------
    def _typed(self, user_id: str, kind: str) -> list[tuple[str, dict[str, Any]]]:
        """(key, value) of every record of one typed kind."""
        listing = self.memory.list(user_id, kind)[kind]
        key_field = "entity" if kind == "interests" else "id"
        return [(str(v[key_field]), v) for v in listing]

    @staticmethod
    def _item(namespace: tuple[str, ...], key: str, value: dict[str, Any], score: float | None = None) -> SearchItem:
        created = _dt(value.get("created_at") or value.get("updated_at"))
        updated = _dt(value.get("updated_at") or value.get("created_at"))
        return SearchItem(namespace, key, value, created, updated, score)

    @staticmethod
    def _split(namespace: tuple[str, ...]) -> tuple[str, str | None, str]:
        """(user id or "" for app-wide, typed kind or None, kv namespace string)."""
        if len(namespace) >= 2 and namespace[0] == "users":
            user = user_of(namespace[1])
            rest = namespace[2:]
            if len(rest) == 1 and rest[0] in TYPED_KINDS:
                return user, rest[0], ""
            return user, None, ".".join(rest)
        return "", None, ".".join(namespace)

    def _get(self, namespace: tuple[str, ...], key: str) -> Item | None:
        user, kind, ns = self._split(namespace)
        if kind is not None:
            for k, v in self._typed(user, kind):
                if k == key:
                    return self._item(namespace, key, v)
            return None
        row = self.memory.store.kv_get(user, ns, key)
        if row is None:
            return None
        value, created, updated = row
        return Item(value=value, key=key, namespace=namespace, created_at=_dt(created), updated_at=_dt(updated))

    def _put(self, namespace: tuple[str, ...], key: str, value: dict[str, Any] | None) -> None:
        user, kind, ns = self._split(namespace)
        m = self.memory
        if kind is None:
            m.store.kv_put(user, ns, key, None if value is None else dict(value))
            return
        if value is None:
            m.delete(user, kind, key)
            return
        if kind == "instructions":
            m.put_instruction(user, key, text=value.get("text"), atoms=value.get("atoms"), scope=value.get("scope"))
        elif kind == "preferences":
            pref = InferredPreference.model_validate({"key": "user:" + key, **dict(value), "id": key})
            m.put_preference(user, pref)
        elif kind == "interests":
            m.store.put_interest(user, key, str(value.get("relation", "entity")), float(value["weight"]))
        else:
            fields = {k: value[k] for k in ("kind", "item_id", "context", "text", "original") if k in value}
            m.record_feedback(user, turn=key, **fields)

    def _records(self, prefix: tuple[str, ...]) -> list[tuple[tuple[str, ...], str, dict[str, Any]]]:
        """Every (namespace, key, value) under a namespace prefix."""
        out: list[tuple[tuple[str, ...], str, dict[str, Any]]] = []
        if not prefix or prefix[0] == "users":
            users = [user_of(prefix[1])] if len(prefix) >= 2 else self.memory.store.users()
            for user in users:
                label = label_for(user)
                for kind in TYPED_KINDS:
                    ns = ("users", label, kind)
                    if ns[: len(prefix)] == prefix or prefix[: len(ns)] == ns:
                        out += [(ns, k, v) for k, v in self._typed(user, kind)]
                for _, kv_ns, k, v, c, t in self.memory.store.kv_list(user, ""):
                    ns = ("users", label, *kv_ns.split(".")) if kv_ns else ("users", label)
                    if ns[: len(prefix)] == prefix:
                        out.append((ns, k, {**v, "__created_at": c, "__updated_at": t}))
        if not prefix or prefix[0] != "users":
            for _, kv_ns, k, v, c, t in self.memory.store.kv_list("", ""):
                ns = tuple(kv_ns.split("."))
                if ns[: len(prefix)] == prefix:
                    out.append((ns, k, {**v, "__created_at": c, "__updated_at": t}))
        return out

    def _search(self, op: SearchOp) -> list[SearchItem]:
        records = self._records(op.namespace_prefix)
        items: list[SearchItem] = []
        scores: dict[int, float] = {}
        if op.query:
            qv = self.memory._encode([op.query])[0]
            sims: dict[tuple[str, str], float] = {}
            for user in {user_of(ns[1]) for ns, _, _ in records if len(ns) >= 2 and ns[0] == "users"}:
                for kind, vkind in (("instructions", "instruction"), ("preferences", "preference")):
                    for ref, s in self.memory.vectors.get(user, vkind).similarity(qv).items():
                        sims[(label_for(user) + "/" + kind, ref)] = s
            for i, (ns, key, _) in enumerate(records):
                if len(ns) == 3 and ns[0] == "users":
                    scores[i] = sims.get((ns[1] + "/" + ns[2], key), -1.0)
        for i, (ns, key, value) in enumerate(records):
            created, updated = value.pop("__created_at", None), value.pop("__updated_at", None)
            if not _matches(value, op.filter):
                continue
            item = self._item(ns, key, value, scores.get(i) if op.query else None)
            if created:
                item.created_at, item.updated_at = _dt(created), _dt(updated)
            items.append(item)
        if op.query:
            items.sort(key=lambda it: -(it.score if it.score is not None else -2.0))
        return items[op.offset : op.offset + op.limit]

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        namespaces = {ns for ns, _, _ in self._records(())}
        for cond in op.match_conditions or ():
            path = tuple(cond.path)

            def ok(ns: tuple[str, ...], path: tuple[str, ...] = path, kind: str = cond.match_type) -> bool:
                if len(ns) < len(path):
                    return False
                part = ns[: len(path)] if kind == "prefix" else ns[len(ns) - len(path) :]
                return all(p == "*" or p == n for p, n in zip(path, part))

            namespaces = {ns for ns in namespaces if ok(ns)}
        if op.max_depth is not None:
            namespaces = {ns[: op.max_depth] for ns in namespaces}
        return sorted(namespaces)[op.offset : op.offset + op.limit]
