# Lesson 5: direct preference optimisation. Source of notebooks/{en,zh}/05_dpo.ipynb.
# Edit this file, then run: python notebooks/build.py   (format: see notebooks/README.md)

# %% [markdown] en
# # Lesson 5 · Direct preference optimisation (DPO)
#
# Lessons 3 and 4 took the long road: fit a reward model to preferences, then sample from the
# policy, score, estimate advantages and update with PPO, with a KL penalty holding the policy near
# the SFT model. DPO (Rafailov et al. 2023) notices that the optimum of that KL-regularised problem
# can be written down, and that the reward can then be read off the policy itself. What is left is a
# classification loss on preference pairs: no reward model, no sampling, no value head.
#
# **Learning goals.** After this lesson you can
# - derive the DPO loss from the KL-regularised objective, and say where the reward model went;
# - predict the loss dynamics on a toy problem: the margin grows, yet the chosen response's
#   probability may *fall*;
# - compute the DPO loss of a real batch by hand and match the package's `dpo.dpo_loss`;
# - read the implicit rewards $\beta \log \pi_\theta / \pi_{\text{ref}}$ as a reward model and judge them;
# - explain the $\beta$ trade-off between reward and distance from the reference, with a sweep.
#
# **Time.** The DPO model trains the first time its cell runs (from the SFT model of lesson 2; the
# cell prints how long it took); the $\beta$ sweep at the end trains four short runs the first time,
# and reads them from the cache afterwards.

# %% [markdown] zh
# # 第 5 课 · 直接偏好优化（DPO）
#
# 第 3、4 课走的是一条远路：先用偏好数据拟合一个奖励模型（reward model），再从策略（policy）采样、打分、估计优势（advantage），
# 用 PPO 更新，同时用 KL 惩罚（KL penalty）把策略拴在监督微调模型附近。
# Rafailov 等（2023）提出的直接偏好优化（direct preference optimisation）注意到，这个 KL 正则化问题的最优解可以直接写出来，于是奖励可以从策略本身读出。
# 剩下的只是偏好对（preference pair）上的一个分类损失：不需要奖励模型，不需要采样，也不需要价值头（value head）。
#
# **学习目标**　学完本课，你应当能够：
# - 从 KL 正则化目标推导出 DPO 损失，并说清奖励模型去了哪里；
# - 在一个玩具问题上预判损失的变化过程：间隔（margin）在增大，优选回答（chosen）的概率却可能**下降**；
# - 手算一个真实批次的 DPO 损失，并与包里的 `dpo.dpo_loss` 对上；
# - 把隐式奖励（implicit reward）$\beta \log \pi_\theta / \pi_{\text{ref}}$ 当作奖励模型来读，并评判它；
# - 用一次扫描实验解释 $\beta$ 在奖励与偏离参考模型（reference model）的程度之间的取舍。
#
# **耗时**　DPO 模型在它的单元格第一次运行时训练（从第 2 课的监督微调模型出发，单元格会打印训练用了多久）；最后的 $\beta$ 扫描第一次运行时要做四次短程训练，之后从缓存读取。

# %% [markdown] en
# ## 1. From the KL-regularised objective to a loss
#
# RLHF maximises reward while paying for every nat of KL to the reference $\pi_{\text{ref}}$ (the SFT model):

# %% [markdown] zh
# ## 1. 从 KL 正则化目标到损失函数
#
# 基于人类反馈的强化学习（RLHF）在最大化奖励的同时，要为偏离参考模型 $\pi_{\text{ref}}$（即监督微调模型）的每一分 KL 付出代价：

# %% [markdown]
# $$\max_\pi \; J(\pi) = \mathbb{E}_{y \sim \pi(\cdot|x)}\big[r(x, y)\big] - \beta\, \mathrm{KL}\big(\pi(\cdot|x) \,\|\, \pi_{\text{ref}}(\cdot|x)\big).$$
#
# $$J(\pi) = -\beta \sum_y \pi(y|x) \log \frac{\pi(y|x)}{\pi_{\text{ref}}(y|x)\, e^{r(x,y)/\beta}}
# = -\beta\, \mathrm{KL}\big(\pi \,\|\, \pi^*\big) + \beta \log Z(x),
# \qquad \pi^*(y|x) = \frac{\pi_{\text{ref}}(y|x)\, e^{r(x,y)/\beta}}{Z(x)}$$

# %% [markdown] en
# with $Z(x) = \sum_y \pi_{\text{ref}}(y|x)\, e^{r(x,y)/\beta}$. A KL is zero only between equal
# distributions, so $\pi^*$ is the optimum: the reference, re-weighted by $e^{r/\beta}$. Take the log and solve for the reward:
#
# $$r(x, y) = \beta \log \frac{\pi^*(y|x)}{\pi_{\text{ref}}(y|x)} + \beta \log Z(x).$$
#
# $Z(x)$ is a sum over every possible response, hopeless to compute, but it depends on the prompt
# only. In the Bradley–Terry model only *differences* of rewards for the same prompt appear (lesson 3),
# so it cancels. Put a trainable policy $\pi_\theta$ in the place of $\pi^*$ and fit the preference
# pairs $(x, y_w, y_l)$ by maximum likelihood (eq. 7 of the paper):

