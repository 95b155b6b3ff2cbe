"""Export a trained stage as a Hugging Face folder that `transformers` loads with no custom code.

The model is GPT-2 already (model.py mirrors its parameter names and maths), so the folder is a
`GPT2LMHeadModel` checkpoint: config.json, the weights, and the tokenizer with its chat template.
Loading it back:

    from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast
    model = GPT2LMHeadModel.from_pretrained(DIR)
    tok = PreTrainedTokenizerFast.from_pretrained(DIR)
    ids = tok.apply_chat_template([{"role": "user", "content": "..."}], add_generation_prompt=True)

Three details decide whether the logits come out equal:
- GPT-2's `Conv1D` stores each projection as (in, out), the transpose of `nn.Linear`'s (out, in);
  `GPT.from_gpt2_state_dict` transposes on the way in, `gpt2_state_dict` on the way out;
- our MLP uses the tanh approximation of GELU, which transformers calls "gelu_pytorch_tanh"
  (the same `F.gelu(x, approximate="tanh")` call);
- `nn.LayerNorm`'s default eps, 1e-5, is GPT-2's `layer_norm_epsilon`.
A model built with `bias=False` is exported with zero biases, which computes the same function.

The reward model's trunk is exported the same way; its scalar head goes next to it in a small
file of its own (`reward_head.safetensors`), with a README.md saying how to put the two together.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn as nn

from .model import GPT
from .reward import RewardModel
from .tokenizer import ASSISTANT, END, PAD, USER, Tokenizer

LAYER_NORM_EPS = 1e-5
"""eps of every nn.LayerNorm in model.py (torch's default)"""

CONV1D_WEIGHTS = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
"""the matrices GPT-2 stores as Conv1D (in, out): transposed on export"""

# The chat layout of `Tokenizer.chat` / `chat_prompt`, in Jinja: each text is stripped and opened
# by one space, an assistant turn closes with <|end|>, and the generation prompt is <|assistant|>
# alone (the model writes the space). Special tokens are split off before BPE runs, so tokenizing
# the rendered string gives exactly the ids minialign builds turn by turn.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'user' -%}"
    "{{ '" + USER + " ' + (message['content'] | trim) }}"
    "{%- elif message['role'] == 'assistant' -%}"
    "{{ '" + ASSISTANT + " ' + (message['content'] | trim) + '" + END + "' }}"
    "{%- else -%}"
    "{{ raise_exception('minialign chats have user and assistant turns only, got role ' + message['role']) }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '" + ASSISTANT + "' }}{%- endif -%}"
)

REWARD_HEAD_FILE = "reward_head.safetensors"
REWARD_HEAD_FILE_TORCH = "reward_head.pt"


def gpt2_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """Our weights under GPT-2's names and layout (Conv1D matrices transposed to (in, out)).

    The tied output layer is left out: `tie_word_embeddings` in config.json makes transformers
    point lm_head at wte, and safetensors refuses two names for one tensor anyway."""
    cfg = model.config
    out: dict[str, torch.Tensor] = {}
    for name, value in model.state_dict().items():
        if name == "lm_head.weight":
            continue
        value = value.detach().to("cpu", torch.float32)
        out[name] = (value.t() if name.endswith(CONV1D_WEIGHTS) else value).contiguous()
    if not cfg.bias:
        # GPT-2 always has biases; zero ones add nothing, so the function stays the same
        for i in range(cfg.n_layer):
            p = f"transformer.h.{i}."
            for key, width in (("ln_1.bias", cfg.n_embd), ("ln_2.bias", cfg.n_embd),
                               ("attn.c_attn.bias", 3 * cfg.n_embd), ("attn.c_proj.bias", cfg.n_embd),
                               ("mlp.c_fc.bias", 4 * cfg.n_embd), ("mlp.c_proj.bias", cfg.n_embd)):
                out[p + key] = torch.zeros(width)
        out["transformer.ln_f.bias"] = torch.zeros(cfg.n_embd)
    return out


def gpt2_config(model: GPT, tok: Tokenizer) -> dict:
    """config.json of a `GPT2LMHeadModel` that computes what `model` computes."""
    cfg = model.config
    if cfg.vocab_size != tok.vocab_size:
        raise ValueError(f"model vocab_size={cfg.vocab_size} but the tokenizer has {tok.vocab_size} tokens")
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": cfg.vocab_size,
        "n_positions": cfg.block_size,
        "n_embd": cfg.n_embd,
        "n_layer": cfg.n_layer,
        "n_head": cfg.n_head,
        "n_inner": 4 * cfg.n_embd,
        "activation_function": "gelu_pytorch_tanh",
        "layer_norm_epsilon": LAYER_NORM_EPS,
        "resid_pdrop": cfg.dropout,
        "embd_pdrop": cfg.dropout,
        "attn_pdrop": cfg.dropout,
        "initializer_range": 0.02,
        "scale_attn_weights": True,
        "tie_word_embeddings": True,
        "use_cache": True,
        # pretraining separates documents with <|end|>, so it is both the start and the end of text
        "bos_token_id": tok.end_id,
        "eos_token_id": tok.end_id,
        "pad_token_id": tok.pad_id,
        "torch_dtype": "float32",
    }


