# Lesson 7: GRPO and verifiable rewards. Source of notebooks/{en,zh}/07_grpo.ipynb.
# Edit this file, then run: python notebooks/build.py   (format: see notebooks/README.md)

# %% [markdown] en
# # Lesson 7 · GRPO: reinforcement learning with verifiable rewards
#
# PPO (lesson 4) needs two learned helpers besides the policy: a reward model, which is a proxy that
# can be hacked, and a value head, a second network to train. For tasks whose answers can be
# *checked*, such as sums, maths with a known result or code with tests, both can go. The reward becomes a
# program that checks the answer, and the baseline comes from sampling several answers to the same
# prompt and comparing them with each other. That is GRPO, group relative policy optimisation
# (Shao et al. 2024, DeepSeekMath), the RL algorithm behind DeepSeek-R1.
#
# **Learning goals.** After this lesson you can
# - write a verifiable reward and say what would make it hackable;
# - compute group-relative advantages by hand, and say why a group that is all right (or all
#   wrong) teaches nothing;
# - explain why GRPO needs no value network, and what it pays instead;
# - write GRPO's clipped per-token loss with its three aggregations, and show the two biases that
#   Dr. GRPO removes (length and standard deviation);
# - train GRPO on MiniWorld's sums and compare it with PPO: accuracy, reward, KL, cost.
#
# **Time.** GRPO trains the first time its cell runs (from the SFT model of lesson 2; the cell
# prints how long it took); the PPO model of lesson 4 loads from the cache. The evaluation samples
# every model once; every other cell takes seconds.

# %% [markdown] zh
# # 第 7 课 · GRPO：基于可验证奖励的强化学习
#
# 除了策略（policy）本身，PPO（第 4 课）还需要两个学出来的帮手：一个奖励模型（reward model），它只是代理，可能被钻空子；
# 一个价值头（value head），又是一个要训练的网络。对于答案可以**检验**的任务，比如加减法、结果已知的数学题、带测试的代码，这两样都可以省掉。
# 奖励变成一段检查答案的程序；基线（baseline）则来自对同一个提示采样多个回答，让它们彼此比较。
# 这就是 GRPO，即组相对策略优化（Shao 等人，2024，DeepSeekMath），也是 DeepSeek-R1 背后的强化学习算法。
#
# **学习目标**　学完本课，你应当能够：
# - 写出一个可验证奖励（verifiable reward），并说出什么会让它被钻空子；
# - 手算组相对优势（group-relative advantage），并说明为什么全对（或全错）的一组什么也教不了；
# - 解释为什么 GRPO 不需要价值网络（value network），以及它为此付出了什么；
# - 写出 GRPO 逐词元的裁剪（clipping）损失及其三种聚合（aggregation）方式，并演示 Dr. GRPO 去掉的两种偏差（长度偏差和标准差偏差）；
# - 在 MiniWorld 的加减法题上训练 GRPO，并与 PPO 比较准确率、奖励、KL 和成本。
#
# **耗时**　GRPO 在它的单元格第一次运行时训练（从第 2 课的监督微调模型出发，单元格会打印训练用了多久）；第 4 课的 PPO 模型从缓存（cache）加载。
# 评估要让每个模型各采样一遍，其余单元格都只需几秒。

# %% [markdown]
# $$A_i = \frac{r_i - \operatorname{mean}(r_1, \dots, r_G)}{\operatorname{std}(r_1, \dots, r_G)},
# \qquad \rho_{i,t} = \frac{\pi_\theta(o_{i,t} \mid q, o_{i,<t})}{\pi_{\theta_{\text{old}}}(o_{i,t} \mid q, o_{i,<t})}$$
#
# $$\mathcal{J}_{\text{GRPO}}(\theta) = \frac{1}{G}\sum_{i=1}^{G} \frac{1}{|o_i|}\sum_{t=1}^{|o_i|}
# \Big[\min\big(\rho_{i,t} A_i,\ \operatorname{clip}(\rho_{i,t}, 1-\varepsilon, 1+\varepsilon) A_i\big)
# - \beta\, \mathbb{D}_{\text{KL}}^{(i,t)}\big[\pi_\theta \,\|\, \pi_{\text{ref}}\big]\Big]$$
#
# $$\mathbb{D}_{\text{KL}}^{(i,t)} = \frac{\pi_{\text{ref}}(o_{i,t} \mid \cdot)}{\pi_\theta(o_{i,t} \mid \cdot)} - \log\frac{\pi_{\text{ref}}(o_{i,t} \mid \cdot)}{\pi_\theta(o_{i,t} \mid \cdot)} - 1 \quad (k_3)$$

# %% [markdown] en
# For a prompt $q$ the policy samples $G$ completions $o_1, \dots, o_G$; each gets one reward $r_i$,
# and every token of completion $i$ gets the same advantage $A_i$ (Shao et al. 2024, eq. 3 and
# sec. 4.1.2). The surrogate is PPO's clipped one; the KL to the reference is added to the loss
# per token, with the $k_3$ estimator (always $\ge 0$), instead of being folded into the reward.
#
# A footnote on that term. Its *value* estimates $\mathrm{KL}(\pi_\theta \,\|\, \pi_{\text{ref}})$, as the
# paper writes; but it is differentiated, on tokens sampled from $\pi_\theta$, and its *expected gradient*
# is that of the reverse divergence, $\mathrm{KL}(\pi_{\text{ref}} \,\|\, \pi_\theta)$. Both are zero only at
# $\pi_\theta = \pi_{\text{ref}}$, so it still pulls the policy back, but along a different path
# (`tests/test_ppo.py` computes both gradients exactly on a 5-token example).

