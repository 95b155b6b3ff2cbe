"""Specification of minialign.reward: last-token pooling, the Bradley-Terry loss, the reward model."""

from __future__ import annotations

import math

import pytest
import torch

from minialign.model import GPT, GPTConfig
from minialign.reward import (
    RewardModel,
    bradley_terry_loss,
    last_token_index,
    pool_last_token,
    preference_accuracy,
)

PAD = 0


def tiny_gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=17, block_size=16, n_layer=2, n_head=2, n_embd=16)).eval()


def tiny_reward_model(seed: int = 0) -> RewardModel:
    model = RewardModel(tiny_gpt(seed))
    with torch.no_grad():
        model.head.bias.fill_(0.3)  # a nonzero bias, so a bias-only "reward" would also be visible
    return model.eval()


# ---------------------------------------------------------------- Bradley-Terry loss


def test_bradley_terry_loss_hand_value():
    # -log sigmoid(1 - 0) = log(1 + e^-1) = 0.31326
    loss, _ = bradley_terry_loss(torch.tensor([1.0]), torch.tensor([0.0]))
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-1)), abs=1e-6)
    assert loss.item() == pytest.approx(0.31326, abs=1e-5)


def test_bradley_terry_loss_is_mean_over_pairs():
    # pair 1: gap 1 -> log(1 + e^-1); pair 2: gap 0 -> log 2
    loss, _ = bradley_terry_loss(torch.tensor([1.0, 0.5]), torch.tensor([0.0, 0.5]))
    assert loss.item() == pytest.approx((math.log(1 + math.exp(-1)) + math.log(2)) / 2, abs=1e-6)


def test_bradley_terry_loss_stats_are_accuracy_with_half_ties_and_the_reward_gap_without_margin():
    # gaps 1 (right), -0.5 (wrong), 0 (a tie: counts 1/2); the margin is not part of the gap
    _, stats = bradley_terry_loss(torch.tensor([1.0, 0.0, 0.5]), torch.tensor([0.0, 0.5, 0.5]), margin=1.0)
    assert stats["accuracy"] == pytest.approx(0.5)  # (1 + 0 + 0.5) / 3
    assert stats["margin"] == pytest.approx(0.5 / 3)  # mean of (1, -0.5, 0)


def test_bradley_terry_loss_sign_prefers_chosen_over_rejected():
    # swapping chosen and rejected gives log(1 + e^1) = 1.31326: the wrong sign would reward mistakes
    right, _ = bradley_terry_loss(torch.tensor([1.0]), torch.tensor([0.0]))
    wrong, _ = bradley_terry_loss(torch.tensor([0.0]), torch.tensor([1.0]))
    assert wrong.item() == pytest.approx(math.log(1 + math.e), abs=1e-6)
    assert right < wrong


def test_bradley_terry_loss_gradient_pushes_chosen_up_and_rejected_down():
    # d/dr_c [-log sigmoid(r_c - r_r)] = -(1 - sigmoid(0)) = -1/2 at a tie; mean over B = 2 halves it
    chosen = torch.zeros(2, requires_grad=True)
    rejected = torch.zeros(2, requires_grad=True)
    bradley_terry_loss(chosen, rejected)[0].backward()
    torch.testing.assert_close(chosen.grad, torch.tensor([-0.25, -0.25]))
    torch.testing.assert_close(rejected.grad, torch.tensor([0.25, 0.25]))


def test_bradley_terry_loss_margin_is_subtracted_from_the_gap():
    # Llama 2: -log sigmoid(r_c - r_r - m); gap 1, margin 1 -> -log sigmoid(0) = log 2
    loss, _ = bradley_terry_loss(torch.tensor([1.0]), torch.tensor([0.0]), margin=1.0)
    assert loss.item() == pytest.approx(math.log(2), abs=1e-6)


def test_bradley_terry_loss_per_pair_margin():
    # pair 1: 1 - 0 - 1 = 0 -> log 2; pair 2: 2 - 0 - 1 = 1 -> log(1 + e^-1)
    loss, _ = bradley_terry_loss(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0]), margin=torch.tensor([1.0, 1.0]))
    assert loss.item() == pytest.approx((math.log(2) + math.log(1 + math.exp(-1))) / 2, abs=1e-6)