# %% [markdown] zh
# 其中 $Z(x) = \sum_y \pi_{\text{ref}}(y|x)\, e^{r(x,y)/\beta}$ 是配分函数（partition function）。KL 散度（KL divergence）只有在两个分布相同时才为零，
# 所以 $\pi^*$ 就是最优解：把参考模型按 $e^{r/\beta}$ 重新加权。两边取对数，解出奖励：
#
# $$r(x, y) = \beta \log \frac{\pi^*(y|x)}{\pi_{\text{ref}}(y|x)} + \beta \log Z(x).$$
#
# $Z(x)$ 要对所有可能的回答求和，根本算不出来，但它只依赖于提示（prompt）。而 Bradley–Terry 模型里出现的只有同一提示下奖励的**差**（第 3 课），
# 所以它被消掉了。把 $\pi^*$ 换成可训练的策略 $\pi_\theta$，再用最大似然拟合偏好对 $(x, y_w, y_l)$（论文式 7）：

# %% [markdown]
# $$\mathcal{L}_{\text{DPO}}(\theta) = -\,\mathbb{E}_{(x, y_w, y_l)}\Big[\log \sigma\big(\beta\,\Delta\big)\Big],
# \qquad
# \Delta = \Big(\log \pi_\theta(y_w|x) - \log \pi_{\text{ref}}(y_w|x)\Big) - \Big(\log \pi_\theta(y_l|x) - \log \pi_{\text{ref}}(y_l|x)\Big)$$
#
# $$\nabla_\theta \mathcal{L}_{\text{DPO}} = -\,\beta\; \mathbb{E}\Big[\sigma(-\beta\Delta)\,\big(\nabla_\theta \log \pi_\theta(y_w|x) - \nabla_\theta \log \pi_\theta(y_l|x)\big)\Big]$$

# %% [markdown] en
# $\log \pi(y|x)$ is the log-probability of the whole response, the *sum* of its tokens' log-probs.
# $\hat r_\theta(x, y) = \beta \log \pi_\theta(y|x) / \pi_{\text{ref}}(y|x)$ is the **implicit reward**, and
# the loss is exactly the reward-model loss of lesson 3 with $\hat r_\theta$ as the reward model. The
# gradient raises $y_w$ and lowers $y_l$, weighted by $\sigma(-\beta\Delta)$: by how wrong the implicit
# reward still ranks the pair.
#
# Check the closed form on a problem small enough to see whole: one prompt, three responses.

# %% [markdown] zh
# $\log \pi(y|x)$ 是整个回答的对数概率（log-prob），即回答中各词元（token）对数概率的**和**。
# $\hat r_\theta(x, y) = \beta \log \pi_\theta(y|x) / \pi_{\text{ref}}(y|x)$ 就是**隐式奖励**，而这个损失恰好就是第 3 课的奖励模型损失，
# 只不过奖励模型换成了 $\hat r_\theta$。梯度抬高 $y_w$、压低 $y_l$，权重为 $\sigma(-\beta\Delta)$，也就是隐式奖励目前把这一对排错的程度。
#
# 先在一个小到能看全貌的问题上验证这个闭式解：一个提示，三个回答。

# %%
import collections
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

# %%
# NBVAL_CHECK_OUTPUT
pi_ref = np.array([0.5, 0.3, 0.2])  # the reference's probabilities of three responses
r = np.array([1.0, 0.0, -1.0])  # their rewards
beta = 1.0


def objective(pi: np.ndarray) -> float:
    """J(pi) = E_pi[r] - beta * KL(pi || pi_ref)."""
    return float(pi @ r - beta * np.sum(pi * np.log(pi / pi_ref)))


Z = np.sum(pi_ref * np.exp(r / beta))
pi_star = pi_ref * np.exp(r / beta) / Z
print(f"pi*            = {np.round(pi_star, 4)}   J(pi*) = {objective(pi_star):.4f} = beta log Z = {beta * math.log(Z):.4f}")
print(f"pi_ref         = {pi_ref}   J = {objective(pi_ref):.4f}")
greedy = np.array([0.98, 0.01, 0.01])
print(f"almost greedy  = {greedy}  J = {objective(greedy):.4f}")
random_policies = np.random.default_rng(0).dirichlet(np.ones(3), size=10_000)
print(f"any of 10,000 random policies better than pi*? {any(objective(p) > objective(pi_star) for p in random_policies)}")

