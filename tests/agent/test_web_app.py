"""The README's web-app example works as written (template backend and a private data folder via env)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient


def test_web_app_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASTEBUD_BACKEND", "template")
    monkeypatch.setenv("TASTEBUD_RECOMMENDER", "itemknn")
    monkeypatch.setenv("TASTEBUD_DATA", str(tmp_path))
    sys.modules.pop("examples.web_app", None)
    web_app = importlib.import_module("examples.web_app")
    try:
        client = TestClient(web_app.app)
        reply = client.post("/chat", json={"message": "never recommend horror"}, headers={"X-User": "zoe"}).json()
        assert reply["user_id"] == "zoe" and reply["memory_changes"]
        body = {"message": "a comedy please", "thread_id": "t"}
        reply = client.post("/chat", json=body, headers={"X-User": "zoe"}).json()
        assert reply["action"] in ("ask", "recommend")
        assert client.post("/chat", json={"message": "hi"}).status_code == 422  # no user, no chat
        assert (tmp_path / "memory.sqlite").is_file()
    finally:
        web_app.agent.close()
