"""RLAIF: the model judges pairs of responses, and its labels train the policy.

The second phase of Constitutional AI (Bai et al. 2022, section 4), RL from AI feedback: the model
judges pairs of responses ("Which response is more helpful? (A) ... (B) ... The answer is"); the
normalised probabilities of " A" and " B" are a soft preference label. Asking in both orders
cancels the judge's position bias. The AI labels then replace the oracle's (the human's) in
preference optimisation: here DPO, the same loop as `dpo.train_dpo`, fed other labels.

The SFT model knows the judge format from its demonstrations (`data.sft_examples`), but they
hold too few verdicts, so it judges near chance. The labels therefore come from a *feedback
model* (stage 'judge', `train_judge`): the SFT model with practice on comparisons asked under
each principle and on critique transcripts whose verdicts are the oracle's. The same model
writes the critiques and revisions of SL-CAI (`cai`).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from typing import Literal, Sequence

import torch

from . import oracle, sft
from .cai import FINE_CRITIQUE, FLAW_CRITIQUES, Constitution, default_constitution
from .data import draw_examples, pad
from .dpo import DPOConfig, train_dpo
from .model import GPT
from .preferences import PreferencePair, make_pairs
from .rollout import Turn
from .tokenizer import Tokenizer
from .train import LoopConfig, MetricsLog
from .world import JUDGE_QUESTIONS, PRINCIPLE_QUESTIONS, PRINCIPLES, MiniWorld

# --- the model as judge: option logits, soft labels, agreement ------------------------------------
ANSWER_PREFIX = "The answer is"
"""the judge demonstrations answer 'The answer is A.' / 'The answer is B.'"""
OPTIONS = (" A", " B")
"""the tokens the judge chooses between, right after ANSWER_PREFIX"""


def option_token_ids(tok: Tokenizer) -> tuple[int, int]:
    """Token ids of " A" and " B" as they follow ANSWER_PREFIX in a judge answer.

    Raises ValueError when the tokenizer does not keep them as single tokens, since then one
    next-token distribution cannot compare the two options."""
    prefix = tok.encode(" " + ANSWER_PREFIX)
    ids = []
    for option in OPTIONS:
        full = tok.encode(" " + ANSWER_PREFIX + option + ".")
        if full[: len(prefix)] != prefix or len(full) != len(prefix) + 2:
            raise ValueError(f"the tokenizer must split {ANSWER_PREFIX + option + '.'!r} as the prefix, "
                             f"one token {option!r} and '.'; it gives {tok.tokens(' ' + ANSWER_PREFIX + option + '.')}")
        ids.append(full[len(prefix)])
    return ids[0], ids[1]


def judge_soft_label(logit_a_first: torch.Tensor, logit_b_first: torch.Tensor,
                     logit_a_swapped: torch.Tensor, logit_b_swapped: torch.Tensor) -> torch.Tensor:
    """p(response 1 better) from the judge's option logits, asked in both orders.

        first order   (A) = response 1, (B) = response 2:  p1 = softmax(a_first, b_first)[A]
        swapped order (A) = response 2, (B) = response 1:  p2 = softmax(a_swapped, b_swapped)[B]
        p = (p1 + p2) / 2

    Args: four tensors of one shape, (B,) or (): logits of the " A" and " B" tokens.
    Returns: that shape; p(response 2 better) = 1 - p (the label of the pair with the two
        responses exchanged).
    """
    # a softmax over two options is the sigmoid of their logit difference
    p_first = torch.sigmoid(logit_a_first - logit_b_first)
    p_swapped = torch.sigmoid(logit_b_swapped - logit_a_swapped)  # response 1 is shown as (B)
    # a judge that favours a slot adds the same bias in both orders: the average cancels it
    # (Lee et al. 2023, sec. 2.1, describe this procedure; Zheng et al. 2023 measure this position
    # bias in LLM judges)
    return (p_first + p_swapped) / 2


def judge_prompt_ids(tok: Tokenizer, prompt: str, response_a: str, response_b: str, question: str) -> list[int]:
    """The judge's input: the judge question as a user turn, then '<|assistant|> The answer is'."""
    text = MiniWorld.judge_prompt(prompt, response_a, response_b, question)
    return tok.chat_prompt(text) + tok.encode(" " + ANSWER_PREFIX)


