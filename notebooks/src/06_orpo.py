# Lesson 6: ORPO and the DPO family. Source of notebooks/{en,zh}/06_orpo.ipynb.
# Edit this file, then run: python notebooks/build.py   (format: see notebooks/README.md)

# %% [markdown] en
# # Lesson 6 · ORPO and friends: odds ratios, IPO, hinge and robust losses
#
# DPO (lesson 5) needs two things besides the preference pairs: a finished SFT model, and a frozen
# copy of it as the reference. ORPO (Hong et al. 2024) needs neither: it adds one term to the SFT
# loss, and that term compares the *odds* of the chosen and the rejected response under the model
# being trained. And DPO's $-\log\sigma$ is only one thing to do with the margin between chosen
# and rejected: IPO, the hinge loss of SLiC, conservative DPO and robust DPO each do something
# else with the same number. This lesson takes them apart, one equation at a time, so that you can
# choose.
#
# **Learning goals.** After this lesson you can
# - compute odds, log odds and the log odds ratio from per-token average log-probs, and do it
#   without losing digits (`log1mexp`);
# - write the ORPO loss in a few lines and check it against `minialign.orpo`;
# - say what keeps ORPO near sensible text without a reference model, and what that costs;
# - read every loss of the DPO family as a function of the margin: where it pushes, where it
#   stops, where it pulls back;
# - pick a loss for a dataset: noisy labels, deterministic preferences, no SFT model yet.
#
# **Time.** ORPO trains the first time its cell runs (from the SFT model of lesson 2; the cell
# prints how long it took); the DPO model of lesson 5 loads from the cache (or trains, if it is not
# there). The evaluation samples every model once; every other cell takes seconds.

# %% [markdown] zh
# # 第 6 课 · ORPO 及其同类：几率比、IPO、合页损失与稳健损失
#
# 除了偏好对（preference pair），DPO（第 5 课）还离不开两样东西：一个训练好的监督微调（SFT）模型，以及它的一份冻结副本，
# 用作参考模型（reference model）。ORPO（Hong 等人，2024）两样都不要：它只在监督微调的损失上加一项，
# 这一项比较的是正在训练的模型给优选回答（chosen）和劣选回答（rejected）的**几率**（odds）。
# 另一方面，DPO 的 $-\log\sigma$ 也只是处理“优选与劣选之间的间隔（margin）”的一种方式：
# IPO、SLiC 的合页损失（hinge loss）、保守 DPO（cDPO）和稳健 DPO（robust DPO），对同一个数各有各的处理。
# 本课把它们逐个公式地拆开来看，好让你知道该选哪一个。
#
# **学习目标**　学完本课，你应当能够：
# - 由每个词元的平均对数概率（log-prob）算出几率、对数几率（log odds）和对数几率比，而且不丢失精度（`log1mexp`）；
# - 用几行代码写出 ORPO 损失，并与 `minialign.orpo` 对照；
# - 说清楚没有参考模型时，是什么让 ORPO 不至于偏离到胡言乱语，以及为此付出的代价；
# - 把 DPO 家族的每个损失都看成间隔的函数：它在哪里推、在哪里停、在哪里往回拉；
# - 为一个数据集选择损失：标签有噪声、偏好是确定性的、手头还没有监督微调模型。
#
# **耗时**　ORPO 在它的单元格第一次运行时训练（从第 2 课的监督微调模型出发，单元格会打印训练用了多久）；第 5 课的 DPO 模型从缓存加载（若不在缓存中则先训练）。评估要让每个模型各采样一遍，其余单元格都只需几秒。

# %% [markdown]
# $$P_\theta(y \mid x) = \exp\Big(\frac{1}{|y|}\sum_{t=1}^{|y|} \log \pi_\theta(y_t \mid x, y_{<t})\Big),
# \qquad \operatorname{odds}_\theta(y \mid x) = \frac{P_\theta(y \mid x)}{1 - P_\theta(y \mid x)}$$
#
# $$\mathcal{L}_{\text{ORPO}} = \mathbb{E}_{(x, y_w, y_l)}\Big[\underbrace{-\log P_\theta(y_w \mid x)}_{\mathcal{L}_{\text{SFT}}}
# \;-\; \lambda \log \sigma\Big(\log \frac{\operatorname{odds}_\theta(y_w \mid x)}{\operatorname{odds}_\theta(y_l \mid x)}\Big)\Big]$$

# %% [markdown] en
# $P_\theta$ is the geometric mean of the token probabilities: the per-token *average* log-prob,
# exponentiated, a number in $(0, 1)$ whatever the length of the response. The first term is the
# SFT loss on the chosen response (Hong et al. 2024, eq. 6); the second (eq. 7) is a Bradley–Terry
# loss on the log odds ratio, weighted by $\lambda$ (0.1 in the paper). No $\pi_{\text{ref}}$
# appears anywhere.

# %% [markdown] zh
# $P_\theta$ 是各词元概率的几何平均：把每个词元的**平均**对数概率取指数，无论回答多长，它都落在 $(0, 1)$ 之间。
# 第一项是优选回答上的监督微调损失（Hong 等人，2024，式 6）；第二项（式 7）是作用在对数几率比上的 Bradley–Terry 损失，
# 权重为 $\lambda$（论文取 0.1）。式中任何地方都没有 $\pi_{\text{ref}}$。

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from minialign import dpo, orpo, plots
from minialign.stages import Stages