implicit = beta * np.log(pi_star / pi_ref)
print(f"\nimplicit reward beta log(pi*/pi_ref) = {np.round(implicit, 4)}")
print(f"                      + beta log Z = {np.round(implicit + beta * math.log(Z), 4)}  (the rewards r)")
# %% [output]
# pi*            = [0.7844 0.1731 0.0425]   J(pi*) = 0.5497 = beta log Z = 0.5497
# pi_ref         = [0.5 0.3 0.2]   J = 0.3000
# almost greedy  = [0.98 0.01 0.01]  J = 0.3745
# any of 10,000 random policies better than pi*? False
#
# implicit reward beta log(pi*/pi_ref) = [ 0.4503 -0.5497 -1.5497]
#                       + beta log Z = [ 1.  0. -1.]  (the rewards r)

# %% [markdown] en
# The almost-greedy policy collects more reward (0.97) but pays more in KL; the optimum trades
# the two. The implicit reward differs from $r$ by the constant $\beta \log Z$ only, so it ranks
# every pair of responses the same way $r$ does.
#
# ## 2. A NumPy warm-up: the loss dynamics
#
# Before the real model, watch DPO's gradient at work on a toy policy. One prompt, four responses;
# the policy's logit for response $y$ is $w \cdot \phi(y)$, a linear function of two features. Like
# the weights of a network, $w$ is shared by all responses, so pushing one response moves the
# others too. One preference pair: $y_w$ is preferred to $y_l$. The two look alike (their features
# differ only in the second coordinate), and a third response $y_o$, which no one labelled, is strong
# in exactly that coordinate.
#
# The gradient of the loss with respect to $w$ is $-\beta\,\sigma(-\beta\Delta)\,\big(\phi(y_w) - \phi(y_l)\big)$
# (the softmax's normaliser cancels between the two log-probs). We take steps of size
# $\eta / \beta$, roughly what Adam does, since it divides out the scale of the gradient.

# %% [markdown] zh
# 近乎贪心的策略拿到的奖励更多（0.97），但付出的 KL 也更多；最优解在两者之间取得平衡。隐式奖励与 $r$ 只差一个常数 $\beta \log Z$，
# 所以它对任意两个回答的排序都和 $r$ 一样。
#
# ## 2. NumPy 热身：损失的变化过程
#
# 在上真实模型之前，先在一个玩具策略上观察 DPO 的梯度是怎么起作用的。一个提示，四个回答；策略对回答 $y$ 的 logit 是 $w \cdot \phi(y)$，
# 即两个特征的线性函数。就像神经网络的权重一样，$w$ 由所有回答共享，推动一个回答，其他回答也会跟着动。
# 只有一个偏好对：$y_w$ 优于 $y_l$。这两个回答很像（特征只在第二个坐标上不同），而第三个回答 $y_o$ 没有任何人标注过，偏偏在这个坐标上很强。
#
# 损失对 $w$ 的梯度是 $-\beta\,\sigma(-\beta\Delta)\,\big(\phi(y_w) - \phi(y_l)\big)$（两个对数概率中 softmax 的归一化项相互抵消）。
# 步长取 $\eta / \beta$，这大致就是 Adam 的做法，因为 Adam 会除掉梯度的尺度。

# %%
names = ["y_w (chosen)", "y_l (rejected)", "y_o (unlabelled)", "y_x (unlabelled)"]
phi = np.array([[1.0, 1.0], [1.0, 0.5], [0.0, 2.0], [0.5, 0.0]])  # (4 responses, 2 features)
w_ref = np.array([0.5, 0.0])  # the reference policy's weights


def log_probs(w: np.ndarray) -> np.ndarray:
    """(4,) log pi(y) = w.phi(y) - log sum_y' exp(w.phi(y'))."""
    logits = phi @ w
    return logits - np.log(np.exp(logits).sum())


ref_logp = log_probs(w_ref)


def train_toy(beta: float, steps: int = 300, lr: float = 0.5) -> dict[str, np.ndarray]:
    """Gradient descent on the DPO loss of the one pair (y_w, y_l); returns the history."""
    w = w_ref.copy()
    hist = collections.defaultdict(list)
    for _ in range(steps):
        logp = log_probs(w)
        delta = (logp[0] - ref_logp[0]) - (logp[1] - ref_logp[1])
        weight = 1 / (1 + np.exp(beta * delta))  # sigmoid(-beta * delta): how wrong the pair still is
        hist["loss"].append(np.log1p(np.exp(-beta * delta)))  # -log sigmoid(beta * delta)
        hist["delta"].append(delta)
        hist["weight"].append(weight)
        hist["logp"].append(logp)
        grad = -beta * weight * (phi[0] - phi[1])
        w -= (lr / beta) * grad  # step lr / beta: Adam-like, the scale of beta divided out
    return {k: np.array(v) for k, v in hist.items()}


toy = train_toy(beta=0.5)
print(f"reference probabilities: {np.round(np.exp(ref_logp), 3)}")
print(f"after 300 steps:         {np.round(np.exp(toy['logp'][-1]), 3)}")
print(f"loss {toy['loss'][0]:.3f} -> {toy['loss'][-1]:.3f}, margin {toy['delta'][0]:.2f} -> {toy['delta'][-1]:.2f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.3))
for i, name in enumerate(names):
    axes[0].plot(toy["logp"][:, i], label=name)
axes[0].set_title("log pi(y) during DPO (beta = 0.5)")
axes[0].set_xlabel("step")
axes[0].legend(fontsize=8)
axes[1].plot(toy["loss"], label="loss")
axes[1].plot(toy["delta"], label="margin delta")
axes[1].set_title("loss and margin")
axes[1].set_xlabel("step")
axes[1].legend(fontsize=8)
for ax in axes:
    ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown] en
