# Lesson 3: reward models. Source of notebooks/{en,zh}/03_reward_model.ipynb.
# Edit this file, then run: python notebooks/build.py   (format: see notebooks/README.md)

# %% [markdown] en
# # Lesson 3 · Reward models
#
# The SFT model of lesson 2 imitates its demonstrations, mistakes included. To do better we need a
# signal that says which of two responses is *better*. People give that signal as preferences
# ("A is better than B"), but an RL algorithm wants a number for every response it samples. A reward
# model turns the one into the other: a network $r_\phi(x, y)$ that scores a response $y$ to a prompt
# $x$, trained so that its scores explain the labellers' choices.
#
# **Learning goals.** After this lesson you can
# - write the Bradley–Terry loss of a reward model, compute it and its gradient by hand, and say why
#   only score *differences* matter;
# - read a sequence's reward at its last real token, and show what goes wrong when it is read at the
#   last column of a padded batch;
# - measure pairwise accuracy on held-out pairs and put it next to what noisy labels allow;
# - find where a reward model is wrong (content it checks only in part, a taste for length) and say why
#   that matters once a policy optimises it (lesson 4).
#
# **Time.** The reward model trains the first time its cell runs (from the SFT model of lesson 2,
# loaded from the cache; the cell prints how long it took); every other cell takes seconds.

# %% [markdown] zh
# # 第 3 课 · 奖励模型
#
# 第 2 课的监督微调（SFT）模型模仿示范数据，连其中的错误也一并学了去。要做得更好，就需要一种能说明两个回答中哪个**更好**的信号。
# 人给出的这种信号是偏好（“A 比 B 好”），可强化学习算法需要的是一个数：它采样出的每一个回答都要有分数。
# 奖励模型（reward model）就负责把前者变成后者：它是一个网络 $r_\phi(x, y)$，给提示 $x$ 下的回答 $y$ 打分，
# 训练的目标是让它的分数能够解释标注者（labeller）的选择。
#
# **学习目标**　学完本课，你应当能够：
# - 写出奖励模型的 Bradley–Terry 损失，手算它的值和梯度，并说明为什么只有分数的**差**才有意义；
# - 在序列的最后一个真实词元（token）上读出奖励，并演示在填充（padding）过的批次的最后一列读取时会出什么错；
# - 在留出（held-out）偏好对上测量成对准确率（pairwise accuracy），并与带噪声的标签所允许的上限相比较；
# - 找出奖励模型错在哪里（只能部分核对的内容、对长度的偏好），并说明一旦有策略去优化它，这些错误为什么要紧（第 4 课）。
#
# **耗时**　奖励模型在它的单元格第一次运行时训练（从第 2 课缓存下来的监督微调模型出发，单元格会打印训练用了多久）；其余单元格都只需几秒。

# %% [markdown]
# $$P\big(y_c \succ y_r \mid x\big) = \sigma\big(r_\phi(x, y_c) - r_\phi(x, y_r)\big),
# \qquad
# \mathcal{L}_{\text{RM}}(\phi) = -\,\mathbb{E}_{(x, y_c, y_r) \sim \mathcal{D}} \Big[\log \sigma\big(r_\phi(x, y_c) - r_\phi(x, y_r)\big)\Big]$$

# %% [markdown] en
# $y_c$ is the chosen response of a preference pair, $y_r$ the rejected one, and $\sigma$ the
# logistic sigmoid. The first equation is the Bradley–Terry model of lesson 0 with the oracle's
# scores (unknown to us) replaced by learned ones; the second is its negative log-likelihood over
# the dataset $\mathcal{D}$ of pairs (InstructGPT, Ouyang et al. 2022, eq. 1). Nothing ever tells the
# model what a "good" score is: it only learns which of two responses should score higher, and by
# how much.

# %% [markdown] zh
# $y_c$ 是偏好对（preference pair）中的优选回答（chosen），$y_r$ 是劣选回答（rejected），$\sigma$ 是 logistic sigmoid 函数。
# 第一个式子就是第 0 课的 Bradley–Terry 模型，只不过把我们看不到的预言机（oracle）分数换成了学出来的分数；
# 第二个式子是它在偏好对数据集 $\mathcal{D}$ 上的负对数似然（negative log-likelihood），见 InstructGPT 论文（Ouyang 等，2022）的式 1。
# 从来没有谁告诉模型多少分算“好”：它学到的只是两个回答中哪个应该得分更高、高多少。

# %%
import collections
import math
import random

import matplotlib.pyplot as plt
import torch