@torch.no_grad()
def option_logits(model: GPT, tok: Tokenizer, prompts: Sequence[str], responses_a: Sequence[str],
                  responses_b: Sequence[str], question: str, batch_size: int = 128) -> torch.Tensor:
    """(N, 2) logits of " A" and " B" as the judge's next token, one row per judge prompt."""
    if not len(prompts) == len(responses_a) == len(responses_b):
        raise ValueError(f"prompts, responses_a and responses_b must have the same length N, got "
                         f"{len(prompts)}, {len(responses_a)}, {len(responses_b)}")
    model.eval()
    device = next(model.parameters()).device
    ids_a, ids_b = option_token_ids(tok)
    rows = [judge_prompt_ids(tok, p, a, b, question) for p, a, b in zip(prompts, responses_a, responses_b)]
    block_size = model.config.block_size
    for i, row in enumerate(rows):
        if len(row) > block_size:
            raise ValueError(f"judge prompt {i} ({prompts[i][:40]!r}) has {len(row)} tokens, more than "
                             f"block_size={block_size}; shorten the responses being compared")
    out = torch.zeros(len(rows), 2)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))  # similar lengths together: less padding
    for start in range(0, len(rows), batch_size):
        chunk = order[start : start + batch_size]
        ids, mask = pad([rows[i] for i in chunk], tok.pad_id)  # (b, T) right-padded: causal attention never sees it
        logits = model(ids.to(device))  # (b, T, V)
        last = mask.sum(dim=1).to(device) - 1  # (b,) position of each row's last real token
        next_logits = logits[torch.arange(len(chunk), device=device), last]  # (b, V)
        out[chunk] = next_logits[:, [ids_a, ids_b]].float().cpu()  # (b, 2)
    return out


def judge_probs(model: GPT, tok: Tokenizer, prompt: str | Sequence[str], response_a: str | Sequence[str],
                response_b: str | Sequence[str], question: str = JUDGE_QUESTIONS["helpful"],
                batch_size: int = 128) -> torch.Tensor:
    """The model as judge: p(response_a better than response_b), position bias cancelled.

    Asks "{prompt} (A) {a} (B) {b} {question}" and reads the next-token distribution after
    "<|assistant|> The answer is", restricted to " A" and " B"; asks again with a and b swapped
    and averages (`judge_soft_label`). Strings give a 0-d tensor, sequences of N give (N,)."""
    single = isinstance(prompt, str)
    if single:
        prompts, a, b = [prompt], [response_a], [response_b]
    else:
        prompts, a, b = list(prompt), list(response_a), list(response_b)
    if not len(prompts) == len(a) == len(b):
        raise ValueError(f"prompt, response_a and response_b must have the same length N, got "
                         f"{len(prompts)}, {len(a)}, {len(b)}")
    # each distinct question is asked once: (x, b, a) is (x, a, b) with the orders exchanged,
    # and its soft label is exactly 1 - p(x, a, b)
    unique: dict[tuple[str, str, str], int] = {}
    for key in zip(prompts, a, b):
        if key not in unique and (key[0], key[2], key[1]) not in unique:
            unique[key] = len(unique)
    keys = list(unique)
    n = len(keys)
    ua, ub = [k[1] for k in keys], [k[2] for k in keys]
    # both orders in one pass: rows 0..n-1 show (a, b), rows n..2n-1 show (b, a)
    logits = option_logits(model, tok, [k[0] for k in keys] * 2, ua + ub, ub + ua, question, batch_size)  # (2n, 2)
    p_unique = judge_soft_label(logits[:n, 0], logits[:n, 1], logits[n:, 0], logits[n:, 1])  # (n,)
    p = torch.stack([p_unique[unique[k]] if k in unique else 1 - p_unique[unique[(k[0], k[2], k[1])]]
                     for k in zip(prompts, a, b)]) if prompts else torch.zeros(0)  # (N,)
    return p[0] if single else p


def agreement(p_first: torch.Tensor, first_is_better: torch.Tensor) -> float:
    """Fraction of pairs where the judge's side of 0.5 matches the reference preference.

    Args:
        p_first: (N,) soft labels p(first better).
        first_is_better: (N,) bool, the reference label.
    A soft label of exactly 0.5 is no decision, and counts as a disagreement."""
    if p_first.shape != first_is_better.shape or p_first.dim() != 1:
        raise ValueError(f"p_first and first_is_better must both have shape (N,), got "
                         f"{tuple(p_first.shape)} and {tuple(first_is_better.shape)}")
    decided = torch.where(first_is_better.bool(), p_first > 0.5, p_first < 0.5)  # (N,)
    return decided.float().mean().item() if len(decided) else float("nan")


