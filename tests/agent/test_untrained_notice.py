"""The notice that item-kNN ranks until a SASRec is trained: said once, with the README's command."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent import api
from recsys.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_untrained_sasrec_notice_is_said_once_and_names_the_readme_command(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "_noted", set())
    settings = Settings(cache_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="agent.api"):
        assert api.note_untrained_sasrec(settings, "ml-100k")
        assert not api.note_untrained_sasrec(settings, "ml-100k")
        monkeypatch.setattr(api, "_noted", set())  # a new process: the marker in the cache keeps it quiet
        assert not api.note_untrained_sasrec(settings, "ml-100k")
        assert api.note_untrained_sasrec(settings, "shop")  # another catalog has its own notice
    first, second = (r.getMessage() for r in caplog.records)
    command = api.SASREC_COMMAND.format(dataset="ml-100k")
    assert command in first and "shop" in second
    assert command in README.read_text()