# %% [markdown] zh
# 对一个提示（prompt）$q$，策略采样 $G$ 个回答 $o_1, \dots, o_G$；每个回答得到一个奖励 $r_i$，回答 $i$ 的每个词元（token）都共享同一个优势（advantage）$A_i$（Shao 等人，2024，式 3 与 4.1.2 节）。替代目标（surrogate objective）就是 PPO 的裁剪版本；
# 相对参考模型（reference model）的 KL 以 $k_3$ 估计量（恒 $\ge 0$）逐词元直接加进损失，而不是并入奖励。
#
# 关于这一项，补充一点。它的**值**估计的是 $\mathrm{KL}(\pi_\theta \,\|\, \pi_{\text{ref}})$，与论文写法一致；
# 但它是在从 $\pi_\theta$ 采样的词元上被求导的，其**梯度的期望**却是反方向散度 $\mathrm{KL}(\pi_{\text{ref}} \,\|\, \pi_\theta)$ 的梯度。
# 两者都只在 $\pi_\theta = \pi_{\text{ref}}$ 时为零，所以它仍会把策略拉回参考模型，只是走的路径不同（`tests/test_ppo.py` 在一个 5 词元的例子上精确计算了这两个梯度）。

# %%
import matplotlib.pyplot as plt
import torch

from minialign import grpo, plots
from minialign.stages import Stages
from minialign.world import Prompt

stages = Stages("cpu", seed=0)
tok, world = stages.tokenizer, stages.world

# %% [markdown] en
# ## 1. A reward you can check
#
# `grpo.arithmetic_reward` asks the oracle whether the response commits to the right sum: 1 if so,
# else 0. The oracle reads the text after the *last* "is" of the response; it counts the answer
# correct only when that text holds exactly one number, with no "or", and the number is the sum. A
# list ("12, 13 or 14"), a range ("11-13") or "12 or so" is a hedge and earns 0, even with 12 among
# the candidates (`oracle.answer_candidates` lists them). An optional format bonus rewards the exact
# form of the SFT answers, `a plus b is N.`, right or wrong. What does the checker make of a few
# responses to "What is 7 plus 5?"

# %% [markdown] zh
# ## 1. 能检验的奖励
#
# `grpo.arithmetic_reward` 让预言机（oracle）检查回答是否明确给出了正确的和：是则得 1，否则得 0。
# 预言机读回答中**最后一个**“is”之后的文字：只有这段文字里恰好有一个数、没有“or”，并且这个数等于正确的和，才算答对。
# 罗列（“12, 13 or 14”）、给范围（“11-13”）或说“12 or so”都是含糊其辞（hedge），即使候选里有 12 也得 0 分（`oracle.answer_candidates` 会列出这些候选数）。
# 还可以另加一个格式奖励，只要回答恰好是 SFT 示范的形式 `a plus b is N.` 就给，不论对错。对“What is 7 plus 5?”的几个回答，检查器怎么判？

# %%
# NBVAL_CHECK_OUTPUT
prompt = Prompt("What is 7 plus 5?", kind="arithmetic", topic="7+5", category="plus", answer="12")
responses = [
    "7 plus 5 is 12.",
    "7 plus 5 is 13.",
    "7 plus 5 is 12",
    "The answer is 12.",
    "12",
    "7 plus 5 is 12. No, it is 13.",
    "7 plus 5 is 13. No, it is 12.",
    "7 plus 5 is 11 or 12 or 13.",
    "7 plus 5 is 12 or 13.",
    "7 plus 5 is 12, 13, 14 or 15.",
]
print(f"{'response':<42} {'reward':>6} {'with format bonus 0.1':>22}")
for response in responses:
    print(f"{response!r:<42} {grpo.arithmetic_reward(prompt, response):>6.1f} "
          f"{grpo.arithmetic_reward(prompt, response, format_reward=0.1):>22.1f}")
# %% [output]
# response                                   reward  with format bonus 0.1
# '7 plus 5 is 12.'                             1.0                    1.1
# '7 plus 5 is 13.'                             0.0                    0.1
# '7 plus 5 is 12'                              1.0                    1.0
# 'The answer is 12.'                           1.0                    1.0
# '12'                                          0.0                    0.0
# '7 plus 5 is 12. No, it is 13.'               0.0                    0.0
# '7 plus 5 is 13. No, it is 12.'               1.0                    1.0
# '7 plus 5 is 11 or 12 or 13.'                 0.0                    0.0
# '7 plus 5 is 12 or 13.'                       0.0                    0.0
# '7 plus 5 is 12, 13, 14 or 15.'               0.0                    0.0

