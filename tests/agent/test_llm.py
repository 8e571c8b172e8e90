"""LLM backends: the embedded local model offline, an OpenAI-compatible server over real HTTP, templates."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.llm import BackendConfig, ChatMessage, GenerationConfig, PlannedItem, ReplyPlan, load_backend
from agent.llm.base import plan_messages
from agent.llm.local import TransformersBackend
from agent.llm.openai_compat import BackendError, OpenAICompatibleBackend
from agent.llm.template import FALLBACK, TemplateBackend, render_plan
from recsys.settings import Settings

PLAN = ReplyPlan(
    kind="recommend",
    facts=("I will not suggest horror films.",),
    items=(
        PlannedItem(item_id="50", title="Star Wars", year=1977, reason="you liked The Empire Strikes Back"),
        PlannedItem(item_id="1", title="Toy Story", year=1995, reason="a comedy, as you asked"),
    ),
)


def test_template_backend_is_deterministic() -> None:
    backend = load_backend(BackendConfig(kind="template"))
    assert isinstance(backend, TemplateBackend)
    text = backend.write(PLAN)
    assert text == backend.write(PLAN) == TemplateBackend().write(PLAN) == render_plan(PLAN)
    assert text.splitlines() == [
        "I will not suggest horror films.",
        "Here is what I found for you:",
        "1. Star Wars (1977) - you liked The Empire Strikes Back",
        "2. Toy Story (1995) - a comedy, as you asked",
    ]
    assert "".join(backend.stream_plan(PLAN)) == text
    ask = ReplyPlan(kind="ask", question="Which genre do you feel like?", options=("Comedy", "Drama"))
    assert backend.write(ask) == "Which genre do you feel like?\nOptions: Comedy, Drama"
    assert backend.generate([ChatMessage(role="user", content="hi")]) == FALLBACK


def test_plan_messages_are_one_short_writing_task() -> None:
    (message,) = plan_messages(PLAN)
    assert message.role == "user" and "2 films" in message.content
    assert "Star Wars" not in message.content  # the list is rendered by the agent, never by the model
    (confirm,) = plan_messages(ReplyPlan(kind="confirm", facts=("I saved your rule: never Horror.",)))
    assert "never Horror" in confirm.content


@pytest.fixture(scope="module")
def local(settings: Settings) -> TransformersBackend:
    backend = load_backend(BackendConfig(kind="local"), settings)
    assert isinstance(backend, TransformersBackend) and not backend.capable
    return backend.load()


def test_local_backend_generates_offline(local: TransformersBackend) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    config = GenerationConfig(max_new_tokens=12)
    text = local.write(PLAN, config)
    assert text and text == local.write(PLAN, config)  # greedy decoding is deterministic
    chunks = list(local.stream([ChatMessage(role="user", content="Say hello.")], config))
    assert "".join(chunks).strip()


def test_local_backend_rejects_a_non_model_folder(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="not a Hugging Face model folder"):
        TransformersBackend(tmp_path).load()


def test_any_hf_folder_plugs_in(local: TransformersBackend) -> None:
    # A user's own model folder goes through the same code path (here: the converted SmolLM2 folder).
    other = load_backend(BackendConfig(kind="local", model_path=local.model_path))
    assert other.capable  # a user-supplied model is trusted unless configured otherwise
    assert other.generate([ChatMessage(role="user", content="Hi")], GenerationConfig(max_new_tokens=4))


class _FakeServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint on loopback, streaming server-sent events."""

    requests: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"body": body, "auth": self.headers.get("Authorization")})
        if body["model"] == "missing":
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b'{"error": "model not found"}')
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in ["Star Wars ", "is a ", "great pick."]:
            event = {"choices": [{"delta": {"content": piece}}]}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _FakeServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_openai_compatible_backend(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_KEY", "sk-test")
    backend = load_backend(BackendConfig(kind="openai", base_url=server, model="tiny", api_key_env="TEST_KEY"))
    assert isinstance(backend, OpenAICompatibleBackend) and backend.capable
    assert list(backend.stream_plan(PLAN)) == ["Star Wars ", "is a ", "great pick."]
    assert backend.write(PLAN) == "Star Wars is a great pick."
    sent = _FakeServer.requests[-1]
    assert sent["auth"] == "Bearer sk-test" and sent["body"]["stream"] is True
    assert sent["body"]["messages"][0]["role"] == "user"
    with pytest.raises(BackendError, match="404"):
        OpenAICompatibleBackend(server, "missing").write(PLAN)


def test_openai_backend_errors() -> None:
    with pytest.raises(BackendError, match="cannot reach"):
        OpenAICompatibleBackend("http://127.0.0.1:9/v1", "x", timeout=2).write(PLAN)
    with pytest.raises(ValueError, match="base_url"):
        OpenAICompatibleBackend("localhost:8000", "x")
    with pytest.raises(ValueError, match="needs base_url and model"):
        BackendConfig(kind="openai")
