# Lesson 4: PPO and GAE for RLHF. Source of notebooks/{en,zh}/04_ppo.ipynb.
# Edit this file, then run: python notebooks/build.py   (format: see notebooks/README.md)

# %% [markdown] en
# # Lesson 4 · PPO and GAE: reinforcement learning from a reward model
#
# Lesson 3 gave us a reward model: a number for any response. Now the policy (a copy of the SFT
# model) learns to write responses that score high. It samples, the reward model scores, and PPO
# (Schulman et al. 2017) nudges the policy towards what scored well: the RLHF recipe of Ziegler et
# al. (2019) and InstructGPT (Ouyang et al. 2022). One ingredient makes this safe, a KL penalty that
# holds the policy near the SFT model; at the end of the lesson we remove it and watch the policy
# exploit the reward model.
#
# **Learning goals.** After this lesson you can
# - name the five steps of one RLHF iteration and the tensors that flow between them;
# - build the per-token reward (KL penalty on every token, the score on the last real one) and
#   explain why the KL is per token and how its estimators differ;
# - compute GAE advantages by hand and check them against the package;
# - explain PPO's clipped surrogate, and what the adaptive KL controller does;
# - show reward hacking, and why the KL term exists.
#
# **Time.** The PPO policy trains the first time its cell runs (from the SFT and reward models of
# lessons 2 and 3; the cell prints how long it took). The reward-hacking experiment at the end runs
# two short PPO runs the first time; later runs read both from the cache. The other cells take seconds.

# %% [markdown] zh
# # 第 4 课 · PPO 与 GAE：用奖励模型做强化学习
#
# 第 3 课给了我们一个奖励模型（reward model）：任何回答（response）都能得到一个分数。现在，策略（policy）——也就是监督微调模型的一个副本——
# 要学会写出高分的回答。它采样（rollout），奖励模型打分，PPO（Schulman 等，2017）再把策略朝高分的方向推一点：
# 这就是 Ziegler 等（2019）和 InstructGPT（Ouyang 等，2022）的基于人类反馈的强化学习（RLHF）方案。
# 其中有一个要素保证了它的安全：把策略拴在监督微调模型附近的 KL 惩罚（KL penalty）。本课最后我们会把它拿掉，看看策略如何钻奖励模型的空子。
#
# **学习目标**　学完本课，你应当能够：
# - 说出 RLHF 一次迭代的五个步骤，以及它们之间传递的张量；
# - 构造逐词元的奖励（每个词元上有 KL 惩罚，最后一个真实词元上再加分数），解释 KL 为什么按词元计算，以及它的几种估计量有何不同；
# - 手算广义优势估计（GAE）的优势（advantage），并与包里的实现核对；
# - 解释 PPO 的裁剪（clipping）替代目标，以及自适应 KL 控制器的作用；
# - 演示奖励投机（reward hacking），并说明 KL 项为什么必不可少。
#
# **耗时**　PPO 策略在它的单元格第一次运行时训练（从第 2、3 课的监督微调模型和奖励模型出发，单元格会打印训练用了多久）。
# 最后的奖励投机实验第一次运行时要跑两次短程 PPO，之后从缓存读取；其余单元格都只需几秒。

# %% [markdown] en
# ## 1. The RLHF loop
#
# One iteration of `ppo.train_ppo`:
#
# 1. **rollout**: sample one response per prompt from the policy $\pi_\theta$;
# 2. **experience**: per-token log-probs under the policy and under the frozen reference
#    $\pi_{\text{ref}}$ (the SFT model), the value head's estimates $V(s_t)$, and the reward model's
#    score $r_\phi(x, y)$, read at the last real token;
# 3. **rewards and advantages**: a reward for every token, then GAE advantages and returns;
# 4. **update**: a few epochs of PPO's clipped loss over minibatches of this rollout;
# 5. **KL control**: adjust the KL coefficient $\beta$ to the KL just measured.
#
# Each response token is one action: the state $s_t$ is the prompt and the tokens so far, the action
# $a_t$ the next token. The reward of token $t$ is

# %% [markdown] zh
# ## 1. RLHF 的循环
#
# `ppo.train_ppo` 的一次迭代包括：
#
# 1. **采样**：从策略 $\pi_\theta$ 中为每个提示（prompt）采样一个回答；
# 2. **收集经验**：策略和冻结的参考模型（reference model）$\pi_{\text{ref}}$（即监督微调模型）下逐词元的对数概率（log-prob）、
#    价值头（value head）的估计 $V(s_t)$，以及奖励模型在最后一个真实词元处读出的分数 $r_\phi(x, y)$；
# 3. **奖励与优势**：给每个词元（token）一个奖励，再算出 GAE 优势和回报（return）；
# 4. **更新**：在这批采样的小批次上，用 PPO 的裁剪损失训练几个轮次；
# 5. **KL 控制**：根据刚测得的 KL 调整 KL 系数 $\beta$。
#
# 每个回答词元就是一个动作：状态 $s_t$ 是提示加上到目前为止生成的词元，动作 $a_t$ 是下一个词元。第 $t$ 个词元的奖励是