# The loss falls and the margin grows, as they should. But look at the log-probs: the *chosen*
# response becomes less likely, not more. The loss only sees the difference $\Delta$, and the
# cheapest way for this policy to grow it is to move along $\phi(y_w) - \phi(y_l)$, the direction in
# which $y_o$ is strongest; $y_o$ takes the probability mass from both labelled responses. In a real
# network, responses share parameters in the same way, and "both log-probs fall while the loss
# falls" is a common sight in DPO training logs. It is not a bug, but it means that DPO's
# result depends on where the mass goes, which no preference pair controls.
#
# Now $\beta$. The loss asks for $\sigma(\beta \Delta) \to 1$, so it is satisfied once $\Delta$ is a few
# times $1/\beta$: a small $\beta$ asks for a large margin before the push dies out, and the policy
# has to move far from the reference to get it.

# %% [markdown] zh
# 损失在下降，间隔在增大，一切如预期。但看看对数概率：**优选**回答的概率不升反降。损失只看得见差值 $\Delta$，
# 而对这个策略来说，拉大差值最省力的办法是沿 $\phi(y_w) - \phi(y_l)$ 的方向移动，$y_o$ 恰好在这个方向上最强；
# 于是 $y_o$ 把两个有标注回答的概率都抢了过去。真实的神经网络中，各个回答也以同样的方式共享参数，
# “两个对数概率都在降，损失也在降”在 DPO 的训练日志里很常见。这不是 bug，但它意味着 DPO 的结果取决于概率质量流向了哪里，而这一点没有任何偏好对能够控制。
#
# 再来看 $\beta$。损失要求 $\sigma(\beta \Delta) \to 1$，所以只要 $\Delta$ 达到 $1/\beta$ 的几倍，损失就基本降到底了：
# $\beta$ 越小，推力消失之前要求的间隔就越大，策略为此必须离参考模型越远。

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.3))
margins = np.linspace(-2, 20, 200)
for beta in (0.1, 0.5, 2.0):
    run = train_toy(beta)
    axes[0].plot(margins, np.log1p(np.exp(-beta * margins)), label=f"beta = {beta}")
    axes[1].plot(run["delta"], label=f"beta = {beta}")
    axes[2].plot(run["weight"], label=f"beta = {beta}")
    print(f"beta = {beta}: after 300 steps margin {run['delta'][-1]:5.2f}, loss {run['loss'][-1]:.3f}, "
          f"gradient weight sigmoid(-beta delta) {run['weight'][-1]:.3f}")
axes[0].set_title("loss -log sigmoid(beta * delta)")
axes[0].set_xlabel("margin delta")
axes[1].set_title("margin delta")
axes[1].set_xlabel("step")
axes[2].set_title("gradient weight sigmoid(-beta * delta)")
axes[2].set_xlabel("step")
for ax in axes:
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown] en
# All three runs move in the same direction; what differs is when they stop. With $\beta = 2$ the
# loss is nearly zero at a margin of about 2, and the gradient weight has faded to almost nothing; with
# $\beta = 0.1$ the margin is past 12, the weight is still large, and the policy keeps going, further and
# further from the reference. (The toy has only four responses, so the policy cannot go far: all three
# runs end with $y_o$ taking the mass. A language model has countless responses to move mass to.) With
# deterministic preferences (one label, never contradicted) no finite margin satisfies the loss: only
# $\beta$, early stopping, and the other pairs hold the policy back. (IPO, lesson 6, replaces the
# sigmoid by a finite target for this reason.)
#
# ## 3. The loss on the real model
#
# Now the same loss on the tiny GPT. The summed log-prob of a response is computed as in lesson 2:
# token log-probs from the shifted logits, masked to the response (`<|end|>` included), summed per row:
# `preferences.response_logps`. Eight held-out pairs, the SFT model as the reference, and first the SFT
# model as the policy too:

# %% [markdown] zh
# 三次运行沿着同一个方向移动，不同的只是何时停下。$\beta = 2$ 时，间隔到 2 左右损失就接近零，梯度权重也几乎衰减殆尽；
# $\beta = 0.1$ 时，间隔已经超过 12，权重却依然很大，策略便继续前进，离参考模型越来越远。
# （玩具问题只有四个回答，策略走不了多远：三次运行最终都是 $y_o$ 拿走了几乎全部概率质量。而语言模型有数不清的回答可以让概率质量流过去。）如果偏好是确定性的（只有一个标签，从不自相矛盾），
# 那么任何有限的间隔都无法让损失满足：能拉住策略的只有 $\beta$、提前停止和其他偏好对。（第 6 课的 IPO 正是因此把 sigmoid 换成了一个有限的目标值。）
#
# ## 3. 真实模型上的损失
#
# 现在把同一个损失用到微型 GPT 上。回答的对数概率之和的算法与第 2 课相同：从错位（shift）后的 logits 得到各词元的对数概率，
# 用掩码只保留回答部分（包括 `<|end|>`），再逐行求和，即 `preferences.response_logps`。
# 取八个留出（held-out）偏好对，以监督微调模型为参考模型，并且先让策略也是监督微调模型：

