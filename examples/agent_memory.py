"""A small chat agent's memory on any radaros URL: sessions, a windowed history, summaries.

    python examples/agent_memory.py                       # SQLite file agent.db here
    python examples/agent_memory.py memory://
    python examples/agent_memory.py postgresql://user@host/db

The "model" echoes (no LLM needed). Each user message goes into the session's history
(the newest 6 are kept for the prompt); when messages fall out of the window, the
summary keeps a count of what was said, so long conversations stay bounded.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timezone

from pydantic import BaseModel

from radaros import ChatHistory, Sessions, Summaries, open_storage

WINDOW = 6


class Turn(BaseModel):
    role: str
    text: str
    at: datetime


def reply(prompt: list[Turn], summary: str | None, text: str) -> str:
    """The stand-in for a model: echo, and say how much context it was given."""
    return f"echo: {text} (context: {len(prompt)} turns, summary: {summary or 'none'})"


async def chat(url: str) -> None:
    async with open_storage(url) as storage:
        sessions = Sessions(storage, ttl=3600)
        summaries = Summaries(storage)
        for user, lines in {
            "ada": ["hello", "what is radaros?", "thanks", "bye"],
            "bob": ["hi there", "remember my name is Bob"],
        }.items():
            session = await sessions.create(user, {"title": lines[0]})
            history = ChatHistory(
                storage, session.id, message_type=Turn, max_messages=WINDOW, ttl=3600
            )
            for text in lines:
                now = datetime.now(timezone.utc)
                total = await history.add(Turn(role="user", text=text, at=now))
                prompt = await history.messages()
                summary = await summaries.get(session.id)
                answer = reply(prompt, summary, text)
                total = await history.add(Turn(role="assistant", text=answer, at=now))
                if total > WINDOW:  # older turns left the window: keep their gist
                    await summaries.set(session.id, f"{total - WINDOW} earlier turns")
                print(f"[{user}] {text} -> {answer}")
            await sessions.touch(session.id)
        for user in ("ada", "bob"):
            for session in await sessions.list(user):
                kept = await ChatHistory(storage, session.id, message_type=Turn).messages()
                print(
                    f"{user}: session {session.metadata['title']!r}, {len(kept)} turns kept, "
                    f"summary: {await summaries.get(session.id)}"
                )


if __name__ == "__main__":
    asyncio.run(chat(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///agent.db"))