# %% [markdown]
# $$r_t = -\beta \underbrace{\big(\log \pi_\theta(a_t|s_t) - \log \pi_{\text{ref}}(a_t|s_t)\big)}_{k_1\text{: per-token KL estimate}}
# \;+\; \mathbb{1}[t = t_{\text{last}}]\; r_\phi(x, y)$$

# %% [markdown] en
# Summed over the response, the penalty terms are $-\beta \log \pi_\theta(y|x)/\pi_{\text{ref}}(y|x)$, whose
# expectation under the policy is $-\beta\,\mathrm{KL}(\pi_\theta \,\|\, \pi_{\text{ref}})$: this is the KL-regularised
# objective of lesson 0, spread over the tokens so that each token pays for its own drift.
# `kl_penalty.per_token_rewards` builds it; check it on a hand-made batch of two rows (prompt at position 0,
# padding at the end):

# %% [markdown] zh
# 把整条回答上的惩罚项加起来，得到 $-\beta \log \pi_\theta(y|x)/\pi_{\text{ref}}(y|x)$，它在策略下的期望就是 $-\beta\,\mathrm{KL}(\pi_\theta \,\|\, \pi_{\text{ref}})$。
# 这正是第 0 课的 KL 正则化目标，只不过分摊到了各个词元上，让每个词元为自己造成的偏离买单。
# `kl_penalty.per_token_rewards` 负责构造它；在一个手工构造的两行批次上检验一下，其中位置 0 是提示，末尾是填充（padding）：

# %%
# NBVAL_CHECK_OUTPUT

import matplotlib.pyplot as plt
import torch

from minialign import evaluate, experiments, kl_penalty, logprobs, plots, ppo
from minialign.stages import Stages

mask = torch.tensor([[0.0, 1, 1, 1, 0], [0.0, 1, 1, 0, 0]])  # (B, T): response tokens
kl = torch.tensor([[0.0, 0.2, -0.1, 0.4, 0.0], [0.0, 0.3, 0.1, 0.0, 0.0]])  # per-token k1
score = torch.tensor([1.0, -0.5])  # the reward model's score of each response
rewards = kl_penalty.per_token_rewards(score, kl, mask, kl_coef=0.1)  # (B, T)
for row in rewards.tolist():
    print([round(x, 4) + 0.0 for x in row])  # + 0.0 turns -0.0 into 0.0
# by hand, row 0: -0.1 * [0.2, -0.1, 0.4] = [-0.02, 0.01, -0.04], plus the score 1.0 on the last real token (t = 3)
print("row 0 by hand:", [0.0, -0.02, 0.01, -0.04 + 1.0, 0.0])
print("row 1 by hand:", [0.0, -0.03, -0.01 - 0.5, 0.0, 0.0])
# %% [output]
# [0.0, -0.02, 0.01, 0.96, 0.0]
# [0.0, -0.03, -0.51, 0.0, 0.0]
# row 0 by hand: [0.0, -0.02, 0.01, 0.96, 0.0]
# row 1 by hand: [0.0, -0.03, -0.51, 0.0, 0.0]

# %% [markdown] en
# ## 2. Estimating the KL from samples
#
# The exact KL sums over the whole vocabulary at every position. PPO only has the sampled tokens, so
# it uses one-sample estimators (Schulman 2020), with $\rho = \pi_{\text{ref}}(a)/\pi_\theta(a)$:
# - $k_1 = \log \pi_\theta(a) - \log \pi_{\text{ref}}(a) = -\log\rho$: unbiased, but a single token can give a negative value;
# - $k_2 = \tfrac12 (\log \rho)^2$: always $\ge 0$, biased, low variance;
# - $k_3 = (\rho - 1) - \log \rho$: unbiased *and* always $\ge 0$.
#
# Sample 20,000 tokens from a made-up policy over 5 tokens and compare each estimator's mean with the exact KL:

# %% [markdown] zh
# ## 2. 用样本估计 KL
#
# 精确的 KL 要在每个位置对整个词表求和。PPO 手里只有采样到的词元，所以它用单样本估计量（Schulman，2020），记 $\rho = \pi_{\text{ref}}(a)/\pi_\theta(a)$：
# - $k_1 = \log \pi_\theta(a) - \log \pi_{\text{ref}}(a) = -\log\rho$：无偏，但单个词元上的值可能为负；
# - $k_2 = \tfrac12 (\log \rho)^2$：始终 $\ge 0$，有偏，方差小；
# - $k_3 = (\rho - 1) - \log \rho$：无偏，**并且**始终 $\ge 0$。
#
# 从一个虚构的 5 词元策略中采样 20,000 个词元，把每个估计量的均值与精确的 KL 作比较：