stages = Stages("cpu", seed=0)
tok, world = stages.tokenizer, stages.world

# %% [markdown] en
# ## 1. Odds, not probabilities
#
# Three hand-made pairs, each given by the per-token average log-probs of its chosen and rejected
# response. Odds first by hand, straight from the definition, then with the package:

# %% [markdown] zh
# ## 1. 比的是几率，不是概率
#
# 下面是三个手工构造的偏好对，每一对只给出优选与劣选回答的每词元平均对数概率。先按定义手算几率，再用包里的函数核对：

# %%
# NBVAL_CHECK_OUTPUT
chosen_avg_logps = torch.tensor([-0.5, -0.2, -1.0])  # (B,) per-token AVERAGE log-probs of y_w
rejected_avg_logps = torch.tensor([-1.0, -0.3, -0.9])  # (B,) the same for y_l


def naive_log_odds(avg_logps: torch.Tensor) -> torch.Tensor:
    p = avg_logps.exp()  # (B,) geometric-mean token probability
    return torch.log(p / (1 - p))  # (B,)


log_odds_ratio = naive_log_odds(chosen_avg_logps) - naive_log_odds(rejected_avg_logps)  # (B,)
print("P(y_w)                    ", chosen_avg_logps.exp())
print("P(y_l)                    ", rejected_avg_logps.exp())
print("log P(y_w) - log P(y_l)   ", chosen_avg_logps - rejected_avg_logps)
print("log odds ratio, by hand   ", log_odds_ratio)
print("orpo.orpo_log_odds        ", orpo.orpo_log_odds(chosen_avg_logps, rejected_avg_logps))
# %% [output]
# P(y_w)                     tensor([0.6065, 0.8187, 0.3679])
# P(y_l)                     tensor([0.3679, 0.7408, 0.4066])
# log P(y_w) - log P(y_l)    tensor([ 0.5000,  0.1000, -0.1000])
# log odds ratio, by hand    tensor([ 0.9741,  0.4575, -0.1632])
# orpo.orpo_log_odds         tensor([ 0.9741,  0.4575, -0.1632])

# %% [markdown] en
# Since $\frac{d}{d\log P}\log\operatorname{odds} = \frac{1}{1-P}$, the log odds stretch differences
# between likely responses: pair 2 differs by only 0.1 in average log-prob, but both responses are
# likely ($P \approx 0.8$), and its log odds ratio is 0.46. Pair 1 (a clear preference) lands near 1,
# pair 3 (wrongly ordered) below 0.
#
# **Why the average, not the sum?** With the summed log-prob, $P$ would be the probability of the
# whole sequence, tiny for any real response, so $1 - P \approx 1$ and the odds collapse into $P$
# itself: ORPO would become a plain log-likelihood difference, and a long response would look worse
# for being long. Per-token probability 0.6, several lengths:

# %% [markdown] zh
# 由于 $\frac{d}{d\log P}\log\operatorname{odds} = \frac{1}{1-P}$，对数几率会放大两个“可能性都很高”的回答之间的差别：
# 第 2 对的平均对数概率只差 0.1，但两个回答都很可能出现（$P \approx 0.8$），它的对数几率比达到 0.46。
# 第 1 对偏好明确，结果接近 1；第 3 对排序反了，结果小于 0。
#
# **为什么用平均值，而不是总和？**　如果用对数概率之和，$P$ 就成了整个序列的概率，对任何真实的回答都小得可怜，
# 于是 $1 - P \approx 1$，几率退化成 $P$ 本身：ORPO 变成普通的对数似然之差，而且长回答仅仅因为长就显得更差。
# 设每个词元的概率都是 0.6，看不同长度下的情形：

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'tokens':>6} {'P from the sum':>15} {'log odds (sum)':>15} {'log P (sum)':>12} {'log odds (average)':>19}")
for n in (1, 5, 10, 20, 50):
    summed = torch.tensor([n * math.log(0.6)])  # log-prob of the whole response
    average = torch.tensor([math.log(0.6)])  # per-token average
    print(f"{n:>6} {summed.exp().item():>15.2e} {naive_log_odds(summed).item():>15.3f} "
          f"{summed.item():>12.3f} {naive_log_odds(average).item():>19.3f}")
# %% [output]
# tokens  P from the sum  log odds (sum)  log P (sum)  log odds (average)
#      1        6.00e-01           0.405       -0.511               0.405
#      5        7.78e-02          -2.473       -2.554               0.405
#     10        6.05e-03          -5.102       -5.108               0.405
#     20        3.66e-05         -10.216      -10.217               0.405
#     50        8.08e-12         -25.541      -25.541               0.405

# %% [markdown] en
# **Do not compute $\log(1 - e^x)$ as written.** Near $x = 0$ (a response the model is almost
# sure of) $e^x$ rounds to 1 and the log is $-\infty$; far below 0, $1 - e^x$ rounds to 1 and every
# digit of the answer is lost. `orpo.log1mexp` switches between `log(-expm1(x))` and
# `log1p(-exp(x))` at $x = -\log 2$ (Mächler 2012):

