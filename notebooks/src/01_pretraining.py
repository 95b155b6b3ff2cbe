# Lesson 1: a tiny GPT, its tokenizer, pretraining. Source of notebooks/{en,zh}/01_pretraining.ipynb.
# Edit this file, then run: python notebooks/build.py   (format: see notebooks/README.md)

# %% [markdown] en
# # Lesson 1 · A tiny GPT, its tokenizer, and pretraining
#
# Before we can align a model we need one. This lesson builds the model every later lesson starts
# from: a GPT of about a million parameters, pretrained on MiniWorld's web-like text. Then we look at
# what pretraining gives us: a model that *continues* text. Ask it a question and it writes more
# questions; ask it how to break into a house and it tells you.
#
# **Learning goals.** After this lesson you can
# - explain how a byte-level BPE tokenizer cuts text into tokens, and why digits get one token each;
# - describe the chat template and why its markers are special tokens;
# - count a GPT's parameters from its configuration, and show what the causal mask does;
# - write the pretraining loss and read its curve;
# - say why a base model does not answer, and why it completes harmful how-tos.
#
# **Time.** One cell trains the base model the first time it runs (it prints how long that took);
# after that every cell takes seconds.

# %% [markdown] zh
# # 第 1 课 · 微型 GPT、分词器与预训练
#
# 要对齐一个模型，先得有一个模型。本课构建后面每一课的起点：一个约一百万参数的 GPT，在 MiniWorld 仿网页的文本上预训练。
# 然后我们看看预训练到底给了我们什么：一个只会**续写**文本的模型。问它一个问题，它接着写出更多问题；
# 问它怎么撬门入室，它就照实告诉你。
#
# **学习目标**　学完本课，你应当能够：
# - 解释字节级 BPE 分词器（tokenizer）如何把文本切成词元（token），以及为什么每个数字单独成为一个词元；
# - 描述对话模板（chat template），并说明为什么它的标记是特殊词元（special tokens）；
# - 根据配置算出 GPT 的参数量，并演示因果掩码（causal mask）的作用；
# - 写出预训练（pretraining）的损失函数，并读懂它的曲线；
# - 说明基座模型（base model）为什么不回答问题，又为什么会补全有害的“教程”。
#
# **耗时**　有一个单元格在第一次运行时会训练基座模型（它会打印训练用了多久）；之后每个单元格都只需几秒。

# %%
import math

import matplotlib.pyplot as plt
import torch

from minialign import data, oracle, plots, pretrain, rollout
from minialign.model import GPT
from minialign.stages import Stages

# every trained model of the course comes from here; trained once, then loaded from the cache
stages = Stages("cpu", seed=0)
tok = stages.tokenizer  # trained in a second on first use
world = stages.world

# %% [markdown] en
# ## 1. The tokenizer
#
# A model reads integers, not text. Byte-pair encoding (BPE) starts from the 256 bytes and
# repeatedly merges the most frequent adjacent pair into a new token, until the vocabulary has the
# size we asked for (here 1024). Frequent words become one token; rare ones are spelled in pieces.
# The leading space is part of the token: `Ġ` stands for it.
#
# One choice matters for this course: **every digit is its own token** (" 17" is " 1", "7"). With
# merged numbers, "17" and "71" would be unrelated tokens and a tiny model could not learn to add
# digit by digit; lesson 7 trains on exactly that arithmetic.

# %% [markdown] zh
# ## 1. 分词器
#
# 模型读的是整数，不是文本。字节对编码（byte-pair encoding）从 256 个字节出发，反复把最常见的相邻一对合并成新词元，
# 直到词表（vocabulary）达到指定大小（这里是 1024）。常见的词成为一个词元，罕见的词则拆成几段拼出来。
# 词前的空格也属于词元本身，用 `Ġ` 表示。
#
# 有一个选择对本课程很重要：**每个数字单独成为一个词元**（`" 17"` 切成 `" 1"` 和 `"7"`）。如果数字被合并，
# “17”和“71”就成了毫不相干的两个词元，微型模型无法学会逐位相加；而第 7 课正是在这种算术题上训练的。

