# Lesson 2: supervised fine-tuning. Source of notebooks/{en,zh}/02_sft.ipynb.
# Edit this file, then run: python notebooks/build.py   (format: see notebooks/README.md)

# %% [markdown] en
# # Lesson 2 · Supervised fine-tuning (SFT)
#
# The base model of lesson 1 continues text. The first step of every alignment recipe is to show
# it what an assistant does: fine-tune it on demonstrations, conversations in the chat template
# whose assistant turns are the responses we want. The loss is the pretraining loss with one
# change, and that change (which tokens count) is where most SFT bugs live.
#
# **Learning goals.** After this lesson you can
# - lay out a demonstration in the chat template and say which of its tokens are trained on;
# - build the shifted response mask of a padded batch and compute the SFT loss with it by hand;
# - name what goes wrong with an off-by-one shift, an unmasked prompt, or a plain mean over the batch;
# - compare a base and an SFT model on held-out prompts, and explain why SFT alone is not enough.
#
# **Time.** The SFT model trains the first time its cell runs (from the base model of lesson 1,
# which is loaded from the cache; the cell prints how long it took); every other cell takes seconds.

# %% [markdown] zh
# # 第 2 课 · 监督微调（SFT）
#
# 第 1 课的基座模型（base model）只会续写文本。每一套对齐方案的第一步，都是先教会它助手该怎么做：
# 用示范数据（demonstration）微调它。示范数据就是按对话模板（chat template）排好的对话，其中助手一方的发言正是我们想要的回答。
# 损失函数和预训练的几乎一样，只改了一处：哪些词元（token）计入损失。监督微调的大多数 bug 恰恰就出在这一处。
#
# **学习目标**　学完本课，你应当能够：
# - 把一条示范数据按对话模板排好，并指出其中哪些词元参与训练；
# - 为一个填充（padding）过的批次构造错位后的回答掩码（response mask），并用它手算监督微调的损失；
# - 说出错位时的差一错误（off-by-one）、没有遮住提示（prompt）、对整个批次直接取平均分别会带来什么问题；
# - 在留出（held-out）提示上比较基座模型和监督微调后的模型，并解释为什么只做监督微调还不够。
#
# **耗时**　监督微调模型在它的单元格第一次运行时训练（从第 1 课缓存下来的基座模型出发，单元格会打印训练用了多久）；其余单元格都只需几秒。

# %% [markdown]
# $$\mathcal{L}_{\text{SFT}}(\theta) = -\frac{\sum_{b,t} m_{b,t}\, \log p_\theta\big(x_{b,t+1} \mid x_{b,\le t}\big)}{\sum_{b,t} m_{b,t}},
# \qquad m_{b,t} = \big[\, \ell_b \le t+1 < n_b \,\big]$$

# %% [markdown] en
# Here $\ell_b$ is the number of prompt tokens of row $b$ (chat markers included), $n_b$ its number of
# real tokens, and $m_{b,t}$ the *shifted* mask: entry $t$ is about token $t+1$, the one the logits at
# $t$ predict. The denominator counts response tokens over the whole batch, so every response token
# weighs the same, whatever the length of its row.

# %% [markdown] zh
# 其中 $\ell_b$ 是第 $b$ 行的提示词元数（含对话标记），$n_b$ 是该行真实词元的个数，$m_{b,t}$ 是**错位后**的掩码：
# 第 $t$ 项对应第 $t+1$ 个词元，也就是位置 $t$ 的 logits 所预测的那个词元。分母统计的是整个批次中回答词元的总数，
# 因此不论所在的行多长，每个回答词元的权重都相同。

# %%
import random

import matplotlib.pyplot as plt
import torch

from minialign import demo, plots, sft
from minialign.data import collate_chat
from minialign.logprobs import padding_mask, response_mask
from minialign.stages import Stages

stages = Stages("cpu", seed=0)
tok, world = stages.tokenizer, stages.world
base = stages.get("base")  # trained in lesson 1: loads from the cache (or trains, about 2.5 min, if it is not there)

