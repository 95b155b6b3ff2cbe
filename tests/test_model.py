"""Specification of minialign.model: the GPT's shapes, causality, GPT-2 parity and generation."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from minialign.model import GPT, GPTConfig

V, BLOCK = 23, 24
PAD, EOS = 0, 1


def widen_(model: nn.Module, std: float = 0.2) -> nn.Module:
    """Redraw weight matrices with std `std` and biases with std 0.1 (LayerNorms left alone).

    GPT-2's own init (std 0.02) makes every logit nearly the same: a wrong GELU or a missing
    transpose then moves the logits by less than the parity tolerance, and float noise between
    two code paths could flip a near-tied argmax. Wider weights make both kinds of test sharp.
    """
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".ln_" in name:  # ln_1, ln_2, ln_f
                continue
            p.normal_(0.0, std if p.dim() == 2 else 0.1)
    return model


def tiny_gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    config = GPTConfig(vocab_size=V, block_size=BLOCK, n_layer=2, n_head=4, n_embd=32)
    return widen_(GPT(config)).eval()


def ids(*rows: list[int]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.long)


def left_pad(prompts: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) left-padded ids and their attention mask."""
    T = max(len(p) for p in prompts)
    idx = ids(*[[PAD] * (T - len(p)) + p for p in prompts])
    mask = ids(*[[0] * (T - len(p)) + [1] * len(p) for p in prompts])
    return idx, mask


# ---------------------------------------------------------------- forward


def test_logits_shape_is_batch_time_vocab():
    model = tiny_gpt()
    logits = model(torch.randint(0, V, (3, 7)))
    assert logits.shape == (3, 7, V)


def test_hidden_states_shape_is_batch_time_embd():
    model = tiny_gpt()
    h, cache = model.hidden_states(torch.randint(0, V, (3, 7)))
    assert h.shape == (3, 7, 32)
    assert cache is None


def test_causality_future_token_does_not_change_earlier_logits():
    model = tiny_gpt()
    a = ids([3, 4, 5, 6, 7, 8, 9, 10])
    b = a.clone()
    b[0, 5] = 20  # change the token at position 5 only
    with torch.no_grad():
        la, lb = model(a), model(b)
    torch.testing.assert_close(la[:, :5], lb[:, :5], atol=1e-6, rtol=0)
    # the test can fail: positions 5.. do see the change
    assert (la[:, 5:] - lb[:, 5:]).abs().amax(dim=-1).min() > 1e-3


def test_input_that_is_not_batch_by_time_raises():
    with pytest.raises(ValueError, match="shape"):
        tiny_gpt()(torch.tensor([1, 2, 3]))


def test_sequence_longer_than_block_size_raises_in_forward():
    with pytest.raises(ValueError, match="block_size"):
        tiny_gpt()(torch.zeros(1, BLOCK + 1, dtype=torch.long))


def test_attention_mask_of_wrong_shape_raises():
    with pytest.raises(ValueError, match="attention_mask"):
        tiny_gpt()(ids([1, 2, 3]), attention_mask=ids([1, 1]))


def test_right_padding_does_not_change_logits_of_real_tokens():
    model = tiny_gpt()
    real = ids([5, 6, 7, 8])
    padded = ids([5, 6, 7, 8, PAD, PAD])
    with torch.no_grad():
        expected = model(real)
        got = model(padded, attention_mask=ids([1, 1, 1, 1, 0, 0]))
    torch.testing.assert_close(got[:, :4], expected, atol=1e-5, rtol=0)


def test_left_padding_with_mask_gives_same_logits_as_unpadded():
    # positions come from the mask, so a left-padded prompt is positioned as the unpadded one
    model = tiny_gpt()
    real = ids([5, 6, 7, 8])
    padded = ids([PAD, PAD, 5, 6, 7, 8])
    with torch.no_grad():
        expected = model(real)
        got = model(padded, attention_mask=ids([0, 0, 1, 1, 1, 1]))
    torch.testing.assert_close(got[:, 2:], expected, atol=1e-5, rtol=0)
    assert torch.isfinite(got).all(), "padding queries that see no real key must not give NaN"


# ---------------------------------------------------------------- GPT-2 parity

