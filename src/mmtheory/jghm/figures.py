"""Figures and kernel-free widget states of Part II: drawing only; the numbers come from the math and experiment modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from ..checks import Integer, Probability, Real, constrain
from . import bp
from .model import JGHM
from .risks import TASKS
from .transformers import bp_as_attention

if TYPE_CHECKING:
    from .experiments import BayesCurves, ClipResult, DownstreamResult, ProbeResult, PromptCurve

TASK_LABELS = {"clip": "CLIP (K = 4)", "zsc": "zero-shot", "cdm": "denoising (sum over leaves)",
               "vlm": "next token (per token)"}


@constrain(p=Probability(closed_high=False), seed=Integer(0))
def draw_jghm_state(fig, p: float, seed: int = 0) -> None:
    """Part II widget: one seeded draw of :meth:`JGHM.paper` at flip probability ``p``, and its root posteriors.

    Left, an icicle of both trees around the shared root (the image tree above it, the text tree below):
    each depth is a row of cells coloured by symbol, every child directly under or over its parent, and
    a dot marks each node that differs from the permuted parent :math:`\\Pi_d(x_{\\rm parent})`. Right,
    :math:`\\pi(\\cdot \\mid x_{\\rm im})` and :math:`\\pi(\\cdot \\mid x_{\\rm tx})` with the true root shaded.
    The draw is :func:`~mmtheory.jghm.reference.coupled_draw` from ``seed``: the uniforms are the same
    for every ``p``, so the widget shows one draw corrupted more and more.
    """
    import matplotlib

    from . import bp
    from .reference import coupled_draw

    model, clean = JGHM.paper(p=p), JGHM.paper(p=0.0)
    S = model.n_symbols
    draw = coupled_draw(model, seed)
    colors = matplotlib.colormaps["tab10"].colors[:S]
    cmap = matplotlib.colors.ListedColormap(colors)
    ax_tree, ax_post = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.6, 1]})

    depth = len(model.image)
    width = model.n_leaves("image")
    rows, flipped = [], {}
    for modality, nodes in (("image", draw.image_nodes), ("text", draw.text_nodes)):
        flipped[modality] = 0
        for d, level in enumerate(nodes):
            level = level[0].numpy()
            span = width // level.size  # leaves under one node of this depth
            y = depth + d if modality == "image" else depth - d
            if modality == "image" or d > 0:
                rows.append((y, np.repeat(level, span)))
                ax_tree.vlines(np.arange(0, width + 1, span), y - 0.5, y + 0.5, color="white", lw=0.4)
            if d > 0:  # child slot c of node j is node m j + c
                m = level.size // nodes[d - 1].shape[1]
                permutation = clean.tree(modality)[d - 1][0].argmax(1)
                parents = np.repeat(nodes[d - 1][0].numpy(), m)
                moved = np.flatnonzero(level != permutation[parents])
                flipped[modality] += moved.size
                ax_tree.plot((moved + 0.5) * span, np.full(moved.size, y), "o", color="k",
                             ms=1.6 if span == 1 else 2.5)
    grid = np.zeros((2 * depth + 1, width), dtype=int)
    for y, row in rows:
        grid[y] = row
    ax_tree.imshow(grid, cmap=cmap, vmin=-0.5, vmax=S - 0.5, origin="lower", aspect="auto",
                   extent=(0, width, -0.5, 2 * depth + 0.5), interpolation="nearest")
    ax_tree.grid(False)
    labels = [f"text, depth {depth - y}" for y in range(depth)] + ["root"]
    labels += [f"image, depth {y - depth}" for y in range(depth + 1, 2 * depth + 1)]
    ax_tree.set_yticks(range(2 * depth + 1), labels, fontsize=7.5)
    ax_tree.set_xticks([])
    n_nodes = sum(level.shape[1] for level in draw.image_nodes[1:])
    ax_tree.set_title(f"p = {p:g}: nodes off the permuted parent (dots): image {flipped['image']}, "
                      f"text {flipped['text']} of {n_nodes}", fontsize=9.5)

    root = int(draw.root[0])
    posts = {modality: bp.root_posterior(model, modality, getattr(draw, modality))[0].numpy()
             for modality in ("image", "text")}
    symbols = np.arange(S)
    ax_post.axvspan(root - 0.5, root + 0.5, color="0.85", zorder=0)
    for shift, (modality, post), color in zip((-0.2, 0.2), posts.items(), ("0.2", "0.6")):
        ax_post.bar(symbols + shift, post, width=0.4, color=color, label=f"from {modality} leaves")
    ax_post.set_xticks(symbols, [str(a) for a in symbols], fontsize=8)
    for label, color in zip(ax_post.get_xticklabels(), colors):
        label.set_bbox({"facecolor": color, "edgecolor": "none", "pad": 1.2})
    ax_post.set(ylim=(0, 1.05), xlim=(-0.6, S - 0.4), xlabel="root symbol $a$",
                title=f"root posterior; true root {root} (shaded)")
    ax_post.grid(axis="x", visible=False)
    ax_post.legend(fontsize="small", loc="upper left")


@constrain(p=Probability(closed_high=False), seed=Integer(0))
def draw_attention_bp_state(fig, block: int, p: float = 0.3, seed: int = 0) -> None:
    """The state of :func:`bp_as_attention` after ``block`` blocks on one image tree of the paper's model:
    per leaf position, the posterior of the ancestor it holds given the leaves below that ancestor, and the
    attention mask of the next block."""
    from .model import JGHM

    model = JGHM.paper(p=p)
    s = model.sample(1, seed=seed)
    L, S = len(model.image), model.n_symbols
    if block == 0:
        state = torch.nn.functional.one_hot(s.image, S).double()
    else:
        state = torch.softmax(bp_as_attention(model.image, s.image)[block - 1], -1)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
    left.imshow(state[0].T.numpy(), aspect="auto", cmap="Greys", vmin=0, vmax=1, origin="lower",
                interpolation="nearest")
    left.scatter(range(s.image.shape[1]), s.image[0].numpy(), s=4, color="tab:red", label="leaf symbol")
    depth = L - block
    truth = s.root[0] if depth == 0 else None
    title = f"after block {block}: each position holds depth {depth}"
    if truth is not None:
        title += f" (true root {int(truth)})"
    left.set(xlabel="leaf position", ylabel="symbol", title=title)
    left.legend(fontsize=7, loc="upper right")
    if block < L:
        group = 3 ** (block + 1)  # the paper tree branches in threes
        positions = torch.arange(s.image.shape[1])
        mask = (positions[:, None] // group) == (positions[None, :] // group)
        right.imshow(mask.numpy(), cmap="Blues", interpolation="nearest")
        right.set(title=f"block {block + 1} attends within groups of {group}", xticks=[], yticks=[])
    else:
        right.axis("off")
        right.text(0.5, 0.5, "the root's posterior\nsits at every position", ha="center", va="center")


def plot_bayes_curves(result: BayesCurves):
    from ..viz import new_figure

    fig, axes = new_figure(ncols=4, width=12.0, height=3.0)
    for ax, task in zip(axes, TASKS):
        for values, label, style in ((result.bayes[task], "Bayes (true matrices)", "-o"),
                                     (result.misspecified[task], f"BP with p = {result.train_p} matrices", "--s")):
            ax.errorbar(result.ps, values[:, 0], yerr=2 * values[:, 1], fmt=style, ms=3, capsize=2, label=label)
        ax.axvline(result.train_p, color="0.6", lw=0.8)
        ax.set(title=TASK_LABELS[task], xlabel="flip probability p")
    axes[0].set_ylabel("risk")
    axes[0].legend(fontsize=7)
    return fig


def plot_prompt_curve(result: PromptCurve):
    from ..viz import new_figure

    fig, ax = new_figure(width=5.0, height=3.2)
    ax.errorbar(result.Ms, result.risk[:, 0], yerr=2 * result.risk[:, 1], fmt="o", ms=4, capsize=2,
                label="exact score, M prompts")
    grid = np.geomspace(result.Ms[0], result.Ms[-1], 100)
    a, b = result.fit
    ax.plot(grid, a + b / grid, "-", lw=1, label=f"fit {a:.3f} + {b:.2f}/M")
    ax.axhline(result.bayes[0], color="k", ls="--", lw=1, label="Bayes")
    ax.set(xscale="log", xlabel="prompts per class M", ylabel="zero-shot cross-entropy", title=f"p = {result.p}")
    ax.legend(fontsize=8)
    return fig


@constrain(sigma=Real(0, closed="neither"), p=Probability(closed_high=False), seed=Integer(0))
def draw_denoising_state(fig, sigma: float, p: float = 0.2, seed: int = 0) -> None:
    """One image tree seen through Gaussian noise of level ``sigma``: the clean leaves, the noisy values,
    and the BP posterior means from the noise alone and with the paired text (the CDM target)."""
    model = JGHM.paper(p=p)
    gen = torch.Generator().manual_seed(seed)
    s = model.sample(1, gen)
    x = s.image.double()
    z = x + sigma * torch.randn(x.shape, generator=gen, dtype=torch.float64)
    alone = bp.denoising_mean(model, z, None, sigma)[0]
    with_text = bp.denoising_mean(model, z, s.text, sigma)[0]
    ax = fig.add_subplot(1, 1, 1)
    leaves = np.arange(x.shape[1])
    ax.plot(leaves, z[0], "x", color="0.6", ms=4, label="noisy z")
    ax.plot(leaves, x[0], "o", color="k", ms=4, mfc="none", label="clean leaves")
    for mean, label in ((alone, "E[x | z]"), (with_text, "E[x | z, text]")):
        error = float(((mean - x[0]) ** 2).sum())
        ax.step(leaves, mean, where="mid", lw=1.2, label=f"{label}: squared error {error:.1f}")
    ax.set(xlabel="image leaf (breadth-first)", ylabel="value", ylim=(-4, 13),
           title=f"σ = {sigma}, p = {p}: squared error of z itself {float(((z - x) ** 2).sum()):.1f}")
    ax.legend(fontsize=7, ncol=2, loc="upper right")


def plot_probes(result: ProbeResult):
    from ..viz import new_figure

    fig, axes = new_figure(ncols=len(result.r2), width=3.3 * len(result.r2), height=3.0)
    for ax, (arch, r2) in zip(axes, result.r2.items()):
        image = ax.imshow(r2.T, vmin=0, vmax=1, cmap="viridis", origin="lower", aspect="auto")
        for (b, i), value in np.ndenumerate(r2):
            ax.text(b, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                    color="k" if value > 0.6 else "w")
        ax.set(title=arch, xlabel="after block", ylabel="message of depth",
               xticks=range(r2.shape[0]), xticklabels=range(1, r2.shape[0] + 1),
               yticks=range(r2.shape[1]), yticklabels=[result.depth - 1 - i for i in range(r2.shape[1])])
    fig.colorbar(image, ax=axes, shrink=0.8, label="held-out R²")
    return fig


def plot_clip_reference(result):
    """The training losses of :func:`~mmtheory.jghm.reference_tier.jghm_clip_reference` (in-batch, so at
    :math:`K = B`) and, on the right, its CLIP and zero-shot risks at :math:`K = 4` beside Bayes."""
    from ..viz import new_figure

    fig, (left, right) = new_figure(ncols=2, width=10.0, height=3.2)
    window = max(len(result.history) // 50, 1)
    smooth = np.convolve(result.history, np.ones(window) / window, mode="valid")
    left.plot(np.arange(window, len(result.history) + 1), smooth)
    left.set(xlabel="step", ylabel=f"in-batch CLIP loss (K = {result.batch})",
             title=f"depth {result.depth}, d = {result.d}, p = {result.p}")
    for x, (name, trained, bayes) in enumerate((("CLIP", result.clip, result.bayes_clip),
                                                 (f"zero-shot, M = {result.M}", result.zsc, result.bayes_zsc))):
        right.errorbar([x - 0.1], [trained[0]], yerr=[2 * trained[1]], fmt="o", color="C0",
                       label="trained" if x == 0 else None)
        right.errorbar([x + 0.1], [bayes[0]], yerr=[2 * bayes[1]], fmt="s", color="k", label="Bayes" if x == 0 else None)
    right.set_xticks([0, 1], ["CLIP (K = 4)", f"zero-shot (M = {result.M})"])
    right.set(ylabel="risk (nats), ± 2 se", xlim=(-0.6, 1.6))
    right.legend(loc="lower right")
    return fig


def plot_clip(result: ClipResult):
    from ..viz import new_figure

    fig, axes = new_figure(ncols=3, width=13.0, height=3.2)
    i = len(result.ps) // 2
    for arch, curves in result.history.items():
        steps = np.arange(1, curves.shape[1] + 1)
        window = max(curves.shape[1] // 20, 1)
        smooth = np.convolve(curves[i], np.ones(window) / window, mode="valid")
        axes[0].plot(steps[window - 1:], smooth, label=arch)
    axes[0].axhline(result.bayes_clip[i, 0], color="k", ls="--", lw=1, label="Bayes")
    axes[0].set(xlabel="step", ylabel="training CLIP loss (moving mean)", title=f"p = {result.ps[i]}")
    axes[0].legend(fontsize=8)
    width = 0.8 / (len(result.clip) + 1)
    for k, (arch, values) in enumerate(list(result.clip.items()) + [("Bayes", result.bayes_clip)]):
        axes[1].bar(np.arange(len(result.ps)) + k * width, values[:, 0], width, yerr=2 * values[:, 1], label=arch)
    axes[1].set(xticks=np.arange(len(result.ps)) + 0.4 - width / 2, xticklabels=[f"p = {p}" for p in result.ps],
                ylabel="held-out CLIP risk")
    axes[1].legend(fontsize=8)
    a, b = result.fit
    axes[2].errorbar(result.Ms, result.zsc_by_M[:, 0], yerr=2 * result.zsc_by_M[:, 1], fmt="o", ms=4, capsize=2,
                     label="standard encoder")
    grid = np.geomspace(result.Ms[0], result.Ms[-1], 100)
    axes[2].plot(grid, a + b / grid, lw=1, label=f"fit {a:.3f} + {b:.2f}/M")
    axes[2].axhline(result.bayes_zsc[i, 0], color="k", ls="--", lw=1, label="Bayes")
    axes[2].set(xscale="log", xlabel="prompts per class M", ylabel="zero-shot cross-entropy")
    axes[2].legend(fontsize=8)
    return fig


def plot_downstream(result: DownstreamResult):
    from ..viz import new_figure

    fig, axes = new_figure(ncols=2, width=9.5, height=3.2)
    titles = {"cdm": "denoising (sum over leaves)", "vlm": "next token (per token)"}
    styles = {"frozen": "-o", "joint": "-s", "bayes": "--k", "misspecified": ":k"}
    labels = {"frozen": "frozen CLIP embedding", "joint": "joint training", "bayes": "Bayes",
              "misspecified": f"BP with p = {result.p} matrices"}
    for ax, (task, by) in zip(axes, result.risk.items()):
        for variant, values in by.items():
            ax.errorbar(result.ood_ps, values[:, 0], yerr=2 * values[:, 1], fmt=styles[variant], ms=4, capsize=2,
                        label=labels[variant])
        ax.axvline(result.p, color="0.7", lw=0.8)
        ax.set(title=titles[task], xlabel="test flip probability p'", ylabel="risk")
    axes[0].legend(fontsize=7)
    return fig


def draw_ood_state(fig, result: DownstreamResult, test_p: float) -> None:
    """At one test flip probability, how far each trained model is from Bayes and from BP run with the
    training matrices (its risk minus theirs, with two standard errors), for denoising and next-token."""
    i = int(np.argmin(np.abs(result.ood_ps - test_p)))
    axes = fig.subplots(1, 2)
    for ax, (task, by) in zip(axes, result.risk.items()):
        for k, (model, color) in enumerate((("frozen", "tab:blue"), ("joint", "tab:orange"))):
            for j, reference in enumerate(("bayes", "misspecified")):
                gap = by[model][i, 0] - by[reference][i, 0]
                se = float(np.hypot(by[model][i, 1], by[reference][i, 1]))
                ax.bar(2 * j + k * 0.8, gap, width=0.7, yerr=2 * se, color=color, capsize=3,
                       hatch="" if j == 0 else "//", label=model if j == 0 else None)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks([0.4, 2.4], ["minus Bayes", f"minus BP with\np = {result.p} matrices"], fontsize=7)
        ax.set(ylabel="risk difference", title=f"{'denoising' if task == 'cdm' else 'next token'}, "
               f"test p' = {result.ood_ps[i]} (trained at {result.p})")
        ax.legend(fontsize=7)
