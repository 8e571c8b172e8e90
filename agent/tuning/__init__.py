"""Preference optimization (issue 17): feedback and simulated edits -> preference data -> a tuned model.

``reply``: which part of a reply the language model wrote. ``styles``: latent style preferences
and the deterministic edits simulated users make (their word edit distance is the PRELUDE cost).
``simulate``: persona and MCR users with styles, run through ``Agent.chat`` and ``Agent.feedback``.
``data``: datasets in TRL's conversational formats from the feedback log. ``reward``: the scored
checks that rank on-policy samples. ``cli``: ``tastebud tune ...``.
"""
