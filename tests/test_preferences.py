"""Preference pairs: the Bradley-Terry coin, JSONL in and out, and the tensors the losses see."""

import json
import math

import pytest
import torch

from minialign.logprobs import token_logprobs
from minialign.model import GPT, GPTConfig
from minialign.preferences import (
    PreferencePair,
    encode_pairs,
    load_jsonl,
    make_pairs,
    preference_probability,
    response_logps,
    save_jsonl,
)


# --- the Bradley-Terry coin ------------------------------------------------------------------
def test_preference_probability_hand_values():
    # sigmoid(0.5 / 0.25) = 1 / (1 + e^-2) = 0.880797...
    assert preference_probability(1.0, 0.5, 0.25) == pytest.approx(1 / (1 + math.exp(-2)))
    assert preference_probability(0.5, 1.0, 0.25) == pytest.approx(1 / (1 + math.exp(2)))
    assert preference_probability(3.0, 3.0, 0.3) == 0.5


def test_preference_probability_at_zero_temperature_is_a_step():
    assert preference_probability(1.0, 0.9, 0.0) == 1.0
    assert preference_probability(0.9, 1.0, 0.0) == 0.0


def test_preference_probability_no_overflow_for_huge_gaps():
    assert preference_probability(0.0, 1e4, 1e-3) == 0.0
    assert preference_probability(1e4, 0.0, 1e-3) == 1.0


def test_make_pairs_same_seed_gives_same_pairs(world):
    assert make_pairs(world, 50, seed=3) == make_pairs(world, 50, seed=3)
    assert make_pairs(world, 50, seed=3) != make_pairs(world, 50, seed=4)


def test_make_pairs_uses_prompts_of_the_split_only(world):
    eval_texts = {p.text for p in world.prompts("eval")}
    assert all(p.prompt in eval_texts for p in make_pairs(world, 100, seed=0, split="eval"))
    assert not any(p.prompt in eval_texts for p in make_pairs(world, 100, seed=0, split="train"))


def test_make_pairs_skips_exact_ties(world):
    pairs = make_pairs(world, 500, seed=0)
    assert len(pairs) == 500
    assert all(p.chosen_score != p.rejected_score for p in pairs)


def test_make_pairs_noiseless_at_zero_label_temperature(world):
    pairs = make_pairs(world, 500, seed=0, label_temperature=0.0)
    assert all(p.chosen_score > p.rejected_score and not p.flipped for p in pairs)


def test_label_noise_rate_matches_bradley_terry_probability(world):
    # Each pair is flipped with probability 1 - sigmoid(|gap| / T); the count of flips is a sum
    # of independent Bernoullis, so it lies within 4 standard deviations of its mean.
    T = 0.5
    pairs = make_pairs(world, 4000, seed=1, label_temperature=T)
    probs = [1 / (1 + math.exp(abs(p.chosen_score - p.rejected_score) / T)) for p in pairs]
    expected = sum(probs)
    std = math.sqrt(sum(q * (1 - q) for q in probs))
    flips = sum(p.flipped for p in pairs)
    assert abs(flips - expected) < 4 * std + 1
    assert flips > 0  # the coin really is noisy at T > 0


def test_flipped_means_chosen_scores_lower(world):
    for p in make_pairs(world, 1000, seed=2, label_temperature=1.0):
        assert p.flipped == (p.chosen_score < p.rejected_score)


# --- JSONL -------------------------------------------------------------------------------------
def test_jsonl_round_trip_keeps_fields_and_metadata(tmp_path, world):
    pairs = make_pairs(world, 20, seed=0)
    pairs[0].meta["source"] = "hand-written"
    path = tmp_path / "pairs.jsonl"
    save_jsonl(pairs, path)
    assert load_jsonl(path) == pairs
    first = json.loads(path.read_text().splitlines()[0])
    assert {"prompt", "chosen", "rejected", "source"} <= set(first)


def test_load_jsonl_reads_minimal_trl_rows_and_skips_blank_lines(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"prompt": "Hi?", "chosen": "Hello.", "rejected": "Go away.", "id": 7}\n\n')
    [pair] = load_jsonl(path)
    assert (pair.prompt, pair.chosen, pair.rejected, pair.meta) == ("Hi?", "Hello.", "Go away.", {"id": 7})


