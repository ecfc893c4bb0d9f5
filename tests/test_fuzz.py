"""Property-based tests: random and mutated inputs (seeded from the fixtures and the
real corpus) never make an extractor raise, and every position lies inside the file."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .fuzzing import KIND_NAMES, check_invariants, extract_text, mutate, seeds

SEEDS = seeds()
KINDS = sorted(KIND_NAMES)


@pytest.mark.parametrize("kind", KINDS)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_seeds_never_raise(kind: str, data: st.DataObject, tmp_path: Path) -> None:
    pool = SEEDS.get(kind) or [""]
    seed = data.draw(st.sampled_from(pool))
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    text = mutate(seed, rng)
    check_invariants(extract_text(tmp_path, kind, text), text)


@pytest.mark.parametrize("kind", KINDS)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=300))
def test_random_text_never_raises(kind: str, text: str, tmp_path: Path) -> None:
    check_invariants(extract_text(tmp_path, kind, text), text)