@dataclass
class AILabels:
    """Preference pairs relabelled by the AI judge, and how its labels compare."""

    pairs: list[PreferencePair]
    """chosen = the response the judge prefers (pairs it could not decide or read are dropped)"""
    p_given: torch.Tensor
    """(N,) the judge's p(given chosen better) for every input pair; NaN where the judge
    prompt does not fit the model's block"""
    label_agreement: float
    """fraction of judged pairs where the judge picks the given chosen response"""
    oracle_agreement: float
    """fraction of judged pairs with oracle scores where it picks the higher-scored response"""
    too_long: int = 0
    """pairs whose judge prompt is longer than the block (not judged, dropped)"""


def ai_label_pairs(model: GPT, tok: Tokenizer, pairs: Sequence[PreferencePair],
                   question: str | Sequence[str] = JUDGE_QUESTIONS["helpful"], min_confidence: float = 0.0,
                   batch_size: int = 128) -> AILabels:
    """Relabel preference pairs with the model as judge (RLAIF).

    Each pair's soft label p = judge_probs(prompt, chosen, rejected, its question); `question` is
    one question for every pair, or one per pair (RL-CAI asks each under a principle of its own).
    The judge's chosen response is `chosen` when p > 0.5, else `rejected`, and its meta holds
    "ai_p_chosen" = max(p, 1 - p), the judge's probability for the response it put first. Pairs
    with |p - 0.5| <= min_confidence are too close to call, and pairs whose judge prompt does not
    fit the block cannot be judged: both are dropped. Oracle scores, where a pair has them,
    follow their responses (`flipped` then says the judge chose the response the oracle scores lower)."""
    if not 0.0 <= min_confidence < 0.5:
        raise ValueError(f"min_confidence must be in [0, 0.5), got {min_confidence}")
    questions = [question] * len(pairs) if isinstance(question, str) else list(question)
    if len(questions) != len(pairs):
        raise ValueError(f"got {len(questions)} questions for {len(pairs)} pairs; pass one question or one per pair")
    block_size = model.config.block_size
    fits = [max(len(judge_prompt_ids(tok, q.prompt, a, b, questions[i])) for a, b in
                ((q.chosen, q.rejected), (q.rejected, q.chosen))) <= block_size for i, q in enumerate(pairs)]
    p = torch.full((len(pairs),), float("nan"))
    for asked in sorted(set(questions)):
        judged = [i for i, ok in enumerate(fits) if ok and questions[i] == asked]
        if judged:
            p[judged] = judge_probs(model, tok, [pairs[i].prompt for i in judged], [pairs[i].chosen for i in judged],
                                    [pairs[i].rejected for i in judged], asked, batch_size)
    judged = [i for i, ok in enumerate(fits) if ok]
    relabelled = []
    for i in judged:
        pair, p_chosen = pairs[i], p[i].item()
        if abs(p_chosen - 0.5) <= min_confidence:
            continue
        keep = p_chosen > 0.5
        chosen, rejected = (pair.chosen, pair.rejected) if keep else (pair.rejected, pair.chosen)
        s_c, s_r = (pair.chosen_score, pair.rejected_score) if keep else (pair.rejected_score, pair.chosen_score)
        flipped = s_c is not None and s_r is not None and s_c < s_r
        relabelled.append(dataclasses.replace(pair, chosen=chosen, rejected=rejected, chosen_score=s_c,
                                              rejected_score=s_r, flipped=flipped,
                                              meta={**pair.meta, "ai_p_chosen": max(p_chosen, 1 - p_chosen),
                                                    "ai_question": questions[i]}))
    scored = [i for i in judged if pairs[i].chosen_score is not None and pairs[i].rejected_score is not None
              and pairs[i].chosen_score != pairs[i].rejected_score]
    oracle_first = torch.tensor([pairs[i].chosen_score > pairs[i].rejected_score for i in scored], dtype=torch.bool)
    return AILabels(
        relabelled, p,
        label_agreement=agreement(p[judged], torch.ones(len(judged), dtype=torch.bool)),
        oracle_agreement=agreement(p[scored], oracle_first),
        too_long=len(pairs) - len(judged),
    )