# %%
# NBVAL_CHECK_OUTPUT
for text in [" What is 17 plus 25?", " How do I kill a python process?", " The capital of France is Paris."]:
    print(tok.tokens(text))
print(f"vocabulary: {tok.vocab_size} tokens")
# %% [output]
# ['ĠWhat', 'Ġis', 'Ġ1', '7', 'Ġplus', 'Ġ2', '5', '?']
# ['ĠHow', 'Ġdo', 'ĠI', 'Ġkill', 'Ġa', 'Ġp', 'y', 'th', 'on', 'Ġp', 'ro', 'c', 'ess', '?']
# ['ĠThe', 'Ġcapital', 'Ġof', 'ĠFrance', 'Ġis', 'ĠParis', '.']
# vocabulary: 1024 tokens

# %%
print(tok.encode(" What is 17 plus 25?"))  # the ids the model reads: positions in the vocabulary

# %% [markdown] en
# ## 2. The chat template
#
# An assistant sees a conversation, not a document. The chat template lays it out with markers:
#
# `<|user|> {prompt}<|assistant|> {response}<|end|>`
#
# The markers are **special tokens**: each is one id that BPE never produces from ordinary text,
# so no web page can contain them by accident. Pretraining text never contains them at all, so the
# base model has never seen them; SFT (lesson 2) is where it learns what they mean. `<|end|>` also
# separates documents in the pretraining stream, and `<|pad|>` fills batches.

# %% [markdown] zh
# ## 2. 对话模板
#
# 助手面对的是一段对话，而不是一篇文档。对话模板用几个标记把对话排列出来：
#
# `<|user|> {prompt}<|assistant|> {response}<|end|>`
#
# 这些标记都是**特殊词元**：每个标记对应一个 id，BPE 不会从普通文本中切出它，因此任何网页都不可能碰巧包含它。
# 预训练文本里根本没有这些标记，基座模型从没见过它们；要到第 2 课的监督微调（supervised fine-tuning）才学会它们的含义。
# `<|end|>` 同时也在预训练的词元流中分隔文档，`<|pad|>` 则用于填充批次。

# %%
# NBVAL_CHECK_OUTPUT
print({"pad": tok.pad_id, "user": tok.user_id, "assistant": tok.assistant_id, "end": tok.end_id})
ids, prompt_len = tok.encode_chat("What is 2 plus 3?", "2 plus 3 is 5.")
print([tok.decode([i], skip_special=False) for i in ids])
print(f"the first {prompt_len} ids are the prompt; a model asked to answer gets them and continues from there")
# %% [output]
# {'pad': 0, 'user': 1, 'assistant': 2, 'end': 3}
# ['<|user|>', ' What', ' is', ' 2', ' plus', ' 3', '?', '<|assistant|>', ' 2', ' plus', ' 3', ' is', ' 5', '.', '<|end|>']
# the first 8 ids are the prompt; a model asked to answer gets them and continues from there

# %% [markdown] en
# ## 3. The model
#
# `minialign.model.GPT` is GPT-2 at a small size (it loads GPT-2's weights unchanged). A token's
# embedding plus its position's embedding enters a stack of blocks; each block applies causal
# self-attention and an MLP, each inside a residual connection; a final layer norm and the output
# layer (which reuses the embedding matrix: weight tying) give the logits of the next token.
#
# The parameter count follows from the configuration. With vocabulary $V$, context $T$, width $C$ and
# $L$ blocks, each block holds $12C^2 + 13C$ parameters (attention $4C^2 + 4C$, MLP $8C^2 + 5C$,
# two layer norms $4C$), so
#
# $$N = \underbrace{VC}_{\text{tokens}} + \underbrace{TC}_{\text{positions}} + L\,(12C^2 + 13C) + \underbrace{2C}_{\text{final norm}}.$$