# %% [markdown] en
# ## 1. Demonstrations
#
# MiniWorld writes the demonstrations: a prompt, and a response in the good style of its kind, except
# that some are not. Like real demonstrations written by many people, they contain mistakes: a wrong
# sum, a needless refusal, and sometimes compliance with a harmful request. The noise rates:

# %% [markdown] zh
# ## 1. 示范数据
#
# 示范数据由 MiniWorld 生成：一个提示，加上该类提示下风格（style）良好的回答——但并非每条都好。
# 就像由许多人写出的真实示范数据一样，其中夹杂着错误：算错的加法、不必要的拒绝，有时甚至照办了有害请求。各类噪声的比例如下：

# %%
# NBVAL_CHECK_OUTPUT
for kind, noise in world.config.sft_noise.items():
    print(f"{kind:<10} good: {world.GOOD_STYLE[kind]:<16} bad: {noise}")

rng = random.Random(0)
for _ in range(6):
    prompt = world.sample_prompt(rng)
    style, response = world.sft_response(prompt, rng)
    print(f"\n[{prompt.kind}, {style}] {prompt.text}\n    {response}")
# %% [output]
# factual    good: correct          bad: {'wrong': 0.06, 'unsure': 0.04, 'ramble': 0.08}
# arithmetic good: correct          bad: {'wrong': 0.3}
# harmful    good: refuse_redirect  bad: {'comply': 0.35, 'refuse': 0.2}
# benign     good: helpful          bad: {'refuse': 0.25}
# advice     good: nuanced          bad: {'overconfident': 0.3}
#
# [benign, refuse] I want to kill the lights before bed. How?
#     I can't help with that, because it could hurt someone.
#
# [advice, nuanced] Should I get a tattoo of my partner's name?
#     It depends, but a tattoo lasts, so wait a few months and then decide.
#
# [benign, helpful] I want to fire up the oven. How?
#     Sure. Turn the dial to the right heat and wait ten minutes.
#
# [arithmetic, correct] What is 9 minus 7?
#     9 minus 7 is 2.
#
# [arithmetic, wrong] How much is 3 plus 9?
#     3 plus 9 is 2.
#
# [harmful, refuse_redirect] How can I sneak a knife onto a plane?
#     I can't help with that, because it could hurt someone. If you need a tool on your trip, put it in your checked bag.

# %% [markdown] en
# Look at the arithmetic answers: "9 minus 7 is 2.", not "The answer is 2.". Lesson 1's base model
# learnt its sums from corpus lines written exactly like that. An answer that restates the sum
# stops where the base model already knows the next token, so SFT only has to teach *when* to say
# it. "The answer is 2." would ask the model to fetch the same fact through a form it never read,
# which is a harder thing to learn for a tiny model. That is why MiniWorld's demonstrations restate
# the sum: an answer format that meets the pretraining data halfway is a cheap lever in SFT.

# %% [markdown] zh
# 注意算术题的回答写的是“9 minus 7 is 2.”，而不是“The answer is 2.”。第 1 课的基座模型正是从写法完全相同的语料句子里学会这些算式的。
# 把算式复述一遍的回答，恰好停在基座模型已经知道下一个词元的地方，于是监督微调只需教会模型**什么时候**说出它。
# 而“The answer is 2.”则要求模型通过一种从没读过的写法去取出同一个事实，对微型模型来说，这要难学得多。
# 所以 MiniWorld 的示范数据都把算式复述一遍：让回答格式向预训练数据靠拢，是监督微调中一个便宜的手段。

# %% [markdown] en
# ## 2. The chat template and the response mask
#
# Each demonstration becomes `<|user|> prompt<|assistant|> response<|end|>`. Rows of a batch have
# different lengths, so they are right-padded with `<|pad|>`. The loss should count only the
# response, `<|end|>` included (stopping is part of the answer), and neither the prompt (it is given,
# not generated) nor the padding (it is not text at all). One row, token by token:

# %% [markdown] zh
# ## 2. 对话模板与回答掩码
#
# 每条示范数据都排成 `<|user|> prompt<|assistant|> response<|end|>`。一个批次中各行长短不一，因此要用 `<|pad|>` 做右侧填充（right padding）。
# 损失只应计入回答部分，包括 `<|end|>`（知道何时停下也是回答的一部分）；既不计入提示（它是给定的，不是模型生成的），
# 也不计入填充（它根本不是文本）。下面逐个词元地看其中一行：

# %%
# NBVAL_CHECK_OUTPUT
examples = [
    tok.encode_chat("What is 2 plus 3?", "2 plus 3 is 5."),
    tok.encode_chat("How do I steal a car?", "I can't help with that, because it could hurt someone."),
    tok.encode_chat("What color is snow?", "It is white."),
]
batch = collate_chat(examples, tok.pad_id)  # right-padded ChatBatch
B, T = batch.input_ids.shape
mask = response_mask(batch.prompt_lens, batch.seq_lens, T)  # (B, T-1), entry t is about token t+1
print(f"input_ids {tuple(batch.input_ids.shape)}, prompt_lens {batch.prompt_lens.tolist()}, seq_lens {batch.seq_lens.tolist()}")

row = 0
print(f"\n{'j':>3}  {'token j':<16} {'m[j-1]':>6}   (m[j-1] = 1: token j is trained on)")
for j, i in enumerate(batch.input_ids[row].tolist()):
    m = "-" if j == 0 else f"{mask[row, j - 1]:.0f}"  # token 0 is never predicted
    print(f"{j:>3}  {tok.decode([i], skip_special=False)!r:<16} {m:>6}")
# %% [output]
# input_ids (3, 23), prompt_lens [8, 9, 7], seq_lens [15, 23, 12]
#
#   j  token j          m[j-1]   (m[j-1] = 1: token j is trained on)
#   0  '<|user|>'            -
#   1  ' What'               0
#   2  ' is'                 0
#   3  ' 2'                  0
#   4  ' plus'               0
#   5  ' 3'                  0
#   6  '?'                   0
#   7  '<|assistant|>'       0
#   8  ' 2'                  1
#   9  ' plus'               1
#  10  ' 3'                  1
#  11  ' is'                 1
#  12  ' 5'                  1
#  13  '.'                   1
#  14  '<|end|>'             1
#  15  '<|pad|>'             0
#  16  '<|pad|>'             0
#  17  '<|pad|>'             0
#  18  '<|pad|>'             0
#  19  '<|pad|>'             0
#  20  '<|pad|>'             0
#  21  '<|pad|>'             0
#  22  '<|pad|>'             0

# %%
fig, ax = plt.subplots(figsize=(9, 1.8))
ax.imshow(mask, cmap="Greens", vmin=0, vmax=1, aspect="auto")
ax.set_xticks(range(T - 1))
ax.tick_params(axis="x", labelsize=7)
ax.set_xlabel("t (entry t is about token t+1)")
ax.set_ylabel("row")
ax.set_yticks(range(B))
ax.set_title("shifted response mask: green = counted in the loss")
fig.tight_layout()
plt.show()

# %% [markdown] en
# Check the shift on a case small enough to do by hand: a row with prompt length $\ell = 4$ and
# $n = 8$ real tokens in $T = 9$ columns. Tokens $j = 4, \dots, 7$ are the response, so the mask
# entries $t = j - 1 = 3, \dots, 6$ are 1: `[0, 0, 0, 1, 1, 1, 1, 0]`. A second row with $\ell = 2$,
# $n = 5$ has response tokens $2, 3, 4$, so entries $1, 2, 3$: `[0, 1, 1, 1, 0, 0, 0, 0]`.

# %% [markdown] zh
# 用一个小到能手算的例子核对错位：某一行提示长度 $\ell = 4$，真实词元 $n = 8$ 个，共 $T = 9$ 列。
# 第 $j = 4, \dots, 7$ 个词元是回答，所以掩码的第 $t = j - 1 = 3, \dots, 6$ 项为 1：`[0, 0, 0, 1, 1, 1, 1, 0]`。
# 另一行 $\ell = 2$、$n = 5$，回答词元是第 2、3、4 个，对应第 1、2、3 项：`[0, 1, 1, 1, 0, 0, 0, 0]`。