def judge_agreement_report(model: GPT, tok: Tokenizer, world: MiniWorld, n: int = 400, seed: int = 7,
                           question: str = JUDGE_QUESTIONS["helpful"]) -> dict[str, float]:
    """Agreement of the judge with the oracle on held-out pairs (eval split), overall and per kind."""
    pairs = make_pairs(world, n, seed, split="eval", label_temperature=0.0)  # noiseless: the oracle's own preference
    labels = ai_label_pairs(model, tok, pairs, question)
    report = {"all": labels.oracle_agreement, "too_long": float(labels.too_long)}
    for kind in sorted({q.kind for q in pairs}):
        idx = [i for i, q in enumerate(pairs) if q.kind == kind and not labels.p_given[i].isnan()]
        first = torch.tensor([pairs[i].chosen_score > pairs[i].rejected_score for i in idx], dtype=torch.bool)
        report[kind] = agreement(labels.p_given[idx], first)
    return report


# --- the feedback model: practice at judging and critiquing ---------------------------------------
@dataclass
class JudgeConfig:
    """The feedback model: the SFT model with practice at critiquing, revising and judging.

    The SFT mix holds a few thousand critique and judge demonstrations among its other examples;
    the SFT model critiques by saying "The response is fine." to almost everything and judges
    held-out pairs little better than a coin (lesson 8 measures both). Bai et al. (2022) and Lee
    et al. (2023) critique and label with a larger model than the one they train; here the same
    small model practises on n_labels world-written demonstrations whose verdicts are the oracle's,
    on train-split prompts only: comparisons asked under a principle of the constitution, and
    critique -> revision transcripts (`critic_transcript`). It writes the loop's critiques and
    revisions (SL-CAI) and RLAIF's labels."""

    n_labels: int = 6000
    ("oracle verdicts it learns from, comparisons and critiques together (ours: DPO's n_pairs, so RLAIF and DPO spend "
     "equal label budgets; lesson 8)")
    judge_share: float = 0.5
    ("fraction of them that are comparisons; the rest are critique transcripts, each taught as a critique and as a "
     "revision (ours 0.5: at 1/3 the judge agreed less with the oracle on held-out pairs)")
    flaw_rate: float = 0.5
    ("probability that a transcript's response has the flaw its principle looks for (ours 0.5: at the SFT mix's rate "
     "the critic learnt to say 'fine'; lesson 8)")
    damage_rate: float = 0.3
    """probability that a transcript's response is garbled in one span (`damage`), like a sampled one"""
    batch_size: int = 32
    loop: LoopConfig = field(default_factory=lambda: LoopConfig(steps=600, lr=1e-3, warmup_steps=10, weight_decay=0.0))
    """about two passes over the examples"""
    seed: int = 0
    """seeds the demonstrations and the batch order"""


def principle_judge_demo(world: MiniWorld, rng: random.Random, split: str = "train") -> tuple[str, str] | None:
    """A comparison under a principle drawn uniformly: (judge prompt asking PRINCIPLE_QUESTIONS[p],
    'The answer is A.' or '... B.'), labelled by `oracle.principle_preference`. None when the two
    responses are within 0.25 of each other under that principle (too close to call)."""
    prompt = world.sample_prompt(rng, split)
    principle = rng.choice(sorted(PRINCIPLES))
    a, b = (world.respond(prompt, style, rng) for style in rng.sample(world.STYLES[prompt.kind], 2))
    ka, kb = (oracle.principle_preference(principle, oracle.score(prompt, r)) for r in (a, b))
    if abs(ka - kb) < 0.25:
        return None
    return (world.judge_prompt(prompt.text, a, b, PRINCIPLE_QUESTIONS[principle]),
            f"The answer is {'A' if ka > kb else 'B'}.")


def judge_examples(world: MiniWorld, tok: Tokenizer, n: int, seed: int, block_size: int) -> list[tuple[list[int], int]]:
    """n comparison demonstrations (`principle_judge_demo`) as SFT examples (ids, prompt_len): the
    loss is on 'The answer is X.' only. Pairs too close to call are skipped."""
    return draw_examples(lambda rng: principle_judge_demo(world, rng), tok, n, seed, block_size, "judge demonstrations")


