"""The training loops of the reward model, DPO and ORPO, on a tiny random GPT (seconds)."""

import copy
import math

import pytest
import torch

from minialign.dpo import DPOConfig, frozen, train_dpo
from minialign.model import GPT, GPTConfig
from minialign.orpo import ORPOConfig, train_orpo
from minialign.preferences import PreferencePair, encode_pairs, make_pairs, response_logps
from minialign.reward import RewardConfig, RewardModel, pair_rewards, reward_accuracy, score_texts, train_reward
from minialign.stages import STAGES, Stages
from minialign.train import LoopConfig, save_checkpoint

SHORT = LoopConfig(steps=2, lr=1e-2, warmup_steps=0, log_every=1)


@pytest.fixture
def policy(tok):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=128, n_layer=1, n_head=2, n_embd=16))


def params(model):
    return [p.detach().clone() for p in model.parameters()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


# --- reward model --------------------------------------------------------------------------------
def test_pair_rewards_never_read_padding_in_a_stacked_pair_batch(tok, policy):
    # the chosen response is short, so its row is right-padded up to the rejected one's length:
    # reading the reward at the last column would read a padding position
    rm = RewardModel.from_policy(policy).eval()
    pair = PreferencePair("Hi?", "Hello.", "No, no, no, not today, not tomorrow, never.")
    chosen, rejected = encode_pairs([pair], tok, 128)
    assert chosen.attention_mask[0, -1] == 0
    with torch.no_grad():
        r_c, r_r = pair_rewards(rm, chosen, rejected)
        for text, r in ((pair.chosen, r_c), (pair.rejected, r_r)):
            ids = torch.tensor([tok.encode_chat(pair.prompt, text)[0]])
            alone = rm(ids, torch.ones_like(ids))
            assert r.item() == pytest.approx(alone.item(), abs=1e-5)


def test_score_texts_matches_rows_scored_alone(tok, policy):
    rm = RewardModel.from_policy(policy).eval()
    prompts, responses = ["Hi?", "What is 2 plus 2?"], ["Hello.", "The answer is 4, I am quite sure of it."]
    batch = score_texts(rm, tok, prompts, responses)
    alone = torch.cat([score_texts(rm, tok, [p], [r]) for p, r in zip(prompts, responses)])
    assert batch.shape == (2,)
    assert torch.allclose(batch, alone, atol=1e-5)


def test_reward_accuracy_of_identical_responses_is_one_half(tok, policy):
    rm = RewardModel.from_policy(policy)
    pairs = [PreferencePair("Hi?", "Hello.", "Hello.")] * 3
    assert reward_accuracy(rm, tok, pairs) == 0.5


def test_reward_accuracy_of_swapped_pairs_is_one_minus(tok, policy, world):
    rm = RewardModel.from_policy(policy)
    pairs = make_pairs(world, 40, seed=0)
    swapped = [PreferencePair(p.prompt, p.rejected, p.chosen) for p in pairs]
    assert reward_accuracy(rm, tok, pairs) + reward_accuracy(rm, tok, swapped) == pytest.approx(1.0)


def test_train_reward_from_the_sft_model_leaves_it_unchanged_and_logs_held_out_accuracy(tok, policy, world):
    before = params(policy)
    cfg = RewardConfig(n_pairs=32, n_eval_pairs=16, batch_size=8, loop=SHORT)
    rm = RewardModel.from_policy(policy)
    log = train_reward(rm, tok, world, cfg)
    assert same(before, params(policy))
    assert not same(params(rm.gpt), params(policy))  # the trunk did train
    assert 0.0 <= log.rows[-1]["eval_accuracy"] <= 1.0
    assert {"loss", "accuracy", "margin"} <= set(log.rows[0])


def test_train_reward_refuses_the_sft_model_itself(tok, policy, world):
    # pitfall: passing the GPT would train the policy; the reward model is a copy with a head
    with pytest.raises(ValueError, match="RewardModel.from_policy"):
        train_reward(policy, tok, world, RewardConfig(n_pairs=8, n_eval_pairs=8, batch_size=8, loop=SHORT))


# --- DPO -----------------------------------------------------------------------------------------
def test_dpo_reference_receives_no_gradient_and_is_unchanged_reference_not_frozen_pitfall(tok, policy, world):
    ref = copy.deepcopy(policy)
    ref_before = params(ref)
    policy_before = params(policy)
    train_dpo(policy, ref, tok, world, DPOConfig(n_pairs=16, batch_size=8, loop=SHORT))
    assert all(p.grad is None for p in ref.parameters())
    assert same(ref_before, params(ref))
    assert not same(policy_before, params(policy))  # while the policy did move


def test_dpo_restores_the_references_flags_afterwards(tok, policy, world):
    # the reference is often the cached SFT model that later stages copy and train
    ref = copy.deepcopy(policy).train()
    train_dpo(policy, ref, tok, world, DPOConfig(n_pairs=16, batch_size=8, loop=SHORT))
    assert all(p.requires_grad for p in ref.parameters()) and ref.training


def test_frozen_turns_off_grad_and_training_inside_the_block(policy):
    policy.train()
    with frozen(policy) as ref:
        assert not any(p.requires_grad for p in ref.parameters()) and not ref.training
    assert all(p.requires_grad for p in policy.parameters()) and policy.training


def test_dpo_rejects_the_policy_as_its_own_reference(tok, policy, world):
    with pytest.raises(ValueError, match="ref"):
        train_dpo(policy, policy, tok, world, DPOConfig(n_pairs=8, batch_size=8, loop=SHORT))


def test_dpo_first_step_policy_equals_reference_so_loss_is_log2_and_rewards_zero(tok, policy, world):
    # before the first update pi == ref: every log-ratio is 0, loss = -log sigmoid(0) = log 2
    ref = copy.deepcopy(policy)
    log = train_dpo(policy, ref, tok, world, DPOConfig(n_pairs=16, batch_size=8, nll_weight=0.0, loop=SHORT))
    first = log.rows[0]
    assert first["loss"] == pytest.approx(math.log(2), abs=1e-5)
    assert first["rewards/chosen"] == pytest.approx(0.0, abs=1e-5)
    assert first["rewards/margin"] == pytest.approx(0.0, abs=1e-5)
    assert {"rewards/accuracy", "rewards/rejected"} <= set(first)


@pytest.mark.parametrize("loss_type, average", [("sigmoid", False), ("hinge", False), ("robust", False), ("ipo", True)])
def test_dpo_loop_passes_summed_logps_except_averaged_for_ipo(tok, policy, world, loss_type, average):
    # every pair is the same, so the first step's logged mean is that pair's log-prob
    pair = PreferencePair("Hi?", "Hello, nice to meet you.", "No.")
    chosen, _ = encode_pairs([pair], tok, 128)
    with torch.no_grad():
        expected = response_logps(policy, chosen, average=average).item()
    cfg = DPOConfig(loss_type=loss_type, label_smoothing=0.1 if loss_type == "robust" else 0.0,
                    batch_size=4, loop=SHORT)
    log = train_dpo(policy, copy.deepcopy(policy), tok, world, cfg, pairs=[pair] * 8)
    assert log.rows[0]["logps/chosen"] == pytest.approx(expected, abs=1e-4)


def test_dpo_nll_term_is_the_chosen_per_token_average_not_the_sum(tok, policy, world):
    # RPO: loss = dpo + alpha * NLL(y_w) per token; at step 0 the DPO part is log 2
    pair = PreferencePair("Hi?", "Hello, nice to meet you.", "No.")
    chosen, _ = encode_pairs([pair], tok, 128)
    with torch.no_grad():
        chosen_avg = response_logps(policy, chosen, average=True).item()
    cfg = DPOConfig(nll_weight=0.5, batch_size=4, loop=SHORT)
    log = train_dpo(policy, copy.deepcopy(policy), tok, world, cfg, pairs=[pair] * 8)
    assert log.rows[0]["nll"] == pytest.approx(-chosen_avg, abs=1e-4)
    assert log.rows[0]["loss"] == pytest.approx(math.log(2) - 0.5 * chosen_avg, abs=1e-4)


# --- ORPO ----------------------------------------------------------------------------------------
def test_orpo_first_step_nll_is_the_chosen_average_token_nll(tok, policy, world):
    pair = PreferencePair("Hi?", "Hello, nice to meet you.", "No.")
    chosen, rejected = encode_pairs([pair], tok, 128)
    with torch.no_grad():
        chosen_avg = response_logps(policy, chosen, average=True).item()
        rejected_avg = response_logps(policy, rejected, average=True).item()
    log = train_orpo(policy, tok, world, ORPOConfig(batch_size=4, loop=SHORT), pairs=[pair] * 8)
    first = log.rows[0]
    assert first["nll"] == pytest.approx(-chosen_avg, abs=1e-4)
    # log odds = logp - log(1 - exp(logp)) for each response
    log_odds = (chosen_avg - math.log1p(-math.exp(chosen_avg))) - (rejected_avg - math.log1p(-math.exp(rejected_avg)))
    assert first["log_odds"] == pytest.approx(log_odds, abs=1e-4)


def test_orpo_trains_the_policy(tok, policy, world):
    before = params(policy)
    train_orpo(policy, tok, world, ORPOConfig(n_pairs=16, batch_size=8, loop=SHORT))
    assert not same(before, params(policy))


# --- stages ----------------------------------------------------------------------------------------
def test_reward_stage_reloads_from_the_cache_as_a_reward_model_not_a_gpt(tiny_cache):
    stages = Stages("tiny", cache=tiny_cache)
    torch.manual_seed(0)
    rm = RewardModel(GPT(stages.model_config))
    save_checkpoint(stages.path("reward"), rm, stages.identity("reward"), seconds=1.0)
    loaded = stages.get("reward")  # from the cache: nothing upstream is trained
    assert isinstance(loaded, RewardModel)
    assert all(torch.equal(a, b) for a, b in zip(rm.state_dict().values(), loaded.state_dict().values()))
    assert STAGES["reward"].requires == STAGES["dpo"].requires == STAGES["orpo"].requires == ("sft",)