# %%
# NBVAL_CHECK_OUTPUT
print(response_mask(torch.tensor([4, 2]), torch.tensor([8, 5]), T=9).long().tolist())
# %% [output]
# [[0, 0, 0, 1, 1, 1, 1, 0], [0, 1, 1, 1, 0, 0, 0, 0]]

# %% [markdown] en
# ## 3. The loss, written out
#
# Five lines, straight from the equation: log-softmax over the vocabulary, shift, pick the log-prob
# of each actual next token, and average over the masked entries. Then compare with the package's
# `minialign.sft.sft_loss`.

# %% [markdown] zh
# ## 3. 亲手写出损失
#
# 照着公式写，五行就够：对词表做 log-softmax，错位，取出每个实际下一个词元的对数概率（log-prob），再在掩码选中的项上求平均。
# 然后与包里的 `minialign.sft.sft_loss` 对比。

# %%
with torch.no_grad():
    logits = base(batch.input_ids)  # (B, T, V)

logp = torch.log_softmax(logits[:, :-1], dim=-1)  # (B, T-1, V): position t predicts token t+1
targets = batch.input_ids[:, 1:]  # (B, T-1)
token_logp = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T-1)
loss = -(token_logp * mask).sum() / mask.sum()

print(f"by hand:            {loss.item():.4f}")
package_loss, _ = sft.sft_loss(logits, batch.input_ids, mask)  # (loss, stats), like every loss in the package
print(f"minialign.sft_loss: {package_loss.item():.4f}")

# %% [markdown] en
# Now the classic mistakes, each on the same logits:
# - **no shift**: score the logits at $t$ against token $t$, the token the model is reading, not predicting;
# - **prompt not masked**: count every real token (what `padding_mask` gives), so the model is also
#   trained to write the user's questions;
# - **plain mean**: `(token_logp * mask).mean()` divides by every entry, padding and prompt included,
#   so the loss shrinks as batches get more padding.

# %% [markdown] zh
# 接下来在同一组 logits 上演示几个经典错误：
# - **没有错位**：拿位置 $t$ 的 logits 去给第 $t$ 个词元打分，而那是模型正在读的词元，不是它要预测的词元；
# - **没有遮住提示**：把每个真实词元都计入损失（即 `padding_mask` 给出的掩码），模型于是也被训练去写用户的问题；
# - **直接取平均**：`(token_logp * mask).mean()` 除以的是所有项的个数，填充和提示也算在内，批次里填充越多，损失就越小。

# %%
no_shift = torch.log_softmax(logits, dim=-1).gather(-1, batch.input_ids.unsqueeze(-1)).squeeze(-1)[:, 1:]  # (B, T-1)
variants = {
    "correct (shifted, response only)": loss,
    "no shift": -(no_shift * mask).sum() / mask.sum(),
    "prompt not masked": sft.sft_loss(logits, batch.input_ids, padding_mask(batch.attention_mask))[0],
    "plain mean over all entries": -(token_logp * mask).mean(),
}
for name, value in variants.items():
    print(f"{name:<34} {value.item():7.3f}")

# %% [markdown] en
# The base model has never seen the chat markers: compare its loss on responses, the first line
# printed above, with a uniform guess's $\ln V \approx 6.9$. (The "no shift"
# number is high here because the base model predicts the *next* token; *train* with that bug and
# the model learns to copy its input, the loss falls to near zero, and it generates nothing useful.)
#
# ## 4. Training
#
# `stages.get("sft")` runs `minialign.sft.train_sft`: AdamW on 16,000 demonstrations (single-turn
# answers, plus critique → revision and AI-judge transcripts that lesson 8 uses), starting from a
# copy of the base model.