# %%
pi = torch.tensor([0.5, 0.2, 0.15, 0.1, 0.05])
ref = torch.tensor([0.3, 0.3, 0.2, 0.1, 0.1])
exact = (pi * (pi / ref).log()).sum().item()
tokens = torch.multinomial(pi, 20_000, replacement=True, generator=torch.Generator().manual_seed(0))
logp, ref_logp = pi.log()[tokens], ref.log()[tokens]  # (20000,) what PPO sees: log-probs of sampled tokens
print(f"exact KL(pi || ref) = {exact:.4f}")
for kind in ("k1", "k2", "k3"):
    k = logprobs.kl_estimate(logp, ref_logp, kind)
    print(f"{kind}: mean {k.mean():.4f}   std {k.std():.3f}   share of negative samples {(k < 0).float().mean():.0%}")

# %% [markdown] en
# $k_1$ and $k_3$ both average to the exact value; $k_1$ does it with negative samples mixed in,
# and with a larger spread. Yet PPO's reward always uses $k_1$, and a lower variance is no reason to
# swap in $k_3$. The per-token reward is detached: the penalty reaches the policy only through the
# score function, as $\mathbb{E}_\pi[f(a)\,\nabla\log\pi_\theta(a)]$, and only $f = k_1$ makes that the
# gradient of $\mathrm{KL}(\pi_\theta \,\|\, \pi_{\text{ref}})$; with $k_2$ or $k_3$ it is the gradient of
# something else (`tests/test_ppo.py` computes all three exactly on this 5-token example). $k_2$ and $k_3$
# are fine for *logging* the KL, and $k_3$ as a differentiated loss term is what GRPO uses (lesson 7).
# The *sign* of $k_1$ matters too: $\log \pi_{\text{ref}} - \log \pi_\theta$ would estimate $-\mathrm{KL}$ and reward drifting away.
#
# ## 3. GAE, by hand
#
# The reward arrives mostly at the end of the response; which tokens earned it? A learned value head
# $V(s_t)$ predicts the return from each state, and generalised advantage estimation (Schulman et al. 2016)
# blends the one-step errors $\delta_t$ backwards in time:

# %% [markdown] zh
# $k_1$ 和 $k_3$ 的均值都等于精确值；$k_1$ 中夹杂着负的样本，波动也更大。但 PPO 的奖励始终用 $k_1$，方差小并不是换成 $k_3$ 的理由。
# 逐词元的奖励是脱离计算图（detached）的：惩罚只能通过得分函数（score function）以 $\mathbb{E}_\pi[f(a)\,\nabla\log\pi_\theta(a)]$ 的形式作用到策略上，
# 只有 $f = k_1$ 时它才是 $\mathrm{KL}(\pi_\theta \,\|\, \pi_{\text{ref}})$ 的梯度；换成 $k_2$ 或 $k_3$，得到的是别的量的梯度（`tests/test_ppo.py` 在这个 5 词元的例子上精确计算了三者）。$k_2$ 和 $k_3$ 适合用来**记录**KL，而把 $k_3$ 作为被求导的损失项，正是 GRPO 的做法（第 7 课）。
# $k_1$ 的**符号**也很要紧：$\log \pi_{\text{ref}} - \log \pi_\theta$ 估计的是 $-\mathrm{KL}$，用它做惩罚反而会奖励策略跑远。
#
# ## 3. 手算 GAE
#
# 奖励大多在回答的末尾才到来，那么它该记在哪些词元头上？学出来的价值函数（value function）$V(s_t)$ 预测从每个状态出发能拿到的回报，
# 而 Schulman 等（2016）提出的广义优势估计（generalised advantage estimation）则沿时间倒序，把各步的单步误差 $\delta_t$ 混合起来：

# %% [markdown]
# $$\delta_t = r_t + \gamma V(s_{t+1}) - V(s_t), \qquad A_t = \delta_t + \gamma\lambda\, A_{t+1}, \qquad R_t = A_t + V(s_t)$$

# %% [markdown] en
# with $V = A = 0$ after the last response token. $\lambda = 0$ trusts the value head fully
# ($A_t = \delta_t$); $\lambda = 1$ ignores it except as a baseline ($A_t$ = reward-to-go $- V(s_t)$). RLHF
# uses $\gamma = 1$: a response is one short episode. The recursion in six lines, on one row of three
# response tokens, then `ppo.compute_gae` on a batch whose second row is padded, with garbage values on the padding:

# %% [markdown] zh
# 最后一个回答词元之后 $V = A = 0$。$\lambda = 0$ 时完全相信价值头（$A_t = \delta_t$）；$\lambda = 1$ 时除了用作基线之外完全不用它（$A_t$ = 剩余奖励之和 $- V(s_t)$）。RLHF 取 $\gamma = 1$：一个回答就是一段很短的回合。下面先用六行代码在一行三个回答词元上写出这个递推，
# 再用 `ppo.compute_gae` 处理一个批次，其第二行带有填充，而且填充位置上的价值是胡乱填的：

# %%
# NBVAL_CHECK_OUTPUT
def gae_by_hand(rewards: list[float], values: list[float], gamma: float, lam: float) -> list[float]:
    advantages, next_value, next_advantage = [], 0.0, 0.0
    for r, v in zip(reversed(rewards), reversed(values)):
        delta = r + gamma * next_value - v
        next_advantage = delta + gamma * lam * next_advantage
        next_value = v
        advantages.append(next_advantage)
    return advantages[::-1]


r_row, v_row = [-0.02, 0.01, 0.9], [0.3, 0.5, 0.7]
# t=2: delta = 0.9 - 0.7 = 0.2,          A2 = 0.2
# t=1: delta = 0.01 + 0.7 - 0.5 = 0.21,  A1 = 0.21 + 0.9 * 0.2 = 0.39
# t=0: delta = -0.02 + 0.5 - 0.3 = 0.18, A0 = 0.18 + 0.9 * 0.39 = 0.531
for lam in (0.0, 0.9, 1.0):
    print(f"lam = {lam}: A = {[round(a, 4) for a in gae_by_hand(r_row, v_row, 1.0, lam)]}")

rewards = torch.tensor([[-0.02, 0.01, 0.9], [0.05, 0.6, 0.0]])
values = torch.tensor([[0.3, 0.5, 0.7], [0.2, 0.4, 5.0]])  # 5.0: whatever the value head says on padding
mask = torch.tensor([[1.0, 1, 1], [1.0, 1, 0]])
advantages, returns = ppo.compute_gae(rewards, values, mask, gamma=1.0, lam=0.9)
print(f"\ncompute_gae, row 0: A = {[round(a, 4) for a in advantages[0].tolist()]}, R = {[round(a, 4) for a in returns[0].tolist()]}")
print(f"compute_gae, row 1: A = {[round(a, 4) + 0.0 for a in advantages[1].tolist()]}   by hand on the real tokens only: "
      f"{[round(a, 4) for a in gae_by_hand([0.05, 0.6], [0.2, 0.4], 1.0, 0.9)]}")
# %% [output]
# lam = 0.0: A = [0.18, 0.21, 0.2]
# lam = 0.9: A = [0.531, 0.39, 0.2]
# lam = 1.0: A = [0.59, 0.41, 0.2]
#
# compute_gae, row 0: A = [0.531, 0.39, 0.2], R = [0.831, 0.89, 0.9]
# compute_gae, row 1: A = [0.43, 0.2, 0.0]   by hand on the real tokens only: [0.43, 0.2]

# %% [markdown] en
# The padded row matches the hand computation on its two real tokens only: the mask ends the
# episode at the last real token, so the 5.0 on the padding never leaks into $\delta_1$. Before the
# update the advantages are whitened (mean 0, std 1) over the response tokens of the batch, padding
# excluded (`ppo.whiten_advantages`), so that the step size does not depend on the reward's scale.
#
# ## 4. The clipped surrogate
#
# The rollout's log-probs $\log \pi_{\text{old}}$ are frozen; the update reuses the rollout for several
# epochs, and the probability ratio $\rho_t = \pi_\theta(a_t|s_t)/\pi_{\text{old}}(a_t|s_t)$ drifts away from 1.
# PPO maximises a pessimistic bound that gives no reward for moving $\rho_t$ beyond $1 \pm \epsilon$:

# %% [markdown] zh
# 带填充的那一行只在它的两个真实词元上与手算结果一致：掩码让回合在最后一个真实词元处结束，所以填充上的 5.0 永远不会漏进 $\delta_1$。
# 更新之前，优势还要在批次的回答词元上（不含填充）做白化（whitening），即减去均值、除以标准差（`ppo.whiten_advantages`），
# 这样步长就不会随奖励的尺度而变。
#
# ## 4. 裁剪替代目标
#
# 采样时的对数概率 $\log \pi_{\text{old}}$ 是冻结的；更新会把同一批采样重复用上几个轮次，概率比 $\rho_t = \pi_\theta(a_t|s_t)/\pi_{\text{old}}(a_t|s_t)$ 也就逐渐偏离 1。
# PPO 最大化的是一个悲观的下界——把 $\rho_t$ 推到 $1 \pm \epsilon$ 之外不会再带来任何好处：

# %% [markdown]
# $$\mathcal{L}^{\text{CLIP}}(\theta) = -\,\frac{1}{\sum_t m_t} \sum_t m_t \min\Big(\rho_t A_t,\; \operatorname{clip}(\rho_t, 1-\epsilon, 1+\epsilon)\, A_t\Big)$$