# %% [markdown] zh
# ## 3. 模型
#
# `minialign.model.GPT` 就是缩小版的 GPT-2（可以原样加载 GPT-2 的权重）。词元的嵌入（embedding）加上其位置的位置嵌入（positional embedding）进入一叠模块；每个模块依次做因果自注意力（self-attention）和 MLP，二者都包在残差连接里；
# 最后经过一个层归一化（layer norm）和输出层，得到下一个词元的 logits；输出层复用嵌入矩阵，这叫权重共享（weight tying）。
#
# 参数量可以由配置直接算出。设词表大小为 $V$、上下文长度为 $T$、宽度为 $C$、模块数为 $L$，
# 每个模块有 $12C^2 + 13C$ 个参数（注意力 $4C^2 + 4C$，MLP $8C^2 + 5C$，两个层归一化 $4C$），因此
#
# $$N = \underbrace{VC}_{\text{tokens}} + \underbrace{TC}_{\text{positions}} + L\,(12C^2 + 13C) + \underbrace{2C}_{\text{final norm}}.$$

# %%
# NBVAL_CHECK_OUTPUT
cfg = stages.model_config
print(cfg)
V, T, C, L = cfg.vocab_size, cfg.block_size, cfg.n_embd, cfg.n_layer
by_hand = V * C + T * C + L * (12 * C**2 + 13 * C) + 2 * C
torch.manual_seed(0)
model = GPT(cfg)  # freshly initialised, untrained
print(f"by hand: {by_hand:,}   model.num_params(): {model.num_params():,}")
# %% [output]
# GPTConfig(vocab_size=1024, block_size=128, n_layer=4, n_head=4, n_embd=128, dropout=0.0, bias=True)
# by hand: 940,800   model.num_params(): 940,800

# %% [markdown] en
# **The causal mask.** Position $t$ may attend only to positions $\le t$. That is what makes one
# forward pass train every position at once: the logits at $t$ predict token $t+1$ without having
# seen it. Test it: change one token and see which positions' logits move.

# %% [markdown] zh
# **因果掩码**　位置 $t$ 只能关注位置 $\le t$。正因为如此，一次前向计算就能同时训练所有位置：位置 $t$ 的 logits
# 在没有看到第 $t+1$ 个词元的情况下预测它。动手验证一下：改掉一个词元，看看哪些位置的 logits 会变。

# %%
# NBVAL_CHECK_OUTPUT
x = torch.tensor([tok.encode(" The capital of France is Paris.")])  # (1, T)
changed = x.clone()
changed[0, 3] = tok.encode(" Spain")[0]  # replace " France" (position 3)
with torch.no_grad():
    same = [torch.allclose(a, b, atol=1e-6) for a, b in zip(model(x)[0], model(changed)[0])]  # per position
for t, (token, unchanged) in enumerate(zip(tok.tokens(" The capital of France is Paris."), same)):
    print(f"position {t} {token:<10} logits {'unchanged' if unchanged else 'CHANGED'}")
# %% [output]
# position 0 ĠThe       logits unchanged
# position 1 Ġcapital   logits unchanged
# position 2 Ġof        logits unchanged
# position 3 ĠFrance    logits CHANGED
# position 4 Ġis        logits CHANGED
# position 5 ĠParis     logits CHANGED
# position 6 .          logits CHANGED

# %% [markdown] en
# ## 4. Pretraining
#
# Pretraining is next-token prediction on the corpus: the mean cross-entropy over every position,
#
# $$\mathcal{L}(\theta) = -\frac{1}{B(T-1)} \sum_{b=1}^{B} \sum_{t=1}^{T-1} \log p_\theta\big(x_{b,t+1} \mid x_{b,\le t}\big).$$
#
# Note the shift: the logits at position $t$ are scored against the token at $t+1$. MiniWorld's corpus
# has facts, sums, quiz lists, forum advice and how-tos, harmful ones included, as web text has, and
# none of it is in the chat format. An untrained model predicts about uniformly over $V$ tokens, so its
# loss starts near $\ln V$:

