"""The registered experiments of Part I (and the Prologue): one function per experiment, with its settings per scale and its result."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..jghm.model import TinyTree
from ..numerics import fit_prompt_expansion
from ..registry import experiment
from ..runtime import ScaleSettings
from .contrastive import align_to_pmi, excess_risk_large_batch, fit_score_table, monte_carlo_losses
from .downstream import bayes_label_posterior, cross_entropy_risk, draw_prompts, label_channel, zero_shot_posterior
from .encoders import factoring_score, prefix_encoder, sufficiency_information
from .figures import plot_pmi_recovery, plot_suff_vs_excess, plot_zero_shot
from .joint import gaussian_joint, mutual_information, pmi


@dataclasses.dataclass(frozen=True)
class PMIRecoveryConfig(ScaleSettings):
    """Grid of correlations, table size and training budget for :func:`pmi_recovery`."""

    n: int = 8
    rhos: tuple[float, ...] = (0.0, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9)
    steps: int = 1500
    batch: int = 256
    lr: float = 0.1
    record_every: int = 25


PMIRecoveryConfig.SCALES = {
    "quick": PMIRecoveryConfig(rhos=(0.0, 0.5, 0.9), steps=300, batch=128),
    "book": PMIRecoveryConfig(),
    "full": PMIRecoveryConfig(n=12, rhos=tuple(np.round(np.linspace(0.0, 0.95, 20), 2)), steps=20000, batch=1024,
                              lr=0.05),
}


@dataclasses.dataclass
class PMIRecoveryResult:
    """Per correlation ``rhos[r]``: the joint law, its PMI, the trained score (shifted to PMI), the path."""

    config: PMIRecoveryConfig
    rhos: np.ndarray
    joints: np.ndarray  # (R, n, n)
    pmis: np.ndarray  # (R, n, n)
    scores: np.ndarray  # (R, n, n), shifted by the best constant
    steps: np.ndarray  # (T,)
    distance: np.ndarray  # (R, T)
    excess_risk: np.ndarray  # (R, T)
    mutual_information: np.ndarray  # (R,)
    mi_lower_bound: np.ndarray  # (R,)


@experiment(plot=plot_pmi_recovery)
def pmi_recovery(scale: str | None = None, seed: int = 0, device=None) -> PMIRecoveryResult:
    """Train a score table on the CLIP loss for Gaussian joints of growing correlation; track the distance to PMI."""
    cfg = PMIRecoveryConfig.for_scale(scale)
    joints = np.stack([gaussian_joint(cfg.n, rho) for rho in cfg.rhos])
    fits = [
        fit_score_table(P, steps=cfg.steps, batch=cfg.batch, lr=cfg.lr, record_every=cfg.record_every,
                        seed=seed + r, device=device)
        for r, P in enumerate(joints)
    ]
    return PMIRecoveryResult(
        config=cfg,
        rhos=np.array(cfg.rhos),
        joints=joints,
        pmis=np.stack([pmi(P) for P in joints]),
        scores=np.stack([align_to_pmi(f.score, P) for f, P in zip(fits, joints)]),
        steps=fits[0].steps,
        distance=np.stack([f.distance for f in fits]),
        excess_risk=np.stack([f.excess_risk for f in fits]),
        mutual_information=np.array([mutual_information(P) for P in joints]),
        mi_lower_bound=np.array([f.mi_lower_bound for f in fits]),
    )


@dataclasses.dataclass(frozen=True)
class SuffVsExcessConfig(ScaleSettings):
    """A tiny JGHM (exactly enumerable) and the Monte Carlo budget for the finite-K excess risks."""

    tree: TinyTree = TinyTree()
    Ks: tuple[int, ...] = (2, 4, 16, 64)
    n_anchors: int = 200_000


SuffVsExcessConfig.SCALES = {
    "quick": SuffVsExcessConfig(n_anchors=20_000),
    "book": SuffVsExcessConfig(),
    "full": SuffVsExcessConfig(n_anchors=4_000_000),
}


@dataclasses.dataclass
class SuffVsExcessResult:
    """For encoders :math:`E_k` keeping the first ``k`` image leaves: sufficiency and excess risks.

    Excess risks are per direction (the summed risk's excess halved), so that at :math:`K = \\infty`
    the excess of the best score factoring through :math:`E_k` equals :math:`\\operatorname{Suff}(E_k)`.
    """

    config: SuffVsExcessConfig
    mutual_information: float
    k: np.ndarray  # (n_enc,)
    suff: np.ndarray  # (n_enc,)
    excess_inf: np.ndarray  # (n_enc,)
    Ks: np.ndarray  # (n_K,)
    excess_K: np.ndarray  # (n_enc, n_K)
    excess_K_se: np.ndarray  # (n_enc, n_K)


@experiment(plot=plot_suff_vs_excess)
def suff_vs_excess(scale: str | None = None, seed: int = 0, device=None) -> SuffVsExcessResult:
    """Sufficiency of prefix encoders of a tiny JGHM against the excess CLIP risk of their best scores, K = 2..inf."""
    cfg = SuffVsExcessConfig.for_scale(scale)
    P, tree = cfg.tree.joint(), cfg.tree
    ks = np.arange(tree.n_leaves)  # k = n_leaves keeps everything: Suff = 0
    encoders = [prefix_encoder(tree.n_symbols, tree.n_leaves, int(k)) for k in ks]
    best = pmi(P)
    scores = [factoring_score(P, enc) for enc in encoders]
    excess = np.empty((len(ks), len(cfg.Ks)))
    se = np.empty_like(excess)
    for j, K in enumerate(cfg.Ks):
        values = monte_carlo_losses([*scores, best], P, int(K), cfg.n_anchors, "iid", seed + j)
        gaps = (values[:-1] - values[-1]) / 2  # per direction
        excess[:, j] = gaps.mean(axis=1)
        se[:, j] = gaps.std(axis=1, ddof=1) / np.sqrt(cfg.n_anchors)
    return SuffVsExcessResult(
        config=cfg,
        mutual_information=mutual_information(P),
        k=ks,
        suff=np.array([sufficiency_information(P, enc) for enc in encoders]),
        excess_inf=np.array([excess_risk_large_batch(s, P) / 2 for s in scores]),
        Ks=np.array(cfg.Ks),
        excess_K=excess,
        excess_K_se=se,
    )


@dataclasses.dataclass(frozen=True)
class ZeroShotConfig(ScaleSettings):
    """The tiny JGHM, the numbers of prompts per class, and the prompt sets drawn per number."""

    tree: TinyTree = TinyTree()
    Ms: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    n_draws: int = 200  # prompt sets per M


ZeroShotConfig.SCALES = {
    "quick": ZeroShotConfig(Ms=(1, 4, 16), n_draws=20),
    "book": ZeroShotConfig(),
    "full": ZeroShotConfig(n_draws=5000),
}


@dataclasses.dataclass
class ZeroShotResult:
    """Zero-shot risk of the scores of prefix encoders ``k`` (last row: the PMI) against the number of prompts."""

    config: ZeroShotConfig
    k: np.ndarray  # (n_enc,): leaves kept; k = n_leaves is the PMI itself
    suff: np.ndarray  # (n_enc,)
    Ms: np.ndarray  # (n_M,)
    risk: np.ndarray  # (n_enc, n_M), mean over prompt draws
    risk_se: np.ndarray  # (n_enc, n_M)
    risk_infinite_M: np.ndarray  # (n_enc,)
    bayes_risk: float  # H(C | X)
    fit_b: np.ndarray  # (n_enc,) risk ~ risk_infinite_M + fit_b / M + fit_c / M^2 (weighted least squares)
    fit_c: np.ndarray  # (n_enc,)
    fit_worst: np.ndarray  # (n_enc,) the largest residual of that fit, in standard errors
    pushforward_kl: np.ndarray  # (n_enc,) E_x KL(p(c|x) || p_hat_inf(c|x)), <= suff
    examples: np.ndarray  # (n_examples,) image values shown in the widget
    example_bayes: np.ndarray  # (n_examples, n_classes)
    example_posteriors: np.ndarray  # (n_enc, n_M, n_examples, n_classes): from the first prompt draw


@experiment(plot=plot_zero_shot)
def zero_shot(scale: str | None = None, seed: int = 0, device=None) -> ZeroShotResult:
    """Zero-shot classification of the first text leaf of a tiny JGHM: risk against the number of prompts M."""
    cfg = ZeroShotConfig.for_scale(scale)
    P, tree = cfg.tree.joint(), cfg.tree
    ks = np.arange(tree.n_leaves + 1)
    encoders = [prefix_encoder(tree.n_symbols, tree.n_leaves, int(k)) for k in ks]
    channel = label_channel(prefix_encoder(tree.n_symbols, tree.n_leaves, 1))  # the first text leaf
    rng = np.random.default_rng(seed)
    risk = np.empty((len(ks), len(cfg.Ms)))
    se = np.empty_like(risk)
    scores = [factoring_score(P, enc) for enc in encoders]
    examples = np.argsort(P.sum(axis=1))[::-1][:3]  # the three most frequent images
    shown = np.empty((len(ks), len(cfg.Ms), len(examples), channel.shape[1]))
    for j, M in enumerate(cfg.Ms):
        draws = np.empty((cfg.n_draws, len(ks)))
        for d in range(cfg.n_draws):
            prompts = draw_prompts(P, channel, M, rng)
            for i, s in enumerate(scores):
                posterior = zero_shot_posterior(s, P, channel, prompts)
                draws[d, i] = cross_entropy_risk(posterior, P, channel)
                if d == 0:
                    shown[i, j] = posterior[examples]
        risk[:, j], se[:, j] = draws.mean(axis=0), draws.std(axis=0, ddof=1) / np.sqrt(cfg.n_draws)
    bayes = bayes_label_posterior(P, channel)
    limits = [zero_shot_posterior(s, P, channel) for s in scores]
    risk_inf = np.array([cross_entropy_risk(q, P, channel) for q in limits])
    fits = np.array([fit_prompt_expansion(cfg.Ms, *rows, limit) for *rows, limit in zip(risk, se, risk_inf)])
    joint_xc = P @ channel
    return ZeroShotResult(
        config=cfg,
        k=ks,
        suff=np.array([sufficiency_information(P, enc) for enc in encoders]),
        Ms=np.array(cfg.Ms),
        risk=risk,
        risk_se=se,
        risk_infinite_M=risk_inf,
        bayes_risk=cross_entropy_risk(bayes, P, channel),
        fit_b=fits[:, 0],
        fit_c=fits[:, 1],
        fit_worst=fits[:, 2],
        pushforward_kl=np.array([float(np.sum(joint_xc * np.log(bayes / q))) for q in limits]),
        examples=examples,
        example_bayes=bayes[examples],
        example_posteriors=shown,
    )


# --- chapter settings: the scale-dependent numbers a chapter's own cells use ------------------------------


@dataclasses.dataclass(frozen=True)
class CLIPRiskChapter(ScaleSettings):
    """Read by ``book/sufficiency/clip_risk.md``: ``steps``, the training steps of each convention's score table."""

    steps: int


CLIPRiskChapter.SCALES = {
    "quick": CLIPRiskChapter(steps=200),
    "book": CLIPRiskChapter(steps=1000),
    "full": CLIPRiskChapter(steps=5000),
}


@dataclasses.dataclass(frozen=True)
class SufficientStatisticsChapter(ScaleSettings):
    """Read by ``book/sufficiency/sufficient_statistics.md``: ``steps``, the training steps of each encoder's score."""

    steps: int


SufficientStatisticsChapter.SCALES = {
    "quick": SufficientStatisticsChapter(steps=200),
    "book": SufficientStatisticsChapter(steps=1500),
    "full": SufficientStatisticsChapter(steps=6000),
}