# %% [markdown] zh
# **不要照字面计算 $\log(1 - e^x)$。**　在 $x = 0$ 附近（模型几乎确定的回答），$e^x$ 会被舍入成 1，对数变成 $-\infty$；
# 在远小于 0 的地方，$1 - e^x$ 被舍入成 1，结果的有效数字全部丢失。`orpo.log1mexp` 以 $x = -\log 2$ 为界，
# 在 `log(-expm1(x))` 和 `log1p(-exp(x))` 之间切换（Mächler，2012）：

# %%
# NBVAL_CHECK_OUTPUT
x = torch.tensor([-1e-10, -1e-4, -1.0, -50.0])  # float32 log-probs
for name, value in {"log(1 - exp(x))": torch.log(1 - torch.exp(x)), "orpo.log1mexp(x)": orpo.log1mexp(x)}.items():
    print(f"{name:<17}", "  ".join(f"{v:>11.4e}" for v in value.tolist()))
# %% [output]
# log(1 - exp(x))          -inf  -9.2102e+00  -4.5868e-01   0.0000e+00
# orpo.log1mexp(x)  -2.3026e+01  -9.2104e+00  -4.5868e-01  -1.9287e-22

# %% [markdown] en
# ## 2. The ORPO loss, written out
#
# With the log odds ratio in hand the loss is two lines. The per-token NLL of the chosen response
# is minus its average log-prob (one forward pass gives both terms):

# %% [markdown] zh
# ## 2. 亲手写出 ORPO 损失
#
# 有了对数几率比，损失只需两行。优选回答的每词元负对数似然（NLL）就是它平均对数概率的相反数（一次前向计算同时得到两项）：

# %%
# NBVAL_CHECK_OUTPUT
lam = 0.1
chosen_nll = -chosen_avg_logps  # (B,)
loss = chosen_nll.mean() + lam * -F.logsigmoid(log_odds_ratio).mean()  # eq. 6 with eq. 7 inside
package_loss, metrics = orpo.orpo_loss(chosen_nll, chosen_avg_logps, rejected_avg_logps, lam=lam)
print(f"by hand:             {loss.item():.4f}")
print(f"minialign.orpo_loss: {package_loss.item():.4f}")
print({k: round(v, 4) for k, v in metrics.items()})
# %% [output]
# by hand:             0.6196
# minialign.orpo_loss: 0.6196
# {'nll': 0.5667, 'or_loss': 0.5296, 'log_odds': 0.4228, 'odds_ratio_accuracy': 0.6667}

# %% [markdown] en
# Where does each term push? Take the gradient with respect to the average log-probs (what the
# network's weights move through). The NLL term pulls every chosen response up by the same
# $1/B$; the odds-ratio term adds a push on *both* responses, the product of two factors:
# $\sigma(-\log\text{odds ratio})$, largest for the wrongly ordered pair 3, and $1/(1-P)$, largest for
# likely responses:

# %% [markdown] zh
# 每一项往哪里推？对平均对数概率求梯度（网络权重正是经由它们改变）。负对数似然项把每个优选回答都往上拉，力度一样，都是 $1/B$；
# 几率比项则对优选和劣选**两个**回答都施加推力，推力是两个因子的乘积：$\sigma(-\log\text{几率比})$，在排序错误的第 3 对上最大；
# 以及 $1/(1-P)$，在可能性高的回答上最大：

# %%
# NBVAL_CHECK_OUTPUT
w = chosen_avg_logps.clone().requires_grad_(True)
l = rejected_avg_logps.clone().requires_grad_(True)
nll_part = (-w).mean()
or_part = lam * -F.logsigmoid(orpo.orpo_log_odds(w, l)).mean()
grad_w_nll, = torch.autograd.grad(nll_part, w)
grad_w_or, grad_l_or = torch.autograd.grad(or_part, (w, l))
print("raise log P(y_w), NLL term:", (-grad_w_nll).numpy().round(4))
print("raise log P(y_w), OR term: ", (-grad_w_or).numpy().round(4))
print("raise log P(y_l), OR term: ", (-grad_l_or).numpy().round(4))
# %% [output]
# raise log P(y_w), NLL term: [0.3333 0.3333 0.3333]
# raise log P(y_w), OR term:  [0.0232 0.0713 0.0285]
# raise log P(y_l), OR term:  [-0.0145 -0.0498 -0.0304]

