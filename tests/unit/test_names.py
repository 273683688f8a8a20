"""Generated run names look like `gregarious-owl`."""

from __future__ import annotations

import random
import re

from inloop.names import ADJECTIVES, ANIMALS, generate_run_name

NAME = re.compile(r"^[a-z]+-[a-z]+$")


def test_shape() -> None:
    for _ in range(500):
        assert NAME.fullmatch(generate_run_name())


def test_word_lists_are_clean() -> None:
    for words in (ADJECTIVES, ANIMALS):
        assert len(words) == len(set(words)) >= 50
        assert all(re.fullmatch(r"[a-z]+", w) for w in words)


def test_seeded_rng_is_reproducible() -> None:
    first = [generate_run_name(random.Random(7)) for _ in range(3)]
    again = [generate_run_name(random.Random(7)) for _ in range(3)]
    assert first == again


def test_names_vary() -> None:
    assert len({generate_run_name() for _ in range(200)}) > 150