# %%
from minialign import dpo, evaluate, plots, preferences, reward
from minialign.stages import Stages

stages = Stages("cpu", seed=0)
tok, world = stages.tokenizer, stages.world
sft = stages.get("sft")  # trained in lesson 2: loads from the cache

pairs = preferences.make_pairs(world, 8, seed=5, split="eval", label_temperature=0.0)
chosen, rejected = preferences.encode_pairs(pairs, tok, sft.config.block_size)  # two ChatBatches, row i = pair i
with torch.no_grad():
    ref_chosen = preferences.response_logps(sft, chosen)  # (8,) summed log-probs
    ref_rejected = preferences.response_logps(sft, rejected)  # (8,)
for p, c, r in zip(pairs[:3], ref_chosen, ref_rejected):
    print(f"{p.prompt}\n  chosen   {c:7.2f}  {p.chosen}\n  rejected {r:7.2f}  {p.rejected}")


def dpo_loss_by_hand(pc: torch.Tensor, pr: torch.Tensor, rc: torch.Tensor, rr: torch.Tensor, beta: float) -> torch.Tensor:
    """(B,) -log sigmoid(beta * ((pc - rc) - (pr - rr))), from summed log-probs."""
    delta = (pc - rc) - (pr - rr)  # (B,)
    return -F.logsigmoid(beta * delta)


print("\npolicy = reference: loss per pair", [round(x, 4) for x in dpo_loss_by_hand(ref_chosen, ref_rejected, ref_chosen, ref_rejected, 0.1).tolist()])

# %% [markdown] en
# Every pair starts at $\log 2 = 0.6931$, whatever $\beta$: a copy of the reference has all
# log-ratios zero. Look also at the log-probs printed above: the SFT model can give the *rejected*
# response the higher log-prob, and that is fine. DPO does not need the policy to prefer $y_w$ in
# absolute terms, only to move towards it *relative to the reference*.
#
# ## 4. Training
#
# `stages.get("dpo")` runs `dpo.train_dpo`: the reference log-probs of the training pairs are
# computed once, under `torch.no_grad()` (the reference never changes), then a short AdamW loop with
# the stage's $\beta$ (printed below), larger than the paper's 0.1. A small $\beta$ lets the tiny
# policy wander far from the SFT model, and one place it can wander to is a single fixed answer on
# facts it knows, "I am not sure, sorry.": an answer that wins all its pairs against wrong answers
# and refusals. A larger $\beta$ keeps it nearer the SFT model (section 7 sweeps $\beta$). The stage
# adds one term to the loss, and section 2 is the reason. Our pairs are templates the SFT model did
# not write, and plain DPO on them can lower the chosen log-probs too, and with them the tiny
# policy's hold on fluent text (section 6 puts plain DPO in the table: read its row). So the
# stage's config (`nll_weight` $= \alpha$) adds the
# per-token negative log-likelihood of the chosen response, as RPO does (Pang et al. 2024; Llama 3
# uses $\alpha = 0.2$):
#
# $$\mathcal{L}_{\text{RPO}} = \mathcal{L}_{\text{DPO}} + \alpha \cdot \mathbb{E}\Big[-\frac{\log \pi_\theta(y_w|x)}{|y_w|}\Big]$$
#
# The NLL term keeps the chosen responses likely, so the probability mass the margin frees goes to
# them rather than to responses nobody labelled.

