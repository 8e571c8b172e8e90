"""The Tastebud conversational agent: LLM backends, CLI, and (later) the LangGraph graph."""