def test_bradley_terry_loss_is_finite_for_a_large_wrong_gap():
    # log(sigmoid(-200)) = log(0) = -inf in float32; logsigmoid gives -200
    loss, _ = bradley_terry_loss(torch.tensor([-100.0]), torch.tensor([100.0]))
    assert loss.item() == pytest.approx(200.0, rel=1e-6)


@pytest.mark.parametrize("chosen_shape, rejected_shape", [((3, 1), (3, 1)), ((3,), (2,)), ((3,), (3, 1))])
def test_bradley_terry_loss_shape_mismatch_raises(chosen_shape, rejected_shape):
    with pytest.raises(ValueError, match="shape"):
        bradley_terry_loss(torch.zeros(chosen_shape), torch.zeros(rejected_shape))


def test_bradley_terry_loss_margin_of_wrong_shape_raises():
    with pytest.raises(ValueError, match="shape"):
        bradley_terry_loss(torch.zeros(3), torch.zeros(3), margin=torch.zeros(2))


# ---------------------------------------------------------------- accuracy


def test_preference_accuracy_counts_ties_as_half():
    # right, wrong, tie, right -> (1 + 0 + 0.5 + 1) / 4 = 0.625
    acc = preference_accuracy(torch.tensor([2.0, 0.0, 1.0, 3.0]), torch.tensor([1.0, 1.0, 1.0, 0.0]))
    assert acc == pytest.approx(0.625)


def test_preference_accuracy_reads_differences_within_the_tolerance_as_ties():
    # a float-rounding difference (1e-7) is a tie at tie_tol=1e-5, a win at the default 0;
    # 0.5 above is a win either way: (0.5 + 1) / 2 and (1 + 1) / 2
    chosen, rejected = torch.tensor([1.0 + 1e-7, 1.5]), torch.tensor([1.0, 1.0])
    assert preference_accuracy(chosen.double(), rejected.double(), tie_tol=1e-5) == pytest.approx(0.75)
    assert preference_accuracy(chosen.double(), rejected.double()) == pytest.approx(1.0)


def test_preference_accuracy_of_constant_reward_is_one_half():
    assert preference_accuracy(torch.zeros(5), torch.zeros(5)) == pytest.approx(0.5)


# ---------------------------------------------------------------- last-token pooling


def test_last_token_index_right_padding_is_length_minus_one():
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]])
    assert last_token_index(mask).tolist() == [2, 4, 0]


def test_last_token_index_left_padding_is_last_column():
    # counting real tokens (sum - 1 = 2) would point into the middle of the row
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    assert last_token_index(mask).tolist() == [4, 4]


def test_last_token_index_is_largest_real_index_with_holes():
    mask = torch.tensor([[1, 0, 1, 0], [0, 1, 1, 0]], dtype=torch.bool)
    assert last_token_index(mask).tolist() == [2, 2]
    assert last_token_index(mask).dtype == torch.long


def test_last_token_index_row_without_real_token_raises():
    with pytest.raises(ValueError, match="no real token"):
        last_token_index(torch.tensor([[1, 1, 0], [0, 0, 0]]))


def test_pool_last_token_reads_values_and_hidden_states():
    mask = torch.tensor([[1, 1, 0, 0], [0, 1, 1, 1]])  # right-padded row, left-padded row
    values = torch.tensor([[10.0, 11.0, 12.0, 13.0], [20.0, 21.0, 22.0, 23.0]])  # (B, T)
    assert pool_last_token(values, mask).tolist() == [11.0, 23.0]
    hidden = torch.stack([values, -values], dim=-1)  # (B, T, 2)
    assert pool_last_token(hidden, mask).tolist() == [[11.0, -11.0], [23.0, -23.0]]


@pytest.mark.parametrize(
    "mask",
    [
        [[1, 1, 1, 0, 0], [1, 0, 0, 0, 0]],  # right padding: the last column is padding
        [[0, 0, 1, 1, 1], [0, 0, 0, 0, 1]],  # left padding: sum - 1 lands on padding
    ],
    ids=["right", "left"],
)
def test_pooling_on_padding_never_reads_a_padding_position(mask):
    mask = torch.tensor(mask)
    hidden = torch.randn(2, 5, 4).masked_fill(~mask.bool().unsqueeze(-1), 1e6)  # padding is poisoned
    pooled = pool_last_token(hidden, mask)
    assert (pooled.abs() < 1e6).all()
    torch.testing.assert_close(pooled, hidden[torch.arange(2), last_token_index(mask)])