# %% [markdown] en
# Two things to read here. The odds-ratio term is small next to the NLL term ($\lambda = 0.1$):
# ORPO is mostly SFT on the chosen responses, with a gentle push apart. And of the two factors, the
# second wins here: the rejected response of pair 2 ($P \approx 0.74$) is pushed down more than three
# times harder than that of pair 1 ($P \approx 0.37$), harder even than that of the wrongly ordered
# pair 3. The odds ratio spends its effort on rejected responses the model still finds likely.
#
# ## 3. Training ORPO on MiniWorld
#
# `stages.get("orpo")` runs `orpo.train_orpo` on the same MiniWorld pairs that DPO uses,
# starting from the SFT model. (The paper starts from the *base* model: its NLL term is the SFT;
# ours begins with SFT done, so the run is short, like DPO's.) The stage weighs the odds ratio by
# $\lambda = 0.6$, not the paper's 0.1, because of what the NLL term imitates: every chosen response,
# "I am not sure, sorry." included wherever it beat a wrong answer or a refusal. At 0.1 the gentle
# push apart can be too weak to keep the right answer ahead of that one fixed sentence, and the
# model can drift towards it on facts it knows; a larger $\lambda$ gives the odds ratio the weight to
# hold the right answer ahead.

# %% [markdown] zh
# 这里有两点值得注意。几率比项比负对数似然项小得多（$\lambda = 0.1$）：ORPO 主要是在优选回答上做监督微调，外加一股把两者推开的温和力量。
# 另外，这里两个因子中后一个占了上风：第 2 对的劣选回答（$P \approx 0.74$）被往下压的力度是第 1 对（$P \approx 0.37$）的三倍多，
# 甚至超过了排序错误的第 3 对。几率比把力气花在模型仍然觉得很可能出现的劣选回答上。
#
# ## 3. 在 MiniWorld 上训练 ORPO
#
# `stages.get("orpo")` 会运行 `orpo.train_orpo`，用的是与 DPO 相同的那批 MiniWorld 偏好对，从监督微调模型出发。
# 论文从**基座模型**（base model）出发，它的负对数似然项本身就起到监督微调的作用；我们这里已经做过监督微调，所以训练很短，和 DPO 一样。
# 这个阶段给几率比项的权重是 $\lambda = 0.6$，而不是论文的 0.1，原因在于负对数似然项模仿的对象：它模仿每一个优选回答，
# 其中也包括“I am not sure, sorry.”，只要这句话胜过了错误答案或拒答。取 0.1 时，那股把两者推开的温和力量可能太弱，
# 正确答案压不过这句固定的话，模型在它知道的事实上也可能滑向这句话；$\lambda$ 取得大一些，几率比项才有足够的分量让正确答案保持领先。

# %%
# first run: trains for one to two minutes on a 2-core CPU; later runs: loads from the cache
orpo_model = stages.get("orpo")
print(f"ORPO trained in {stages.timings['orpo']:.0f} s")
log = stages.metrics("orpo")
fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
plots.plot_curves({"orpo": log}, key="nll", title="NLL of y_w (the SFT term)", ax=axes[0])
plots.plot_curves({"orpo": log}, key="log_odds", title="mean log odds ratio", ax=axes[1])
plots.plot_curves({"orpo": log}, key="odds_ratio_accuracy", title="pairs with log odds ratio > 0", ax=axes[2])
fig.tight_layout()
plt.show()

# %% [markdown] en
# ## 4. ORPO against DPO
#
# What ORPO saves is easy to count. DPO holds two models: the policy, and the frozen reference it
# is measured against (`minialign.dpo` runs the reference once over all pairs before training and
# keeps its log-probs; a large model would have to keep it in memory or pay that pass again).
# ORPO holds one. What it gives up is the leash: nothing in its loss mentions the starting model,
# so only the NLL on the chosen responses keeps it near fluent, sensible text. Whether that
# matters shows in the evaluation of lesson 2: the same 200 held-out prompts, one sampled response
# each, judged by the oracle, with win rates against the SFT model's responses and the KL to the
# SFT model (which ORPO never sees, but we can still measure).

# %% [markdown] zh
# ORPO 省下了什么，很容易数清楚。DPO 要同时用到两个模型：正在训练的策略（policy），以及作为比较基准的冻结参考模型（`minialign.dpo` 在训练开始前让参考模型把所有偏好对过一遍，把对数概率存下来；换成大模型，要么一直把它留在内存里，要么再付一遍这次计算的代价）。
# ORPO 只需要一个模型。它放弃的是那根“缰绳”：损失里没有任何一项提到起点模型，能让它保持流畅、合理的只有优选回答上的负对数似然。
# 这一点有没有影响，要看第 2 课的评估：同样 200 个留出（held-out）提示，每个采样一个回答，由预言机（oracle）打分；
# 胜率（win rate）相对于监督微调模型的回答计算，KL 则是相对于监督微调模型的 KL 散度（KL divergence）。ORPO 训练时从不看监督微调模型，但我们照样可以测量这个 KL。

# %%
from IPython.display import Markdown, display

from minialign import evaluate

sft_model = stages.get("sft")
dpo_model = stages.get("dpo")  # trained in lesson 5: loads from the cache (or trains, about two minutes)
print(f"parameters per model: {sft_model.num_params():,}; models held while training: DPO 2 (policy + reference), ORPO 1")

# the SFT model's answers are sampled once; every row's win rate and KL are against them
rows = evaluate.compare(stages, {"sft": sft_model, "dpo": dpo_model, "orpo": orpo_model}, baseline=sft_model)  # ~10 s a model
display(Markdown(evaluate.format_table(rows)))
plots.plot_eval_bars(rows)
plt.show()

