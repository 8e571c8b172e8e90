"""Per-user preference memory: standing instructions, inferred preferences, knowledge-graph interests."""