GPT2 = dict(vocab_size=50, block_size=32, n_embd=64, n_layer=2, n_head=4)


def random_gpt2():
    """A randomly initialised transformers GPT-2 (never downloaded) and our GPT with its weights."""
    transformers = pytest.importorskip(
        "transformers", reason="GPT-2 parity needs `transformers` (pip install minialign[test])"
    )
    torch.manual_seed(0)
    hf_config = transformers.GPT2Config(
        vocab_size=GPT2["vocab_size"],
        n_positions=GPT2["block_size"],
        n_embd=GPT2["n_embd"],
        n_layer=GPT2["n_layer"],
        n_head=GPT2["n_head"],
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=0,
        eos_token_id=0,
    )
    hf = widen_(transformers.GPT2LMHeadModel(hf_config)).eval()
    ours = GPT.from_gpt2_state_dict(hf.state_dict(), GPTConfig(**GPT2)).eval()
    return hf, ours


def test_gpt2_parity_logits_match_transformers():
    hf, ours = random_gpt2()
    idx = torch.randint(0, GPT2["vocab_size"], (2, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = hf(idx).logits
        got = ours(idx)
    assert expected.abs().max() > 1.0, "weights too small for the tolerance to mean anything"
    assert (got - expected).abs().max() < 1e-4


def test_gpt2_parity_with_left_padding_on_real_positions():
    hf, ours = random_gpt2()
    idx = torch.randint(1, GPT2["vocab_size"], (2, 9), generator=torch.Generator().manual_seed(2))
    mask = torch.ones(2, 9, dtype=torch.long)
    mask[0, :3] = 0  # row 0 is left-padded by 3
    idx[0, :3] = 0
    # transformers' GPT-2 numbers positions 0..T-1 whatever the mask; give it the positions of
    # real tokens explicitly, as generation with left padding must
    position_ids = (mask.cumsum(dim=1) - 1).clamp(min=0)
    with torch.no_grad():
        expected = hf(idx, attention_mask=mask, position_ids=position_ids).logits
        got = ours(idx, attention_mask=mask)
    real = mask.bool()
    assert (got[real] - expected[real]).abs().max() < 1e-4


@pytest.mark.parametrize("field, wrong", [("n_embd", 32), ("vocab_size", 40), ("block_size", 16)])
def test_gpt2_state_dict_with_mismatched_config_raises(field, wrong):
    hf, _ = random_gpt2()
    config = GPTConfig(**{**GPT2, field: wrong})
    with pytest.raises(ValueError, match="shape"):
        GPT.from_gpt2_state_dict(hf.state_dict(), config)


# ---------------------------------------------------------------- KV cache


def test_cached_step_logits_equal_full_forward_last_position():
    model = tiny_gpt()
    prompt, nxt = ids([3, 4, 5, 6]), ids([7])
    with torch.no_grad():
        _, past = model(prompt, use_cache=True)
        step_logits, _ = model(nxt, past_kv=past, use_cache=True)
        full = model(torch.cat([prompt, nxt], dim=1))
    assert step_logits.shape == (1, 1, V)
    torch.testing.assert_close(step_logits[:, -1], full[:, -1], atol=1e-5, rtol=0)


def test_cached_step_with_left_padding_equals_full_forward():
    model = tiny_gpt()
    prompt, mask = left_pad([[3, 4, 5, 6], [8, 9]])
    nxt = ids([7], [10])
    with torch.no_grad():
        _, past = model(prompt, attention_mask=mask, use_cache=True)
        mask2 = torch.cat([mask, torch.ones(2, 1, dtype=torch.long)], dim=1)
        step_logits, _ = model(nxt, attention_mask=mask2, past_kv=past, use_cache=True)
        full = model(torch.cat([prompt, nxt], dim=1), attention_mask=mask2)
    torch.testing.assert_close(step_logits[:, -1], full[:, -1], atol=1e-5, rtol=0)


def test_greedy_generation_with_cache_equals_without_cache():
    model = tiny_gpt()
    prompt = ids([3, 4, 5], [9, 2, 11])
    cached = model.generate(prompt, max_new_tokens=10, temperature=0, use_cache=True)
    uncached = model.generate(prompt, max_new_tokens=10, temperature=0, use_cache=False)
    assert cached.shape == (2, 13)
    assert torch.equal(cached, uncached)


# ---------------------------------------------------------------- generation


def greedy_by_hand(model: GPT, prompt: list[int], n: int) -> list[int]:
    """Greedy decoding spelled out: full forward, argmax of the last position, append."""
    seq = list(prompt)
    with torch.no_grad():
        for _ in range(n):
            seq.append(int(model(ids(seq))[0, -1].argmax()))
    return seq[len(prompt) :]


def test_temperature_zero_is_greedy_and_deterministic():
    model = tiny_gpt()
    prompt = ids([3, 4, 5])
    first = model.generate(prompt, max_new_tokens=8, temperature=0)
    second = model.generate(prompt, max_new_tokens=8, temperature=0)
    assert torch.equal(first, second)
    assert first[0, 3:].tolist() == greedy_by_hand(model, [3, 4, 5], 8)
    assert len(set(first[0, 3:].tolist())) > 1, "a model that repeats one token tests little"


@pytest.mark.parametrize("use_cache", [True, False])
def test_left_padded_batch_generates_what_each_prompt_generates_alone(use_cache):
    model = tiny_gpt()
    prompts = [[3, 4, 5, 6, 7], [8, 9], [10, 11, 12]]
    idx, mask = left_pad(prompts)
    out = model.generate(idx, max_new_tokens=6, temperature=0, attention_mask=mask, use_cache=use_cache)
    for row, prompt in enumerate(prompts):
        assert out[row, idx.shape[1] :].tolist() == greedy_by_hand(model, prompt, 6), f"row {row}"


def test_eos_stops_each_row_and_later_positions_are_pad():
    model = tiny_gpt()
    prompt = ids([3, 4, 5], [9, 2, 11])
    free = model.generate(prompt, max_new_tokens=8, temperature=0)[:, 3:]  # (2, 8) new tokens
    eos = int(free[0, 1])  # row 0's second new token plays the end-of-sequence token
    pad = 22
    assert eos not in free[0, :1].tolist() and eos not in free[1].tolist() and eos != pad, (
        "precondition: with this seed only row 0 meets `eos`, at its second new token"
    )
    out = model.generate(prompt, max_new_tokens=8, temperature=0, eos_id=eos, pad_id=pad)[:, 3:]
    assert out[0].tolist() == free[0, :2].tolist() + [pad] * 6  # EOS kept, then padding
    assert out[1].tolist() == free[1].tolist()  # row 1 never stopped


def test_generation_ends_early_once_every_row_has_stopped():
    model = tiny_gpt()
    prompt = ids([3, 4, 5])
    free = model.generate(prompt, max_new_tokens=8, temperature=0)[:, 3:]
    eos = int(free[0, 1])
    assert eos != int(free[0, 0]), "precondition: EOS first appears at the second new token"
    out = model.generate(prompt, max_new_tokens=8, temperature=0, eos_id=eos)
    assert out.shape == (1, 3 + 2)


def test_prompt_longer_than_block_size_raises_clear_error():
    model = tiny_gpt()
    with pytest.raises(ValueError, match=r"prompt has 25 tokens but block_size=24"):
        model.generate(torch.zeros(1, BLOCK + 1, dtype=torch.long), max_new_tokens=1)


def test_generation_never_runs_past_block_size():
    model = tiny_gpt()
    out = model.generate(torch.zeros(1, BLOCK - 2, dtype=torch.long), max_new_tokens=10, temperature=0)
    assert out.shape == (1, BLOCK)


def test_sampling_with_seeded_generator_is_reproducible():
    model = tiny_gpt()
    prompt = ids([3, 4, 5], [9, 2, 11])

    def sample(seed: int) -> torch.Tensor:
        return model.generate(prompt, max_new_tokens=12, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(sample(7), sample(7))
    assert not torch.equal(sample(7), sample(8)), "different seeds should give different samples"


def test_top_k_one_sampling_equals_greedy():
    model = tiny_gpt()
    prompt = ids([3, 4, 5], [9, 2, 11])
    greedy = model.generate(prompt, max_new_tokens=10, temperature=0)
    top1 = model.generate(
        prompt, max_new_tokens=10, temperature=1.5, top_k=1, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(top1, greedy)