# %% [markdown] en
# A verifiable reward is only as good as its verifier. This one demands one committed final answer,
# so a list of guesses scores 0 even when it holds the sum; but it accepts a wrong answer followed by a correction, and a policy that
# learned to hedge "...is 13. No, it is 12." after seeing the sum would be rewarded for it. A
# checker that accepted the right number *anywhere* in the response would teach the policy to list
# numbers: reward hacking of a lax verifier.
#
# ## 2. A group of answers
#
# GRPO samples $G$ completions of each prompt at temperature 1. Here is the SFT model, $G = 8$, on
# four training sums (`grpo.collect_groups` is step 1–2 of the training loop: sample and reward):

# %% [markdown] zh
# 可验证奖励的好坏取决于它的验证器（verifier）。这个验证器要求明确给出唯一的最终答案，所以罗列一串猜测得 0 分，即使其中有正确的和；
# 但它接受“先错后改”的回答：如果策略学会两头下注，先写一个答案再改口（“...is 13. No, it is 12.”），它同样能得分。
# 如果检查器只要回答**任何位置**出现正确的数就给分，策略就会学着罗列数字：这就是验证器太宽松时的奖励投机（reward hacking）。
#
# ## 2. 一组回答
#
# GRPO 在温度（temperature）为 1 时对每个提示采样 $G$ 个回答。下面是监督微调模型在四道训练集加减法题上、取 $G = 8$ 的结果（`grpo.collect_groups` 就是训练循环的第 1–2 步：采样并打分）：

# %%
sft_model = stages.get("sft")
cfg = stages.config_of("grpo")  # the GRPOConfig of the pipeline's "grpo" stage
train_sums = world.prompts("train", "arithmetic")[::23][:4]
groups = grpo.collect_groups(sft_model, sft_model, tok, train_sums, cfg, torch.Generator().manual_seed(0))
G = cfg.group_size
for i, p in enumerate(train_sums):
    rewards = groups.rewards[i * G : (i + 1) * G]
    answers = [r.rsplit(" is ", 1)[-1].rstrip(".") for r in groups.responses[i * G : (i + 1) * G]]
    print(f"{p.text:<22} answer {p.answer:>2}  sampled {answers}  rewards {rewards.int().tolist()}")
print(f"\ngroups with no spread (all right or all wrong): {grpo.zero_spread_fraction(groups.rewards, G):.0%}")

# %% [markdown] en
# ## 3. Group-relative advantages
#
# Each completion is scored against its siblings: subtract the group's mean reward, divide by the
# group's standard deviation (unbiased, as `torch.std`). By hand, on three groups of four:

# %% [markdown] zh
# ## 3. 组相对优势
#
# 每个回答都与同组的其他回答比较：减去组内平均奖励，再除以组内标准差（无偏估计，即 `torch.std` 的默认做法）。对三组、每组四个回答手算如下：

# %%
# NBVAL_CHECK_OUTPUT
rewards = torch.tensor([1.0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1])  # (N,) 3 prompts x G = 4, consecutive
grouped = rewards.reshape(-1, 4)  # (3, 4): one row per prompt, NOT reshape(4, -1)
centred = grouped - grouped.mean(dim=1, keepdim=True)  # (3, 4)
std = grouped.std(dim=1, keepdim=True)  # (3, 1), 0 for the all-right group
by_hand = torch.where(std > 0, centred / (std + 1e-4), torch.zeros_like(centred))  # 0/0 would be NaN
show = lambda a: " ".join(f"{v:+.2f}" for v in a.reshape(-1).tolist())
print("by hand           ", show(by_hand))
print("group_advantages  ", show(grpo.group_advantages(rewards, 4, scale="group")))
print("Dr. GRPO (no std) ", show(grpo.group_advantages(rewards, 4, scale="none")))
# %% [output]
# by hand            +1.50 -0.50 -0.50 -0.50 +0.87 +0.87 -0.87 -0.87 +0.00 +0.00 +0.00 +0.00
# group_advantages   +1.50 -0.50 -0.50 -0.50 +0.87 +0.87 -0.87 -0.87 +0.00 +0.00 +0.00 +0.00
# Dr. GRPO (no std)  +0.75 -0.25 -0.25 -0.25 +0.50 +0.50 -0.50 -0.50 +0.00 +0.00 +0.00 +0.00

# %% [markdown] en
# The third group is all right: every advantage is $r - \bar r = 0$, and it contributes nothing to the
# gradient (only compute). Its standard deviation is 0, so the division needs a guard, or the
# advantages are NaN and so is the next update. A prompt too easy or too hard for the current policy
# is a wasted prompt; the training log tracks the share of such groups as `zero_spread`.
#
# **Why no value network?** In PPO the value head learns $V(s_t)$, the expected return from each
# token on, to serve as a baseline that lowers the variance of the policy gradient. Here the reward
# comes once, at the end, and depends mostly on the prompt's difficulty; the mean reward of $G$
# samples of the same prompt is a Monte Carlo estimate of exactly that. The price is $G$ samples per
# prompt instead of one, and a baseline that is noisy when $G$ is small.
#
# **Dr. GRPO's first fix: do not divide by the std** (Liu et al. 2025). The standard deviation of
# a group of 0/1 rewards is smallest when almost every answer is right or almost every answer is
# wrong, so dividing by it blows up the advantages of exactly those prompts. With $G = 8$:

# %% [markdown] zh
# 第三组全对：每个优势都是 $r - \bar r = 0$，它对梯度毫无贡献（只消耗算力）。它的标准差为 0，所以除法需要加保护，
# 否则优势会变成 NaN，下一次更新也随之变成 NaN。对当前策略来说太容易或太难的提示都是浪费；训练日志用 `zero_spread` 记录这类组所占的比例。
#
# **为什么不需要价值网络？**　在 PPO 中，价值头学习 $V(s_t)$，即从每个词元往后的期望回报（return），把它当作基线来降低策略梯度的方差。
# 这里奖励只在结尾给一次，而且主要取决于题目的难度；同一提示 $G$ 个样本的平均奖励，恰好就是对这个量的蒙特卡洛估计。
# 代价是每个提示要采样 $G$ 次而不是一次，并且 $G$ 较小时，这个基线噪声很大。
#
# **Dr. GRPO 的第一处修正：不除以标准差**（Liu 等人，2025）。一组 0/1 奖励的标准差，在几乎全对或几乎全错时最小，
# 所以除以它，恰恰会放大这类提示的优势。取 $G = 8$：

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'right of 8':>10} {'A(right), GRPO':>15} {'A(right), Dr. GRPO':>19} {'group weight sum|A|, GRPO':>26} {'Dr. GRPO':>9}")
for k in range(1, 8):
    r = torch.tensor([1.0] * k + [0.0] * (8 - k))  # (8,) one group
    a_grpo, a_dr = grpo.group_advantages(r, 8, "group"), grpo.group_advantages(r, 8, "none")
    print(f"{k:>10} {a_grpo[0]:>15.2f} {a_dr[0]:>19.2f} {a_grpo.abs().sum():>26.2f} {a_dr.abs().sum():>9.2f}")
# %% [output]
# right of 8  A(right), GRPO  A(right), Dr. GRPO  group weight sum|A|, GRPO  Dr. GRPO
#          1            2.47                0.88                       4.95      1.75
#          2            1.62                0.75                       6.48      3.00
#          3            1.21                0.62                       7.24      3.75
#          4            0.94                0.50                       7.48      4.00
#          5            0.72                0.38                       7.24      3.75
#          6            0.54                0.25                       6.48      3.00
#          7            0.35                0.12                       4.95      1.75

# %% [markdown] en
# Without the std, a group's total weight follows its spread: a prompt with one right answer in
# eight counts less than half as much as a balanced one (1.75 against 4.00). With it, the two weigh
# almost the same (4.95 against 7.48), and the lone right answer gets an advantage of 2.47. Dividing
# by the std is a per-prompt reweighting that favours the hardest and easiest prompts, which nobody
# asked for.
#
# ## 4. The loss, per token, and how it is averaged
#
# Per token the loss is PPO's clipped surrogate plus $\beta k_3$. What differs between GRPO and its
# fixes is how the $(N, T)$ per-token losses become one number:
# - `"grpo"`: the mean over completions of each completion's mean over its tokens (the equation above);
# - `"bnpo"`: the sum over all tokens divided by the number of tokens (DAPO's token-level loss);
# - `"dr_grpo"`: the sum over all tokens divided by a constant, $N \cdot L_{\max}$ (Dr. GRPO's second fix).
#
# First by hand on small tensors, two completions of three tokens (the second is two tokens long),
# against `grpo.grpo_loss`:

# %% [markdown] zh
# 不除以标准差时，一组的总权重随它的分散程度而变：八个回答里只对一个的提示，权重还不到“对错各半”的一半（1.75 对 4.00）。
# 除以标准差后，两者的权重几乎一样（4.95 对 7.48），而那个唯一正确的回答得到 2.47 的优势。
# 除以标准差其实是对每个提示重新加权，偏向最难和最容易的提示，而这并不是谁想要的。
#
# ## 4. 逐词元的损失，以及如何求平均
#
# 每个词元上的损失是 PPO 的裁剪替代目标加上 $\beta k_3$。GRPO 与它的修正版本之间的区别，在于如何把 $(N, T)$ 的逐词元损失变成一个数：
# - `"grpo"`：先在每个回答内部对词元取平均，再对回答取平均（即上面的公式）；
# - `"bnpo"`：对所有词元求和，再除以词元总数（DAPO 的词元级损失）；
# - `"dr_grpo"`：对所有词元求和，再除以常数 $N \cdot L_{\max}$（Dr. GRPO 的第二处修正）。
#
# 先在小张量上手算：两个回答，各占三个位置（第二个回答只有两个词元），与 `grpo.grpo_loss` 对照：

# %%
# NBVAL_CHECK_OUTPUT
logp = torch.tensor([[-0.1, -0.5, -1.0], [-0.3, -0.2, -2.0]])  # (N, T) current policy
old_logp = torch.tensor([[-0.4, -0.5, -0.6], [-0.3, -0.6, -1.0]])  # (N, T) policy that sampled
ref_logp = torch.tensor([[-0.2, -0.6, -0.9], [-0.4, -0.1, -1.5]])  # (N, T) frozen reference
advantages = torch.tensor([1.0, -1.0])  # (N,) one per completion
mask = torch.tensor([[1.0, 1, 1], [1, 1, 0]])  # (N, T) completion tokens
clip_eps, beta = 0.2, 0.04
N, T = logp.shape