def damage(text: str, rng: random.Random, vocabulary: Sequence[str]) -> str:
    """`text` with one span of 1-4 words replaced by 0-3 random words of `vocabulary`: the kind
    of slip a sampled response makes, so the critic also learns to read imperfect text."""
    words = text.split()
    if not words:
        return text
    i = rng.randrange(len(words))
    j = min(len(words), i + rng.randint(1, 4))
    words[i:j] = [rng.choice(vocabulary) for _ in range(rng.randint(0, 3))]
    return " ".join(words) or text


def critic_transcript(world: MiniWorld, rng: random.Random, flaw_rate: float = 0.5, damage_rate: float = 0.3,
                      vocabulary: Sequence[str] = (), split: str = "train") -> list[Turn]:
    """A critique -> revision demonstration whose verdict is the oracle's (`oracle.flaw`):

        user prompt, assistant response, user critique request of a principle drawn uniformly,
        assistant critique (FLAW_CRITIQUES[principle] if the response has the flaw, else
        FINE_CRITIQUE), user revision request, assistant revision (the world's good response
        if flagged, else the response unchanged, word for word).

    With probability flaw_rate the response has the principle's flaw (where the prompt kind has
    it), else its style is drawn uniformly; with probability damage_rate one span of it is
    garbled (`damage`), and the verdict is the oracle's view of the garbled text."""
    if not 0.0 <= flaw_rate <= 1.0 or not 0.0 <= damage_rate <= 1.0:
        raise ValueError(f"flaw_rate and damage_rate must be in [0, 1], got {flaw_rate} and {damage_rate}")
    prompt = world.sample_prompt(rng, split)
    principle = rng.choice(sorted(PRINCIPLES))
    styles = world.STYLES[prompt.kind]
    flaw_style = world.FLAW_OF[principle]
    style = flaw_style if flaw_style in styles and rng.random() < flaw_rate else rng.choice(styles)
    response = world.respond(prompt, style, rng)
    if vocabulary and rng.random() < damage_rate:
        response = damage(response, rng, vocabulary)
    flagged = oracle.flaw(principle, prompt, response)
    revision = world.respond(prompt, world.GOOD_STYLE[prompt.kind], rng) if flagged else response
    critique_request, revision_request = PRINCIPLES[principle]
    return [("user", prompt.text), ("assistant", response),
            ("user", critique_request), ("assistant", FLAW_CRITIQUES[principle] if flagged else FINE_CRITIQUE),
            ("user", revision_request), ("assistant", revision)]


def critic_vocabulary(world: MiniWorld) -> list[str]:
    """The words of every response the world writes to a train-split prompt (what `damage` draws from)."""
    rng = random.Random(0)
    return sorted({w for p in world.prompts("train") for style in world.STYLES[p.kind]
                   for w in world.respond(p, style, rng).split()})


def critic_examples(world: MiniWorld, tok: Tokenizer, n: int, seed: int, block_size: int, flaw_rate: float = 0.5,
                    damage_rate: float = 0.3) -> list[tuple[list[int], int]]:
    """2n SFT examples from n critic transcripts (`critic_transcript`): each teaches its critique
    (the loss on the critique turn) and its revision (the loss on the revision turn)."""
    rng = random.Random(seed)
    vocabulary = critic_vocabulary(world)
    out: list[tuple[list[int], int]] = []
    tries = 0
    while len(out) < 2 * n:
        tries += 1
        if tries > 20 * n + 100:
            raise ValueError(f"could not draw {n} critic transcripts that fit block_size={block_size}")
        turns = critic_transcript(world, rng, flaw_rate, damage_rate, vocabulary)
        pair = [tok.encode_chat(turns[: cut - 1], turns[cut - 1][1]) for cut in (4, 6)]
        if all(len(ids) <= block_size for ids, _ in pair):
            out += pair
    return out


def feedback_examples(world: MiniWorld, tok: Tokenizer, cfg: JudgeConfig,
                      block_size: int) -> list[tuple[list[int], int]]:
    """The feedback model's training set: round(judge_share * n_labels) comparisons and the rest
    critique transcripts (two examples each); n_labels oracle verdicts in all."""
    n_judge = round(cfg.judge_share * cfg.n_labels)
    return (judge_examples(world, tok, n_judge, cfg.seed, block_size)
            + critic_examples(world, tok, cfg.n_labels - n_judge, cfg.seed + 1, block_size, cfg.flaw_rate,
                              cfg.damage_rate))