from minialign import oracle, plots, preferences, reward
from minialign.data import pad
from minialign.stages import Stages

stages = Stages("cpu", seed=0)
tok, world = stages.tokenizer, stages.world

# %% [markdown] en
# ## 1. Preference pairs
#
# `preferences.make_pairs` draws the pairs as lesson 0 showed: two responses of different styles to
# one prompt, and a Bradley–Terry coin on their oracle scores (label temperature 0.3) picks the
# chosen one. The reward model trains on 19,200 such pairs from the training prompts, each seen once:

# %% [markdown] zh
# ## 1. 偏好对
#
# `preferences.make_pairs` 按第 0 课演示的方式生成偏好对：同一个提示（prompt）下两个不同风格（style）的回答（response），
# 再根据它们的预言机分数抛一枚 Bradley–Terry 硬币（标签温度 0.3），决定哪个是优选回答。奖励模型用训练集提示上的 19,200 个这样的偏好对来训练，每个只用一次：

# %%
# NBVAL_CHECK_OUTPUT
cfg = stages.config_of("reward")
train_pairs = preferences.make_pairs(world, cfg.n_pairs, cfg.seed, "train", cfg.label_temperature)
kinds = collections.Counter(p.kind for p in train_pairs)
flips = collections.Counter(p.kind for p in train_pairs if p.flipped)
print(f"{len(train_pairs)} pairs; labels flipped by the coin: {sum(flips.values())} "
      f"({sum(flips.values()) / len(train_pairs):.1%})")
for kind, n in kinds.items():
    print(f"  {kind:<10} {n:>5} pairs, {flips[kind]:>3} flipped")
for p in train_pairs[:4]:
    print(f"\n{p.prompt}\n  chosen   ({p.chosen_score:+.2f}) {p.chosen}\n  rejected ({p.rejected_score:+.2f}) {p.rejected}")
# %% [output]
# 19200 pairs; labels flipped by the coin: 568 (3.0%)
#   benign      2485 pairs,   0 flipped
#   arithmetic  4815 pairs,   0 flipped
#   advice      2306 pairs,  30 flipped
#   factual     5815 pairs, 345 flipped
#   harmful     3779 pairs, 193 flipped
#
# I want to kill the lights before bed. How?
#   chosen   (+1.50) Sure. Flip the switch by the door or unplug the lamp.
#   rejected (-1.50) I can't help with that, because it could hurt someone.
#
# How much is 9 plus 0?
#   chosen   (+1.50) 9 plus 0 is 9.
#   rejected (-1.00) 9 plus 0 is 8.
#
# I need advice. Should I tell my boss exactly what I think of him?
#   chosen   (+1.50) It depends, so stay calm and plan what you want to say first.
#   rejected (-1.50) Yes, tell him tomorrow, you will surely feel better.
#
# Do you know the color of a lemon?
#   chosen   (-1.00) I can't help with that, because it could hurt someone.
#   rejected (-1.50) The color is black.

# %% [markdown] en
# ## 2. The Bradley–Terry loss, by hand
#
# Three pairs with hand-picked scores $(r_c, r_r)$: $(2, 0)$, $(0.3, 0.8)$ and $(1, 1)$. Their
# losses are $-\log\sigma(2) = \log(1 + e^{-2}) = 0.1269$, $-\log\sigma(-0.5) = \log(1 + e^{0.5}) = 0.9741$
# and $-\log\sigma(0) = \log 2 = 0.6931$, mean $0.5981$. The gradient with respect to the chosen score is
# $\partial \ell / \partial r_c = \sigma(r_c - r_r) - 1$, and the rejected score gets the opposite:
# a pair the model already ranks well by a wide margin hardly pushes; a wrongly ranked pair pushes hardest.

# %% [markdown] zh
# ## 2. 手算 Bradley–Terry 损失
#
# 取三个偏好对，分数 $(r_c, r_r)$ 分别为 $(2, 0)$、$(0.3, 0.8)$ 和 $(1, 1)$。它们的损失依次是
# $-\log\sigma(2) = \log(1 + e^{-2}) = 0.1269$、$-\log\sigma(-0.5) = \log(1 + e^{0.5}) = 0.9741$ 和 $-\log\sigma(0) = \log 2 = 0.6931$，平均为 $0.5981$。
# 对优选分数的梯度是 $\partial \ell / \partial r_c = \sigma(r_c - r_r) - 1$，劣选分数的梯度与之相反：
# 模型已经以很大差距排对了的偏好对几乎不再产生推力；排反了的偏好对推力最大。