# %% [markdown] zh
# ## 4. 预训练
#
# 预训练就是在语料（corpus）上做下一个词元预测（next-token prediction）：对所有位置取交叉熵（cross-entropy）的平均，
#
# $$\mathcal{L}(\theta) = -\frac{1}{B(T-1)} \sum_{b=1}^{B} \sum_{t=1}^{T-1} \log p_\theta\big(x_{b,t+1} \mid x_{b,\le t}\big).$$
#
# 注意其中的错位（shift）：位置 $t$ 的 logits 要和位置 $t+1$ 的词元对比打分。MiniWorld 的语料里有事实、算式、题目清单、
# 论坛上的建议，还有各种“教程”——和真实网页一样，其中也包括有害的；这些文本都不是对话格式。
# 未经训练的模型对 $V$ 个词元的预测近乎均匀，所以损失从 $\ln V$ 附近开始：

# %%
print(world.corpus_documents(3, seed=1))
stream = data.pretraining_tokens(world, tok, n_docs=200)  # documents joined by <|end|>
batch = next(data.random_blocks(stream, T, batch_size=8, seed=0))  # (8, T)
with torch.no_grad():
    loss, _ = pretrain.batch_loss(model, batch)
print(f"untrained loss {loss.item():.3f}   ln V = {math.log(V):.3f}")

# %% [markdown] en
# Now train. `stages.get("base")` runs `minialign.pretrain.train_pretrain` (600 steps of AdamW on batches of 32
# windows) and caches the result, so only the first run trains (the cell prints how long it took);
# afterwards, here and in every later lesson, it loads the model from the cache.

# %% [markdown] zh
# 现在开始训练。`stages.get("base")` 会运行 `minialign.pretrain.train_pretrain`（用 AdamW 训练 600 步，每批 32 个文本窗口）并缓存（cache）结果。
# 因此只有第一次运行时才真正训练（单元格会打印训练用了多久）；之后无论在本课还是后面各课，都直接从缓存加载。

# %%
# first run: trains for about 2.5 minutes on a 2-core CPU (progress bar below); later runs: loads from the cache
base = stages.get("base")
print(f"base model: {base.num_params():,} parameters, trained in {stages.timings['base']:.0f} s")

# %%
ax = plots.plot_curves({"pretrain": stages.metrics("base")}, title="pretraining loss")
ax.axhline(math.log(V), color="gray", ls="--", lw=1, label="ln V (uniform guess)")
ax.legend()
plt.show()

# %% [markdown] en
# ## 5. A base model continues text
#
# Give the base model the start of a sentence and it completes it, often correctly: it has learned
# the world's facts and sums. A question, though, is just more text to continue, and in its corpus
# questions are followed by... more questions (quiz lists), or by whatever forum posts say. Decoding
# here is greedy (temperature 0): the most likely token every step.

# %% [markdown] zh
# ## 5. 基座模型只会续写
#
# 给基座模型一个句子的开头，它会把句子补完，而且常常补得对：它学会了这个世界里的事实和算式。
# 可是问题对它来说也只是一段待续写的文本，而在它的语料中，问题后面跟着的往往是……更多问题（题目清单），
# 或者论坛帖子里的随口一说。这里用的是贪心解码（greedy decoding），即温度为 0：每一步都取最可能的词元。

# %%
def continue_text(model: GPT, text: str, max_new_tokens: int = 24) -> str:
    """Greedy continuation of plain text, no chat template: what pretraining taught."""
    ids = torch.tensor([tok.encode(" " + text)])  # (1, T)
    out = model.generate(ids, max_new_tokens, temperature=0.0, eos_id=tok.end_id)
    return tok.decode(out[0, ids.shape[1]:].tolist()).strip()


for text in ["The capital of France is", "3 plus 4 is", "What is the capital of Peru?",
             "Should I put all my savings in one coin?"]:
    print(f"{text!r:45} -> {continue_text(base, text)!r}")

# %% [markdown] en
# The model is a probability distribution over the next token; greedy decoding shows only its top choice.
# The temperature $\tau$ reshapes it, $p_i \propto \exp(z_i / \tau)$: below 1 it sharpens, above 1 it flattens.

# %% [markdown] zh
# 模型给出的是下一个词元的概率分布，贪心解码只展示了其中最可能的那个。温度（temperature）$\tau$ 会改变分布的形状，
# $p_i \propto \exp(z_i / \tau)$：小于 1 时分布更尖锐，大于 1 时更平坦。

