"""Learned understanding of user messages: data, model, linker, readers (see agent/understanding/reader.py)."""
