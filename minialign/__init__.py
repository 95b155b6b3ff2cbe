"""minialign: LLM alignment from scratch, small enough to read and to run on a laptop CPU.

One idea per module: model (GPT), tokenizer, world (MiniWorld) and oracle, logprobs, sft,
reward, ppo, dpo, orpo, grpo, cai and rlaif, evaluate, critique_eval and redteam; train holds
what the loops share, rollout samples, stages caches trained models, pipeline runs everything.
"""

__version__ = "0.1.0"