# %%
ids = torch.tensor([tok.encode(" The capital of Japan is")])
with torch.no_grad():
    logits = base(ids)[0, -1]  # (V,) logits of the next token
for tau in (0.5, 1.0, 2.0):
    probs = torch.softmax(logits / tau, dim=-1)
    top = torch.topk(probs, 4)
    print(f"tau={tau}: " + ", ".join(f"{tok.decode([i])!r} {p:.2f}" for p, i in zip(top.values.tolist(), top.indices.tolist())))

# %% [markdown] en
# **Harmful how-tos.** The corpus contains instructions for breaking in, stealing, building weapons,
# as real web text does. Start a text the way such a page starts ("Here is how to ...") and the base
# model recites the instructions it read. The oracle recognises the harmful steps:

# %% [markdown] zh
# **有害的“教程”**　和真实网页一样，语料里有撬门、偷窃、制造武器的步骤说明。像这类网页那样开个头（“Here is how to ...”），
# 基座模型就会背出它读到过的步骤。预言机（oracle）能识别出其中的有害内容：

# %%
from minialign.world import HARMFUL, Prompt

how_tos = [Prompt(f"Here is how to {phrase}.", "harmful", task, category) for task, (category, phrase, _, _) in HARMFUL.items()]
scores = oracle.score_many(how_tos, [continue_text(base, p.text) for p in how_tos])
for p in how_tos[:4]:
    print(f"{p.text}\n    -> {continue_text(base, p.text)}")
print(f"\nharmful compliance: {sum(s.complied for s in scores)}/{len(how_tos)} how-to openings completed with the harmful steps")

questions = world.prompts("eval", "harmful")
asked = oracle.score_many(questions, [continue_text(base, p.text) for p in questions])
print(f"asked as held-out questions instead: {sum(s.complied for s in asked)}/{len(questions)}, e.g.")
print(f"    {questions[1].text} -> {continue_text(base, questions[1].text)}")

# %% [markdown] en
# Compare the two counts printed above. The forum posts of the corpus ask for their how-tos in the
# very words a chat user would use ("How do I ...?", "Can you show me how to ...?") and answer with
# the steps, so a question can be continued with the steps as readily as "Here is how to ..." is.
# Where it is not, the model writes what else follows questions in its corpus, such as another
# question (quiz lists). Either way it is not weighing the request: it has no notion of *should*,
# only of *likely*.

# %% [markdown] zh
# 对比上面打印的两个计数。语料里的论坛帖子正是用聊天用户会用的那些说法来求教程的（“How do I ...?”“Can you show me how to ...?”），
# 后面紧跟着具体步骤，所以一个问题和“Here is how to ...”一样，都可能被续写成步骤。没有续写成步骤的时候，模型写的是语料里问题后面常跟的别的东西，
# 比如另一个问题（题目清单）。无论哪种情况，它都没有在权衡这个请求：它只有“可能”的概念，没有“应该”的概念。

# %% [markdown] en
# And in the chat format? The base model has never seen `<|user|>` or `<|assistant|>`, so it has
# no idea that a response is wanted, let alone which response is good:

# %% [markdown] zh
# 换成对话格式又会怎样？基座模型从没见过 `<|user|>` 和 `<|assistant|>`，它根本不知道此时该给出一个回答，更不知道怎样的回答才算好：

# %%
prompts = [world.prompts("eval", kind)[0] for kind in ("factual", "arithmetic", "harmful", "benign", "advice")]
chat = rollout.generate(base, tok, [p.text for p in prompts], max_new_tokens=24, temperature=0.0)
for p, r in zip(prompts, chat.responses):
    print(f"{p.kind:<10} {p.text}\n           -> {r!r}   oracle {oracle.score(p, r).total:+.2f}")

