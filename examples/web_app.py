"""Tastebud inside a web app: a chat endpoint in about 20 lines (run: uvicorn examples.web_app:app)."""

from fastapi import Depends, FastAPI, Header
from pydantic import BaseModel

from agent.api import Agent, AgentConfig
from agent.reply import Reply

agent = Agent.from_config(AgentConfig.from_env())  # embedded catalog, local LLM, SQLite memory in the user cache
app = FastAPI(title="Tastebud")


class ChatRequest(BaseModel):
    message: str
    thread_id: str | None = None


def current_user(x_user: str = Header()) -> str:
    return x_user  # stand-in for your authentication: the user id never comes from the message


@app.post("/chat", response_model=Reply)
async def chat(body: ChatRequest, user_id: str = Depends(current_user)) -> Reply:
    return await agent.achat(user_id, body.message, body.thread_id)