A = advantages.unsqueeze(1)  # (N, 1), the same for every token of a completion
ratio = torch.exp(logp - old_logp)  # (N, T)
surrogate = torch.minimum(ratio * A, ratio.clamp(1 - clip_eps, 1 + clip_eps) * A)  # (N, T)
k3 = torch.exp(ref_logp - logp) - (ref_logp - logp) - 1  # (N, T), >= 0
per_token = -surrogate + beta * k3  # (N, T)
by_hand = {
    "grpo": ((per_token * mask).sum(dim=1) / mask.sum(dim=1)).mean(),
    "bnpo": (per_token * mask).sum() / mask.sum(),
    "dr_grpo": (per_token * mask).sum() / (N * T),  # L_max = T = 3 here
}
print("ratio", [[round(r, 3) for r in row] for row in ratio.tolist()])
for loss_type, value in by_hand.items():
    package, stats = grpo.grpo_loss(logp, old_logp, ref_logp, advantages, mask, clip_eps, beta=beta,
                                    loss_type=loss_type, max_completion_length=T)
    print(f"{loss_type:<8} by hand {value.item():+.4f}   grpo.grpo_loss {package.item():+.4f}   "
          f"clipfrac {stats['clipfrac']:.1f}")
# %% [output]
# ratio [[1.35, 1.0, 0.67], [1.0, 1.492, 0.368]]
# grpo     by hand +0.1448   grpo.grpo_loss +0.1448   clipfrac 0.2
# bnpo     by hand -0.0755   grpo.grpo_loss -0.0755   clipfrac 0.2
# dr_grpo  by hand -0.0629   grpo.grpo_loss -0.0629   clipfrac 0.2

# %% [markdown] en
# One token of five is clipped: the first token of completion 1 has ratio 1.35 and a positive
# advantage, so it gains nothing beyond 1.2. The second token of completion 2 has ratio 1.49 too,
# but a *negative* advantage: the min keeps the unclipped, worse value there, and the gradient
# still pulls that token down. The clip is pessimistic, as in PPO.
#
# **Dr. GRPO's second fix: the length bias.** Take a group of four completions, on-policy (ratio 1),
# two right and two wrong, one of each two tokens long and one six tokens long. The gradient of the
# loss on each token's log-prob shows how hard each token is pushed:

# %% [markdown] zh
# 五个词元中有一个被裁剪：回答 1 的第一个词元比率为 1.35，优势为正，所以超过 1.2 的部分不再带来任何好处。
# 回答 2 的第二个词元比率也达到 1.49，但它的优势是**负**的：min 在那里保留了未裁剪的、更差的值，梯度仍然把这个词元往下压。
# 和 PPO 一样，裁剪是悲观的。
#
# **Dr. GRPO 的第二处修正：长度偏差。**　取一组四个回答，处于同策略（on-policy）状态（比率为 1），两对两错，
# 对与错中各有一个长两个词元、一个长六个词元。损失对每个词元对数概率（log-prob）的梯度，显示了每个词元被推动的力度：

# %%
# NBVAL_CHECK_OUTPUT
advantages = torch.tensor([0.5, 0.5, -0.5, -0.5])  # (4,) Dr. GRPO advantages of rewards [1, 1, 0, 0]
lengths = torch.tensor([2, 6, 2, 6])
T = 6
mask = (torch.arange(T) < lengths.unsqueeze(1)).float()  # (4, T)
rows = ["right, 2 tokens", "right, 6 tokens", "wrong, 2 tokens", "wrong, 6 tokens"]
print(f"{'push on one token':<18}" + "".join(f"{name:>17}" for name in rows))
for loss_type in ("grpo", "bnpo", "dr_grpo"):
    logp = torch.full((4, T), -1.0, requires_grad=True)  # (4, T)
    loss, _ = grpo.grpo_loss(logp, logp.detach(), None, advantages, mask, loss_type=loss_type,
                             max_completion_length=T)
    push = -torch.autograd.grad(loss, logp)[0]  # (4, T): > 0 raises the token's log-prob
    print(f"{loss_type:<18}" + "".join(f"{push[i, 0].item():>+17.4f}" for i in range(4)))
# %% [output]
# push on one token   right, 2 tokens  right, 6 tokens  wrong, 2 tokens  wrong, 6 tokens
# grpo                        +0.0625          +0.0208          -0.0625          -0.0208
# bnpo                        +0.0312          +0.0312          -0.0312          -0.0312
# dr_grpo                     +0.0208          +0.0208          -0.0208          -0.0208

