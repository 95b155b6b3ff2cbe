"""MiniWorld: a small, seeded, procedural world to align a tiny GPT in.

Everything the course trains on is generated here, from code, with no download:
- the pretraining corpus: facts, sums, how-to articles (harmful ones too, as web text has),
  quiz lists and advice-forum posts;
- chat prompts of five kinds: factual, arithmetic, harmful, benign-but-scary, advice;
- candidate responses of known style (correct, wrong, unsure, rambling, comply, refuse, ...);
- SFT demonstrations (mostly good, with some noise), critique -> revision demonstrations and
  AI-judge demonstrations.

The oracle that scores responses lives in `oracle.py`; preference pairs in `preferences.py`.
The literal tables (facts, tasks, phrasings, principles) live in `world_data.py`; every one of
them is importable from here too (see `__all__`).

Prompts fall into three splits (`SPLITS`), none of them sharing a prompt text:
- "train": everything post-training may use (SFT, preference pairs, RL prompts, critique
  transcripts, judge demonstrations);
- "new_phrasings": tasks, facts and sums that the training split covers, in phrasings it never
  uses (a covered task's other question templates);
- "new_tasks": harmful and benign tasks, facts, sums and advice topics that the pretraining
  corpus contains but that no post-training data mentions at all.
The two held-out splits are `EVAL_SPLITS`; "eval" means both together.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from .world_data import (
    ADVICE,
    ADVICE_OPENERS,
    ANSWER_POOLS,
    BENIGN,
    BENIGN_TEMPLATES,
    FACT_ANSWER_FORMS,
    HARM_CATEGORIES,
    HARM_MARKERS,
    HARM_TEMPLATES,
    HARMFUL,
    JUDGE_QUESTIONS,
    PRINCIPLE_QUESTIONS,
    PRINCIPLES,
    RAMBLE_TAIL,
    REFUSAL,
    RELATIONS,
    SUM_TEMPLATES,
    UNSURE,
)

__all__ = [
    # the world and its prompts
    "KINDS", "SPLITS", "EVAL_SPLITS", "Prompt", "WorldConfig", "MiniWorld", "fact_answer_sentence", "sum_sentence",
    # its tables, defined in world_data.py
    "RELATIONS", "ANSWER_POOLS", "HARMFUL", "HARM_CATEGORIES", "HARM_MARKERS", "BENIGN", "ADVICE", "REFUSAL", "UNSURE",
    "RAMBLE_TAIL", "HARM_TEMPLATES", "BENIGN_TEMPLATES", "ADVICE_OPENERS", "SUM_TEMPLATES", "FACT_ANSWER_FORMS",
    "PRINCIPLES", "JUDGE_QUESTIONS", "PRINCIPLE_QUESTIONS",
]

KINDS = ("factual", "arithmetic", "harmful", "benign", "advice")
SPLITS = ("train", "new_phrasings", "new_tasks")
EVAL_SPLITS = ("new_phrasings", "new_tasks")
"""the held-out splits, reported side by side"""


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def fact_answer_sentence(relation: str, x: str, y: str, template: int = 0) -> str:
    """A short answer stating that x's relation value is y (true or not).

    Answers name the value without repeating the question: a tiny model copies words from the
    prompt poorly, and the lessons are about alignment, not about copying."""
    forms = FACT_ANSWER_FORMS[relation]
    return forms[template % len(forms)].format(x=x, X=_cap(x), y=y)


def sum_sentence(a: int, op: str, b: int, value: int) -> str:
    """A sum as the corpus writes it, "3 plus 4 is 7." (op is 'plus' or 'minus'; value may be wrong).

    Arithmetic chat answers use the very same sentence, so they end in the words after which
    the base model learnt the result; "The answer is 7." would ask the model to fetch a fact it
    only knows in another form."""
    return f"{a} {op} {b} is {value}."


def _family(prompt: "Prompt") -> str:
    """The family a task is drawn from when tasks are held out: its relation, harm category or kind."""
    return prompt.category if prompt.kind in ("factual", "harmful") else prompt.kind


def _order(prompt: "Prompt") -> tuple[str, str, str]:
    return prompt.kind, prompt.topic, prompt.text


@dataclass(frozen=True)
class Prompt:
    """A chat prompt with what the oracle needs to know about it."""

    text: str
    kind: str
    """factual | arithmetic | harmful | benign | advice"""
    topic: str
    """key into the world's tables (e.g. 'capital:France', 'break_in', '7+5')"""
    category: str = ""
    """relation for facts, harm category for harmful prompts, operator for sums"""
    answer: str = ""
    """the correct answer, where there is one"""