# %% [markdown] zh
# 每个偏好对的损失都从 $\log 2 = 0.6931$ 开始，与 $\beta$ 无关：参考模型的副本，其对数比（log-ratio）全为零。
# 再看看上面打印的对数概率：监督微调模型可能给**劣选**回答更高的对数概率，这并不要紧。DPO 并不要求策略在绝对意义上偏好 $y_w$，只要求它**相对于参考模型**朝 $y_w$ 移动。
#
# ## 4. 训练
#
# `stages.get("dpo")` 会运行 `dpo.train_dpo`：先在 `torch.no_grad()` 下一次性算出训练偏好对在参考模型下的对数概率（参考模型永远不变），然后用这个阶段的 $\beta$（下面会打印出来）以 AdamW 训练一小段，这个 $\beta$ 比论文取的 0.1 大。$\beta$ 太小，
# 小模型就可能离监督微调模型越走越远，其中一个去处是一句固定的话“I am not sure, sorry.”：哪怕是它知道的事实，也用这句话来回答，
# 因为这句话在与错误答案、与拒答的比较中每次都胜出。
# $\beta$ 越大，模型离监督微调模型越近（第 7 节会扫描 $\beta$）。这个阶段还在损失里多加了一项，原因正是第 2 节所演示的现象。
# 我们的偏好对是模板生成的，不是监督微调模型自己写出来的；在这样的数据上，纯 DPO 可能把优选回答的对数概率也压下去，
# 小模型写出通顺文本的能力也可能随之丢失（第 6 节的表中列出了纯 DPO，请看它那一行）。所以这个阶段的配置（`nll_weight` $= \alpha$）像 RPO 那样，加上优选回答逐词元的负对数似然（Pang 等，2024；Llama 3 取 $\alpha = 0.2$）：
#
# $$\mathcal{L}_{\text{RPO}} = \mathcal{L}_{\text{DPO}} + \alpha \cdot \mathbb{E}\Big[-\frac{\log \pi_\theta(y_w|x)}{|y_w|}\Big]$$
#
# 负对数似然这一项让优选回答保持较高的概率，于是拉大间隔时腾出来的概率质量会流向优选回答，而不是流向无人标注的回答。

# %%
# first run: trains for about two minutes on a 2-core CPU; later runs: loads from the cache
policy = stages.get("dpo")
dpo_cfg = stages.config_of("dpo")
print(f"DPO trained in {stages.timings['dpo']:.0f} s: {dpo_cfg.loop.steps} steps of {dpo_cfg.batch_size} pairs, "
      f"beta {dpo_cfg.beta}, nll_weight {dpo_cfg.nll_weight}")

with torch.no_grad():
    pol_chosen = preferences.response_logps(policy, chosen)  # (8,)
    pol_rejected = preferences.response_logps(policy, rejected)  # (8,)
ours = dpo_loss_by_hand(pol_chosen, pol_rejected, ref_chosen, ref_rejected, beta=0.1)
losses, chosen_rewards, rejected_rewards = dpo.dpo_loss(pol_chosen, pol_rejected, ref_chosen, ref_rejected, beta=0.1)
print("trained policy, loss per pair (by hand): ", [round(x, 4) for x in ours.tolist()])
print("trained policy, loss per pair (minialign):", [round(x, 4) for x in losses.tolist()])
print("implicit rewards, chosen:  ", [round(x, 2) for x in chosen_rewards.tolist()])
print("implicit rewards, rejected:", [round(x, 2) for x in rejected_rewards.tolist()])

# %%
log = stages.metrics("dpo")
fig, axes = plt.subplots(1, 3, figsize=(14, 3.3))
plots.plot_curves({"dpo": log}, key="loss", title="DPO loss", ax=axes[0])
for key in ("rewards/chosen", "rewards/rejected", "rewards/margin"):
    steps, values = log.series(key)
    axes[1].plot(steps, values, label=key)
axes[1].set_title("implicit rewards (training batches)")
for key in ("logps/chosen", "logps/rejected"):
    steps, values = log.series(key)
    axes[2].plot(steps, values, label=key)
axes[2].set_title("summed log-probs under the policy")
for ax in axes[1:]:
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown] en
# Read the three panels together: as the loss falls, the margin grows, and the last panel shows
# which side moved, the chosen responses up or the rejected ones *down*. Rejected responses here are
# refusals of safe requests, harmful instructions, wrong answers: the cheapest way to win a pair is
# to make the bad response unlikely, while the NLL term holds the chosen ones up.
#
# ## 5. The implicit reward as a reward model
#
# If DPO works, $\hat r_\theta$ should rank held-out pairs like the reward model of lesson 3 does. The
# same 500 clean held-out pairs, both models (the reward model loads from the cache):

# %% [markdown] zh
# 把三张图放在一起看：随着损失下降，间隔在增大；最后一张图显示是哪一边在动，是优选回答被抬高，还是劣选回答（rejected）被**压下去**。
# 这里的劣选回答是对安全请求的拒答、有害的操作步骤、错误的答案：要赢下一对，最省力的办法就是让差的回答变得不太可能出现，而负对数似然项则把优选回答托住。
#
# ## 5. 把隐式奖励当作奖励模型
#
# 如果 DPO 奏效，$\hat r_\theta$ 也应当能像第 3 课的奖励模型那样给留出偏好对排序。用同样的 500 个无噪声留出偏好对，比较两者（奖励模型从缓存加载）：

# %%
rm_cfg = stages.config_of("reward")
heldout = preferences.make_pairs(world, rm_cfg.n_eval_pairs, rm_cfg.seed + 1, "eval", label_temperature=0.0)
by_kind = collections.defaultdict(list)
for p in heldout:
    by_kind[p.kind].append(p)


@torch.no_grad()
def implicit_accuracy(pairs: list, beta: float = 0.1) -> float:
    c, r = preferences.encode_pairs(pairs, tok, sft.config.block_size)
    chosen_r = beta * (preferences.response_logps(policy, c) - preferences.response_logps(sft, c))  # (N,)
    rejected_r = beta * (preferences.response_logps(policy, r) - preferences.response_logps(sft, r))  # (N,)
    return reward.preference_accuracy(chosen_r, rejected_r)