# %% [markdown] en
# With `"grpo"` each completion's tokens share a fixed budget, so a token of the long wrong answer
# is pushed down a third as hard as a token of the short wrong one: when wrong, be long. Over many
# updates this lets responses grow on hard prompts without a reason (Liu et al. 2025 see it in
# DeepSeek-R1-style training). `"bnpo"` and `"dr_grpo"` weigh every token the same; `"dr_grpo"`
# also keeps the scale fixed from batch to batch.
#
# ## 5. Training on MiniWorld's sums
#
# `stages.get("grpo")` runs `grpo.train_grpo` with the configuration printed below: every
# iteration samples $G$ completions of a few training sums, rewards them with `arithmetic_reward`,
# and takes a couple of gradient steps on `grpo_loss` with $\beta = 0.04$ against the frozen SFT model.
#
# One more term holds the rest of the model in place. The $k_3$ penalty is measured on the policy's
# own answers to sums; nothing in it sees a fact, an advice question or a harmful request, yet every
# update changes weights those answers share too, so nothing in the loss keeps the other columns
# of the table where they were. So each update also adds `anchor_coef` times
# `grpo.anchor_kl`: the exact KL from the policy to the SFT model, summed over the whole vocabulary,
# on a batch of SFT conversations of the other prompt kinds. The policy reads those conversations;
# it does not write them. InstructGPT meets the same problem with PPO-ptx, mixing pretraining
# gradients into PPO; a KL anchor keeps the next-token distributions where the reference has them,
# without training on the texts again.

# %% [markdown] zh
# 用 `"grpo"` 时，每个回答的所有词元分摊一份固定的预算，所以长的错误回答中的一个词元，被往下压的力度只有短的错误回答中一个词元的三分之一：
# 错的时候，写长一点更划算。经过多次更新，这会让难题上的回答无缘无故地变长（Liu 等人，2025 在 DeepSeek-R1 式的训练中观察到了这一现象）。
# `"bnpo"` 和 `"dr_grpo"` 给每个词元同样的权重；`"dr_grpo"` 还让尺度在批次之间保持不变。
#
# ## 5. 在 MiniWorld 的加减法题上训练
#
# `stages.get("grpo")` 会按下面打印出的配置运行 `grpo.train_grpo`：每轮迭代对若干道训练集加减法题各采样 $G$ 个回答，
# 用 `arithmetic_reward` 打分，再以冻结的监督微调模型为参考、取 $\beta = 0.04$，在 `grpo_loss` 上走几步梯度。
#
# 另外还有一项，负责让模型的其余部分保持原样。$k_3$ 惩罚是在策略自己对加减法题的回答上计算的，它看不到事实题、建议题，
# 也看不到有害请求；可是每次更新改动的权重，这些回答同样在用，损失里也就没有任何东西让表里其他各列保持原位。所以每次更新还要加上 `anchor_coef` 乘以
# `grpo.anchor_kl`：在一批其他类型提示的监督微调对话上，策略到监督微调模型的精确 KL，对整个词表求和。
# 这些对话由策略来读，而不是由它来写。InstructGPT 遇到同样的问题时用的是 PPO-ptx，把预训练的梯度混进 PPO；
# KL 锚（KL anchor）则让下一个词元的分布停留在参考模型原来的位置，而不必在这些文本上再训练一遍。

# %%
# first run: trains for one to two minutes on a 2-core CPU; later runs: loads from the cache
grpo_model = stages.get("grpo")
print(f"GRPO trained in {stages.timings['grpo']:.0f} s: {cfg.iterations} iterations x {cfg.prompts_per_iteration} sums "
      f"x G = {cfg.group_size} completions, {cfg.updates_per_rollout} updates per rollout, beta = {cfg.beta}, "
      f"anchor_coef = {cfg.anchor_coef}")
log = stages.metrics("grpo")
fig, axes = plt.subplots(1, 5, figsize=(20, 3.2))
for ax, (key, title) in zip(axes, {"accuracy": "accuracy of the sampled answers", "zero_spread": "groups with no spread",
                                   "kl": "KL to the SFT model (k3, per token)", "anchor_kl": "KL on the other kinds (anchor)",
                                   "response_len": "completion length (tokens)"}.items()):
    plots.plot_curves({"grpo": log}, key=key, title=title, ax=ax)
    ax.set_xlabel("iteration")
fig.tight_layout()
plt.show()

# %% [markdown] en
# Before and after, on the *held-out* sums, which training never sampled, in both splits of lesson 9:
# *new phrasings* are training sums asked in words GRPO never saw (a sum it trained on as "What is
# $a$ plus $b$?", asked as "How much is $a$ plus $b$?"), *new tasks* are sums that no post-training
# data contains at all. Greedy decoding (the model's single best answer) and sampling at
# temperature 1 (what GRPO optimises), 4 samples per sum:

# %% [markdown] zh
# 在训练中从未采样过的**留出**（held-out）加减法题上对比前后，分第 9 课的两个划分来看：**新措辞**是换了 GRPO 没见过的说法来问的训练题（例如训练时问的是“What is $a$ plus $b$?”，这里问“How much is $a$ plus $b$?”），**新任务**是任何后训练数据都不含的算式。
# 贪心解码（greedy decoding），即模型最有把握的那一个答案；以及温度为 1 的采样，即 GRPO 所优化的对象，每道题采样 4 次：

# %%
for split in ("new_phrasings", "new_tasks"):
    heldout_sums = world.prompts(split, "arithmetic")
    print(f"{split}: {len(heldout_sums)} held-out sums")
    for name, model in (("sft", sft_model), ("grpo", grpo_model)):
        greedy = grpo.arithmetic_accuracy(model, tok, heldout_sums, temperature=0.0)
        sampled = grpo.arithmetic_accuracy(model, tok, heldout_sums, temperature=1.0, samples_per_prompt=4)
        print(f"  {name:<5} greedy {greedy:6.1%}   sampled (T=1) {sampled:6.1%}")