# %% [markdown] en
# The same held-out prompts, greedy decoding, DPO next to ORPO:

# %% [markdown] zh
# 同一批留出提示，用贪心解码（greedy decoding），把 DPO 和 ORPO 的回答并排放在一起：

# %%
from minialign import demo

print(demo.side_by_side(stages, "dpo", "orpo", n_per_kind=1, width=40))

# %% [markdown] en
# ## 5. The DPO family: one margin, five losses
#
# Every loss in `minialign.dpo` is a function of one number per pair, the log-ratio margin
# $\delta = \big(\log\pi_\theta(y_w) - \log\pi_{\text{ref}}(y_w)\big) - \big(\log\pi_\theta(y_l) - \log\pi_{\text{ref}}(y_l)\big)$,
# with $z = \beta\delta$:

# %% [markdown] zh
# ## 5. DPO 家族：同一个间隔，五种损失
#
# `minialign.dpo` 中的每个损失，都只是每个偏好对上一个数的函数，即对数比间隔
# $\delta = \big(\log\pi_\theta(y_w) - \log\pi_{\text{ref}}(y_w)\big) - \big(\log\pi_\theta(y_l) - \log\pi_{\text{ref}}(y_l)\big)$，
# 记 $z = \beta\delta$：

# %% [markdown] en
# | loss | $\ell(\delta)$ | stops pushing | paper |
# | --- | --- | --- | --- |
# | DPO (`sigmoid`) | $-\log\sigma(z)$ | never | Rafailov et al. 2023 |
# | cDPO (`sigmoid`, label smoothing $\varepsilon$) | $-(1-\varepsilon)\log\sigma(z) - \varepsilon\log\sigma(-z)$ | at $z = \log\frac{1-\varepsilon}{\varepsilon}$, pulls back beyond | Mitchell 2023 |
# | robust DPO (`robust`) | $\frac{(1-\varepsilon)(-\log\sigma(z)) + \varepsilon\log\sigma(-z)}{1-2\varepsilon}$ | never | Chowdhury et al. 2024 |
# | IPO (`ipo`) | $\big(\delta - \frac{1}{2\beta}\big)^2$ | at $\delta = \frac{1}{2\beta}$, pulls back beyond | Azar et al. 2023 |
# | hinge (`hinge`) | $\max(0,\, 1 - z)$ | at $z = 1$, stays there | SLiC, Zhao et al. 2023 |

# %% [markdown] zh
# | 损失 | $\ell(\delta)$ | 何时停止推动 | 论文 |
# | --- | --- | --- | --- |
# | DPO（`sigmoid`） | $-\log\sigma(z)$ | 永不停止 | Rafailov 等人，2023 |
# | cDPO（`sigmoid`，标签平滑 $\varepsilon$） | $-(1-\varepsilon)\log\sigma(z) - \varepsilon\log\sigma(-z)$ | 在 $z = \log\frac{1-\varepsilon}{\varepsilon}$ 处停止，越过后往回拉 | Mitchell，2023 |
# | 稳健 DPO（`robust`） | $\frac{(1-\varepsilon)(-\log\sigma(z)) + \varepsilon\log\sigma(-z)}{1-2\varepsilon}$ | 永不停止 | Chowdhury 等人，2024 |
# | IPO（`ipo`） | $\big(\delta - \frac{1}{2\beta}\big)^2$ | 在 $\delta = \frac{1}{2\beta}$ 处停止，越过后往回拉 | Azar 等人，2023 |
# | 合页损失（`hinge`） | $\max(0,\, 1 - z)$ | 在 $z = 1$ 处停止，之后不再变化 | SLiC，Zhao 等人，2023 |

# %% [markdown] en
# The loss values of different variants are not comparable (IPO's is a squared distance, robust
# DPO's can be negative); what matters is the gradient, the push $-d\ell/d\delta$ that raises the
# margin. The package's functions, differentiated by autograd over a range of margins ($\beta = 0.1$,
# $\varepsilon = 0.1$):

# %% [markdown] zh
# 不同变体的损失值之间没有可比性（IPO 的是平方距离，稳健 DPO 的甚至可以是负数）；真正要紧的是梯度，
# 也就是把间隔往上推的推力 $-d\ell/d\delta$。下面用自动求导对包里的函数求导，在一段间隔范围内画出来（$\beta = 0.1$，$\varepsilon = 0.1$）：

# %%
beta, eps = 0.1, 0.1
variants = {  # name -> (loss_type, label_smoothing)
    "DPO (sigmoid)": ("sigmoid", 0.0),
    "cDPO, eps=0.1": ("sigmoid", eps),
    "robust, eps=0.1": ("robust", eps),
    "IPO": ("ipo", 0.0),
    "hinge (SLiC)": ("hinge", 0.0),
}
delta = torch.linspace(-20, 60, 401, requires_grad=True)  # (401,) margins
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
for name, (loss_type, smoothing) in variants.items():
    losses = dpo.DPO_LOSSES[loss_type](delta, beta, smoothing)  # (401,)
    push = -torch.autograd.grad(losses.sum(), delta)[0]  # (401,) -d loss / d delta
    axes[0].plot(delta.detach(), losses.detach(), label=name)
    axes[1].plot(delta.detach(), push, label=name)