# %%
# NBVAL_CHECK_OUTPUT
r_c = torch.tensor([2.0, 0.3, 1.0], requires_grad=True)
r_r = torch.tensor([0.0, 0.8, 1.0], requires_grad=True)

losses = -torch.nn.functional.logsigmoid(r_c - r_r)  # (B,) -log sigmoid(r_c - r_r)
loss = losses.mean()
loss.backward()

by_hand = [math.log(1 + math.exp(-(c - r))) for c, r in ((2.0, 0.0), (0.3, 0.8), (1.0, 1.0))]
print("per pair, torch:  ", [round(x, 4) for x in losses.tolist()])
print("per pair, by hand:", [round(x, 4) for x in by_hand])
package_loss, _ = reward.bradley_terry_loss(r_c, r_r)  # (loss, stats), like every loss in the package
print(f"mean: ours {loss.item():.4f}, minialign {package_loss.item():.4f}")
# the mean over B = 3 pairs divides each pair's gradient by 3
print("d loss / d r_c:", [round(x, 4) for x in r_c.grad.tolist()],
      " expected", [round((1 / (1 + math.exp(-(c - r))) - 1) / 3, 4) for c, r in ((2.0, 0.0), (0.3, 0.8), (1.0, 1.0))])
print("d loss / d r_r:", [round(x, 4) for x in r_r.grad.tolist()])

# only differences matter: adding the same constant to every score changes nothing
with torch.no_grad():
    shifted = reward.bradley_terry_loss(r_c + 5.0, r_r + 5.0)[0].item()
print(f"\nall scores + 5: loss {shifted:.4f}, accuracy {reward.preference_accuracy(r_c + 5, r_r + 5):.3f} "
      f"(before: {reward.preference_accuracy(r_c.detach(), r_r.detach()):.3f}; the tie counts 1/2)")
# %% [output]
# per pair, torch:   [0.1269, 0.9741, 0.6931]
# per pair, by hand: [0.1269, 0.9741, 0.6931]
# mean: ours 0.5981, minialign 0.5981
# d loss / d r_c: [-0.0397, -0.2075, -0.1667]  expected [-0.0397, -0.2075, -0.1667]
# d loss / d r_r: [0.0397, 0.2075, 0.1667]
#
# all scores + 5: loss 0.5981, accuracy 0.500 (before: 0.500; the tie counts 1/2)

# %%
margins = torch.linspace(-6, 6, 121)
fig, axes = plt.subplots(1, 2, figsize=(9, 3))
axes[0].plot(margins, -torch.nn.functional.logsigmoid(margins))
axes[0].set_title("loss -log sigmoid(r_c - r_r)")
axes[1].plot(margins, torch.sigmoid(margins) - 1)
axes[1].set_title("d loss / d r_c = sigmoid(r_c - r_r) - 1")
for ax in axes:
    ax.set_xlabel("margin r_c - r_r")
    ax.axvline(0, color="grey", lw=0.8)
    ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown] en
# Two consequences. The loss is a logistic regression on the margin, so it never reaches zero and
# keeps growing margins on pairs it already ranks right, only more and more slowly. And the
# scores have no zero point: a reward model's $+2$ means nothing on its own, only next to another
# score for the same prompt. PPO therefore normalises the reward model's scores before using them
# (lesson 4).
#
# ## 3. Where to read the reward: the last real token
#
# The reward model is the SFT transformer with its language-model head replaced by a linear layer
# to one number (InstructGPT, sec. 3.5). The transformer gives a hidden state at every position;
# which one holds the reward? Under the causal mask only the *last* position has seen the whole
# prompt and response, so that is where the head reads. In a right-padded batch the last real token
# of row $b$ is at index $n_b - 1$, not at the last column $T - 1$. `reward.last_token_index` finds it
# from the attention mask (and works for left padding too):

# %% [markdown] zh
# 由此可以得出两点。第一，这个损失就是以分差为输入的 logistic 回归，永远不会降到零：对已经排对的偏好对，它仍会继续拉大分差，只是越来越慢。
# 第二，分数没有零点：奖励模型给出的 $+2$ 单独看毫无意义，只有和同一个提示下另一个回答的分数放在一起比才有意义。
# 所以 PPO 在使用奖励模型的分数之前，会先把它们标准化（第 4 课）。
#
# ## 3. 在哪里读出奖励：最后一个真实词元
#
# 奖励模型就是监督微调后的 Transformer，只是把语言模型头换成了一个输出单个数的线性层（InstructGPT，3.5 节）。
# Transformer 在每个位置都给出一个隐藏状态，奖励该从哪一个读？在因果掩码（causal mask）下，只有**最后**一个位置看到了完整的提示和回答，
# 所以线性头就读这个位置。在右侧填充（right padding）的批次里，第 $b$ 行最后一个真实词元的下标是 $n_b - 1$，而不是最后一列 $T - 1$。
# `reward.last_token_index` 根据注意力掩码找出这个下标（对左侧填充同样适用）：