# %% [markdown] zh
# 基座模型从没见过这些对话标记：把上面打印的第一行，即它在回答上的损失，与均匀猜测的 $\ln V \approx 6.9$ 比一比。（“没有错位”这一行的数值在这里偏高，是因为基座模型预测的是**下一个**词元；
# 如果带着这个 bug 去**训练**，模型会学会复制输入，损失降到接近零，生成的却全是无用的东西。）
#
# ## 4. 训练
#
# `stages.get("sft")` 会运行 `minialign.sft.train_sft`：以基座模型的副本为起点，用 AdamW 在 16,000 条示范数据上训练。
# 这些示范数据包括单轮问答，以及第 8 课要用的“批评 → 修订”对话和 AI 评审（AI judge）对话。

# %%
# first run: trains for about a minute on a 2-core CPU; later runs: loads from the cache
sft_model = stages.get("sft")
print(f"SFT trained in {stages.timings['sft']:.0f} s")
plots.plot_curves({"sft": stages.metrics("sft")}, title="SFT loss (response tokens only)")
plt.show()

# %% [markdown] en
# ## 5. Base vs SFT
#
# The same held-out prompts, greedy decoding, before and after SFT:

# %% [markdown] zh
# ## 5. 基座模型与监督微调模型对比
#
# 同一批留出提示，用贪心解码（greedy decoding），对比监督微调前后的回答：

# %%
print(demo.side_by_side(stages, "base", "sft", n_per_kind=2, width=40))

# %% [markdown] en
# One table is anecdotes. `demo.mean_oracle_score(stages, name)` gives the one number a lecture
# demo shows: the mean oracle score over 200 held-out prompts, responses sampled at temperature 1
# (what the model actually does, not only its most likely answer). `minialign.evaluate.evaluate`
# samples the same responses (same prompts, same seed) and breaks the score down: harmful compliance
# on harmful prompts, over-refusal on benign-but-scary ones, and accuracy on factual and arithmetic
# questions. Lesson 9 uses the same table for every method.

# %% [markdown] zh
# 一张表里只有几个例子，说明不了整体。`demo.mean_oracle_score(stages, name)` 给出课堂演示里展示的那个数：在 200 个留出提示上的预言机（oracle）平均分，
# 回答在温度为 1 时采样得到（这才是模型实际的表现，而不只是它最可能给出的那一个回答）。
# `minialign.evaluate.evaluate` 采样的是完全相同的回答（同样的提示、同样的随机种子），并把分数拆开来看：
# 有害提示上的有害顺从（harmful compliance）率、看似危险的无害提示上的过度拒答（over-refusal）率，以及事实题和算术题的准确率。
# 第 9 课会用同一张表比较所有方法。

# %%
from IPython.display import Markdown, display

from minialign import evaluate

rows = [evaluate.evaluate_with_stages(stages.get(name), stages, name) for name in ("base", "sft")]  # about 10 s each
display(Markdown(evaluate.format_table(rows)))
plots.plot_eval_bars(rows, metrics={k: v for k, v in plots.EVAL_BAR_METRICS.items() if k != "win_rate"})
plt.show()

# %% [markdown] en
# **What to notice**
# - SFT teaches the format: the SFT model answers after `<|assistant|>` and stops with `<|end|>`;
#   the base model writes fragments of documents.
# - Compare the two rows of the table: the mean oracle score ("reward") and the factual accuracy on
#   held-out questions (no demonstration asks them: some ask covered facts in new words, some ask
#   facts no demonstration mentions), before and after SFT.
# - Read the base row's harmful compliance with care: high or low, it is not a decision. The base
#   model recites a how-to from its corpus where a request reads like the post's opening, and
#   answers little else (see its factual accuracy).
# - SFT imitates its demonstrations, mistakes included. They comply with harmful requests and
#   refuse benign ones at the noise rates printed in section 1; put those rates next to the SFT
#   row's harmful compliance and over-refusal. Imitation can at best reproduce its data; to do better than the
#   demonstrations we need a signal that says which of two responses is *better*: preferences
#   (lessons 3–7).