axes[0].set_ylim(-1.5, 4)
axes[0].set_title("loss")
axes[1].set_ylim(-0.15, 0.25)
axes[1].set_title("push on the margin, -d loss / d delta")
for ax in axes:
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("margin delta (beta = 0.1)")
    ax.grid(alpha=0.3)
axes[1].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown] en
# To see what the shapes do, give each loss a pair whose label is certain and let Adam (the
# optimiser that trains the real model) move the margin freely, as an over-parameterised policy can.
# The margin is a single number here, so 1,000 steps take a fraction of a second:

# %% [markdown] zh
# 为了看清这些形状意味着什么，给每个损失一个标签确定无疑的偏好对，让 Adam（训练真实模型用的优化器）自由地移动间隔，
# 就像一个参数足够多的策略可以做到的那样。这里的间隔只是一个数，1,000 步也只要零点几秒：

# %%
# NBVAL_CHECK_OUTPUT
trajectories = {}
print(f"{'loss':<16} {'margin after 1000 steps':>24} {'push still on it':>17}")
for name, (loss_type, smoothing) in variants.items():
    margin = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adam([margin], lr=0.1)
    trajectories[name] = []
    for _ in range(1000):
        loss = dpo.DPO_LOSSES[loss_type](margin, beta, smoothing).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        trajectories[name].append(margin.item())
    push = -torch.autograd.grad(dpo.DPO_LOSSES[loss_type](margin, beta, smoothing).sum(), margin)[0]
    print(f"{name:<16} {margin.item():>24.1f} {push.item():>+17.4f}")
# %% [output]
# loss              margin after 1000 steps  push still on it
# DPO (sigmoid)                        38.7           +0.0020
# cDPO, eps=0.1                        22.0           +0.0000
# robust, eps=0.1                      61.5           +0.0127
# IPO                                   5.0           -0.0000
# hinge (SLiC)                         10.9           +0.0000

# %%
fig, ax = plt.subplots(figsize=(7, 3.6))
for name, values in trajectories.items():
    ax.plot(values, label=name)
ax.set_xlabel("Adam step")
ax.set_ylabel("margin delta")
ax.set_title("one pair with a certain label (beta = 0.1)")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown] en
# - **DPO** never stops: the push shrinks like $\sigma(-\beta\delta)$ but Adam rescales small
#   gradients, and the margin keeps growing. For a label that is certain, Bradley–Terry says the
#   reward gap is infinite, and the implicit reward chases it away from the reference: this is the
#   overfitting Azar et al. describe.
# - **IPO** regresses the margin onto $1/(2\beta) = 5$ and pulls it back if it overshoots.
# - **cDPO** stops where $\sigma(z) = 1 - \varepsilon$, at $z = \log 9$, $\delta \approx 22$: it never
#   becomes more confident than its assumed label noise allows.
# - **hinge** stops once $z \ge 1$ ($\delta = 10$; Adam's momentum carries it a little past), and a
#   solved pair gives no gradient at all.
# - **robust DPO** runs *faster* than DPO: for large $z$ its push tends to
#   $\beta\varepsilon/(1-2\varepsilon)$, a constant. It is not a regulariser. It corrects the
#   *expected* gradient over pairs whose labels are flipped with probability $\varepsilon$, so noisy
#   pairs cancel on average; on one clean pair it has nothing to cancel.
#
# How noisy are MiniWorld's labels? `make_pairs` records which labels the Bradley–Terry coin
# flipped (the chosen response scores lower under the oracle):

# %% [markdown] zh
# - **DPO** 永不停止：推力按 $\sigma(-\beta\delta)$ 衰减，但 Adam 会把小梯度重新放大，间隔于是一直增长。
#   对一个确定无疑的标签，Bradley–Terry 模型认为奖励差是无穷大，隐式奖励（implicit reward）便一路追下去，远离参考模型：
#   这正是 Azar 等人所说的过拟合。
# - **IPO** 把间隔回归到 $1/(2\beta) = 5$，超过了就往回拉。
# - **cDPO** 停在 $\sigma(z) = 1 - \varepsilon$ 处，即 $z = \log 9$、$\delta \approx 22$：它的把握永远不会超过所假设的标签噪声（label noise）所允许的程度。
# - **合页损失**在 $z \ge 1$ 时停止（$\delta = 10$；Adam 的动量会让它稍稍越过一点），已经“解决”的偏好对完全不再产生梯度。
# - **稳健 DPO** 反而跑得比 DPO **更快**：$z$ 很大时，它的推力趋于常数 $\beta\varepsilon/(1-2\varepsilon)$。它不是正则项。
#   它修正的是**期望**梯度：假设每个标签以概率 $\varepsilon$ 被翻转，那么在许多偏好对上，带噪声的偏好对平均下来会相互抵消；
#   而在单独一个干净的偏好对上，它没有什么可抵消的。
#
# MiniWorld 的标签有多少噪声？`make_pairs` 记录了 Bradley–Terry 硬币翻转了哪些标签（即优选回答的预言机分数反而更低）：