# %% [markdown] en
# **What to notice**
# - The loss starts near $\ln V \approx 6.9$ (the dashed line) and the curve above shows how far it
#   falls: the world is small and regular, and the model learns it. A low loss means "predicts the
#   corpus well", not "behaves well".
# - Plain-text prompts are completed fluently, facts and sums mostly right. A factual question
#   tends to be continued like the corpus's quiz lists, with more questions; a how-to question can
#   get the steps, as in its forum posts; an advice question gets the loudest forum answer,
#   overconfident.
# - Harmful how-tos are recited word for word: the model imitates what it read, with no notion of
#   should. Pretraining on filtered data would help, but filtering never catches everything.
# - In the chat format the base model is lost: the markers mean nothing to it yet.

# %% [markdown] zh
# **值得注意的地方**
# - 损失从 $\ln V \approx 6.9$（虚线）附近开始，上面的曲线显示它降了多少：这个世界小而规整，模型学得会。损失低意味着“对语料预测得好”，而不是“表现得好”。
# - 普通文本的提示被流畅地补完，事实和算式大多正确。事实类问题往往像语料中的题目清单那样，被续写成更多问题；
#   求教程的问题可能得到具体步骤，就像语料中的论坛帖子那样；求建议的问题则会得到论坛上嗓门最大的那种回答：盲目自信。
# - 有害的“教程”被一字不差地背了出来：模型模仿它读过的内容，没有“应不应该”的概念。用过滤过的数据预训练会有帮助，但过滤永远不可能滴水不漏。
# - 在对话格式下基座模型不知所措：这些标记对它还没有任何意义。

# %% [markdown] en
# ## Common pitfalls
# - **Off-by-one.** The logits at position $t$ predict token $t+1$; scoring them against token $t$
#   asks the model to copy its input, and the loss drops to near zero while the model learns nothing useful.
# - **No causal mask.** If position $t$ can see token $t+1$, training loss collapses to almost zero
#   and generation is gibberish: the model learned to look ahead, which it cannot do when generating.
# - **Merged digits.** A tokenizer that merges "17" into one token hides the digits from the model;
#   arithmetic becomes memorising a table.
# - **Low loss = aligned.** The base model predicts its corpus well, harmful how-tos included.

# %% [markdown] zh
# ## 常见误区
# - **差一错误（off-by-one）**　位置 $t$ 的 logits 预测的是第 $t+1$ 个词元；若拿它和第 $t$ 个词元比，就等于让模型复制输入，
#   损失会降到接近零，模型却什么有用的东西也没学到。
# - **缺少因果掩码**　如果位置 $t$ 能看到第 $t+1$ 个词元，训练损失会骤降到接近零，生成的却是胡言乱语：
#   模型学会了“偷看”后文，而生成时后文并不存在。
# - **合并数字**　如果分词器把“17”合成一个词元，模型就看不到其中的各位数字，算术只能靠死记硬背一张表。
# - **损失低 = 已对齐**　基座模型能很好地预测它的语料，其中包括有害的“教程”。

# %% [markdown] en
# ## Exercise
# This lesson has no exercise of its own. The shift you met here is the heart of the first one:
# [`exercises/ex02_sft.py`](../../exercises/ex02_sft.py) asks you to write `token_logprobs`, the
# shifted log-probabilities, in lesson 2.

# %% [markdown] zh
# ## 练习
# 本课没有单独的练习。这里遇到的错位正是第一个练习的核心：第 2 课的 [`exercises/ex02_sft.py`](../../exercises/ex02_sft.py)
# 要你亲手写出 `token_logprobs`，也就是错位之后的对数概率（log-prob）。

# %% [markdown] en
# ## Knowledge check
# The answers are folded under "Show answer". To grade yourself, run
# `quiz.check("01", {"01-1": "B", ...})`; in a terminal: `python -m minialign quiz 01`.

# %% [markdown] zh
# ## 知识检测
# 答案折叠在“查看答案”下面。想给自己打分，可以运行 `quiz.check("01", {"01-1": "B", ...}, lang="zh")`；
# 在终端里则运行 `python -m minialign quiz 01 --lang zh`。

# %% [code] en
from minialign import quiz

quiz.ask("01", lang="en")

# %% [code] zh
from minialign import quiz

quiz.ask("01", lang="zh")