GOOD = '{"prompt": "Hi?", "chosen": "Hello.", "rejected": "No."}'


@pytest.mark.parametrize(
    "bad_line, problem",
    [
        ('{"prompt": "Hi?", "chosen": "Hello.",', "not valid JSON"),
        ('["Hi?", "Hello.", "No."]', "JSON object"),
        ('{"prompt": "Hi?", "chosen": "Hello."}', "missing field 'rejected'"),
        ('{"prompt": "Hi?", "chosen": 3, "rejected": "No."}', "'chosen' must be a string"),
        ('{"prompt": [{"role": "user", "content": "Hi?"}], "chosen": "a", "rejected": "b"}',
         "'prompt' must be a string"),
        ('{"prompt": "Hi?", "chosen": "  ", "rejected": "No."}', "'chosen' is empty"),
    ],
)
def test_bad_jsonl_line_error_names_line_and_problem(tmp_path, bad_line, problem):
    path = tmp_path / "bad.jsonl"
    path.write_text(GOOD + "\n" + GOOD + "\n" + bad_line + "\n")
    with pytest.raises(ValueError, match="line 3") as info:
        load_jsonl(path)
    assert problem in str(info.value)


def test_over_long_example_error_names_line_and_block_size(tmp_path, tok):
    path = tmp_path / "long.jsonl"
    long = " ".join(["banana"] * 200)
    path.write_text(GOOD + "\n" + json.dumps({"prompt": "Hi?", "chosen": "Hello.", "rejected": long}) + "\n")
    with pytest.raises(ValueError, match="line 2") as info:
        load_jsonl(path, max_tokens=128, tokenizer=tok)
    assert "over-long" in str(info.value) and "rejected" in str(info.value) and "128" in str(info.value)
    assert len(load_jsonl(path)) == 2  # without a tokenizer the length is not checked


def test_load_jsonl_max_tokens_needs_a_tokenizer(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(GOOD + "\n")
    with pytest.raises(ValueError, match="together"):
        load_jsonl(path, max_tokens=128)


# --- tensors -----------------------------------------------------------------------------------
def test_encode_pairs_right_pads_chosen_and_rejected_to_one_length(tok):
    pairs = [PreferencePair("What is 2 plus 2?", "The answer is 4.", "The answer is 5, or maybe 6 or 7 or 8."),
             PreferencePair("Hi?", "Hello.", "No.")]
    chosen, rejected = encode_pairs(pairs, tok, block_size=128)
    assert chosen.input_ids.shape == rejected.input_ids.shape
    for batch, field in ((chosen, "chosen"), (rejected, "rejected")):
        for i, pair in enumerate(pairs):
            ids, prompt_len = tok.encode_chat(pair.prompt, getattr(pair, field))
            n = len(ids)
            assert batch.input_ids[i, :n].tolist() == ids
            assert batch.attention_mask[i].tolist() == [1] * n + [0] * (batch.input_ids.shape[1] - n)
            assert (batch.input_ids[i, n:] == tok.pad_id).all()
            assert batch.prompt_lens[i].item() == prompt_len


def test_encode_pairs_over_long_example_raises(tok):
    pair = PreferencePair("Hi?", "Hello.", " ".join(["banana"] * 200))
    with pytest.raises(ValueError, match="block_size"):
        encode_pairs([pair], tok, block_size=128)


def test_response_logps_count_response_tokens_only_not_prompt_or_padding(tok):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=128, n_layer=1, n_head=2, n_embd=16)).eval()
    short = PreferencePair("Hi?", "Hello.", "No.")
    long = PreferencePair("Hi?", "Hello there, how are you today?", "No.")
    chosen, _ = encode_pairs([short, long], tok, block_size=128)  # row 0 is padded
    ids, prompt_len = tok.encode_chat(short.prompt, short.chosen)
    with torch.no_grad():
        lp = token_logprobs(model(torch.tensor([ids])), torch.tensor([ids]))[0]  # (T-1,)
        summed, averaged = response_logps(model, chosen), response_logps(model, chosen, average=True)
    # token j (j >= prompt_len) is predicted at position j - 1 of the shifted log-probs
    expected = lp[prompt_len - 1 :]
    assert summed[0].item() == pytest.approx(expected.sum().item(), abs=1e-4)
    assert averaged[0].item() == pytest.approx(expected.mean().item(), abs=1e-5)