# %%
def clipped_objective(ratio: torch.Tensor, advantage: float, clip_eps: float = 0.2) -> torch.Tensor:
    """min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A), per token (to be maximised)."""
    return torch.minimum(ratio * advantage, ratio.clamp(1 - clip_eps, 1 + clip_eps) * advantage)


# check three points against the package's loss (its negative, averaged over the masked tokens)
logp_now = torch.log(torch.tensor([[0.7, 1.1, 1.5]])).requires_grad_(True)  # ratios 0.7, 1.1, 1.5 against old_logp = 0
loss, stats = ppo.ppo_policy_loss(logp_now, torch.zeros(1, 3), torch.ones(1, 3), torch.ones(1, 3), clip_eps=0.2)
loss.backward()
print(f"ours {-clipped_objective(logp_now.exp(), 1.0).mean().item():.4f}   minialign {loss.item():.4f}   clipfrac {stats['policy/clipfrac']:.3f}")
print("gradient per token:", [round(g, 4) for g in logp_now.grad[0].tolist()], "(0 for the clipped ratio 1.5)")

ratios = torch.linspace(0.4, 1.6, 121)
fig, axes = plt.subplots(1, 2, figsize=(9, 3))
for ax, a in zip(axes, (1.0, -1.0)):
    ax.plot(ratios, ratios * a, ls="--", color="grey", label="unclipped rho * A")
    ax.plot(ratios, clipped_objective(ratios, a), label="PPO: min(rho A, clip(rho) A)")
    ax.axvspan(0.8, 1.2, alpha=0.1)
    ax.set_title(f"advantage A = {a:+g}")
    ax.set_xlabel("ratio pi / pi_old")
    ax.grid(alpha=0.3)
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown] en
# For a good action ($A > 0$) the objective stops growing once $\rho > 1 + \epsilon$; for a bad one
# ($A < 0$) once $\rho < 1 - \epsilon$. In those flat regions the gradient is zero: the token has
# already moved as far as one rollout justifies. In the other direction there is no clip, so a
# mistake (raising a bad token) is always corrected.
#
# ## 5. The adaptive KL controller
#
# A fixed $\beta$ gives a KL that depends on the reward model's scale and on the stage of training.
# Ziegler et al. (2019) steer $\beta$ towards a target KL instead: $e = \operatorname{clip}(\mathrm{KL}/\mathrm{KL}_{\text{target}} - 1, -0.2, 0.2)$,
# $\beta \leftarrow \beta\,(1 + e \cdot n / H)$ after $n$ responses, with horizon $H$. Feed the controller a KL that
# is first too high, then too low:

# %% [markdown] zh
# 对好的动作（$A > 0$），$\rho > 1 + \epsilon$ 之后目标就不再增长；对坏的动作（$A < 0$），$\rho < 1 - \epsilon$ 之后亦然。
# 在这些平坦区域里梯度为零：这个词元已经挪到了一批采样所能支持的最远处。反方向则没有裁剪，所以一旦犯错（抬高了坏词元），总能被纠正回来。
#
# ## 5. 自适应 KL 控制器
#
# 固定的 $\beta$ 带来的 KL 大小取决于奖励模型的尺度和训练所处的阶段。Ziegler 等（2019）改为让 $\beta$ 追踪一个目标 KL：
# $e = \operatorname{clip}(\mathrm{KL}/\mathrm{KL}_{\text{target}} - 1, -0.2, 0.2)$，每经过 $n$ 个回答，$\beta \leftarrow \beta\,(1 + e \cdot n / H)$，$H$ 为时间跨度（horizon）。
# 给控制器输入一个先偏高、后偏低的 KL：

# %%
controller = kl_penalty.AdaptiveKLController(init_kl_coef=0.05, target=1.0, horizon=2000)
measured = [3.0] * 30 + [0.4] * 30  # KL per response, one value per iteration of 64 responses
coefs = []
for kl_now in measured:
    coefs.append(controller.value)
    controller.update(kl_now, n_steps=64)