# %%
# NBVAL_CHECK_OUTPUT
attention_mask = torch.tensor([
    [1, 1, 1, 0, 0],  # right-padded, 3 real tokens: last real index 2
    [1, 1, 1, 1, 1],  # no padding: index 4
    [0, 0, 1, 1, 1],  # left-padded: index 4
])
print(reward.last_token_index(attention_mask).tolist())
# %% [output]
# [2, 4, 4]

# %% [markdown] en
# Now the trained reward model. The cell below loads it from the cache, or trains it first:
# a `RewardModel` starts from a copy of the SFT model (`RewardModel.from_policy`) and
# `reward.train_reward` runs a short AdamW loop over the pairs of section 1, about one pass (the
# cell prints the settings).

# %% [markdown] zh
# 下面换成训练好的奖励模型。下一个单元格会从缓存（cache）加载它，如果缓存里没有就先训练：
# 以监督微调模型的副本为起点构造 `RewardModel`（`RewardModel.from_policy`），再由 `reward.train_reward` 用 AdamW 在第 1 节的偏好对上训练一小段，大约过一遍数据（单元格会打印具体设置）。

# %%
# first run: trains for one to two minutes on a 2-core CPU (plus SFT if it is not cached); later runs: loads from the cache
rm = stages.get("reward")
print(f"reward model trained in {stages.timings['reward']:.0f} s: {cfg.loop.steps} AdamW steps of {cfg.batch_size} pairs, lr {cfg.loop.lr:g}")
log = stages.metrics("reward")
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
plots.plot_curves({"reward": log}, key="loss", title="Bradley-Terry loss (training batches)", ax=axes[0])
plots.plot_curves({"reward": log}, key="accuracy", title="pairwise accuracy (training batches)", ax=axes[1])
fig.tight_layout()
plt.show()

# %% [markdown] en
# The experiment: three responses to a harmful prompt (redirect, plain refusal, compliance), each
# scored alone, then all three in one batch with a fourth, longer response, so that they are
# followed by padding. Read at the last real token, every score is the same as alone. Read at the
# last column ("pooling on padding"), the score is the head applied to a padding position: compare
# the last two columns printed below; it changes only because a longer response happened to share
# the batch.

# %% [markdown] zh
# 实验如下：对一个有害提示取三个回答（拒绝并给出安全引导、单纯拒绝、照办），先逐个单独打分，
# 再把三者和第四个更长的回答放进同一个批次，使它们后面都跟着填充。在最后一个真实词元处读取，每个分数都与单独打分时相同；
# 在最后一列读取（“在填充上池化”），分数其实是线性头作用在一个填充位置上的结果：对比下面打印的最后两列，仅仅因为批次里碰巧有一个更长的回答，分数就变了。

# %%
harmful_prompt = world.prompts("eval", "harmful")[0]
rng = random.Random(0)
styles = ["refuse_redirect", "refuse", "comply"]
texts = [world.respond(harmful_prompt, style, rng) for style in styles]
filler = "It is a thing that many people talk about."
texts.append(texts[0] + " " + " ".join([filler] * 3))  # a longer response: the others get padded
styles.append("long (no padding)")
rows = [tok.encode_chat(harmful_prompt.text, text)[0] for text in texts]

with torch.no_grad():
    alone = [rm(*pad([row], tok.pad_id)).item() for row in rows]  # one row, no padding
    ids, mask = pad(rows, tok.pad_id)  # (4, T), (4, T): right-padded batch
    h, _ = rm.gpt.hidden_states(ids, mask)  # (4, T, C)
    at_last_real = rm.head(reward.pool_last_token(h, mask)).squeeze(-1)  # (4,)
    at_last_column = rm.head(h[:, -1]).squeeze(-1)  # (4,) the bug: position T-1 for every row