def tokenizer_files(tok: Tokenizer, block_size: int) -> dict[str, str]:
    """{file name: text} of the tokenizer: tokenizer.json, its config, the special tokens, the template."""
    special = {"eos_token": END, "pad_token": PAD, "additional_special_tokens": [USER, ASSISTANT]}
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **special,
        # no BOS: minialign's chats start with <|user|>, and nothing is prepended to them
        "bos_token": None,
        "unk_token": None,
        "model_max_length": block_size,
        "clean_up_tokenization_spaces": False,
        "chat_template": CHAT_TEMPLATE,
    }
    return {
        "tokenizer.json": tok._tok.to_str(),
        "tokenizer_config.json": json.dumps(config, indent=2),
        "special_tokens_map.json": json.dumps(special, indent=2),
        "chat_template.jinja": CHAT_TEMPLATE,
    }


def generation_config(tok: Tokenizer) -> dict:
    """Stop at <|end|>, pad with <|pad|>; greedy unless the caller asks to sample."""
    return {"bos_token_id": tok.end_id, "eos_token_id": tok.end_id, "pad_token_id": tok.pad_id,
            "do_sample": False, "max_new_tokens": 48}


def _save_tensors(tensors: dict[str, torch.Tensor], folder: Path, safetensors_name: str, torch_name: str) -> str:
    """Write with safetensors when it is installed, else with torch.save; returns the file name."""
    try:
        from safetensors.torch import save_file
    except ImportError:
        torch.save(tensors, folder / torch_name)
        return torch_name
    save_file(tensors, str(folder / safetensors_name), metadata={"format": "pt"})
    return safetensors_name


def export_model(model: nn.Module, tok: Tokenizer, folder: str | Path, note: str = "") -> list[str]:
    """Write `model` (a GPT or a RewardModel) and `tok` to `folder` in the Hugging Face layout.

    Returns the names of the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    gpt = model.gpt if isinstance(model, RewardModel) else model
    if not isinstance(gpt, GPT):
        raise TypeError(f"can export a GPT or a RewardModel, got {type(model).__name__}")
    files = {"config.json": json.dumps(gpt2_config(gpt, tok), indent=2),
             "generation_config.json": json.dumps(generation_config(tok), indent=2),
             **tokenizer_files(tok, gpt.config.block_size)}
    for name, text in files.items():
        (folder / name).write_text(text + ("\n" if not text.endswith("\n") else ""))
    written = list(files)
    written.append(_save_tensors(gpt2_state_dict(gpt), folder, "model.safetensors", "pytorch_model.bin"))
    if isinstance(model, RewardModel):
        head = {"weight": model.head.weight.detach().cpu().float().contiguous(),  # (1, C)
                "bias": model.head.bias.detach().cpu().float().contiguous()}  # (1,)
        head_file = _save_tensors(head, folder, REWARD_HEAD_FILE, REWARD_HEAD_FILE_TORCH)
        (folder / "README.md").write_text(reward_readme(head_file, note))
        written += [head_file, "README.md"]
    return written


def reward_readme(head_file: str, note: str = "") -> str:
    """How to load the reward model: the GPT-2 trunk, then the head on the last real token."""
    load_head = ("from safetensors.torch import load_file\nhead = load_file(f\"{DIR}/" + head_file + "\")"
                 if head_file.endswith(".safetensors") else f"head = torch.load(f\"{{DIR}}/{head_file}\")")
    return f"""# minialign reward model

{note}The trunk is a GPT-2 (`GPT2Model` or `GPT2LMHeadModel`; its language-model head is not used).
The reward of a chat is a linear head (`{head_file}`: `weight` (1, n_embd), `bias` (1,)) read
at the hidden state of the **last real token**, after the final LayerNorm, where the chat is laid
out as in training: the chat template applied to the user turn and the assistant's response,
which ends with `<|end|>`.

```python
import torch
from transformers import GPT2Model, PreTrainedTokenizerFast
{load_head}
trunk = GPT2Model.from_pretrained(DIR).eval()
tok = PreTrainedTokenizerFast.from_pretrained(DIR)

chat = [{{"role": "user", "content": "What is 2 plus 3?"}}, {{"role": "assistant", "content": "2 plus 3 is 5."}}]
ids = torch.tensor([tok.apply_chat_template(chat)])
with torch.no_grad():
    hidden = trunk(input_ids=ids).last_hidden_state[:, -1]      # (B, n_embd), after ln_f
    reward = hidden @ head["weight"].T + head["bias"]           # (B, 1)
```

For a batch, pad on the right and read each row at its own last real token
(`attention_mask.sum(1) - 1`), as `minialign.reward.pool_last_token` does.
`GPT2ForSequenceClassification` pools the same way, but its head has no bias: loaded with this
weight, every reward is shifted by the same constant (the bias), so rankings stay the same.
"""


def export_stage(stages, name: str, folder: str | Path) -> list[str]:
    """Export the trained stage `name` of `stages` (a `Stages`) to `folder`."""
    note = (f"Stage `{name}` of minialign, preset `{stages.preset.name}`, seed {stages.seed}. ")
    return export_model(stages.get(name), stages.tokenizer, folder, note=note)


def main(args) -> int:
    """`python -m minialign export STAGE DIR`: a clear line and exit status 2 on bad input."""
    from .__main__ import stages_from_args
    from .stages import ORDER, STAGES

    if args.stage not in STAGES:
        print(f"unknown stage {args.stage!r}; choose one of {', '.join(ORDER)}")
        return 2
    folder = Path(args.dir)
    if folder.exists() and (not folder.is_dir() or (any(folder.iterdir()) and not args.force)):
        print(f"{folder} exists and is not an empty folder; choose another DIR or pass --force to write into it")
        return 2
    stages = stages_from_args(args)
    written = export_stage(stages, args.stage, folder)
    print(f"wrote {folder}: {', '.join(written)}")
    return 0