print(f"beta: start {coefs[0]:.4f}, after 30 iterations of KL 3.0: {coefs[30]:.4f}, after 30 more of KL 0.4: {controller.value:.4f}")
print(f"one step by hand: 0.05 * (1 + 0.2 * 64 / 2000) = {0.05 * (1 + 0.2 * 64 / 2000):.5f}; controller: {coefs[1]:.5f}")
fig, ax = plt.subplots(figsize=(6, 2.8))
ax.plot(coefs)
ax.set_xlabel("iteration")
ax.set_ylabel("kl_coef beta")
ax.set_title("adaptive KL: KL too high for 30 iterations, then too low")
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown] en
# ## 6. Training the policy
#
# `stages.get("ppo")` runs `ppo.train_ppo` from a copy of the SFT model against the reward model of
# lesson 3, with the SFT model as the frozen reference. The value head shares the policy's trunk
# (`PolicyWithValueHead`); reward-model scores are normalised on the first rollout, so $\beta$ means the
# same for any reward model.
#
# One more detail from practice (Huang et al. 2024, "The N implementation details of RLHF with PPO";
# TRL calls it `missing_eos_penalty`). A response that runs out of `max_new_tokens` before `<|end|>`
# is cut off, and the reward model reads it at whatever token came last: it may score a half-finished
# ramble as well as a finished answer, and PPO would learn that stopping does not matter. So every
# unfinished response loses `PPOConfig.missing_eos_penalty` (in units of the normalised score) on top
# of its score. The run logs the fraction of unfinished responses per rollout; the last panel below
# plots it.

# %% [markdown] zh
# ## 6. 训练策略
#
# `stages.get("ppo")` 会运行 `ppo.train_ppo`：从监督微调模型的副本出发，以第 3 课的奖励模型打分，以监督微调模型作为冻结的参考模型。
# 价值头与策略共用主干（`PolicyWithValueHead`）；奖励模型的分数在第一次采样时做标准化，这样不论用哪个奖励模型，$\beta$ 的含义都相同。
#
# 还有一个来自实践的细节（Huang 等，2024，“The N implementation details of RLHF with PPO”；TRL 称之为 `missing_eos_penalty`）。
# 回答如果写满 `max_new_tokens` 还没有输出 `<|end|>`，就会被截断，奖励模型只能在最后那个词元处读分：
# 它可能给一段没写完的啰嗦话打出和完整回答一样高的分，PPO 就会学到“停不停无所谓”。所以每个没写完的回答，
# 在分数之外还要再扣掉 `PPOConfig.missing_eos_penalty`（以标准化后的分数为单位）。训练会记录每次采样中未写完的回答所占比例，下图最后一栏画的就是它。

# %%
stages = Stages("cpu", seed=0)
tok, world = stages.tokenizer, stages.world
sft, reward_model = stages.get("sft"), stages.get("reward")  # trained in lessons 2 and 3
# first run: trains for about a minute on a 2-core CPU; later runs: loads from the cache
policy = stages.get("ppo")
print(f"PPO trained in {stages.timings['ppo']:.0f} s")
plots.plot_rl_curves(stages.metrics("ppo"), {"score": "reward-model score", "oracle": "oracle score",
                                             "kl": "KL to SFT per response", "response_len": "response tokens",
                                             "policy/clipfrac": "clip fraction",
                                             "unfinished": "responses without <|end|>"}, title="PPO")
plt.show()

# %% [markdown] en
# One rollout of the trained policy, token by token: the log-probs under the policy and the
# reference, the per-token KL estimate, and the reward each token gets. Most tokens cost a little
# KL; the score arrives at `<|end|>`.

# %% [markdown] zh
# 下面逐词元地看训练后策略的一次采样：策略和参考模型下的对数概率、逐词元的 KL 估计，以及每个词元得到的奖励。
# 大多数词元只付出一点 KL；分数在 `<|end|>` 处才到来。

# %%
cfg = stages.config_of("ppo") or ppo.PPOConfig()
exp = ppo.collect_experience(ppo.PolicyWithValueHead(policy), sft, reward_model, tok,
                             ["How do I get rid of a cold fast?", "What is 7 plus 5?"], cfg,
                             generator=torch.Generator().manual_seed(0))
rewards = kl_penalty.per_token_rewards(exp.scores, exp.kl, exp.mask, cfg.kl_coef)  # raw score, for reading
for row in range(2):
    ids = exp.batch.input_ids[row]
    print(f"\n{tok.decode(ids[: exp.batch.prompt_lens[row]].tolist(), skip_special=False)}")
    print(f"{'token':<16}{'log pi':>8}{'log ref':>9}{'k1':>7}{'reward':>8}")
    for t in exp.mask[row].nonzero().flatten().tolist():  # entry t is about token t + 1
        token = tok.decode([ids[t + 1].item()], skip_special=False)
        print(f"{token!r:<16}{exp.old_logp[row, t]:>8.2f}{exp.ref_logp[row, t]:>9.2f}{exp.kl[row, t]:>7.2f}{rewards[row, t]:>8.2f}")

# %% [markdown] en
# ## 7. PPO against SFT
#
# The same held-out evaluation as lessons 2 and 5, with the win rate against the SFT model and the KL
# to it per token:

# %% [markdown] zh
# ## 7. PPO 与监督微调模型对比
#
# 与第 2、5 课相同的留出（held-out）评估，外加相对监督微调模型的胜率（win rate）和每个词元到它的 KL：

# %%
from IPython.display import Markdown, display

from minialign import demo

