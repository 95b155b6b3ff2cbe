"""`minialign export`: a trained stage that transformers loads with no custom code and that
computes what minialign computes (tiny preset, trained in a temporary cache)."""

import json

import pytest
import torch

transformers = pytest.importorskip(
    "transformers", reason="the export round trip needs `transformers` (pip install minialign[test])")

from minialign import rollout  # noqa: E402
from minialign.__main__ import main  # noqa: E402
from minialign.export import export_stage  # noqa: E402
from minialign.export_data import stage_data  # noqa: E402
from minialign.pipeline import eval_prompt_splits  # noqa: E402
from minialign.preferences import make_pairs  # noqa: E402
from minialign.reward import score_texts  # noqa: E402
from minialign.stages import Stages  # noqa: E402

MAX_NEW_TOKENS = 48
"""the evaluation's response budget (evaluate.sample_records)"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    stages = Stages("tiny", seed=0, cache=root / "cache")
    out = {"stages": stages}
    for name in ("sft", "reward"):
        export_stage(stages, name, root / name)
        out[name] = root / name
    return out


def held_out_prompts(stages) -> list[str]:
    """Every prompt the tiny preset's evaluation samples (both held-out splits)."""
    return [p.text for prompts in eval_prompt_splits(stages).values() for p in prompts]


def hf_tokenizer(folder):
    return transformers.PreTrainedTokenizerFast.from_pretrained(folder)


def render(tk, messages, add_generation_prompt=False) -> list[int]:
    """ids of `messages` through the exported chat template (render, then tokenize)."""
    text = tk.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
    return tk(text, add_special_tokens=False)["input_ids"]


def test_folder_has_the_hugging_face_files_and_gpt2_config(exported):
    folder = exported["sft"]
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json", "generation_config.json"):
        assert (folder / name).exists(), name
    config = json.loads((folder / "config.json").read_text())
    tok = exported["stages"].tokenizer
    assert config["model_type"] == "gpt2" and config["activation_function"] == "gelu_pytorch_tanh"
    assert config["layer_norm_epsilon"] == torch.nn.LayerNorm(4).eps
    assert (config["eos_token_id"], config["pad_token_id"]) == (tok.end_id, tok.pad_id)


def test_logits_match_minialign_on_held_out_prompts_float32(exported):
    stages = exported["stages"]
    ours, tok = stages.get("sft"), stages.tokenizer
    hf = transformers.GPT2LMHeadModel.from_pretrained(exported["sft"], torch_dtype=torch.float32).eval()
    prompts = held_out_prompts(stages)
    worst = 0.0
    with torch.no_grad():
        for p in prompts:
            ids = torch.tensor([tok.chat_prompt(p)])
            expected = ours(ids)
            worst = max(worst, (hf(ids).logits - expected).abs().max().item())
    assert expected.abs().max() > 1.0, "logits too small for the tolerance to mean anything"
    assert worst < 1e-5


def test_greedy_tokens_identical_on_every_held_out_prompt_batched_left_padded(exported):
    stages = exported["stages"]
    ours, tok = stages.get("sft"), stages.tokenizer
    hf = transformers.GPT2LMHeadModel.from_pretrained(exported["sft"]).eval()
    tk = hf_tokenizer(exported["sft"])
    tk.padding_side = "left"
    prompts = held_out_prompts(stages)
    got = rollout.generate(ours, tok, prompts, max_new_tokens=MAX_NEW_TOKENS, temperature=0.0)
    texts = [tk.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
             for p in prompts]
    enc = tk(texts, add_special_tokens=False, padding=True, return_tensors="pt")
    budget = min(MAX_NEW_TOKENS, ours.config.block_size - enc["input_ids"].shape[1])  # as rollout.generate
    with torch.no_grad():
        out = hf.generate(**enc, max_new_tokens=budget, do_sample=False)
    new = out[:, enc["input_ids"].shape[1]:].tolist()
    mismatches = []
    for i, row in enumerate(new):
        # after <|end|> transformers pads, as minialign does: compare up to and including <|end|>
        row = row[: row.index(tok.end_id) + 1] if tok.end_id in row else row
        plen = int(got.batch.prompt_lens[i])
        theirs = got.batch.input_ids[i, plen: int(got.batch.seq_lens[i])].tolist()
        if row != theirs:
            mismatches.append(prompts[i])
        assert tk.decode(row, skip_special_tokens=True).strip() == got.responses[i]
    assert not mismatches, f"{len(mismatches)} of {len(prompts)} prompts differ, e.g. {mismatches[0]!r}"


