"""The LLM reader through a real OpenAI-compatible HTTP exchange (a loopback server with recorded replies)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.llm.openai_compat import OpenAICompatibleBackend
from agent.understanding.llm_reader import LLMUnderstander
from memory.instructions import PatternExtractor
from memory.resolve import Resolver

READING = {
    "intent": "preference",
    "lasting": "rule",
    "situation": "kids",
    "genres_wanted": [],
    "genres_unwanted": ["Horror"],
    "era": "none",
    "films": [{"surface": "Toy Story", "title": "Toy Story", "year": None, "opinion": "liked"}],
    "people": [],
    "pointed_opinion": "neutral",
}


class _Server(BaseHTTPRequestHandler):
    """Answers chat completions with a recorded JSON reading, or with junk when asked to."""

    requests: list[dict] = []
    reply: str = json.dumps(READING)

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"choices": [{"message": {"content": type(self).reply}}]}).encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def _reader(url: str, catalog, encoder) -> LLMUnderstander:
    resolver = Resolver(catalog)
    return LLMUnderstander(OpenAICompatibleBackend(url, "tiny"), catalog, resolver, PatternExtractor(resolver), encoder)


def test_the_llm_fills_the_turn_through_a_json_schema(server: str, catalog, encoder) -> None:
    _Server.reply = json.dumps(READING)
    reader = _reader(server, catalog, encoder)
    turn = reader.read("When my kids watch, no horror ever. They loved Toy Story.")
    sent = _Server.requests[-1]
    assert sent["response_format"]["type"] == "json_schema"
    schema = sent["response_format"]["json_schema"]["schema"]
    assert (
        schema["additionalProperties"] is False and "Horror" in schema["properties"]["genres_unwanted"]["items"]["enum"]
    )
    assert turn.intent == "preference" and reader.fallbacks == 0
    assert turn.remember and turn.remember[0].kind == "rule" and turn.remember[0].scope.key == "kids"
    assert ("exclude", "genre", "Horror") in {a.key for a in turn.remember[0].atoms}
    assert [(catalog.titles[f.item_id], f.opinion) for f in turn.films] == [("Toy Story", "liked")]


@pytest.mark.parametrize(
    "junk", ["not json", json.dumps({**READING, "intent": "dance"}), json.dumps({**READING, "genres_wanted": ["Jazz"]})]
)
def test_any_llm_failure_falls_back_to_the_learned_model(server: str, catalog, encoder, junk: str) -> None:
    _Server.reply = junk
    reader = _reader(server, catalog, encoder)
    turn = reader.read("never recommend horror")
    assert reader.fallbacks == 1 and turn.intent == "instruction"


def test_an_unreachable_server_falls_back_too(catalog, encoder) -> None:
    resolver = Resolver(catalog)
    backend = OpenAICompatibleBackend("http://127.0.0.1:9/v1", "x", timeout=2)
    reader = LLMUnderstander(backend, catalog, resolver, PatternExtractor(resolver), encoder)
    assert reader.read("any good comedies?").intent == "request" and reader.fallbacks == 1


def test_a_film_the_llm_finds_outside_the_catalog_is_said_to_be_missing(server: str, catalog, encoder) -> None:
    films = [
        {"surface": "Inception", "title": "Inception", "year": 2010, "opinion": "liked"},
        {"surface": "Alien", "title": "Alien", "year": None, "opinion": "liked"},
    ]
    _Server.reply = json.dumps({**READING, "intent": "request", "lasting": "none", "films": films})
    turn = _reader(server, catalog, encoder).read("I loved Inception and Alien, anything like those?")
    assert turn.unknown_titles == ["Inception"]
    assert [catalog.titles[f.item_id] for f in turn.films] == ["Alien"]