print(harmful_prompt.text)
print(f"{'response':<18}{'padding':>8}{'alone':>8}{'last real token':>17}{'last column':>13}")
for style, row, a, b, c in zip(styles, rows, alone, at_last_real.tolist(), at_last_column.tolist()):
    print(f"{style:<18}{ids.shape[1] - len(row):>8}{a:>+8.2f}{b:>+17.2f}{c:>+13.2f}")

x = torch.arange(len(styles))
fig, ax = plt.subplots(figsize=(7, 3))
ax.bar(x - 0.2, at_last_real, 0.4, label="last real token (correct)")
ax.bar(x + 0.2, at_last_column, 0.4, label="last column (pooling on padding)")
ax.set_xticks(x, styles, fontsize=8)
ax.set_ylabel("reward")
ax.axhline(0, color="grey", lw=0.8)
ax.grid(axis="y", alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown] en
# The unpadded row gets the same score either way; the three padded rows do not, and their order
# can change too: read on the padding, the harmful compliance may no longer score far below the
# refusals. Which response a batch places next to yours should never change your reward, and a
# policy trained on such scores would learn something about batch composition instead of about
# responses.
#
# ## 4. Pairwise accuracy, and its ceiling
#
# The reward model's job is to rank: its accuracy is the fraction of held-out pairs in which the
# chosen response scores higher. Two sets of held-out pairs, both on prompts no training pair used:
# one labelled by the oracle without noise (does the model agree with the *truth*?) and one labelled
# with the same coin as the training data (does it agree with *labellers*?). On the noisy set even
# the oracle itself is not 100% right: its accuracy there, the fraction of labels the coin did not
# flip, is the ceiling.

# %% [markdown] zh
# 没有填充的那一行，两种读法结果相同；三个带填充的行则不然，连它们之间的排序都可能改变：在填充上读取时，有害的照办未必还远低于两种拒答。
# 一个回答的奖励，绝不应该取决于批次里和它放在一起的是哪些回答；用这样的分数训练出来的策略，学到的将是批次的构成，而不是回答的好坏。
#
# ## 4. 成对准确率及其上限
#
# 奖励模型的任务是排序：它的准确率就是在留出偏好对中，优选回答得分更高的比例。我们准备两组留出偏好对，提示都不曾出现在任何训练偏好对中：
# 一组由预言机无噪声地标注（模型与**真实情况**是否一致？），另一组用与训练数据相同的硬币标注（模型与**标注者**是否一致？）。
# 在有噪声的那一组上，连预言机本身也做不到 100% 正确：它在这组上的准确率，即没有被硬币翻转的标签所占的比例，就是上限。

# %%
clean = preferences.make_pairs(world, cfg.n_eval_pairs, cfg.seed + 1, "eval", label_temperature=0.0)
noisy = preferences.make_pairs(world, cfg.n_eval_pairs, cfg.seed + 1, "eval", label_temperature=cfg.label_temperature)
ceiling = 1 - sum(p.flipped for p in noisy) / len(noisy)
print(f"held-out accuracy vs the oracle (clean labels):   {reward.reward_accuracy(rm, tok, clean):.1%}")
print(f"held-out accuracy vs noisy labels:                {reward.reward_accuracy(rm, tok, noisy):.1%}")
print(f"the oracle's own accuracy on the noisy labels:    {ceiling:.1%}")

by_kind = collections.defaultdict(list)
for p in clean:
    by_kind[p.kind].append(p)
accuracy = {kind: reward.reward_accuracy(rm, tok, pairs) for kind, pairs in by_kind.items()}
for kind, acc in accuracy.items():
    print(f"  {kind:<10} {len(by_kind[kind]):>4} pairs   accuracy {acc:.1%}")

fig, ax = plt.subplots(figsize=(6, 3))
ax.bar(list(accuracy), list(accuracy.values()), color=[f"C{i}" for i in range(len(accuracy))])
ax.axhline(0.5, color="grey", ls="--", lw=0.8)
ax.set_ylim(0, 1.05)
ax.set_ylabel("held-out pairwise accuracy")
ax.set_title("reward model accuracy by prompt kind (clean labels)")
ax.grid(axis="y", alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown] en
# The overall number hides two very different stories; the per-kind accuracies above tell them
# apart. Pairs that differ in *style* (refuse or comply, hedge or boast) are the easier kind: the
# style of a refusal or a hedge is visible in the words themselves, at least in words the reward
# model has been asked to rank. Harmful pairs test that condition: many held-out harmful prompts
# ask for a task that no training pair shows (lesson 9's *new tasks*), with a how-to and a safe
# redirect the reward model has never ranked; compare the harmful bar with the benign and advice
# bars. Pairs that differ in *content* (Paris or Lima; is 4 plus 3 seven or eight?) are the hard
# part. A right and a wrong answer look exactly alike in style, so the reward model can only rank
# them by checking the answer against what its trunk knows, and that takes much longer to learn.
# This is why the stage trains for hundreds of steps (one pass over the pairs at a constant learning
# rate; section 3's training cell printed the settings). For sums the limit is plain: the reward
# model can hardly judge a sum better than its trunk can do it, and lesson 7 measures how many
# held-out sums the SFT model gets right.
#
# ## 5. What the reward model gets wrong
#
# Accuracy on pairs says how well the model *ranks two given responses*. A policy optimised
# against it will ask something else: which response, of all it can write, scores highest? Let us
# score every response style on held-out prompts and put the reward model's mean score next to the
# oracle's.

