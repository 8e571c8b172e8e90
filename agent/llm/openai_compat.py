"""A backend for any OpenAI-compatible chat server (vLLM, llama.cpp server, Ollama, OpenAI...)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence

from agent.llm.base import ChatBackend, ChatMessage, GenerationConfig


class BackendError(RuntimeError):
    """The server could not be reached or answered with an error."""


class OpenAICompatibleBackend(ChatBackend):
    """Talks to ``{base_url}/chat/completions`` with streaming server-sent events.

    Args:
        base_url: Server root, e.g. ``http://localhost:8000/v1``.
        model: Model name as the server knows it.
        api_key_env: Environment variable holding the API key (optional for local servers).
        timeout: Seconds to wait for the server.
        capable: Whether the model may be trusted with understanding and extraction.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        capable: bool = True,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.capable = capable
        self.name = f"openai:{model}"

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def generate_json(
        self, messages: Sequence[ChatMessage], schema: dict, name: str, config: GenerationConfig | None = None
    ) -> str:
        """One completion constrained to a JSON schema (``response_format`` of type ``json_schema``)."""
        import httpx

        config = config or GenerationConfig()
        body = {
            "model": self.model,
            "messages": [m.model_dump() for m in messages],
            "max_tokens": config.max_new_tokens,
            "temperature": config.temperature,
            "seed": config.seed,
            "response_format": {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}},
        }
        url = f"{self.base_url}/chat/completions"
        try:
            resp = httpx.post(url, json=body, headers=self._headers(), timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise BackendError(f"cannot reach {url}: {exc}") from exc
        if resp.status_code >= 400:
            raise BackendError(f"{url} answered {resp.status_code}: {resp.text[:300]}")
        try:
            return str(resp.json()["choices"][0]["message"]["content"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise BackendError(f"{url} sent an unreadable completion: {resp.text[:200]}") from exc

    def stream(self, messages: Sequence[ChatMessage], config: GenerationConfig | None = None) -> Iterator[str]:
        """Stream the completion's text deltas."""
        import httpx

        config = config or GenerationConfig()
        body = {
            "model": self.model,
            "messages": [m.model_dump() for m in messages],
            "max_tokens": config.max_new_tokens,
            "temperature": config.temperature,
            "seed": config.seed,
            "stream": True,
        }
        url = f"{self.base_url}/chat/completions"
        try:
            with httpx.stream("POST", url, json=body, headers=self._headers(), timeout=self.timeout) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise BackendError(f"{url} answered {resp.status_code}: {resp.text[:300]}")
                for line in resp.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        choice = json.loads(data)["choices"][0]
                    except (ValueError, KeyError, IndexError) as exc:
                        raise BackendError(f"{url} sent an unreadable event: {data[:200]}") from exc
                    delta = (choice.get("delta") or {}).get("content") or (choice.get("message") or {}).get("content")
                    if delta:
                        yield delta
        except httpx.HTTPError as exc:
            raise BackendError(f"cannot reach {url}: {exc}") from exc
