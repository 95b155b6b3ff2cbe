"""Grading lesson 3 (reward model): the Bradley-Terry loss and last-token pooling."""

import torch

from .adapters import check_close, exercise, nll

ex = exercise("ex03_reward")


# ---------------------------------------------------------------------------------------------
# bradley_terry_loss


def test_bradley_terry_loss_hand_value():
    # gaps r_c - r_r = [2 - 1, 0 - 0.5] = [1, -0.5]
    # losses log(1 + e^-1) = 0.3133 and log(1 + e^0.5) = 0.9741, mean 0.6437
    chosen, rejected = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 0.5])
    check_close(
        ex.bradley_terry_loss(chosen, rejected),
        (nll(1.0) + nll(-0.5)) / 2,
        "for chosen rewards [2, 0] and rejected rewards [1, 0.5], the loss "
        "mean(-log sigmoid([1, -0.5]))",
        mistakes={
            "the sign is flipped: use sigmoid(r_chosen - r_rejected), so that the chosen response "
            "should score higher": (nll(-1.0) + nll(0.5)) / 2,
            "that is the sum over pairs; take the mean": nll(1.0) + nll(-0.5),
            "the loss is the NEGATIVE log-likelihood": -(nll(1.0) + nll(-0.5)) / 2,
        },
    )


def test_bradley_terry_loss_stable_for_large_gaps_pitfall_log_of_sigmoid():
    # -log sigmoid(-200) = log(1 + e^200) = 200 (to float precision), not inf
    check_close(
        ex.bradley_terry_loss(torch.tensor([0.0]), torch.tensor([200.0])),
        200.0,
        "for a chosen reward 0 and a rejected reward 200 (float32), the loss -log sigmoid(-200)",
        hint="sigmoid(-200) underflows to 0 in float32 and log(0) = -inf: use F.logsigmoid",
    )


def test_bradley_terry_loss_is_log2_for_equal_rewards():
    # a reward model that cannot tell the responses apart: -log sigmoid(0) = log 2
    check_close(
        ex.bradley_terry_loss(torch.tensor([0.3, -1.0, 5.0]), torch.tensor([0.3, -1.0, 5.0])),
        0.6931471805599453,
        "for three pairs with equal rewards, the loss log 2",
    )


# ---------------------------------------------------------------------------------------------
# pool_last_token


def test_pool_last_token_pitfall_pooling_on_padding():
    # row 0: 2 real tokens then 2 padding -> its last real token is index 1 (value 2)
    # row 1: 4 real tokens -> index 3 (value 8)
    values = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
    attention_mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    check_close(
        ex.pool_last_token(values, attention_mask),
        [2.0, 8.0],
        "for values [[1, 2, 3, 4], [5, 6, 7, 8]] where row 0 has 2 real tokens and row 1 has 4, "
        "the values at the last real tokens",
        mistakes={
            "you read the last column, which is padding in row 0: find each row's last real token "
            "(attention_mask.sum(1) - 1)": [4.0, 8.0],
            "you read the first token; the reward is read at the LAST real token, the only one that "
            "has seen the whole sequence": [1.0, 5.0],
        },
    )


def test_pool_last_token_on_hidden_states():
    # (B=2, T=3, C=2): row 0 has 3 real tokens, row 1 has 1
    h = torch.arange(12, dtype=torch.float32).reshape(2, 3, 2)
    attention_mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    check_close(
        ex.pool_last_token(h, attention_mask),
        [[4.0, 5.0], [6.0, 7.0]],
        "for hidden states h of shape (2, 3, 2) with 3 and 1 real tokens, the (B, C) vectors "
        "h[0, 2] and h[1, 0]",
        mistakes={
            "you read the last column, which is padding in row 1": [[4.0, 5.0], [10.0, 11.0]],
        },
    )