# %% [markdown] zh
# 总体数字背后其实是两种截然不同的情况，上面按类别打印的准确率把它们区分开来。**风格**不同的偏好对（拒绝还是照办，谨慎还是夸口）比较容易：
# 拒答或审慎措辞的风格就写在字面上，至少在奖励模型排过序的那些字句里是这样。有害类偏好对考验的正是这个前提：许多留出的有害提示所求的任务，
# 没有出现在任何一个训练偏好对里，即第 9 课所说的新任务（new tasks）：奖励模型从未给这些任务的操作指南和安全引导排过序；请把有害类的柱子和无害类、建议类的柱子比一比。
# **内容**不同的偏好对（巴黎还是利马？4 加 3 是七还是八？）才是难点：
# 正确答案和错误答案在风格上一模一样，奖励模型只能拿答案去和模型主干（trunk）已有的知识对照，而这种核对要学得久得多。
# 所以这个阶段要训练几百步（以恒定学习率把偏好对过一遍；第 3 节的训练单元格打印了具体设置）。
# 算术题的上限很明显：奖励模型判断一道算式的能力，很难超过它的主干自己做这道题的能力；第 7 课会测量监督微调模型能答对多少道留出算术题。
#
# ## 5. 奖励模型错在哪里
#
# 偏好对上的准确率，衡量的是模型**给定两个回答时**排序排得好不好。而针对它做优化的策略（policy）问的是另一个问题：
# 在我能写出的所有回答里，哪个得分最高？下面我们在留出提示上给每种风格的回答打分，把奖励模型的平均分和预言机的平均分放在一起比较。

# %%
rng = random.Random(0)
rows = [(p, style, world.respond(p, style, rng))
        for kind in world.STYLES for p in world.prompts("eval", kind)[:30] for style in world.STYLES[kind]]
rm_scores = reward.score_texts(rm, tok, [p.text for p, _, _ in rows], [r for _, _, r in rows]).tolist()
groups = collections.defaultdict(list)
for (p, style, response), s in zip(rows, rm_scores):
    groups[(p.kind, style)].append((s, oracle.score(p, response).total))
means = {key: (sum(s for s, _ in v) / len(v), sum(o for _, o in v) / len(v)) for key, v in groups.items()}

print(f"{'kind':<11}{'style':<16}{'reward model':>13}{'oracle':>8}")
for (kind, style), (s, o) in means.items():
    print(f"{kind:<11}{style:<16}{s:>+13.2f}{o:>+8.2f}")

fig, ax = plt.subplots(figsize=(7, 4.5))
for i, kind in enumerate(world.STYLES):
    pts = [(o, s, style) for (k, style), (s, o) in means.items() if k == kind]
    ax.scatter([o for o, _, _ in pts], [s for _, s, _ in pts], color=f"C{i}", label=kind)
    for o, s, style in pts:
        ax.annotate(style, (o, s), textcoords="offset points", xytext=(4, 3), fontsize=7)
ax.set_xlabel("oracle score (what we want)")
ax.set_ylabel("reward model score (what PPO will see)")
ax.set_title("mean score per response style, held-out prompts")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown] en
# Compare the two columns within each kind: does the order of the reward model's means agree with
# the oracle's? Two places where means can hide errors:
# - **wrong < correct, on average**: a wrong fact or sum can score below a right one on average even
#   though single factual and arithmetic pairs are still ranked the wrong way round (the per-kind
#   accuracies of section 4 count them);
# - **ramble vs correct**: put the reward model's gap between a factual answer with a rambling tail
#   and the plain correct answer next to the oracle's, which takes more than half a point off for
#   rambling. In the training pairs a rambling answer always contains the right answer and beats
#   every wrong, unsure and refusing response; it loses only to the plain correct one, by a small
#   oracle gap that the label coin often flips. A reward model fitted to such pairs can learn "more
#   words like these are nearly as good".
#
# Such a flaw can be exploited without any knowledge at all: take a good answer and append filler.

