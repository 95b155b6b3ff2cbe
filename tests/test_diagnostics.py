"""Each stage's own numbers (minialign.diagnostics) on the tiny preset: the keys the report
promises, and values that are rates where they should be."""

import math

import pytest

from minialign import pipeline
from minialign.stages import STAGES, Stages


@pytest.fixture(scope="module")
def stages(tmp_path_factory, copy_tiny_cache):
    return Stages("tiny", seed=0, cache=copy_tiny_cache(tmp_path_factory.mktemp("cache")))


EXPECTED = {
    "reward": ["held-out pairwise accuracy", "accuracy on harmful pairs",
               "label-noise ceiling (training labels that agree with the oracle)",
               "label-noise ceiling on harmful pairs"],
    "ppo": ["reward-model score of sft", "reward-model score of ppo"],
    "grpo": [f"{split}: {key}" for split in ("new phrasings", "new tasks") for key in
             ("held-out sums", "sft greedy accuracy", "grpo greedy accuracy", "sft sampled accuracy",
              "grpo sampled accuracy", "grpo greedy, several candidate numbers",
              "grpo sampled, several candidate numbers")]
            + ["sft harmful compliance (4 samples per held-out prompt)",
               "grpo over-refusal (4 samples per held-out prompt)"],
    "sl_cai": [f"probe, {name}: rounds" for name in ("harm", "honesty", "helpful", "caution")]
              + [f"{split}: {model} reward" for split in ("new phrasings", "new tasks")
                 for model in ("sft", "sft + loop")],
    "judge": ["sft as judge, agreement with the oracle (held-out pairs)",
              "judge agreement with the oracle (held-out pairs)"],
}


@pytest.mark.slow
@pytest.mark.parametrize("stage", sorted(EXPECTED))
def test_each_stage_reports_its_numbers(stages, stage):
    values = STAGES[stage].diagnostics(stages)
    for key in EXPECTED[stage]:
        assert key in values, f"{stage}: {key!r} missing from {sorted(values)}"
        assert isinstance(values[key], float) and math.isfinite(values[key])
    for key, v in values.items():
        if any(word in key for word in ("accuracy", "ceiling", "candidate", "compliance", "refusal", "agreement")):
            assert 0.0 <= v <= 1.0, f"{stage}: {key} = {v} is not a rate"


@pytest.mark.slow
def test_the_pipeline_caches_them_and_reads_the_cache_back(stages):
    first = pipeline._diagnostics(stages, "reward")
    files = list(stages.dir.glob("diagnostics-reward-*.json"))
    assert len(files) == 1
    files[0].write_text('{"held-out pairwise accuracy": 0.123}')  # a changed file is what is read back
    assert pipeline._diagnostics(stages, "reward") == {"held-out pairwise accuracy": 0.123}
    assert first["held-out pairwise accuracy"] != 0.123


def test_stages_without_diagnostics_report_nothing(stages):
    assert pipeline._diagnostics(stages, "dpo") == {}


@pytest.mark.slow
def test_ppo_diagnostics_score_the_sampled_ids_as_ppo_does(stages):
    # PPO's reward reads the rollout's own token ids; re-tokenising the decoded text and adding
    # an <|end|> would score a different sequence wherever a response ran out of tokens
    import torch

    from minialign import evaluate
    values = STAGES["ppo"].diagnostics(stages)
    prompts = stages.world.eval_prompts(stages.preset.n_eval_prompts)
    out = evaluate.sample_responses(stages.get("sft"), stages.tokenizer, prompts, seed=stages.seed)
    with torch.no_grad():
        ids_score = stages.get("reward")(out.batch.input_ids, out.batch.attention_mask).mean().item()
    assert values["reward-model score of sft"] == pytest.approx(ids_score, abs=1e-6)