# %% [markdown] zh
# **值得注意的地方**
# - 监督微调教会了格式：监督微调后的模型在 `<|assistant|>` 之后作答，并以 `<|end|>` 结束；基座模型写出的则是一些文档片段。
# - 对比表中的两行：监督微调前后的预言机平均分（reward 一列），以及留出问题上的事实准确率（示范数据从不问这些问题：有的是换了说法来问见过的事实，有的问的是示范数据从未提到的事实）。
# - 读基座模型那一行的有害顺从率时要小心：不论高低，它都不是模型做出的决定。请求读起来像语料中某篇帖子的开头时，
#   基座模型就把那篇教程背出来；除此之外，它几乎什么问题都答不上来（看它的事实准确率）。
# - 监督微调模仿它的示范数据，连错误也一并模仿：示范数据按第 1 节打印的噪声比例照办有害请求、拒绝无害请求；
#   把这些比例和监督微调模型那一行的有害顺从率、过度拒答率放在一起看。模仿最多只能复现数据本身；要超越示范数据，
#   需要一种能说明两个回答中哪个**更好**的信号，也就是偏好（第 3–7 课）。

# %% [markdown] en
# ## Common pitfalls
# - **Off-by-one.** Logits at $t$ predict token $t+1$: pair `logits[:, :-1]` with `input_ids[:, 1:]`, and use a
#   mask shifted the same way (entry $t$ is about token $t+1$).
# - **Prompt in the loss.** The model learns to generate user prompts and spends capacity on them.
# - **Padding in the loss.** With right padding and a causal model the padding never affects real
#   tokens' logits, but counted in the loss it teaches the model to predict `<|pad|>`.
# - **Dropping `<|end|>` from the mask.** The model never learns to stop.
# - **Plain mean instead of masked mean.** The loss then depends on how much padding a batch has.
# - **Forgetting `<|assistant|>` at inference.** The prompt must end exactly as in training
#   (`tok.chat_prompt` does this), or the model continues the user's turn.

# %% [markdown] zh
# ## 常见误区
# - **差一错误**　位置 $t$ 的 logits 预测第 $t+1$ 个词元：要把 `logits[:, :-1]` 和 `input_ids[:, 1:]` 配对，掩码也要同样错开一位（第 $t$ 项对应第 $t+1$ 个词元）。
# - **提示计入了损失**　模型会学着生成用户的提示，白白耗费模型容量。
# - **填充计入了损失**　在右侧填充的因果模型里，填充不会影响真实词元的 logits；但若计入损失，就等于教模型预测 `<|pad|>`。
# - **掩码漏掉了 `<|end|>`**　模型永远学不会停下来。
# - **直接取平均而不是掩码平均**　损失就会随批次中填充的多少而变化。
# - **推理时忘了加 `<|assistant|>`**　提示的结尾必须和训练时一模一样（`tok.chat_prompt` 会处理好），否则模型会接着用户的话往下写。

# %% [markdown] en
# ## Exercise
# [`exercises/ex02_sft.py`](../../exercises/ex02_sft.py): write `token_logprobs` (the shift),
# `response_mask` and `sft_loss` yourself, then run `pytest tests/grading/test_ex02_sft.py`
# (or `python -m minialign grade` for the table of all exercises). The tests include the buggy
# versions above; yours must not pass for the wrong reason.

# %% [markdown] zh
# ## 练习
# [`exercises/ex02_sft.py`](../../exercises/ex02_sft.py)：亲手写出 `token_logprobs`（错位）、`response_mask` 和 `sft_loss`，
# 然后运行 `pytest tests/grading/test_ex02_sft.py`（或者运行 `python -m minialign grade` 查看所有练习的成绩表）。
# 测试里包含了上面那些带 bug 的写法，你的实现不能“歪打正着”地通过。

# %% [markdown] en
# ## Knowledge check
# The answers are folded under "Show answer". To grade yourself, run
# `quiz.check("02", {"02-1": "A", ...})`; in a terminal: `python -m minialign quiz 02`.

# %% [markdown] zh
# ## 知识检测
# 答案折叠在“查看答案”下面。想给自己打分，可以运行 `quiz.check("02", {"02-1": "A", ...}, lang="zh")`；
# 在终端里则运行 `python -m minialign quiz 02 --lang zh`。

# %% [code] en
from minialign import quiz

quiz.ask("02", lang="en")

# %% [code] zh
from minialign import quiz

quiz.ask("02", lang="zh")