@dataclass
class WorldConfig:
    seed: int = 0
    """seeds every sampled choice: corpus order, splits, noise"""
    n_arith_max: int = 9
    """operands of sums are 0 .. n_arith_max"""
    new_task_frac: float = 0.25
    ("fraction of each family (a relation's facts, a harm category's tasks, the sums, the benign tasks, the advice "
     "topics) kept out of all post-training: the new_tasks split")
    heldout_frac: float = 0.375
    """fraction of each covered task's phrasings kept out of all post-training: the new_phrasings split"""
    sft_noise: dict = field(default_factory=lambda: {
        # probability that an SFT demonstration is of a bad style (the rest are good)
        "factual": {"wrong": 0.06, "unsure": 0.04, "ramble": 0.08},
        "arithmetic": {"wrong": 0.3},
        "harmful": {"comply": 0.35, "refuse": 0.2},
        "benign": {"refuse": 0.25},
        "advice": {"overconfident": 0.3},
    })


class MiniWorld:
    """The seeded world: prompts, responses of known style, corpora and demonstrations."""

    def __init__(self, config: WorldConfig | None = None):
        self.config = config or WorldConfig()
        rng = random.Random(self.config.seed)
        by_task: dict[tuple[str, str], list[Prompt]] = {}
        for p in self._all_prompts():
            by_task.setdefault((p.kind, p.topic), []).append(p)
        # new tasks: a fraction of every family, so every relation and harm category has some
        families: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for kind, topic in sorted(by_task):
            families.setdefault((kind, _family(by_task[kind, topic][0])), []).append((kind, topic))
        new_tasks: set[tuple[str, str]] = set()
        for family in sorted(families):
            members = families[family]
            rng.shuffle(members)
            new_tasks.update(members[: max(1, round(len(members) * self.config.new_task_frac))])
        # new phrasings: a fraction of the phrasings of every covered task
        pools: dict[str, list[Prompt]] = {name: [] for name in SPLITS}
        for key in sorted(by_task):
            group = by_task[key]
            if key in new_tasks:
                pools["new_tasks"] += group
                continue
            rng.shuffle(group)
            n_held = max(1, round(len(group) * self.config.heldout_frac))
            pools["new_phrasings"] += group[:n_held]
            pools["train"] += group[n_held:]
        self._pools = {name: sorted(pool, key=_order) for name, pool in pools.items()}
        self._pools["eval"] = sorted(pools["new_phrasings"] + pools["new_tasks"], key=_order)
        self.train_pool = self._pools["train"]
        self.eval_pool = self._pools["eval"]
        self.new_tasks = frozenset(new_tasks)
        """(kind, topic) of every task in the new_tasks split: in the corpus, in no post-training data"""

    # --- prompts ----------------------------------------------------------------------------
    def _all_prompts(self) -> list[Prompt]:
        prompts = []
        for rel, (facts, questions, _) in RELATIONS.items():
            for x, y in facts.items():
                for q in questions:
                    prompts.append(Prompt(q.format(x=x), "factual", f"{rel}:{x}", rel, y))
        n = self.config.n_arith_max
        for a in range(n + 1):
            for b in range(n + 1):
                for t in SUM_TEMPLATES:
                    prompts.append(Prompt(t.format(a=a, op="plus", b=b), "arithmetic", f"{a}+{b}", "plus", str(a + b)))
                    if a >= b:
                        prompts.append(Prompt(t.format(a=a, op="minus", b=b), "arithmetic", f"{a}-{b}", "minus",
                                              str(a - b)))
        for task, (cat, phrase, _, _) in HARMFUL.items():
            for t in HARM_TEMPLATES:
                prompts.append(Prompt(t.format(t=phrase), "harmful", task, cat))
        for task, (phrase, _, _) in BENIGN.items():
            for t in BENIGN_TEMPLATES:
                prompts.append(Prompt(t.format(t=phrase), "benign", task, "benign"))
        for topic, (question, _, _) in ADVICE.items():
            for opener in ADVICE_OPENERS:
                prompts.append(Prompt(opener + question, "advice", topic, "advice"))
        return prompts

    def prompts(self, split: str = "train", kind: str | None = None) -> list[Prompt]:
        """Prompts of one split ('train', 'new_phrasings', 'new_tasks', or 'eval' for both held-out
        splits), optionally of one kind."""
        pool = self._pools.get(split)
        if pool is None:
            raise ValueError(f"split must be one of {SPLITS + ('eval',)}, got {split!r}")
        return [p for p in pool if kind is None or p.kind == kind]

    def eval_split(self, name: str) -> list[Prompt]:
        """Every distinct prompt of one held-out split (see EVAL_SPLITS)."""
        if name not in EVAL_SPLITS:
            raise ValueError(f"held-out split must be one of {EVAL_SPLITS}, got {name!r}")
        return list(self._pools[name])

    def eval_prompts(self, n: int = 200, seed: int = 1234, mix: dict | None = None) -> list[Prompt]:
        """A fixed, balanced held-out prompt set (the same for every model, for a given world)."""
        mix = mix or {"factual": 0.3, "arithmetic": 0.2, "harmful": 0.2, "benign": 0.15, "advice": 0.15}
        rng = random.Random(seed)
        out = []
        for kind, frac in mix.items():
            pool = self.prompts("eval", kind)
            k = round(n * frac)
            out += [pool[i % len(pool)] for i in rng.sample(range(len(pool)), min(k, len(pool)))]
            out += [rng.choice(pool) for _ in range(k - min(k, len(pool)))]
        return out[:n]

    def red_team_prompts(self, split: str = "eval") -> dict[str, list[Prompt]]:
        """Harmful prompts grouped by harm category."""
        out: dict[str, list[Prompt]] = {c: [] for c in HARM_CATEGORIES}
        for p in self.prompts(split, "harmful"):
            out[p.category].append(p)
        return out

    def sample_prompt(self, rng: random.Random, split: str = "train", kind: str | None = None) -> Prompt:
        kind = kind or rng.choices(KINDS, weights=(0.3, 0.25, 0.2, 0.13, 0.12))[0]
        return rng.choice(self.prompts(split, kind))

    # --- responses of known style -----------------------------------------------------------
    STYLES = {
        "factual": ("correct", "wrong", "unsure", "ramble", "refuse"),
        "arithmetic": ("correct", "wrong"),
        "harmful": ("refuse_redirect", "refuse", "comply"),
        "benign": ("helpful", "refuse"),
        "advice": ("nuanced", "overconfident", "refuse"),
    }
    GOOD_STYLE = {"factual": "correct", "arithmetic": "correct", "harmful": "refuse_redirect",
                  "benign": "helpful", "advice": "nuanced"}

    def respond(self, prompt: Prompt, style: str, rng: random.Random | None = None) -> str:
        """A response to `prompt` in a given style (see STYLES)."""
        rng = rng or random.Random(0)
        if style not in self.STYLES[prompt.kind]:
            raise ValueError(f"style {style!r} is not one of {self.STYLES[prompt.kind]} for {prompt.kind} prompts")
        if style == "refuse":
            return REFUSAL
        if prompt.kind == "factual":
            rel, x = prompt.topic.split(":", 1)
            t = rng.randrange(2)
            if style == "correct":
                return fact_answer_sentence(rel, x, prompt.answer, t)
            if style == "wrong":
                wrong = rng.choice([a for a in ANSWER_POOLS[rel] if a != prompt.answer])
                return fact_answer_sentence(rel, x, wrong, t)
            if style == "unsure":
                return UNSURE
            return fact_answer_sentence(rel, x, prompt.answer, t) + " " + RAMBLE_TAIL
        if prompt.kind == "arithmetic":
            a, b = (int(v) for v in prompt.topic.replace("-", "+").split("+"))
            value = int(prompt.answer)
            if style == "wrong":
                wrong = value + rng.choice([-10, -2, -1, 1, 2, 10])
                value = wrong if wrong >= 0 else value + 1
            return sum_sentence(a, prompt.category, b, value)  # category is the operator
        if prompt.kind == "harmful":
            _, _, steps, redirect = HARMFUL[prompt.topic]
            if style == "comply":
                return "Sure. " + steps
            return REFUSAL + " " + redirect
        if prompt.kind == "benign":
            return "Sure. " + BENIGN[prompt.topic][1]
        _, nuanced, overconfident = ADVICE[prompt.topic]
        return nuanced if style == "nuanced" else overconfident

    def sft_response(self, prompt: Prompt, rng: random.Random) -> tuple[str, str]:
        """(style, response) for an SFT demonstration: good, except with the noise of WorldConfig."""
        noise = self.config.sft_noise.get(prompt.kind, {})
        u, acc = rng.random(), 0.0
        style = self.GOOD_STYLE[prompt.kind]
        for bad, p in noise.items():
            acc += p
            if u < acc:
                style = bad
                break
        return style, self.respond(prompt, style, rng)

    # --- critique -> revision demonstrations -----------------------------------------------
    FLAW_OF = {"harm": "comply", "honesty": "wrong", "helpful": "refuse", "caution": "overconfident"}
    """the response style each principle's critique points out"""
    FLAW_CRITIQUES = {
        "comply": "The response explains how to do something harmful.",
        "wrong": "The response gives a wrong answer.",
        "refuse": "The response refuses a safe request.",
        "overconfident": "The response is overconfident.",
    }
    """what a careful critic says of a response with that flaw"""

    def critique(self, prompt: Prompt, response_style: str, principle: str) -> str:
        """What a careful critic says about a response of a known style under a principle."""
        # a refusal of a harmful request is not a failure to help
        if principle == "helpful" and prompt.kind == "harmful":
            return "The response is fine."
        flaw = self.FLAW_OF[principle]
        return self.FLAW_CRITIQUES[flaw] if response_style == flaw else "The response is fine."

    def revision(self, prompt: Prompt, response: str, response_style: str, principle: str,
                 rng: random.Random) -> str:
        if self.critique(prompt, response_style, principle) == "The response is fine.":
            return response
        return self.respond(prompt, self.GOOD_STYLE[prompt.kind], rng)

    def principle_for(self, prompt: Prompt, rng: random.Random) -> str:
        """The principle most relevant to a prompt kind (with some randomness)."""
        relevant = {"harmful": "harm", "factual": "honesty", "arithmetic": "honesty",
                    "benign": "helpful", "advice": "caution"}[prompt.kind]
        return relevant if rng.random() < 0.8 else rng.choice(sorted(PRINCIPLES))

    def revision_demo(self, rng: random.Random, split: str = "train",
                      flaw_rate: float | None = None) -> list[tuple[str, str]]:
        """A multi-turn critique -> revision demonstration as chat turns [(role, text), ...].

        The response's style is drawn uniformly, so most responses are fine under the principle
        drawn and the critic mostly says so. With `flaw_rate`, the response has the flaw the
        principle looks for with that probability (where the prompt kind has it), so a model
        trained on the demonstrations sees flaws named often enough to learn to name them."""
        if flaw_rate is not None and not 0.0 <= flaw_rate <= 1.0:
            raise ValueError(f"flaw_rate must be in [0, 1] or None, got {flaw_rate}")
        prompt = self.sample_prompt(rng, split)
        if flaw_rate is None:
            # draws in the original order, so the tokenizer and SFT data (and their caches) stay as they were
            style = rng.choice(self.STYLES[prompt.kind])
            response = self.respond(prompt, style, rng)
            principle = self.principle_for(prompt, rng)
        else:
            principle = self.principle_for(prompt, rng)
            flaw = self.FLAW_OF[principle]
            if flaw in self.STYLES[prompt.kind] and rng.random() < flaw_rate:
                style = flaw
            else:
                style = rng.choice(self.STYLES[prompt.kind])
            response = self.respond(prompt, style, rng)
        critique_request, revision_request = PRINCIPLES[principle]
        return [
            ("user", prompt.text), ("assistant", response),
            ("user", critique_request), ("assistant", self.critique(prompt, style, principle)),
            ("user", revision_request), ("assistant", self.revision(prompt, response, style, principle, rng)),
        ]

    # --- AI judge demonstrations -------------------------------------------------------------
    @staticmethod
    def judge_prompt(prompt_text: str, response_a: str, response_b: str, question: str) -> str:
        return f"{prompt_text} (A) {response_a} (B) {response_b} {question}"

    # --- pretraining corpus --------------------------------------------------------------------
    def corpus_documents(self, n_docs: int = 12000, seed: int | None = None) -> list[str]:
        """Web-like documents: facts, sums, how-tos (harmful too), quiz lists, advice posts.

        None of it is in the chat format: a base model trained on it continues text."""
        rng = random.Random(self.config.seed if seed is None else seed)
        makers = [
            (0.26, self._doc_facts), (0.26, self._doc_sums), (0.24, self._doc_howto),
            (0.08, self._doc_quiz), (0.10, self._doc_advice), (0.06, self._doc_misc),
        ]
        weights = [w for w, _ in makers]
        return [rng.choices(makers, weights=weights)[0][1](rng) for _ in range(n_docs)]

    def _doc_facts(self, rng: random.Random) -> str:
        sents = []
        for _ in range(rng.randint(3, 6)):
            rel = rng.choice(sorted(RELATIONS))
            facts, _, statements = RELATIONS[rel]
            x = rng.choice(sorted(facts))
            sents.append(rng.choice(statements).format(x=x, X=_cap(x), y=facts[x]))
        return " ".join(sents)

    def _doc_sums(self, rng: random.Random) -> str:
        n = self.config.n_arith_max
        lines = []
        for _ in range(rng.randint(3, 6)):
            a, b = rng.randint(0, n), rng.randint(0, n)
            if rng.random() < 0.5:
                lines.append(sum_sentence(a, "plus", b, a + b))
            else:
                a, b = max(a, b), min(a, b)
                lines.append(sum_sentence(a, "minus", b, a - b))
        return " ".join(lines)

    def _doc_howto(self, rng: random.Random) -> str:
        if rng.random() < 0.5:
            _, phrase, steps, _ = HARMFUL[rng.choice(sorted(HARMFUL))]
        else:
            phrase, steps, _ = BENIGN[rng.choice(sorted(BENIGN))]
        # forum posts ask in every phrasing a chat user might use, so the base model answers them all
        opener = rng.choice(HARM_TEMPLATES + ["Here is how to {t}.", "Guide: how to {t}."])
        return opener.format(t=phrase) + " " + steps

    def _doc_quiz(self, rng: random.Random) -> str:
        qs = []
        for _ in range(rng.randint(3, 5)):
            p = rng.choice(self.train_pool)
            if p.kind in ("factual", "arithmetic", "advice", "harmful", "benign"):
                qs.append(p.text)
        return "Quiz time. " + " ".join(qs)

    def _doc_advice(self, rng: random.Random) -> str:
        question, nuanced, overconfident = ADVICE[rng.choice(sorted(ADVICE))]
        # forums are loud: the overconfident answer is the common one
        answer = overconfident if rng.random() < 0.6 else nuanced
        return f"{rng.choice(ADVICE_OPENERS)}{question} {answer}"

    def _doc_misc(self, rng: random.Random) -> str:
        p = rng.choice(self.train_pool)
        return f"{p.text} {UNSURE} {RAMBLE_TAIL}"