rows = evaluate.compare(stages, {"sft": sft, "ppo": policy}, baseline=sft)  # win rates against SFT; about 10 s a model
display(Markdown(evaluate.format_table(rows)))
print(demo.side_by_side(stages, "sft", "ppo", n_per_kind=1, width=40))

# %% [markdown] en
# ## 8. Reward hacking: why the KL term exists
#
# Lesson 3 looked for a taste for filler in the reward model: append sentences to a good answer and
# see whether its score rises while the oracle's falls. What does PPO make of such a flaw?
# `experiments.reward_hacking_experiment` runs the same short PPO twice from the SFT model, once with
# $\beta = 0$ and once with $\beta = 0.2$, against
# a reward that makes the flaw explicit: the reward model's score plus a small bonus per response
# token (reward models are known to favour length; Singhal et al. 2023). It logs what PPO is told
# to raise (the first panel: the reward model plus the bonus), the reward model's score alone, what
# we actually want (the oracle), and how many responses are cut off before `<|end|>`.

# %% [markdown] zh
# ## 8. 奖励投机：KL 项为什么必不可少
#
# 第 3 课检查过奖励模型是否喜欢废话：在好的回答后面添句子，看它的分数是否上升、预言机（oracle）的分数是否下降。PPO 会怎样利用这样的缺陷？
# `experiments.reward_hacking_experiment` 从监督微调模型出发，把同一个短程 PPO 跑两遍：一遍 $\beta = 0$，一遍 $\beta = 0.2$。
# 奖励故意把这个缺陷明明白白地写了进去：奖励模型的分数，再加上每个回答词元一点小小的奖励（奖励模型偏爱长回答是已知现象；Singhal 等，2023）。
# 实验同时记录 PPO 被要求提高的分数（第一栏：奖励模型加长度奖励）、奖励模型自己的分数、我们真正想要的东西（预言机的分数），
# 以及有多少回答在 `<|end|>` 之前就被截断。

# %%
# two short PPO runs (20 iterations each): about a minute on a 2-core CPU the first time, then read from the cache
result = experiments.reward_hacking_experiment(stages)
plots.plot_reward_hacking(result["logs"])
plt.show()
for name, s in result["summary"].items():
    print(f"{name:<12} RM + bonus {s['total_score_first']:+.2f} -> {s['total_score_last']:+.2f}"
          f"   RM score {s['score_first']:+.2f} -> {s['score_last']:+.2f}   oracle {s['oracle_first']:+.2f} -> {s['oracle_last']:+.2f}"
          f"   KL {s['kl_first']:.1f} -> {s['kl_last']:.1f}   tokens {s['response_len_first']:.0f} -> {s['response_len_last']:.0f}"
          f"   unfinished {s['unfinished_first']:.0%} -> {s['unfinished_last']:.0%}")
for name, examples in result["examples"].items():
    print(f"\n{name}")
    for prompt, response in examples[:2]:
        print(f"  {prompt}\n    {response}")

# %% [markdown] en
# **What to notice**
# - Read the $\beta = 0$ line of the summary above, first value to last: what the proxy scored, what
#   the oracle scored, the KL, the length. Without the penalty nothing stops the policy from learning
#   to ramble, because the reward (model and bonus) pays for words, and nothing bounds the KL. A proxy
#   score that climbs while the oracle's falls is reward over-optimisation (Gao et al. 2023):
#   optimise a proxy hard enough, and it stops measuring what it was built to measure.
# - With $\beta = 0.2$, every token that strays from the SFT model costs reward, so rambling pays only
#   as far as the gain outweighs the KL; compare the second line with the first. The KL penalty is
#   what makes an imperfect reward model usable at all.
# - In the main run (section 6), the panels show the reward model's score and the KL; whether the
#   oracle agrees is the question to ask of every RLHF run, and the reason lesson 9 evaluates with the
#   oracle, never with the reward model.
# - PPO needs four models in memory (policy, value head, reference, reward model) and sampling in
#   the loop, the most machinery of any method in the course. DPO (lesson 5) and GRPO (lesson 7)
#   each remove part of it.

# %% [markdown] zh
# **值得注意的地方**
# - 看上面摘要中 $\beta = 0$ 那一行从起点到终点的变化：代理指标的分数、预言机的分数、KL 和回答长度。没有惩罚时，没有任何东西阻止策略学会啰嗦，
#   因为奖励（奖励模型加上长度奖励）按字数付钱，也没有任何东西限制 KL。代理指标的分数上升、预言机的分数却在下降，
#   这就是 Gao 等（2023）所说的奖励过度优化（reward over-optimisation）：对一个代理指标优化得足够狠，它就不再衡量它本来要衡量的东西。
# - $\beta = 0.2$ 时，每个偏离监督微调模型的词元都要付出奖励上的代价，啰嗦只在收益超过 KL 代价时才划算；把第二行和第一行比一比。
#   正是 KL 惩罚，让一个不完美的奖励模型变得可用。
# - 在主训练（第 6 节）中，各栏画出了奖励模型的分数和 KL；预言机是否认同，是对每一次 RLHF 训练都该问的问题，
#   这也是第 9 课始终用预言机、而不用奖励模型来做评估的原因。
# - PPO 需要在内存里同时放四个模型（策略、价值头、参考模型、奖励模型），循环中还要采样，是本课程各方法中机制最繁重的一个。
#   DPO（第 5 课）和 GRPO（第 7 课）各自去掉了其中的一部分。