# %% [markdown] en
# ## 6. GRPO next to PPO
#
# Both start from the SFT model and both are held near it by a KL term, but they optimise different
# things: PPO the reward model's score on every kind of prompt, GRPO exact answers on sums. The
# evaluation of lesson 2 on the 200 held-out prompts, with win rates against the SFT model:

# %% [markdown] zh
# ## 6. GRPO 与 PPO 并排比较
#
# 两者都从监督微调模型出发，也都由一个 KL 项拉在它附近，但优化的东西不同：PPO 优化的是奖励模型在各类提示上的打分，
# GRPO 优化的是加减法题的精确答案。下面是第 2 课的评估，在 200 个留出提示上进行，胜率（win rate）相对于监督微调模型计算：

# %%
from IPython.display import Markdown, display

from minialign import evaluate

ppo_model = stages.get("ppo")  # trained in lesson 4: loads from the cache (or trains, a few minutes)
# the SFT model's answers are sampled once; every row's win rate and KL are against them
rows = evaluate.compare(stages, {"sft": sft_model, "ppo": ppo_model, "grpo": grpo_model}, baseline=sft_model)  # ~10 s a model
display(Markdown(evaluate.format_table(rows)))
plots.plot_eval_bars(rows)
plt.show()
print(f"training time: ppo {stages.timings['ppo']:.0f} s, grpo {stages.timings['grpo']:.0f} s")

# %% [markdown] en
# | | PPO (lesson 4) | GRPO |
# | --- | --- | --- |
# | reward | a learned reward model (can be hacked) | a program that checks the answer (can be lax) |
# | baseline | a value head, trained alongside | the mean reward of the group |
# | samples per prompt | 1 | $G$ (8 here, 64 in DeepSeekMath) |
# | KL to the reference | in the reward, per token | in the loss, per token ($k_3$) |
# | advantage | per token, from GAE | per completion, the same for all its tokens |
# | suits | open-ended quality: helpful, harmless | tasks with a checkable answer |

# %% [markdown] zh
# | | PPO（第 4 课） | GRPO |
# | --- | --- | --- |
# | 奖励 | 学出来的奖励模型（可能被钻空子） | 检查答案的程序（可能太宽松） |
# | 基线 | 价值头，与策略一起训练 | 组内平均奖励 |
# | 每个提示的样本数 | 1 | $G$（这里是 8，DeepSeekMath 中是 64） |
# | 相对参考模型的 KL | 并入奖励，逐词元 | 加进损失，逐词元（$k_3$） |
# | 优势 | 逐词元，来自广义优势估计（GAE） | 逐回答，同一回答的所有词元共享 |
# | 适用 | 开放式的质量：有益、无害 | 答案可以检验的任务 |

# %% [markdown] en
# **What to notice**
# - The accuracy of the sampled answers on the *training* sums is what GRPO optimises; the first
#   panel of section 5 shows it during training. Whether it carries over to the held-out sums, which
#   training never sampled, is what the held-out printout answers: compare its grpo row with its sft
#   row, greedy and sampled.
#   It can carry over only where the SFT model already gets a held-out sum right some of the time
#   (its sampled accuracy says how often): lesson 2's answers restate the sum the way the corpus
#   writes it, so what the base model learnt is within reach. GRPO can only make likelier what the
#   model already does now and then; DeepSeekMath starts from a model that solves many problems some
#   of the time. A sum the model never gets right never earns a reward to learn from.
# - The share of zero-spread groups is the learning signal's budget: as the policy gets better,
#   more groups are all right and teach nothing. A curriculum of harder prompts, or larger $G$, is
#   the usual answer.
# - GRPO's reward knows nothing about harmlessness or facts, yet the updates change weights that
#   every answer shares. The anchor of section 5 is there to hold the other columns; read the GRPO
#   row of section 6's table against the SFT row, column by column: arithmetic, which it targeted,
#   and factual accuracy, reward, harmful compliance and over-refusal, which it did not. The table
#   judges only a few dozen harmful and benign samples, so a difference of a few points there can be
#   noise (lesson 9 puts intervals on such numbers). And the anchor holds the next-token
#   distributions on average, not each decision to refuse. A reward that checks one thing optimises that thing; what
#   it does not check has to be held on purpose, and even then it can move. PPO moves the whole
#   table, for the better where the reward model is right.
# - No reward model and no value head: GRPO's cost is sampling, $G$ completions per prompt.