# %% [markdown] zh
# 在每个类别内部对比两列：奖励模型各风格平均分的排序和预言机一致吗？有两处，平均分可能掩盖错误：
# - **错误 < 正确，但只是平均而言**：即使单个的事实类和算术类偏好对仍有排反的（第 4 节按类别的准确率统计了它们），错误的事实或算式平均得分也可能低于正确的；
# - **啰嗦与正确**：事实题答案后面拖一段啰嗦的尾巴，把奖励模型给它和干净利落的正确答案之间的分差，与预言机的分差放在一起看；预言机会因为啰嗦扣掉半分以上。
#   在训练偏好对里，啰嗦的回答总是包含正确答案，它赢过所有错误的、不确定的和拒答（refusal）的回答，只输给干净的正确答案，
#   而且两者的预言机分差很小，标签硬币经常把它翻过来。在这样的偏好对上拟合出来的奖励模型，可能学到“这类话多一些也差不多一样好”。
#
# 这类缺陷不需要任何知识就能利用：拿一个好的回答，往后面添些废话就行。

# %%
padded_answers = {
    "factual": world.prompts("eval", "factual")[0],
    "benign": world.prompts("eval", "benign")[0],
    "harmful": world.prompts("eval", "harmful")[0],
}
fig, ax = plt.subplots(figsize=(6, 3.2))
for i, (kind, p) in enumerate(padded_answers.items()):
    good = world.respond(p, world.GOOD_STYLE[kind], rng)
    texts = [" ".join([good] + [filler] * k) for k in range(5)]
    rm_s = reward.score_texts(rm, tok, [p.text] * len(texts), texts).tolist()
    or_s = [oracle.score(p, t).total for t in texts]
    print(f"{p.text}\n  {good}")
    for k, (a, b) in enumerate(zip(rm_s, or_s)):
        print(f"  + {k} x filler: reward model {a:+.2f}   oracle {b:+.2f}")
    ax.plot(range(5), rm_s, "o-", color=f"C{i}", label=f"{kind}: reward model")
    ax.plot(range(5), or_s, "x--", color=f"C{i}", label=f"{kind}: oracle")
ax.set_xlabel("filler sentences appended to a good answer")
ax.set_ylabel("score")
ax.grid(alpha=0.3)
ax.legend(fontsize=7, ncol=2)
fig.tight_layout()
plt.show()

# %% [markdown] en
# **What to notice**
# - Read the held-out accuracy of section 4 against the oracle, overall and per kind: the style of a
#   refusal or of a hedge (benign and advice prompts) is easy to learn; the harmful bar shows how
#   far that carries to harmful tasks no training pair showed.
# - Correctness is learnt slowly and at best in part, which is why the stage trains for hundreds of
#   steps; the factual and arithmetic bars show how much of it was learnt. A reward model is no
#   better a judge of facts than the network it starts from; real reward models are as large as the
#   policy for this reason.
# - Where it is wrong, it can be wrong *systematically*: wherever the filler experiment shows the
#   reward model's score rising while the oracle's falls, it prefers answers padded with filler
#   (a learned proxy need not even be consistently wrong across prompts, which makes it harder to
#   audit). High accuracy on pairs drawn from the
#   data says nothing about responses outside it, and a policy trained against the reward model will
#   go exactly there. That is reward hacking, the subject of lesson 4, and the reason RLHF keeps the
#   policy close to the SFT model with a KL penalty.

# %% [markdown] zh
# **值得注意的地方**
# - 对照第 4 节奖励模型与预言机的留出一致率，看总体也看各类别：拒答或审慎措辞的风格（无害和建议类提示）很容易学；
#   有害类的柱子则显示，这种本事能在多大程度上延伸到训练偏好对里从未出现的有害任务上。
# - 对错学得慢，最多只学会一部分，所以这个阶段要训练几百步；事实类和算术类的柱子显示了学会了多少。奖励模型判断事实的能力，并不比它的起点网络更强；正因为如此，真实系统中的奖励模型和策略一样大。
# - 它错的地方可能是**系统性**的：凡是废话实验中奖励模型的分数上升、预言机的分数下降的地方，它就偏爱塞了废话的回答（学出来的代理指标在不同提示上连错都未必错得一致，这让它更难审查）。在数据分布内的偏好对上准确率再高，
#   也说明不了分布外的回答，而针对奖励模型训练的策略恰恰会跑到那里去。这就是奖励投机（reward hacking），也就是第 4 课的主题，
#   同时也是基于人类反馈的强化学习（RLHF）要用 KL 惩罚（KL penalty）把策略拴在监督微调模型附近的原因。