rm = stages.get("reward")  # trained in lesson 3
acc = {"all": (implicit_accuracy(heldout), reward.reward_accuracy(rm, tok, heldout))}
acc.update({kind: (implicit_accuracy(ps), reward.reward_accuracy(rm, tok, ps)) for kind, ps in by_kind.items()})
print(f"{'':<11}{'DPO implicit reward':>20}{'reward model':>14}")
for kind, (a, b) in acc.items():
    print(f"{kind:<11}{a:>20.1%}{b:>14.1%}")

# %% [markdown] en
# ## 6. What DPO did to the model
#
# The same evaluation as lesson 2, with two new columns: the win rate against the SFT model (the
# oracle compares the two responses to each prompt) and the KL to the SFT model per token, on the
# model's own samples. KL measures how far training moved the model; it is the price the objective
# of section 1 charges.
#
# Remember that the "dpo" stage is DPO plus the NLL term of section 4 ($\alpha$ = `nll_weight`), that
# is RPO. To see what that term does, the table adds plain DPO ($\alpha = 0$): the same config, pairs
# and seed, without it (`experiments.plain_dpo_row`, one more short training run the first time).

# %% [markdown] zh
# ## 6. DPO 把模型变成了什么样
#
# 评估方式与第 2 课相同，只是多了两列：一列是相对监督微调模型的胜率（win rate），由预言机（oracle）比较两个模型对同一提示的回答得出；
# 另一列是在模型自己的采样上、每个词元到监督微调模型的 KL。KL 衡量训练让模型移动了多远，也就是第 1 节的目标函数所收取的代价。
#
# 别忘了，“dpo”这个阶段是 DPO 加上第 4 节的负对数似然项（$\alpha$ = `nll_weight`），也就是 RPO。
# 为了看清这一项的作用，表中另加一行纯 DPO（$\alpha = 0$）：配置、偏好对和随机种子都相同，只是去掉这一项（`experiments.plain_dpo_row`，第一次运行时要多训练一小段）。

# %%
from IPython.display import Markdown, display

from minialign import demo, experiments

rows = evaluate.compare(stages, {"sft": sft, f"dpo (RPO, alpha={dpo_cfg.nll_weight:g})": policy},
                        baseline=sft)  # win rates against SFT; about 10 s a model
rows.append(experiments.plain_dpo_row(stages))  # plain DPO: about two minutes the first time, then cached
display(Markdown(evaluate.format_table(rows)))
print(demo.side_by_side(stages, "sft", "dpo", n_per_kind=1, width=40))

# %% [markdown] en
# ## 7. The $\beta$ trade-off
#
# Section 2 predicted that a smaller $\beta$ lets the policy drift further from the reference. Test it:
# `experiments.dpo_beta_sweep` trains one short DPO run per $\beta$ (40 steps, same pairs, same seed) and
# measures each result's KL to the SFT model and mean oracle reward. The runs use plain DPO
# (`nll_weight=0`), so that $\beta$ is the only leash.

# %% [markdown] zh
# ## 7. $\beta$ 的取舍
#
# 第 2 节预言：$\beta$ 越小，策略就能离参考模型越远。下面来验证：`experiments.dpo_beta_sweep` 对每个 $\beta$ 训练一次短程 DPO
# （40 步，相同的偏好对，相同的随机种子），并测量每个结果到监督微调模型的 KL 和预言机平均奖励。
# 这几次运行用的是纯 DPO（`nll_weight=0`），让 $\beta$ 成为唯一的那根绳子。

# %%
# four short DPO runs and four evaluations: about a minute and a half on a 2-core CPU the first time, then cached
sweep = experiments.dpo_beta_sweep(stages, betas=(0.03, 0.1, 0.3, 1.0), steps=40, nll_weight=0.0)
for beta, kl, reward_mean in sweep:
    print(f"beta = {beta:<5g} KL per token {kl:.3f}   mean oracle reward {reward_mean:+.3f}")
plots.plot_beta_sweep(sweep)
plt.show()

# %% [markdown] en
# **What to notice**
# - DPO is supervised learning on pairs: no sampling, no reward model, no value head; a training
#   step is an SFT-like pass over the chosen and the rejected response. The reference enters only
#   through log-probs computed once.
# - The loss falls while the log-probs of *both* responses may fall; the margin is what grows. Mass
#   that leaves the labelled responses goes somewhere no pair controls, in the toy as in the real model.
# - The implicit reward is a reward model, and it can be evaluated like one: section 5's table puts
#   its held-out accuracy next to the explicit reward model's, kind by kind. Like the reward model, it
#   knows no more facts than the network it starts from.
# - $\beta$ is the leash: a smaller $\beta$ lets the policy go further from the reference (a larger
#   KL) for the same preferences. More distance need not mean more reward: read the sweep for where,
#   if anywhere, it stops paying.

