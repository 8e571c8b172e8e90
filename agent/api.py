"""The embeddable API: ``Agent.from_config(...)`` and ``agent.chat(user_id, message, thread_id)``."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.messages import HumanMessage

from agent.context import Context, Services
from agent.conversations import ConversationStore, TurnLocks, open_conversations
from agent.limits import DEFAULT_THREAD, InputError, check_message, conversation_key
from agent.llm import BackendConfig, load_backend
from agent.llm.base import ChatBackend, GenerationConfig
from agent.policy import POLICIES, Policy
from agent.reply import Reply
from agent.tools import RankingConfig, Toolbox
from agent.turn import Understander
from memory.backends import is_database_url
from memory.health import FILES, ensure_usable
from memory.store import check_user_id
from recsys.settings import Settings

if TYPE_CHECKING:
    from agent.feedback import FeedbackResult

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class AgentConfig:
    """Everything that shapes an agent. Defaults: embedded ML-100K, the local SmolLM2, max-entropy policy.

    Attributes:
        dataset: Catalog to recommend from (see ``recsys.datasets.load_catalog``).
        backend: LLM backend for prose.
        recommender: Recommender kind ("sasrec-ce", "itemknn", ...) or "auto": a trained
            SASRec from the cache when there is one, else item-kNN (fitted in seconds).
        recommender_path: A saved recommender folder (overrides ``recommender``).
        aligned_recommender: Use the model ``tastebud tune recommender`` aligned with users' list
            preferences (``Settings.aligned_model_dir``) instead of the trained one when it exists; False: the trained one.
        data_dir: Folder of the memory and conversation databases (default: the cache's data folder).
        database_url: A ``postgresql://`` URL: memory and conversations live in that database instead
            of SQLite files in ``data_dir``, so several worker processes and hosts can share them
            (default: ``TASTEBUD_DATABASE_URL`` through ``Settings``; unset, SQLite).
        policy: "auto" (default): the learned policy when ``tastebud train policy`` saved one for this
            catalog (``learned_policy_dir``), else max-entropy; or "maxent", "random", "always-recommend".
        k: Items per recommendation list.
        retrieval: Match free text against item texts (loads the sentence encoder's index).
        max_new_tokens: Token budget of the LLM's prose per turn.
        ask_relations: KG relations the agent may ask about besides genre and era. None by default:
            entities named through their films ("the studio behind Contact and Babe") make poor questions.
        understanding: How messages are read: "auto" (default: the LLM through structured output when the
            backend is capable, falling back to the learned model; else the learned model), "learned",
            "llm", or "patterns" (the old cue patterns, kept as a baseline).
        understanding_path: A trained understanding model folder (default: the one shipped with Tastebud).
        domain: What the catalog holds, in words, for replies to off-topic messages.
        ranking: Weights of soft evidence in ranking (text match, era lean, popularity prior).
        style_prompt: Tell the language model the user's inferred style preferences ("prefers short,
            concise answers"), CIPHER-style; False leaves the prompt as for every user.
    """

    dataset: str = "ml-100k"
    backend: BackendConfig = field(default_factory=BackendConfig)
    recommender: str = "auto"
    recommender_path: Path | None = None
    aligned_recommender: bool = True
    data_dir: Path | None = None
    database_url: str | None = None
    policy: str = "auto"
    k: int = 5
    retrieval: bool = True
    max_new_tokens: int = 32
    ask_relations: tuple[str, ...] = ()
    understanding: str = "auto"
    understanding_path: Path | None = None
    domain: str = "films"
    ranking: RankingConfig = field(default_factory=RankingConfig)
    style_prompt: bool = True

    @classmethod
    def from_env(cls, **overrides: Any) -> AgentConfig:
        """Defaults plus ``TASTEBUD_DATASET``, ``TASTEBUD_RECOMMENDER`` and the backend variables."""
        import os

        values: dict[str, Any] = {"backend": BackendConfig.from_env()}
        if os.environ.get("TASTEBUD_DATASET"):
            values["dataset"] = os.environ["TASTEBUD_DATASET"]
        if os.environ.get("TASTEBUD_RECOMMENDER"):
            values["recommender"] = os.environ["TASTEBUD_RECOMMENDER"]
        return cls(**{**values, **overrides})

    def __post_init__(self) -> None:
        if self.policy != "auto" and self.policy not in POLICIES:
            raise ValueError(f"unknown policy {self.policy!r}; choose from {['auto', *sorted(POLICIES)]}")
        if self.understanding not in UNDERSTANDINGS:
            raise ValueError(f"unknown understanding {self.understanding!r}; choose from {list(UNDERSTANDINGS)}")
        if not 1 <= self.k <= 50:
            raise ValueError("k must be between 1 and 50")
        if self.database_url is not None and not is_database_url(self.database_url):
            raise ValueError("database_url must be a postgresql:// URL")


UNDERSTANDINGS = ("auto", "learned", "llm", "patterns")


def build_understander(config: AgentConfig, catalog: Any, encoder: Any, backend: ChatBackend) -> Understander:
    """The message reader a config asks for (see ``AgentConfig.understanding``)."""
    from agent.understand import PatternUnderstander
    from agent.understanding.config import WEIGHTS_DIR, ReaderConfig
    from agent.understanding.reader import LearnedUnderstander
    from memory.instructions import PatternExtractor
    from memory.resolve import Resolver

    resolver = Resolver(catalog)
    extractor = PatternExtractor(resolver)
    if config.understanding == "patterns":
        return PatternUnderstander(resolver, extractor, encoder, complete=backend.complete if backend.capable else None)
    reader = ReaderConfig(weights=config.understanding_path or WEIGHTS_DIR)
    if config.understanding == "llm" or (config.understanding == "auto" and backend.capable):
        from agent.understanding.llm_reader import LLMUnderstander

        log.info("understanding: %s through structured output, the learned model as fallback", backend.name)
        return LLMUnderstander(backend, catalog, resolver, extractor, encoder, reader)
    return LearnedUnderstander(catalog, resolver, extractor, encoder, reader)


def model_dir(settings: Settings, dataset: str, kind: str) -> Path:
    """Where a trained recommender for a dataset is cached (``tastebud train seqrec --save`` target)."""
    return settings.model_dir(dataset, kind)


def _saved(config: AgentConfig, settings: Settings, kind: str) -> Path | None:
    """The saved model of ``kind`` the agent should load: the aligned one first (unless turned off), else the trained one."""
    if config.aligned_recommender:
        aligned = settings.aligned_model_dir(config.dataset, kind)
        if (aligned / "config.json").is_file():
            log.warning("using the aligned recommender %s (turn it off with --no-aligned)", aligned)
            return aligned
    trained = model_dir(settings, config.dataset, kind)
    return trained if (trained / "config.json").is_file() else None


def learned_policy_dir(settings: Settings, dataset: str) -> Path:
    """Where the agent looks for a learned policy of a catalog (``tastebud train policy`` saves there)."""
    return settings.cache_dir / "models" / f"{Path(dataset).name}-policy"


def _policy(config: AgentConfig, settings: Settings) -> Policy:
    """The configured policy; "auto" = the learned one when its checkpoint exists, else max-entropy."""
    if config.policy != "auto":
        return POLICIES[config.policy]()
    folder = learned_policy_dir(settings, config.dataset)
    if (folder / "config.json").is_file() and (folder / "model.safetensors").is_file():
        from agent.learning.checkpoint import load

        log.info("using the learned policy from %s", folder)
        return load(folder)[0]
    return POLICIES["maxent"]()


# The README's command (Quick start), so the notice and the documentation give the same advice.
SASREC_COMMAND = "tastebud train seqrec --dataset {dataset} --model sasrec-ce --window-stride 16 --exclude-seen"
_noted: set[Path] = set()


def note_untrained_sasrec(settings: Settings, dataset: str) -> bool:
    """Say once per cache and catalog that item-kNN ranks until a SASRec is trained; True when it was said.

    A marker file in the cache keeps every later chat quiet (each ``tastebud chat --message`` is a
    new process); where the cache is read-only the notice is still said only once per process.
    """
    marker = settings.cache_dir / "notices" / f"untrained-sasrec-{Path(dataset).name}"
    if marker in _noted or marker.exists():
        return False
    _noted.add(marker)
    log.warning(
        "no trained SASRec for %s yet, so item-kNN ranks (said once). Train one (5-15 min) with: %s",
        dataset,
        SASREC_COMMAND.format(dataset=dataset),
    )
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass
    return True


def _recommender(config: AgentConfig, settings: Settings, catalog: Any) -> Any:
    from recsys.seqrec.data import from_catalog, leave_one_out
    from recsys.seqrec.recommender import create, load

    if config.recommender_path is not None:
        return load(config.recommender_path)
    if config.recommender == "auto":
        saved = _saved(config, settings, "sasrec-ce")
        if saved is not None:
            return load(saved)
        note_untrained_sasrec(settings, config.dataset)
        kind = "itemknn"
    else:
        kind = config.recommender
        saved = _saved(config, settings, kind)
        if saved is not None:
            return load(saved)
    data = from_catalog(catalog)
    rec = create(kind, data.item_ids)
    rec.fit(leave_one_out(data))
    return rec


def _error(text: str, thread_id: object) -> Reply:
    """An error reply; ids in it are escaped, since a lone surrogate cannot go out as JSON."""
    thread = thread_id if isinstance(thread_id, str) else ""
    return Reply(
        text=text.encode("utf-8", "backslashreplace").decode("utf-8"),
        action="error",
        intent="invalid",
        thread_id=thread.encode("utf-8", "backslashreplace").decode("utf-8"),
    )


class Agent:
    """A conversational recommender with per-user memory.

    Build it with ``Agent.from_config``; call ``chat`` (or ``stream`` / ``achat``).
    Conversations are checkpointed per (user, thread) in SQLite or PostgreSQL; long-term memory is
    per user. The user id comes from the caller, never from message text.
    """

    def __init__(
        self, services: Services, checkpointer: Any, memory: Any, conversations: ConversationStore | None = None
    ) -> None:
        """Wire the graph; ``from_config`` is the usual way in.

        Args:
            services: What the graph's nodes use.
            checkpointer: Where conversations are checkpointed (``conversations.saver`` when given).
            memory: The long-term memory.
            conversations: Where conversations live and their cross-process turn locks; without
                it turns are serialised per conversation within this process only.
        """
        from agent.graph import builder

        self.services = services
        self.memory = memory
        self.conversations = conversations
        self.checkpointer = checkpointer
        self.graph = builder.compile(checkpointer=checkpointer, name="tastebud")
        self._turns = conversations.locks if conversations is not None else TurnLocks(None)

    @classmethod
    def from_config(
        cls,
        config: AgentConfig | None = None,
        settings: Settings | None = None,
        backend: ChatBackend | None = None,
        policy: Policy | None = None,
        **overrides: Any,
    ) -> Agent:
        """Load the catalog, recommender, memory and backend a config names.

        Args:
            config: The configuration (``AgentConfig()`` by default).
            settings: Cache and data locations.
            backend: A ready backend (overrides ``config.backend``).
            policy: A ready policy (overrides ``config.policy``), e.g. a learned one.
            **overrides: Fields of ``AgentConfig`` to replace.

        Raises:
            memory.health.StoreError: A store file in the data folder is damaged, truncated or
                empty, or the PostgreSQL database cannot be used; the message names it and what to do.
        """
        config = replace(config or AgentConfig(), **overrides)
        settings = settings or Settings.from_env()
        data_dir = Path(config.data_dir or settings.data_dir)
        database_url = config.database_url or settings.database_url
        if database_url is None:
            data_dir.mkdir(parents=True, exist_ok=True)
            # Both files are checked before anything slow loads: a damaged one fails in a moment.
            ensure_usable(data_dir / FILES["memory"], "memory")
        conversations = open_conversations(data_dir, database_url)
        try:
            return cls._build(
                config, settings, database_url or data_dir / FILES["memory"], conversations, backend, policy
            )
        except BaseException:
            conversations.close()
            raise

    @classmethod
    def _build(
        cls,
        config: AgentConfig,
        settings: Settings,
        memory_at: str | Path,
        conversations: ConversationStore,
        backend: ChatBackend | None,
        policy: Policy | None,
    ) -> Agent:
        from memory.service import Memory
        from recsys.attributes import AttributeConfig, AttributeSpace
        from recsys.datasets import load_catalog
        from recsys.encoder import TextEncoder
        from recsys.retrieval import ItemIndex
        from recsys.seqrec.tool import RecommendTool

        catalog = load_catalog(config.dataset, settings)
        encoder = TextEncoder(settings=settings)
        backend = backend or load_backend(config.backend, settings)
        memory = Memory.open(
            memory_at,
            catalog,
            encoder,
            complete=backend.complete if backend.capable else None,
        )
        index = ItemIndex.build_or_load(catalog, encoder, settings) if config.retrieval else None
        recommend_tool = RecommendTool(_recommender(config, settings, catalog), catalog)
        space = AttributeSpace(catalog, AttributeConfig(relations=config.ask_relations))
        tools = Toolbox(catalog, recommend_tool, memory, index, space, config.ranking)
        services = Services(
            tools=tools,
            understander=build_understander(config, catalog, encoder, backend),
            backend=backend,
            policy=policy or _policy(config, settings),
            k=config.k,
            generation=GenerationConfig(max_new_tokens=config.max_new_tokens),
            domain=config.domain,
            style_prompt=config.style_prompt,
        )
        return cls(services, conversations.saver, memory, conversations)

    def warm_up(self) -> Agent:
        """Load what loads lazily (the sentence encoder, the LLM) so the first reply is not the slow one."""
        self.services.understander.read("warm up")
        backend = self.services.backend
        load = getattr(backend, "load", None)
        if callable(load):
            load()
        return self

    # ---- chat ------------------------------------------------------------------------------
    @staticmethod
    def _refusal(user_id: object, message: object, thread_id: object) -> Reply | None:
        """The error reply for input that must not reach the graph (and so the history), or None."""
        try:
            check_user_id(user_id)
        except ValueError as exc:
            return _error(f"Sorry, I can't chat without a valid user: {exc}.", thread_id)
        try:
            conversation_key(user_id, thread_id or None)  # type: ignore[arg-type]
        except ValueError as exc:
            return _error(f"Sorry, I can't find that conversation: {exc}.", thread_id)
        try:
            check_message(message)
        except InputError as exc:
            return _error(f"Sorry, I couldn't use that message: {exc}.", thread_id)
        return None

    def _run(self, user_id: str, message: object, thread_id: str | None, emit: Any = None) -> Reply:
        refused = self._refusal(user_id, message, thread_id)
        if refused is not None:
            return refused
        key = conversation_key(user_id, thread_id or None)
        config = {"configurable": {"thread_id": key}}
        context = Context(user_id=user_id, services=self.services)
        payload = {"messages": [HumanMessage(content=check_message(message))]}
        # Named first: waiting for the turn lock can fail too (a PostgreSQL pool with no free
        # connection, a connection lost while locking), and that must surface as a StoreError.
        with self._damage_named(), self._turns.hold(key):
            if emit is None:
                state = self.graph.invoke(payload, config, context=context)
            else:
                state = None
                for mode, chunk in self.graph.stream(
                    payload, config, context=context, stream_mode=["custom", "values"]
                ):
                    if mode == "custom":
                        emit(chunk)
                    else:
                        state = chunk
                assert state is not None
        reply = Reply.model_validate(state["reply"])
        return reply.model_copy(update={"thread_id": thread_id or DEFAULT_THREAD})

    def chat(self, user_id: str, message: str, thread_id: str | None = None) -> Reply:
        """One turn of a conversation.

        Args:
            user_id: The user (from your authentication); their memory is theirs alone.
            message: What the user said.
            thread_id: The conversation; None continues the user's default conversation.

        Returns:
            The reply. Input refused before anything is stored (an invalid user or thread id, a
            message over ``MAX_MESSAGE_CHARS``, invalid UTF-8 or Unicode) gets an ``action="error"``
            reply saying why, and leaves the conversation as it was.

        Raises:
            memory.health.StoreError: A store file turned out damaged (the message names it).
        """
        return self._run(user_id, message, thread_id)

    def stream(self, user_id: str, message: str, thread_id: str | None = None) -> Iterator[str | Reply]:
        """Like ``chat``, yielding text chunks as they are written, then the ``Reply``."""
        import queue

        chunks: queue.Queue[object] = queue.Queue()
        done = object()
        result: dict[str, Any] = {}

        def work() -> None:
            try:
                result["reply"] = self._run(user_id, message, thread_id, emit=chunks.put)
            except BaseException as exc:  # surfaced in the caller's thread
                result["error"] = exc
            finally:
                chunks.put(done)

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        while (chunk := chunks.get()) is not done:
            yield str(chunk)
        worker.join()
        if "error" in result:
            raise result["error"]
        yield result["reply"]

    async def achat(self, user_id: str, message: str, thread_id: str | None = None) -> Reply:
        """``chat`` for asyncio apps (the work runs in a worker thread)."""
        return await asyncio.to_thread(self.chat, user_id, message, thread_id)

    def feedback(
        self,
        user_id: str,
        thread_id: str | None,
        kind: str,
        *,
        turn: int | None = None,
        item_id: str | None = None,
        text: str | None = None,
    ) -> FeedbackResult:
        """A user's reaction to a reply: logged with the turn's context, and learned from.

        Args:
            user_id: The user (from your authentication).
            thread_id: The conversation; None is the user's default conversation.
            kind: "accept", "reject", "like", "not_for_me", "critique" or "edit".
            turn: The turn reacted to (1-based); None means the latest reply.
            item_id: The item of that reply's list (needed by accept, like and not_for_me; a
                reject without one rejects the whole list).
            text: The critique, or for "edit" the user's rewrite of the reply.

        Returns:
            The logged entry (plan, reply, list shown and memory snapshot of that moment) and what
            memory learned from it.

        Raises:
            ValueError: An invalid request (a ``pydantic.ValidationError`` naming the field), or
                ``agent.feedback.FeedbackError`` for an unknown conversation, turn or item.
        """
        from agent.feedback import FeedbackRequest, record

        request = FeedbackRequest(
            user_id=user_id,
            thread_id=DEFAULT_THREAD if thread_id is None else thread_id,
            kind=kind,  # type: ignore[arg-type]
            turn=turn,
            item_id=item_id,
            text=text,
        )
        return record(self, request)

    def history(self, user_id: str, thread_id: str | None = None) -> list[tuple[str, str]]:
        """(role, text) pairs of a conversation, oldest first.

        Raises:
            ValueError: An invalid user or thread id.
        """
        key = conversation_key(user_id, thread_id or None)
        with self._damage_named():
            state = self.graph.get_state({"configurable": {"thread_id": key}})
        messages = state.values.get("messages", []) if state and state.values else []
        return [("user" if isinstance(m, HumanMessage) else "assistant", str(m.content)) for m in messages]

    def _damage_named(self) -> AbstractContextManager[None]:
        return self.conversations.damage_named() if self.conversations is not None else nullcontext()

    def close(self) -> None:
        """Close the databases."""
        self.memory.close()
        if self.conversations is not None:
            self.conversations.close()
        else:
            self.checkpointer.conn.close()
