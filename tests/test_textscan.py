"""The one-pass word and pattern search gives what plain substring tests and ``re``
give, with RE2 and without it."""

from __future__ import annotations

import re

import pytest

from stackaudit.extractors import python as python_extractor
from stackaudit.extractors import textscan
from stackaudit.extractors.python_secrets import _CANDIDATE

from .support import FIXTURES

TEXTS = [
    path.read_text("utf-8", errors="replace")
    for path in sorted(FIXTURES.rglob("*.py"))
    if path.stat().st_size < 200_000
] + ["", "é" * 10 + "uvicorn", "no trigger at all", "Flask\napp.run(debug=True)"]


def test_the_library_is_used_when_installed() -> None:
    assert textscan.have_re2(), "google-re2 is a dependency: the pre-scan is slow without it"


@pytest.mark.parametrize("use_re2", [True, False])
def test_words_present_match_substring_tests(use_re2: bool) -> None:
    words = python_extractor._WORDS.words
    scanner = textscan.Words(words, use_re2=use_re2)
    for text in TEXTS:
        assert scanner.present(text) == {word for word in words if word in text}


def test_the_secret_candidate_pattern_finds_what_re_finds() -> None:
    pattern = re.compile(getattr(_CANDIDATE, "pattern", ""), re.IGNORECASE)
    for text in [*TEXTS, 'PASSWORD = "x"\nurl = "https://u:p@h/"\napiKey = f"{v}"']:
        expected = [(m.start(), m.end(1)) for m in pattern.finditer(text)]
        assert [(m.start(), m.end(1)) for m in _CANDIDATE.finditer(text)] == expected
