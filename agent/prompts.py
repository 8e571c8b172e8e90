"""Prompt text. Constants only.

Small models follow a concrete writing task far better than a role description, so each
plan kind becomes one short task ("write one friendly sentence ..."); the facts, the list
and the options are added by the agent itself, never left to the model.
"""

TASKS = {
    "recommend": "Write one friendly sentence telling a friend that you found {n} films for them{because}.",
    "ask": "Write one friendly sentence asking a friend {question}",
    "confirm": "Write one friendly sentence telling a friend: {facts}",
    "chitchat": "Write one friendly sentence greeting a friend and offering to recommend a film.",
    "explain": "Write one friendly sentence telling a friend why you picked a film: {facts}",
    "error": "Write one polite sentence telling a friend: {facts}",
}

# CIPHER: the user's inferred style preferences, before the task (a system message).
STYLE_NOTE = "This user {preferences}. Write the way they prefer."