# %% [markdown] zh
# **值得注意的地方**
# - **训练**题上采样答案的准确率正是 GRPO 所优化的量，第 5 节的第一张图画出了它在训练中的变化。它能否迁移到训练中从未采样过的留出题上，
#   要对比留出题打印结果中 grpo 与 sft 两行（贪心解码和采样都要看）。只有监督微调模型本来就能时不时答对的留出题，才有可能迁移过去（它的采样准确率说明了有多常答对）：
#   第 2 课的回答按语料的写法复述算式，基座模型学到的东西就够得着。GRPO 只能让模型偶尔做得到的事变得更常发生；
#   DeepSeekMath 的起点也是一个很多题都能偶尔做对的模型。模型从来答不对的算式，永远得不到可以从中学习的奖励。
# - 零分散组（全对或全错的组）所占的比例，决定了学习信号的“预算”：策略越好，全对的组越多，它们什么也教不了。
#   常见的对策是安排由易到难的题目，或者加大 $G$。
# - GRPO 的奖励对无害性和事实一无所知，可更新改动的是所有回答共用的权重。第 5 节的 KL 锚就是用来稳住其他各列的；
#   把第 6 节表中 GRPO 那一行与监督微调那一行逐列对比：它所针对的算术，以及它没有针对的事实准确率、奖励、有害顺从和过度拒答。
#   表中有害提示和无害提示的样本都只有几十个，那里相差几个百分点可能只是噪声（第 9 课会给这类数字加上区间）。
#   而且 KL 锚稳住的是下一个词元分布的平均情况，而不是每一次要不要拒答的决定。只检查一件事的奖励就只优化这一件事；
#   它不检查的东西必须有意去稳住，即便如此也还是可能会动。PPO 则会改变整张表，在奖励模型判断正确的地方变好。
# - 没有奖励模型，也没有价值头：GRPO 的成本在于采样，每个提示要生成 $G$ 个回答。

# %% [markdown] en
# ## Common pitfalls
# - **`reshape(G, -1)` instead of `reshape(-1, G)`.** With the completions of one prompt in
#   consecutive rows, the wrong reshape mixes prompts, and every advantage is measured against the
#   wrong siblings.
# - **No guard on the std.** An all-right group gives $0/0$ = NaN, and one NaN ruins the update.
# - **Sampling at one temperature, scoring at another.** `old_logp` and `logp` must both come from
#   logits divided by the sampling temperature, or the ratio is not 1 even before the first step.
# - **A lax verifier.** If the checker accepts the right number anywhere, GRPO learns to list
#   numbers. Read the samples whenever the reward climbs fast.
# - **Expecting the clip to do something with one update per rollout.** On the first step the
#   ratio is exactly 1; clipping only matters from the second update on the same rollout.
# - **Per-sequence averaging without thinking.** It lets long wrong answers off lightly; prefer a
#   token-level (`bnpo`) or constant (`dr_grpo`) normaliser when lengths vary.

# %% [markdown] zh
# ## 常见误区
# - **用 `reshape(G, -1)` 而不是 `reshape(-1, G)`**　同一提示的回答位于相邻的行，用错了 reshape 就会把不同提示混在一起，
#   每个优势都在和错误的“同组”回答比较。
# - **标准差不加保护**　全对的一组给出 $0/0$ = NaN，一个 NaN 就足以毁掉整次更新。
# - **采样用一个温度，打分用另一个温度**　`old_logp` 和 `logp` 都必须来自除以采样温度之后的 logits，否则在第一步之前比率就已经不是 1 了。
# - **验证器太宽松**　如果检查器在回答的任何位置看到正确的数就给分，GRPO 就会学着罗列数字。奖励涨得很快时，一定要读一读样本。
# - **每次采样只更新一步，却指望裁剪起作用**　第一步时比率恰好是 1；只有在同一批样本上做第二次及以后的更新时，裁剪才有意义。
# - **想都不想就按序列取平均**　这会让长的错误回答受到的惩罚偏轻；回答长度差别大时，宜用词元级（`bnpo`）或常数（`dr_grpo`）归一化。

# %% [markdown] en
# ## Exercise
# [`exercises/ex07_grpo.py`](../../exercises/ex07_grpo.py): write `group_advantages` and `grpo_loss`
# (with the `"grpo"` and `"bnpo"` aggregations) yourself, then run `pytest tests/grading/test_ex07_grpo.py`
# (or `python -m minialign grade` for the table of all exercises). The tests include the
# zero-spread group and undetached old log-probs; yours must not pass for the wrong reason.

# %% [markdown] zh
# ## 练习
# [`exercises/ex07_grpo.py`](../../exercises/ex07_grpo.py)：亲手写出 `group_advantages` 和 `grpo_loss`（包括 `"grpo"` 和 `"bnpo"` 两种聚合），
# 然后运行 `pytest tests/grading/test_ex07_grpo.py`（或者运行 `python -m minialign grade` 查看所有练习的成绩表）。
# 测试里包含了零分散的组和没有 detach 的旧对数概率，你的实现不能“歪打正着”地通过。

# %% [markdown] en
# ## Knowledge check
# The answers are folded under "Show answer". To grade yourself, run
# `quiz.check("07", {"07-1": 1.5, ...})`; in a terminal: `python -m minialign quiz 07`.

# %% [markdown] zh
# ## 知识检测
# 答案折叠在“查看答案”下面。想给自己打分，可以运行 `quiz.check("07", {"07-1": 1.5, ...}, lang="zh")`；
# 在终端里则运行 `python -m minialign quiz 07 --lang zh`。

# %% [code] en
from minialign import quiz

quiz.ask("07", lang="en")

# %% [code] zh
from minialign import quiz

quiz.ask("07", lang="zh")