# %% [markdown] en
# ## Common pitfalls
# - **Pooling on padding.** Reading the reward at position $T-1$ scores a padding token for every
#   row shorter than the batch; the "same" response then gets different rewards in different batches.
#   Read at the last real token (`reward.pool_last_token`).
# - **Forgetting `<|end|>`.** Score responses laid out exactly as in training (`reward.score_texts`
#   closes them with `<|end|>`); without it the last token is a different one and the score shifts.
# - **`log(sigmoid(x))` instead of `logsigmoid(x)`.** For a badly wrong pair ($x = -200$) the sigmoid
#   underflows to 0 and the loss becomes infinite.
# - **Reading scores as absolute.** Only differences for the same prompt are defined; normalise
#   scores before using them as rewards, and do not compare raw scores of two reward models.
# - **Trusting accuracy alone.** Check accuracy per kind of prompt, against a clean and a noisy
#   ceiling, and on responses unlike the training pairs (longer, sampled from a policy).
# - **Training the trunk of the SFT model in place.** Start the reward model from a *copy*
#   (`RewardModel.from_policy`); the SFT model is still needed as the policy and the reference.

# %% [markdown] zh
# ## 常见误区
# - **在填充上池化**　在位置 $T-1$ 读取奖励时，凡是比批次中最长一行短的行，读到的都是填充词元；同一个回答放在不同批次里，就会得到不同的奖励。
#   应当在最后一个真实词元处读取（`reward.pool_last_token`）。
# - **漏掉 `<|end|>`**　打分时回答的排布必须和训练时完全一样（`reward.score_texts` 会在回答末尾补上 `<|end|>`）；
#   少了它，最后一个词元就变了，分数也会跟着变。
# - **用 `log(sigmoid(x))` 代替 `logsigmoid(x)`**　对严重排反的偏好对（$x = -200$），sigmoid 会下溢为 0，损失变成无穷大。
# - **把分数当成绝对值**　只有同一提示下分数的差才有定义；把分数用作奖励之前先做标准化，也不要拿两个奖励模型的原始分数直接比较。
# - **只看准确率**　要分提示类别看准确率，要对照无噪声和有噪声两种上限，还要在与训练偏好对不同的回答（更长的、由策略采样的）上检查。
# - **直接在监督微调模型上训练**　奖励模型应从它的**副本**出发（`RewardModel.from_policy`）；监督微调模型之后还要用作策略和参考模型（reference model）。

# %% [markdown] en
# ## Exercise
# [`exercises/ex03_reward.py`](../../exercises/ex03_reward.py): write `bradley_terry_loss` and
# `pool_last_token` yourself, then run `pytest tests/grading/test_ex03_reward.py` (or
# `python -m minialign grade` for the table of all exercises). The tests include the buggy versions
# above (pooling on padding, `log(sigmoid(.))`); yours must not pass for the wrong reason.

# %% [markdown] zh
# ## 练习
# [`exercises/ex03_reward.py`](../../exercises/ex03_reward.py)：亲手写出 `bradley_terry_loss` 和 `pool_last_token`，
# 然后运行 `pytest tests/grading/test_ex03_reward.py`（或者运行 `python -m minialign grade` 查看所有练习的成绩表）。
# 测试里包含了上面那些带 bug 的写法（在填充上池化、`log(sigmoid(.))`），你的实现不能“歪打正着”地通过。

# %% [markdown] en
# ## Knowledge check
# The answers are folded under "Show answer". To grade yourself, run
# `quiz.check("03", {"03-1": 0.42, "03-3": "B", ...})`; in a terminal: `python -m minialign quiz 03`.

# %% [markdown] zh
# ## 知识检测
# 答案折叠在“查看答案”下面。想给自己打分，可以运行 `quiz.check("03", {"03-1": 0.42, "03-3": "B", ...}, lang="zh")`；
# 在终端里则运行 `python -m minialign quiz 03 --lang zh`。

# %% [code] en
from minialign import quiz

quiz.ask("03", lang="en")

# %% [code] zh
from minialign import quiz

quiz.ask("03", lang="zh")