# %%
# NBVAL_CHECK_OUTPUT
from minialign.preferences import make_pairs

cfg = stages.config_of("orpo")
pairs = make_pairs(world, cfg.n_pairs, cfg.seed, "train", cfg.label_temperature)  # the pairs DPO and ORPO train on
for kind in ("factual", "arithmetic", "harmful", "benign", "advice"):
    of_kind = [p for p in pairs if p.kind == kind]
    print(f"{kind:<10} {len(of_kind):>5} pairs, flipped {sum(p.flipped for p in of_kind) / len(of_kind):6.1%}")
print(f"{'all':<10} {len(pairs):>5} pairs, flipped {sum(p.flipped for p in pairs) / len(pairs):6.1%}")
# %% [output]
# factual     1834 pairs, flipped   6.2%
# arithmetic  1455 pairs, flipped   0.0%
# harmful     1207 pairs, flipped   5.8%
# benign       777 pairs, flipped   0.0%
# advice       727 pairs, flipped   1.0%
# all         6000 pairs, flipped   3.2%

# %% [markdown] en
# ## 6. When to use which
#
# | situation | choose | why |
# | --- | --- | --- |
# | an SFT model, clean-ish labels | DPO | the default; $\beta$ trades reward for KL (lesson 5) |
# | labels known to be noisy (crowd labels, AI labels), flip rate $\approx \varepsilon$ | cDPO, or robust DPO with many pairs | cDPO caps the confidence on any pair; robust DPO removes the noise's bias on average |
# | near-deterministic preferences, small data, DPO overfits | IPO | a finite target margin $1/(2\beta)$, pulled back when exceeded |
# | only the ordering matters, solved pairs should drop out | hinge (SLiC) | zero gradient beyond $z = 1$ |
# | no SFT model yet, or no memory for a reference | ORPO | SFT and preference in one loss and one model; $\lambda$ sets the preference's weight |
#
# ORPO's anchor is the chosen data, not the starting model: if the chosen responses are far from
# what the model writes (other style, other length), ORPO follows them, since there is no KL term
# to hold it back. DPO's anchor is the reference, which is why $\beta$ matters so much there.

# %% [markdown] zh
# ## 6. 何时用哪一个
#
# | 情形 | 选择 | 原因 |
# | --- | --- | --- |
# | 已有监督微调模型，标签比较干净 | DPO | 默认选择；$\beta$ 在奖励与 KL 之间权衡（第 5 课） |
# | 已知标签有噪声（众包标注、AI 标注），翻转率约为 $\varepsilon$ | cDPO；偏好对很多时用稳健 DPO | cDPO 限制了对任一偏好对的把握；稳健 DPO 在平均意义上消除噪声带来的偏差 |
# | 偏好近乎确定、数据量小、DPO 过拟合 | IPO | 目标间隔有限，为 $1/(2\beta)$，超过就往回拉 |
# | 只在乎排序，已解决的偏好对应当退出 | SLiC 的合页损失 | $z > 1$ 之后梯度为零 |
# | 还没有监督微调模型，或内存放不下参考模型 | ORPO | 一个损失、一个模型，同时完成监督微调与偏好学习；$\lambda$ 决定偏好项的权重 |
#
# ORPO 的锚是优选数据，而不是起点模型：如果优选回答与模型自己写出的东西相差很远（风格不同、长度不同），
# ORPO 就会跟着它们走，因为没有 KL 项把它拉住。DPO 的锚是参考模型，这也是为什么 $\beta$ 在 DPO 里如此重要。

# %% [markdown] en
# **What to notice**
# - ORPO is SFT with a preference term: the NLL of the chosen responses dominates its loss, and the
#   odds-ratio term, weighted by $\lambda$ (0.6 in this stage, 0.1 in the paper), separates chosen
#   from rejected: one loss teaches the chosen responses and the preference for them at once. The
#   training curves of section 3 show both, the NLL of the chosen responses next to the share of
#   pairs with a positive log odds ratio.
# - The odds ratio is computed from per-token *averages*; with sums it would collapse into a
#   length-dominated log-likelihood difference.
# - Compare the ORPO and DPO rows of section 4's table: ORPO gets its row with one model instead of
#   two. Compare their KL columns too: ORPO is not held near the SFT model by its loss, only by its data.
# - The DPO variants differ only in what they do with the margin: keep pushing (DPO, robust),
#   stop (hinge), or pull back to a target (IPO, cDPO).
# - MiniWorld's labels are noisy only where two responses are close under the oracle, such as a plain
#   refusal against a refusal with a safe redirect (1.0 against 1.5) on harmful prompts: that is where
#   the Bradley–Terry coin slips, and never between a right and a wrong sum. A single flip rate
#   $\varepsilon$ for every pair, as cDPO and robust DPO assume, is a simplification.