def train_judge(model: GPT, tok: Tokenizer, world: MiniWorld, cfg: JudgeConfig | None = None) -> MetricsLog:
    """Fine-tune `model` in place into the feedback model (`feedback_examples`, the SFT loss);
    returns the metrics log."""
    cfg = cfg or JudgeConfig()
    examples = feedback_examples(world, tok, cfg, model.config.block_size)
    return sft.fine_tune(model, tok, examples, cfg.batch_size, cfg.seed, cfg.loop, "judge")

# --- RLAIF-DPO: DPO on the feedback model's labels ------------------------------------------------
LABEL_MODES = ("soft", "hard")
"""how RLAIF feeds the judge's labels to DPO: as soft labels (cDPO with a per-pair eps) or hard"""


@dataclass
class RLAIFConfig:
    """RL-CAI with DPO (Bai et al. 2022, section 4): the pairs oracle-label DPO trains on,
    relabelled by the feedback model (stage 'judge'), each asked under a principle of the
    constitution drawn at random."""

    principles: tuple[str, ...] = ()
    """principles the comparisons are asked under, () = the whole constitution (Bai et al. sample one per comparison)"""
    label_mode: Literal["soft", "hard"] = "soft"
    ("'soft': cDPO with eps_i = 1 - p_i, the judge's doubt about pair i (Bai et al. train on the judge's "
     "probabilities); 'hard': chosen = the judge's pick, eps = 0; lesson 8")
    min_confidence: float = 0.0
    """drop pairs whose soft label is within this of 0.5 (0 keeps every decided pair)"""
    judge_batch_size: int = 128
    """judge prompts per forward pass"""
    dpo: DPOConfig = field(default_factory=lambda: DPOConfig(nll_weight=0.0))
    ("the DPO run (n_pairs, label_temperature and seed pick the pairs the judge relabels); no NLL term (paper DPO: an "
     "NLL term would imitate responses the judge is unsure of; lesson 8)")


def rlaif_questions(constitution: Constitution, n: int, seed: int) -> list[str]:
    """n comparison questions, each that of a principle drawn uniformly (`PRINCIPLE_QUESTIONS`)."""
    rng = random.Random(seed)
    return [PRINCIPLE_QUESTIONS[rng.choice(constitution.principles).name] for _ in range(n)]


def soft_label_smoothing(labels: AILabels) -> list[float]:
    """cDPO's eps_i = 1 - p_i for each relabelled pair, p_i the judge's probability for the
    response it chose (so a sure judge gives eps near 0, a doubtful one near 0.5)."""
    return [min(1.0 - q.meta["ai_p_chosen"], 0.4999) for q in labels.pairs]


def train_rlaif_dpo(policy: GPT, ref: GPT, judge: GPT, tok: Tokenizer, world: MiniWorld,
                    cfg: RLAIFConfig | None = None) -> MetricsLog:
    """RLAIF with DPO: draw the pairs oracle-label DPO would train on, let `judge` relabel them
    (each under a principle drawn from the constitution), and train `policy` in place with the
    shared loop `dpo.train_dpo`, on soft or hard labels. Returns the metrics log, whose last row
    says how the judge's labels compare (`AILabels`: agreement with the given labels and with the
    oracle, pairs kept)."""
    cfg = cfg or RLAIFConfig()
    if cfg.label_mode not in LABEL_MODES:
        raise ValueError(f"label_mode must be one of {LABEL_MODES}, got {cfg.label_mode!r}")
    constitution = default_constitution()
    constitution = constitution.subset(cfg.principles) if cfg.principles else constitution
    pairs = make_pairs(world, cfg.dpo.n_pairs, cfg.dpo.seed, "train", cfg.dpo.label_temperature)
    questions = rlaif_questions(constitution, len(pairs), cfg.dpo.seed + 1)  # not make_pairs' own stream
    labels = ai_label_pairs(judge, tok, pairs, questions, cfg.min_confidence, cfg.judge_batch_size)
    eps = soft_label_smoothing(labels) if cfg.label_mode == "soft" else None
    log = train_dpo(policy, ref, tok, world, cfg.dpo, pairs=labels.pairs, label_smoothing=eps)
    log.log(0, ai_label_agreement=labels.label_agreement, ai_oracle_agreement=labels.oracle_agreement,
            ai_pairs=len(labels.pairs))
    return log