# %% [markdown] zh
# **值得注意的地方**
# - DPO 就是在偏好对上做监督学习：不采样，不要奖励模型，不要价值头；每一步训练就是在优选和劣选回答上各做一次类似监督微调的计算。参考模型只通过一次性算好的对数概率参与进来。
# - 损失在下降的同时，**两个**回答的对数概率都可能在下降；增大的是间隔。离开有标注回答的概率质量流向了任何偏好对都管不到的地方，玩具问题如此，真实模型亦然。
# - 隐式奖励就是一个奖励模型，也可以像奖励模型一样评估：第 5 节的表把它的留出准确率和显式奖励模型的逐类并列。和奖励模型一样，它知道的事实并不比它的起点网络多。
# - $\beta$ 就是那根绳子：对同样的偏好数据，$\beta$ 越小，策略就能离参考模型越远（KL 越大）。但走得越远未必奖励越高：从扫描结果里看看是否、以及从哪里开始得不偿失。

# %% [markdown] en
# ## Common pitfalls
# - **Averaged instead of summed log-probs.** The derivation is about $\log \pi(y|x)$ of the whole
#   response; per-token averages change the loss (and the meaning of $\beta$). Averages belong to IPO and ORPO (lesson 6).
# - **Gradients into the reference.** Compute the reference log-probs under `torch.no_grad()` (or once,
#   up front, as `train_dpo` does) and never hand the reference's parameters to the optimiser; otherwise
#   the reference follows the policy and the log-ratios stay near zero.
# - **The reference and the policy are the same object.** Training the policy then moves the
#   reference too. Use two copies of the SFT model.
# - **Sign errors.** The loss must fall as $y_w$ gains on $y_l$: $-\log\sigma(+\beta\Delta)$.
# - **Prompt or padding in the sums.** Only response tokens (and `<|end|>`) count; the prompt's
#   log-probs cancel between policy and reference only if both use the same mask.
# - **Reading "chosen log-prob fell" as failure.** Watch the margin and the implicit-reward accuracy,
#   and evaluate samples; the absolute log-probs tell you where the mass went, not whether DPO worked.

# %% [markdown] zh
# ## 常见误区
# - **用对数概率的平均值代替和**　推导针对的是整个回答的 $\log \pi(y|x)$；改用逐词元平均会改变损失（以及 $\beta$ 的含义）。
#   平均值属于 IPO 和 ORPO（第 6 课）。
# - **梯度流进了参考模型**　参考模型的对数概率要在 `torch.no_grad()` 下计算（或者像 `train_dpo` 那样事先一次算好），
#   也绝不能把参考模型的参数交给优化器；否则参考模型会跟着策略走，对数比始终停在零附近。
# - **参考模型和策略是同一个对象**　训练策略时参考模型也随之改变。应当使用监督微调模型的两个副本。
# - **符号错误**　$y_w$ 相对 $y_l$ 占优时损失必须下降：$-\log\sigma(+\beta\Delta)$。
# - **提示或填充（padding）计入了求和**　只计入回答词元（以及 `<|end|>`）；提示的对数概率只有在策略和参考模型使用同一个掩码时才会相互抵消。
# - **把“优选回答的对数概率下降了”当成失败**　要看间隔和隐式奖励的准确率，并评估采样结果；对数概率的绝对值只说明概率质量去了哪里，不说明 DPO 是否奏效。

# %% [markdown] en
# ## Exercise
# [`exercises/ex05_dpo.py`](../../exercises/ex05_dpo.py): write `dpo_loss` yourself, then run
# `pytest tests/grading/test_ex05_dpo.py` (or `python -m minialign grade` for the table of all
# exercises). The tests include the pitfalls above (a flipped sign, a missing $\beta$, the reference
# added instead of subtracted); yours must not pass for the wrong reason.

# %% [markdown] zh
# ## 练习
# [`exercises/ex05_dpo.py`](../../exercises/ex05_dpo.py)：亲手写出 `dpo_loss`，然后运行 `pytest tests/grading/test_ex05_dpo.py`
# （或者运行 `python -m minialign grade` 查看所有练习的成绩表）。测试里包含了上面那些误区（符号反了、漏了 $\beta$、把参考模型加上去而不是减掉），
# 你的实现不能“歪打正着”地通过。

# %% [markdown] en
# ## Knowledge check
# The answers are folded under "Show answer". To grade yourself, run
# `quiz.check("05", {"05-1": 0.42, "05-3": "A", ...})`; in a terminal: `python -m minialign quiz 05`.

# %% [markdown] zh
# ## 知识检测
# 答案折叠在“查看答案”下面。想给自己打分，可以运行 `quiz.check("05", {"05-1": 0.42, "05-3": "A", ...}, lang="zh")`；
# 在终端里则运行 `python -m minialign quiz 05 --lang zh`。

# %% [code] en
from minialign import quiz

quiz.ask("05", lang="en")

# %% [code] zh
from minialign import quiz

quiz.ask("05", lang="zh")