# %% [markdown] zh
# **值得注意的地方**
# - ORPO 就是带偏好项的监督微调：优选回答上的负对数似然在损失中占主导，权重为 $\lambda$（本阶段取 0.6，论文取 0.1）的几率比项负责把优选和劣选分开。
#   一个损失同时教会模型优选回答和对它们的偏好。第 3 节的训练曲线把两者并排画出：优选回答的负对数似然，以及对数几率比为正的偏好对所占的比例。
# - 几率比由每词元的**平均**对数概率算出；如果用总和，它会退化成一个由长度主导的对数似然之差。
# - 对比第 4 节表中 ORPO 和 DPO 的两行：ORPO 只用了一个模型，DPO 用了两个。再对比两者的 KL 一列：
#   让 ORPO 靠近监督微调模型的不是它的损失，只是它的数据。
# - DPO 的各个变体只在如何处理间隔上有所不同：一直推（DPO、稳健 DPO）、停下（合页损失），或拉回到某个目标（IPO、cDPO）。
# - MiniWorld 的标签只在两个回答的预言机分数很接近时才有噪声，比如有害提示上的单纯拒绝与带安全引导（safe redirect）的拒绝（1.0 对 1.5）：
#   Bradley–Terry 硬币正是在这里失手，而在一道加减法题的对错答案之间从不出错。cDPO 和稳健 DPO 假设所有偏好对的翻转率都是同一个 $\varepsilon$，这只是一种简化。

# %% [markdown] en
# ## Common pitfalls
# - **Summed log-probs into ORPO.** Summed log-probs are also $\le 0$, so no check can catch them:
#   pass `sequence_logprobs(..., average=True)`. With sums the odds are just $P$.
# - **$\log(1 - e^x)$ written out.** It is $-\infty$ for a response the model is sure of, and the
#   gradient is NaN from then on. Use `log1mexp`.
# - **Dropping the NLL term** ($\mathcal{L}_{\text{OR}}$ alone). Nothing then keeps the chosen responses
#   likely: the model can widen the odds ratio by pushing both responses down.
# - **IPO on summed log-probs.** The target margin $1/(2\beta)$ is then in units of whole
#   sequences, so it means something different for a 5-token and a 50-token response;
#   `minialign.dpo` feeds IPO per-token averages.
# - **Comparing loss values across variants.** A robust-DPO loss below zero or an IPO loss of 25 say
#   nothing about which model is better: compare on the evaluation.
# - **Label smoothing with IPO or hinge.** Their label-noise story is not the sigmoid's;
#   `dpo_loss` refuses `label_smoothing > 0` for them.

# %% [markdown] zh
# ## 常见误区
# - **把对数概率之和喂给 ORPO**　对数概率之和同样 $\le 0$，任何检查都发现不了：请传入 `sequence_logprobs(..., average=True)`。
#   用了总和，几率就只是 $P$ 本身。
# - **照字面写 $\log(1 - e^x)$**　对模型很有把握的回答，它等于 $-\infty$，此后梯度就是 NaN。请用 `log1mexp`。
# - **丢掉负对数似然项**（只用 $\mathcal{L}_{\text{OR}}$）　这样就没有任何东西让优选回答保持高概率：模型可以把两个回答一起压低，照样拉大几率比。
# - **在对数概率之和上用 IPO**　目标间隔 $1/(2\beta)$ 就成了以整个序列为单位的量，对 5 个词元和 50 个词元的回答含义完全不同；
#   `minialign.dpo` 给 IPO 传入的是每词元平均值。
# - **跨变体比较损失值**　稳健 DPO 的损失小于零、IPO 的损失等于 25，都说明不了哪个模型更好：要在评估上比较。
# - **给 IPO 或合页损失加标签平滑（label smoothing）**　它们对标签噪声的处理与 sigmoid 不同；`dpo_loss` 对它们会拒绝 `label_smoothing > 0`。

# %% [markdown] en
# ## Exercise
# [`exercises/ex06_orpo.py`](../../exercises/ex06_orpo.py): write `log1mexp`, `average_logprobs` and
# `orpo_log_odds` yourself, then run `pytest tests/grading/test_ex06_orpo.py` (or
# `python -m minialign grade` for the table of all exercises). The tests include the naive
# $\log(1 - e^x)$ and the summed log-probs above; yours must not pass for the wrong reason.

# %% [markdown] zh
# ## 练习
# [`exercises/ex06_orpo.py`](../../exercises/ex06_orpo.py)：亲手写出 `log1mexp`、`average_logprobs` 和 `orpo_log_odds`，
# 然后运行 `pytest tests/grading/test_ex06_orpo.py`（或者运行 `python -m minialign grade` 查看所有练习的成绩表）。
# 测试里包含了上面那种照字面写的 $\log(1 - e^x)$ 和用对数概率之和的写法，你的实现不能“歪打正着”地通过。

# %% [markdown] en
# ## Knowledge check
# The answers are folded under "Show answer". To grade yourself, run
# `quiz.check("06", {"06-1": 0.43, ...})`; in a terminal: `python -m minialign quiz 06`.

# %% [markdown] zh
# ## 知识检测
# 答案折叠在“查看答案”下面。想给自己打分，可以运行 `quiz.check("06", {"06-1": 0.43, ...}, lang="zh")`；
# 在终端里则运行 `python -m minialign quiz 06 --lang zh`。

# %% [code] en
from minialign import quiz

quiz.ask("06", lang="en")

# %% [code] zh
from minialign import quiz

quiz.ask("06", lang="zh")