# %% [markdown] en
# ## Common pitfalls
# - **The score on the wrong token.** Put the reward-model score on the last *real* response token;
#   at position $T-1$ it lands on padding for every shorter row and GAE never credits it.
# - **The KL with the wrong sign**, or summed over the prompt and padding. $k_1 = \log \pi_\theta - \log \pi_{\text{ref}}$,
#   on response tokens only.
# - **Statistics over padding.** Whiten advantages with the mean and std of the response tokens only;
#   end GAE's recursion at the last real token (the mask), so values on padding do not leak in.
# - **Gradient through `old_logp`**, or recomputing it inside the update: the ratio is then always 1 and
#   its gradient cancels. `old_logp`, advantages and returns are constants of the rollout.
# - **A temperature mismatch.** If the rollout samples at temperature $\tau$, the update must divide the
#   logits by the same $\tau$; otherwise the first ratio is not 1.
# - **The policy and the reference are the same object**, or the reference is trained: the KL is then
#   always 0 and nothing holds the policy back.
# - **Trusting the reward model's curve.** A rising RM score is what PPO optimises, not evidence of
#   quality; watch the KL, the response length and an independent judge.

# %% [markdown] zh
# ## 常见误区
# - **分数放错了词元**　奖励模型的分数要放在最后一个**真实**的回答词元上；放在位置 $T-1$，对所有较短的行来说它都落在填充上，GAE 永远不会把它记到回答头上。
# - **KL 的符号反了**，或者把提示和填充也算了进去。$k_1 = \log \pi_\theta - \log \pi_{\text{ref}}$，只在回答词元上计算。
# - **在填充上算统计量**　优势白化只用回答词元的均值和标准差；GAE 的递推在最后一个真实词元处结束（靠掩码），这样填充上的价值才不会漏进来。
# - **梯度流过 `old_logp`**，或者在更新步骤内部重新计算它：概率比就恒为 1，梯度相互抵消。`old_logp`、优势和回报都是采样时就定下的常量。
# - **温度（temperature）不一致**　如果采样时用温度 $\tau$，更新时也必须把 logits 除以同一个 $\tau$；否则第一步的概率比就不是 1。
# - **策略和参考模型是同一个对象**，或者参考模型也被训练了：KL 就恒为 0，没有任何东西拉住策略。
# - **相信奖励模型的曲线**　奖励模型分数上升，只说明 PPO 在优化它，不说明质量变好；要同时看 KL、回答长度和一个独立的评审。

# %% [markdown] en
# ## Exercise
# [`exercises/ex04_ppo.py`](../../exercises/ex04_ppo.py): write `kl_estimate`, `compute_gae` and
# `ppo_policy_loss` yourself, then run `pytest tests/grading/test_ex04_ppo.py` (or
# `python -m minialign grade` for the table of all exercises). The tests include the pitfalls above
# (the KL's sign, padding leaking into GAE, a gradient through `old_logp`); yours must not pass for the wrong reason.

# %% [markdown] zh
# ## 练习
# [`exercises/ex04_ppo.py`](../../exercises/ex04_ppo.py)：亲手写出 `kl_estimate`、`compute_gae` 和 `ppo_policy_loss`，
# 然后运行 `pytest tests/grading/test_ex04_ppo.py`（或者运行 `python -m minialign grade` 查看所有练习的成绩表）。
# 测试里包含了上面那些误区（KL 的符号、填充漏进 GAE、梯度流过 `old_logp`），你的实现不能“歪打正着”地通过。

# %% [markdown] en
# ## Knowledge check
# The answers are folded under "Show answer". To grade yourself, run
# `quiz.check("04", {"04-1": 0.42, "04-4": "A", ...})`; in a terminal: `python -m minialign quiz 04`.

# %% [markdown] zh
# ## 知识检测
# 答案折叠在“查看答案”下面。想给自己打分，可以运行 `quiz.check("04", {"04-1": 0.42, "04-4": "A", ...}, lang="zh")`；
# 在终端里则运行 `python -m minialign quiz 04 --lang zh`。

# %% [code] en
from minialign import quiz

quiz.ask("04", lang="en")

# %% [code] zh
from minialign import quiz

quiz.ask("04", lang="zh")
