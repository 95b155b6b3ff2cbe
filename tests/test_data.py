"""minialign.data.draw_examples: the shared sampler of single-turn training examples."""

from __future__ import annotations

import pytest

from minialign.data import draw_examples
from minialign.tokenizer import train as train_tokenizer


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(["What is 3 plus 4?", "3 plus 4 is 7.", "a b c d e f g h"], vocab_size=120)


def test_draw_examples_skips_none_and_examples_longer_than_the_block(tok):
    def draw(rng):
        u = rng.random()
        if u < 0.3:
            return None
        return ("What is 3 plus 4?", "3 plus 4 is 7." if u < 0.7 else "a b c d e f g h " * 20)

    examples = draw_examples(draw, tok, 20, 0, 64)
    assert len(examples) == 20
    assert all(len(ids) <= 64 for ids, _ in examples)  # the long response (341 tokens) never fits
    assert all(ids[:plen] == tok.chat_prompt("What is 3 plus 4?") for ids, plen in examples)
    assert examples == draw_examples(draw, tok, 20, 0, 64)  # seeded


def test_draw_examples_that_can_never_fit_raise_instead_of_hanging(tok):
    with pytest.raises(ValueError, match="could not draw 3 sums that fit block_size=4"):
        draw_examples(lambda rng: ("What is 3 plus 4?", "3 plus 4 is 7."), tok, 3, 0, 4, "sums")
