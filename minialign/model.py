"""A tiny GPT, written the way GPT-2 is, so that GPT-2 weights load into it unchanged.

Parameter names follow GPT-2 (`transformer.h.0.attn.c_attn.weight`, ...), with one
difference: GPT-2 stores its projections as `Conv1D` modules whose weights are the
transpose of `nn.Linear` weights. `GPT.from_gpt2_state_dict` transposes them on load.

Shapes: B = batch, T = time (tokens), C = n_embd, V = vocab_size, H = n_head.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

KVCache = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys, values (B, H, T, C/H)


@dataclass
class GPTConfig:
    vocab_size: int = 1024
    """number of token ids the embedding and the output layer know"""
    block_size: int = 128
    """longest sequence the model attends over (learned positions)"""
    n_layer: int = 4
    """transformer blocks"""
    n_head: int = 4
    """attention heads per block"""
    n_embd: int = 128
    """width of the residual stream"""
    dropout: float = 0.0
    """dropout on attention and residual branches; 0 keeps runs deterministic and tiny models need none"""
    bias: bool = True
    """biases in Linear and LayerNorm, as in GPT-2"""

    def to_dict(self) -> dict:
        return asdict(self)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        if config.n_embd % config.n_head != 0:
            raise ValueError(f"n_embd={config.n_embd} must be divisible by n_head={config.n_head}")
        # query, key and value projections for all heads in one matrix, as GPT-2 does
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.n_head = config.n_head
        self.dropout = config.dropout

    def forward(
        self,
        x: torch.Tensor,  # (B, T, C)
        attn_mask: torch.Tensor | None,  # (B, 1, T, T_past + T) boolean, True = may attend
        past: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, H, T, C/H)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        if past is not None:
            # the cache holds keys and values of every earlier position: new queries attend to them too
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        dropout_p = self.dropout if self.training else 0.0
        if attn_mask is None:
            # causal mask to ensure that attention is only applied to the left; with no cache and
            # no padding, the fused kernel's own causal flag does exactly that
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=past is None)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        y = F.dropout(self.c_proj(y), dropout_p, self.training)
        return y, (k, v)


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # GPT-2 uses the tanh approximation of GELU ("gelu_new"); parity with GPT-2 needs the same one
        x = F.gelu(self.c_fc(x), approximate="tanh")
        return F.dropout(self.c_proj(x), self.dropout, self.training)


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, attn_mask, past):
        # pre-norm residual blocks (GPT-2): x + f(LN(x))
        a, present = self.attn(self.ln_1(x), attn_mask, past)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, present


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # weight tying (Press & Wolf 2017), as in GPT-2: the output layer reads the input embedding
        self.lm_head.weight = self.transformer.wte.weight
        self.apply(self._init_weights)
        # GPT-2 scales the residual projections by 1/sqrt(2 * n_layer) so the residual stream's
        # variance does not grow with depth
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self) -> int:
        """Parameters counted once (the tied embedding is not counted twice)."""
        return sum(p.numel() for p in self.parameters())

    def hidden_states(
        self,
        idx: torch.Tensor,  # (B, T) token ids
        attention_mask: torch.Tensor | None = None,  # (B, T_past + T): 1 = real token, 0 = padding
        past_kv: KVCache | None = None,
        use_cache: bool = False,
    ) -> tuple[torch.Tensor, KVCache | None]:
        """Final-layer hidden states (B, T, C), after the last LayerNorm; the reward and value
        heads read these, the language-model head turns them into logits."""
        if idx.dim() != 2:
            raise ValueError(f"idx must be (B, T) token ids, got shape {tuple(idx.shape)}")
        B, T = idx.shape
        past_len = 0 if past_kv is None else past_kv[0][0].shape[2]
        if past_len + T > self.config.block_size:
            raise ValueError(
                f"sequence of {past_len + T} tokens is longer than block_size={self.config.block_size}; "
                "shorten the prompt or the number of new tokens"
            )
        if attention_mask is None:
            pos = torch.arange(past_len, past_len + T, device=idx.device).unsqueeze(0)  # (1, T)
            attn_mask = None
            if past_kv is not None and T > 1:
                attn_mask = self._causal(T, past_len, idx.device).unsqueeze(0).unsqueeze(0)
        else:
            if attention_mask.shape != (B, past_len + T):
                raise ValueError(
                    f"attention_mask must have shape (B, past + T) = {(B, past_len + T)}, "
                    f"got {tuple(attention_mask.shape)}"
                )
            am = attention_mask.bool()
            # positions count real tokens only, so a left-padded prompt gets the same positions
            # as the unpadded one
            pos_all = (am.long().cumsum(dim=1) - 1).clamp(min=0)  # (B, T_past + T)
            pos = pos_all[:, past_len:]
            causal = self._causal(T, past_len, idx.device)  # (T, T_past + T)
            attn_mask = (causal.unsqueeze(0) & am.unsqueeze(1)).unsqueeze(1)  # (B, 1, T, T_past + T)
            # a padding query that sees no real key would give NaN from softmax; let it see itself
            eye = torch.zeros_like(attn_mask)
            eye[..., torch.arange(T), torch.arange(past_len, past_len + T)] = True
            attn_mask = attn_mask | (eye & ~am[:, past_len:].view(B, 1, T, 1))
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        x = self.transformer.drop(x)
        presents: KVCache = []
        for i, block in enumerate(self.transformer.h):
            past = None if past_kv is None else past_kv[i]
            x, present = block(x, attn_mask, past)
            presents.append(present)
        x = self.transformer.ln_f(x)
        return x, (presents if use_cache else None)

    @staticmethod
    def _causal(T: int, past_len: int, device) -> torch.Tensor:
        # query i (at absolute position past_len + i) may attend to keys 0 .. past_len + i
        return torch.ones(T, past_len + T, dtype=torch.bool, device=device).tril(diagonal=past_len)

    def forward(
        self,
        idx: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        past_kv: KVCache | None = None,
        use_cache: bool = False,
    ):
        """Logits (B, T, V). With `use_cache=True` returns `(logits, kv_cache)`."""
        h, presents = self.hidden_states(idx, attention_mask, past_kv, use_cache)
        logits = self.lm_head(h)
        return (logits, presents) if use_cache else logits

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        eos_id: int | None = None,
        use_cache: bool = True,
        attention_mask: torch.Tensor | None = None,
        pad_id: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Sample `max_new_tokens` after `idx` (B, T); returns (B, T + new).

        temperature=0 is greedy decoding. A row that has produced `eos_id` stops; its later
        positions are filled with `pad_id` (default: `eos_id`), and generation ends early once
        every row has stopped. Prompts of different lengths go in left-padded, with
        `attention_mask` (B, T) marking real tokens by 1.
        """
        if idx.dim() != 2:
            raise ValueError(f"idx must be (B, T) token ids, got shape {tuple(idx.shape)}")
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(
                f"prompt has {T} tokens but block_size={self.config.block_size}; shorten the prompt"
            )
        max_new_tokens = min(max_new_tokens, self.config.block_size - T)
        fill = pad_id if pad_id is not None else eos_id
        out = idx
        mask = attention_mask
        finished = torch.zeros(B, dtype=torch.bool, device=idx.device)
        past: KVCache | None = None
        step_input = idx
        for _ in range(max_new_tokens):
            if use_cache:
                logits, past = self(step_input, attention_mask=mask, past_kv=past, use_cache=True)
            else:
                logits = self(out, attention_mask=mask)
            next_id = sample_next(logits[:, -1, :], temperature, top_k, generator)  # (B,)
            if eos_id is not None:
                next_id = torch.where(finished, torch.full_like(next_id, fill), next_id)
                finished = finished | (next_id == eos_id)
            out = torch.cat([out, next_id[:, None]], dim=1)
            if mask is not None:
                mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            step_input = next_id[:, None]
            if eos_id is not None and bool(finished.all()):
                break
        return out

    @classmethod
    def from_gpt2_state_dict(cls, state_dict: dict[str, torch.Tensor], config: GPTConfig) -> "GPT":
        """Build a GPT from a GPT-2 state dict as `transformers` saves it.

        GPT-2's `Conv1D` stores weights as (in, out); `nn.Linear` wants (out, in), so those
        four matrices per block are transposed. Buffers GPT-2 keeps (`attn.bias`, `attn.masked_bias`)
        are causal masks, which this model builds on the fly, so they are skipped.
        """
        model = cls(config)
        transposed = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
        ours = model.state_dict()
        loaded = {}
        for key, value in state_dict.items():
            if key.endswith(".attn.bias") or key.endswith(".attn.masked_bias"):
                continue
            name = key if key.startswith(("transformer.", "lm_head.")) else f"transformer.{key}"
            if name not in ours:
                raise KeyError(f"unexpected key {key!r} in GPT-2 state dict")
            if name.endswith(transposed):
                value = value.t()
            if value.shape != ours[name].shape:
                raise ValueError(
                    f"{key}: shape {tuple(value.shape)} does not fit config "
                    f"(expected {tuple(ours[name].shape)}); check vocab_size, block_size, n_embd"
                )
            loaded[name] = value
        if "lm_head.weight" not in loaded:
            loaded["lm_head.weight"] = loaded["transformer.wte.weight"]
        missing = set(ours) - set(loaded)
        if missing:
            raise KeyError(f"GPT-2 state dict lacks {sorted(missing)}")
        model.load_state_dict(loaded)
        return model


def require_no_dropout(model: nn.Module, method: str) -> None:
    """Raise if `model` has active dropout. PPO and GRPO compare the updated policy's log-probs
    with the sampler's (ratio = 1 on the first update): a train-mode forward with dropout would
    draw a different network each time and break that identity silently."""
    active = [m.p for m in model.modules() if isinstance(m, nn.Dropout) and m.p > 0]
    if active:
        raise ValueError(f"{method} needs a policy without dropout (the ratio to the sampler must be 1 "
                         f"before the first step), got dropout p={active[0]}; build it with GPTConfig(dropout=0.0)")


def sample_next(
    logits: torch.Tensor,  # (B, V) logits of the next token
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One token per row (B,): greedy when temperature == 0, else softmax(logits / T) sampling,
    restricted to the k most likely tokens when top_k is given."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.size(-1)), dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = F.softmax(logits.float(), dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)
