"""A byte-level BPE tokenizer trained on MiniWorld text, and the chat template.

BPE is trained with the `tokenizers` library (the Rust implementation behind most LLM
tokenizers). Two choices matter for the lessons:
- digits are split one per token, so " 47" is " 4", "7": the model can learn to add digit by
  digit, and the GRPO lesson's arithmetic is not hidden inside arbitrary number tokens;
- the chat template uses special tokens that never occur in pretraining text, so a base
  model has never seen them, and SFT is where it learns what they mean.

Chat template (one turn):  <|user|> {prompt}<|assistant|> {response}<|end|>
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Sequence

from tokenizers import Regex, decoders, models, pre_tokenizers, trainers
from tokenizers import Tokenizer as HFTokenizer

PAD, USER, ASSISTANT, END = "<|pad|>", "<|user|>", "<|assistant|>", "<|end|>"
SPECIAL_TOKENS = [PAD, USER, ASSISTANT, END]


class Tokenizer:
    """Byte-level BPE with the chat template's special tokens."""

    def __init__(self, hf_tokenizer: HFTokenizer):
        self._tok = hf_tokenizer
        ids = {t: hf_tokenizer.token_to_id(t) for t in SPECIAL_TOKENS}
        missing = [t for t, i in ids.items() if i is None]
        if missing:
            raise ValueError(f"tokenizer lacks the special tokens {missing}; train it with minialign.tokenizer.train")
        self.pad_id, self.user_id, self.assistant_id, self.end_id = (ids[t] for t in SPECIAL_TOKENS)

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int], skip_special: bool = True) -> str:
        ids = [int(i) for i in ids]
        return self._tok.decode(ids, skip_special_tokens=skip_special)

    def tokens(self, text: str) -> list[str]:
        """The token strings of `text` (to look at how BPE cut it)."""
        return self._tok.encode(text, add_special_tokens=False).tokens

    # --- chat template ---------------------------------------------------------------------
    def chat_prompt(self, turns: Sequence[tuple[str, str]] | str) -> list[int]:
        """Token ids of a conversation that ends where the assistant should speak next.

        `turns` is a user prompt, or a list of (role, text) whose last turn is the user's."""
        if isinstance(turns, str):
            turns = [("user", turns)]
        if not turns or turns[-1][0] != "user":
            raise ValueError("a chat prompt must end with a user turn")
        return self.chat(list(turns)) + [self.assistant_id]

    def chat(self, turns: Sequence[tuple[str, str]]) -> list[int]:
        """Token ids of a whole conversation: user turns open with <|user|>, assistant turns
        open with <|assistant|> and close with <|end|>."""
        ids: list[int] = []
        for role, text in turns:
            if role == "user":
                ids += [self.user_id] + self.encode(" " + text.strip())
            elif role == "assistant":
                ids += [self.assistant_id] + self.encode(" " + text.strip()) + [self.end_id]
            else:
                raise ValueError(f"role must be 'user' or 'assistant', got {role!r}")
        return ids

    def encode_chat(self, prompt: str | Sequence[tuple[str, str]], response: str) -> tuple[list[int], int]:
        """(ids, prompt_len) of prompt + response + <|end|>; the first prompt_len ids are the prompt."""
        prompt_ids = self.chat_prompt(prompt)
        response_ids = self.encode(" " + response.strip()) + [self.end_id]
        return prompt_ids + response_ids, len(prompt_ids)

    def decode_response(self, ids: Sequence[int]) -> str:
        """Text of generated response ids, cut at the first <|end|>."""
        ids = [int(i) for i in ids]
        if self.end_id in ids:
            ids = ids[: ids.index(self.end_id)]
        return self.decode([i for i in ids if i != self.pad_id]).strip()

    # --- persistence --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self._tok.to_str())
        os.replace(tmp, path)  # atomic: a reader never sees half a file

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Tokenizer":
        try:
            return cls(HFTokenizer.from_str(Path(path).read_text()))
        except (OSError, json.JSONDecodeError, Exception) as exc:  # tokenizers raises its own types
            raise ValueError(f"could not load a tokenizer from {path}: {exc}") from exc


def train(texts: Iterable[str], vocab_size: int = 1024) -> Tokenizer:
    """Train byte-level BPE on `texts`, digits split one per token."""
    tok = HFTokenizer(models.BPE())
    # every digit is its own piece (a leading space stays attached: " 42" -> " 4", "2"), so no
    # token ever holds two digits; then GPT-2's byte-level split for everything else
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(r" ?[0-9]"), behavior="isolated"), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return Tokenizer(tok)