def test_chat_template_gives_minialigns_ids(exported):
    stages = exported["stages"]
    tok, tk = stages.tokenizer, hf_tokenizer(exported["sft"])
    for p in held_out_prompts(stages):
        assert render(tk, [{"role": "user", "content": p}], add_generation_prompt=True) == tok.chat_prompt(p)
    # every SFT demonstration, multi-turn critique -> revision transcripts included
    demos = stage_data(stages, "sft")["sft_train.jsonl"]
    from minialign.data import sft_examples

    cfg = stages.config_of("sft")
    examples = sft_examples(stages.world, tok, cfg.n_examples, cfg.seed, stages.model_config.block_size)
    assert any(len(d["prompt"]) > 1 for d in demos)
    for demo, (ids, prompt_len) in zip(demos, examples):
        assert render(tk, demo["prompt"] + demo["completion"]) == ids
        assert render(tk, demo["prompt"], add_generation_prompt=True) == ids[:prompt_len]


def test_reward_export_reproduces_the_reward_models_scores(exported):
    stages = exported["stages"]
    rm, tok = stages.get("reward"), stages.tokenizer
    folder = exported["reward"]
    assert "reward_head.safetensors" in (folder / "README.md").read_text()
    from safetensors.torch import load_file

    head = load_file(str(folder / "reward_head.safetensors"))
    trunk = transformers.GPT2Model.from_pretrained(folder).eval()
    tk = hf_tokenizer(folder)
    pairs = make_pairs(stages.world, 16, seed=1, split="eval", label_temperature=0.0)
    prompts, responses = [p.prompt for p in pairs] * 2, [p.chosen for p in pairs] + [p.rejected for p in pairs]
    expected = score_texts(rm, tok, prompts, responses)
    tk.padding_side = "right"
    texts = [tk.apply_chat_template([{"role": "user", "content": p}, {"role": "assistant", "content": r}],
                                    tokenize=False) for p, r in zip(prompts, responses)]
    enc = tk(texts, add_special_tokens=False, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = trunk(**enc).last_hidden_state  # (B, T, C)
    last = enc["attention_mask"].sum(dim=1) - 1  # (B,)
    rewards = hidden[torch.arange(len(texts)), last] @ head["weight"].T + head["bias"]  # (B, 1)
    assert expected.std() > 0.01, "rewards too alike for the comparison to mean anything"
    assert (rewards.squeeze(1) - expected).abs().max() < 1e-5


def test_export_refuses_an_unknown_stage_and_a_non_empty_folder(tmp_path, capsys):
    cache = str(tmp_path / "cache")
    assert main(["export", "nonsense", str(tmp_path / "out"), "--preset", "tiny", "--cache", cache]) == 2
    out = capsys.readouterr().out
    assert "unknown stage 'nonsense'" in out and out.count("\n") == 1
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("keep me")
    assert main(["export", "sft", str(full), "--preset", "tiny", "--cache", cache]) == 2
    out = capsys.readouterr().out
    assert "--force" in out and out.count("\n") == 1
    assert (full / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("weights", ["safetensors", "torch"])
def test_a_model_without_biases_exports_with_zero_ones_in_either_weight_format(exported, tmp_path, monkeypatch,
                                                                              weights):
    import sys

    from minialign.export import export_model
    from minialign.model import GPT, GPTConfig

    tok = exported["stages"].tokenizer
    torch.manual_seed(0)
    ours = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=2, n_head=2, n_embd=32, bias=False)).eval()
    with torch.no_grad():
        ours.transformer.wte.weight.mul_(50)  # logits large enough for the tolerance to mean something
    with monkeypatch.context() as m:
        if weights == "torch":
            m.setitem(sys.modules, "safetensors.torch", None)  # as if safetensors were not installed
        written = export_model(ours, tok, tmp_path)
    assert ("model.safetensors" if weights == "safetensors" else "pytorch_model.bin") in written
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    ids = torch.randint(0, tok.vocab_size, (2, 20), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = ours(ids)
        assert expected.abs().max() > 1.0
        assert (hf(ids).logits - expected).abs().max() < 1e-5