def test_pool_last_token_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape"):
        pool_last_token(torch.zeros(2, 4, 3), torch.ones(2, 5))


# ---------------------------------------------------------------- RewardModel


def test_reward_model_returns_one_scalar_per_row():
    model = tiny_reward_model()
    rewards = model(torch.randint(1, 17, (3, 6)), torch.ones(3, 6, dtype=torch.long))
    assert rewards.shape == (3,)


def test_reward_model_head_starts_small():
    model = RewardModel(tiny_gpt())
    assert model.head.weight.shape == (1, 16)
    assert model.head.bias.item() == 0.0
    assert model.head.weight.std().item() < 3 / math.sqrt(16 + 1)


def test_reward_model_unchanged_by_extra_right_padding():
    model = tiny_reward_model()
    tokens = [5, 6, 7, 8]
    with torch.no_grad():
        short = model(torch.tensor([tokens + [PAD]]), torch.tensor([[1, 1, 1, 1, 0]]))
        # more padding, and padding ids that differ: a model reading the last column would see them
        long = model(torch.tensor([tokens + [PAD, 3, 9, 11]]), torch.tensor([[1, 1, 1, 1, 0, 0, 0, 0]]))
    torch.testing.assert_close(long, short, atol=1e-6, rtol=0)


def test_reward_model_unchanged_by_left_padding():
    model = tiny_reward_model()
    with torch.no_grad():
        plain = model(torch.tensor([[5, 6, 7, 8]]), torch.ones(1, 4, dtype=torch.long))
        padded = model(torch.tensor([[PAD, PAD, 5, 6, 7, 8]]), torch.tensor([[0, 0, 1, 1, 1, 1]]))
    torch.testing.assert_close(padded, plain, atol=1e-5, rtol=0)


def test_reward_model_batch_of_different_lengths_matches_rows_alone():
    model = tiny_reward_model()
    ids = torch.tensor([[5, 6, 7, 8], [9, 10, PAD, PAD]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    with torch.no_grad():
        batch = model(ids, mask)
        alone = torch.cat([model(ids[:1], mask[:1]), model(ids[1:, :2], mask[1:, :2])])
    torch.testing.assert_close(batch, alone, atol=1e-5, rtol=0)
    assert (batch[0] - batch[1]).abs() > 1e-4, "different sequences should get different rewards"


def test_reward_model_from_policy_shares_no_parameters_with_policy():
    policy = tiny_gpt()
    reward_model = RewardModel.from_policy(policy)
    policy_ptrs = {p.data_ptr() for p in policy.parameters()}
    assert all(p.data_ptr() not in policy_ptrs for p in reward_model.parameters())
    # the copy starts equal to the SFT weights
    torch.testing.assert_close(reward_model.gpt.transformer.wte.weight, policy.transformer.wte.weight)


def test_reward_model_training_step_leaves_policy_unchanged():
    policy = tiny_gpt()
    before = {name: p.detach().clone() for name, p in policy.state_dict().items()}
    reward_model = RewardModel.from_policy(policy).train()
    optimizer = torch.optim.SGD(reward_model.parameters(), lr=1.0)
    ids = torch.tensor([[5, 6, 7, 8], [5, 6, 9, 10]])
    rewards = reward_model(ids, torch.ones_like(ids))
    bradley_terry_loss(rewards[:1], rewards[1:])[0].backward()
    optimizer.step()
    assert reward_model.gpt.transformer.wte.weight.grad.abs().sum() > 0, "the trunk is trained too"
    for name, p in policy.state_dict().items():
        assert torch.equal(p, before[name]), f"policy's {name} changed"
    # and the other way round: editing the policy does not reach the reward model
    copy_before = reward_model.gpt.transformer.wpe.weight.detach().clone()
    with torch.no_grad():
        policy.transformer.wpe.weight.add_(1.0)
    assert torch.equal(reward_model.gpt.transformer.wpe.weight, copy_before)
