"""The registered experiments of Part V: one function per experiment, with its settings per scale and its result."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..numerics import mean_se
from ..registry import experiment
from ..runtime import ScaleSettings
from .figures import plot_optimizer_comparison, plot_snr_sweep, plot_sweep
from .signal_noise import OPTIMIZERS, PARADIGMS, PretrainConfig, Trajectories, pretrain_encoders
from .single_index import SingleIndexSweep, run_sweep


@dataclasses.dataclass(frozen=True)
class SNRSweepSettings(ScaleSettings):
    """For :func:`signal_noise_snr_sweep`: one run's ``config``, the SNRs of modality 1, and the number of seeds."""

    config: PretrainConfig
    snrs: tuple[float, ...]
    seeds: int


SWEEP_PROTOCOLS = SNRSweepSettings.SCALES = {  # the instances behind SNRSweepSettings.for_scale
    "quick": SNRSweepSettings(config=PretrainConfig(d=100, n=20, m=10, steps=200, evaluations=6, n_test=500),
                              snrs=(0.1, 0.3), seeds=2),
    "book": SNRSweepSettings(config=PretrainConfig(), snrs=(0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3), seeds=8),
    "full": SNRSweepSettings(config=PretrainConfig(d=1000, steps=2000, n_test=1000),
                             snrs=(0.04, 0.06, 0.08, 0.1, 0.12, 0.14, 0.16, 0.2, 0.25, 0.3, 0.4), seeds=16),
}


@dataclasses.dataclass
class SNRSweep:
    """Both paradigms trained on the same data, for every SNR of modality 1 and every seed."""

    config: PretrainConfig
    single: Trajectories
    multi: Trajectories


@experiment(plot=plot_snr_sweep)
def signal_noise_snr_sweep(scale: str | None = None, seed: int = 0, device=None) -> SNRSweep:
    """Single- vs multi-modal contrastive pre-training across the SNR of modality 1, over seeds."""
    protocol = SNRSweepSettings.for_scale(scale)
    seeds = range(seed, seed + protocol.seeds)
    runs = {p: pretrain_encoders(protocol.snrs, seeds, p, protocol.config, device) for p in PARADIGMS}
    return SNRSweep(config=protocol.config, **runs)


def sweep_summary(result: SNRSweep) -> dict:
    """Per SNR: final accuracy of both paradigms (mean, s.e. over seeds), the paired gain of the multi-modal
    run, on how many seeds it wins, and each paradigm's best seed-averaged accuracy during training."""
    single, multi = result.single.accuracy, result.multi.accuracy
    gain = multi[..., -1] - single[..., -1]
    summary = {"snr": result.single.snrs.tolist(), "seeds": int(single.shape[1])}
    for name, values in (("single", single[..., -1]), ("multi", multi[..., -1]), ("gain", gain)):
        mean, se = mean_se(values)
        summary[name], summary[f"{name}_se"] = mean.tolist(), se.tolist()
    summary["wins"] = (gain > 0).sum(1).tolist()
    summary["single_peak"] = single.mean(1).max(-1).tolist()
    summary["multi_peak"] = multi.mean(1).max(-1).tolist()
    return summary


def format_sweep_summary(summary: dict) -> str:
    """The summary as a text table (one row per SNR)."""
    lines = [f"{'SNR':>5} {'single':>13} {'multi':>13} {'gain':>14} {'wins':>6} {'peak s/m':>11}"]
    for k, snr in enumerate(summary["snr"]):
        lines.append(f"{snr:5.2f} {summary['single'][k]:7.3f} ± {summary['single_se'][k]:.3f}"
                     f" {summary['multi'][k]:7.3f} ± {summary['multi_se'][k]:.3f}"
                     f" {summary['gain'][k]:+8.3f} ± {summary['gain_se'][k]:.3f}"
                     f" {summary['wins'][k]:3d}/{summary['seeds']:<2d}"
                     f" {summary['single_peak'][k]:5.2f}/{summary['multi_peak'][k]:.2f}")
    return "\n".join(lines)


def store_sweep_summary(record_path, out_path, note: str = "") -> dict:
    """Read a ``signal_noise_snr_sweep`` record written by ``python -m mmtheory run``, write its summary.

    The summary (:func:`sweep_summary`, the configuration, and a line on how and where the run was made) is a
    few kilobytes, small enough to keep next to the chapter that shows it.
    """
    import json
    import types

    from ..io import write_json

    record = json.loads(Path(record_path).read_text(encoding="utf-8"))
    if record.get("experiment") != "signal_noise_snr_sweep":
        raise ValueError(f"record_path must hold a signal_noise_snr_sweep record, got {record.get('experiment')!r}")
    result = record["result"]

    def arrays(d):
        return types.SimpleNamespace(**{k: np.array(v) if isinstance(v, list) else v for k, v in d.items()})

    summary = sweep_summary(types.SimpleNamespace(single=arrays(result["single"]), multi=arrays(result["multi"])))
    c = result["config"]
    how = (f"{record['scale']} scale: d = {c['d']}, n = {c['n']}, m = {c['m']}, {c['steps']} steps, "
           f"{summary['seeds']} seeds, partner SNR {c['snr_partner']:g};\n{record['seconds'] / 60:.1f} min on "
           f"{record['device']}{note}, mmtheory {record['mmtheory_version']}")
    stored = {"experiment": record["experiment"], "how": how, "config": c, "summary": summary}
    write_json(out_path, stored)
    return stored


@dataclasses.dataclass(frozen=True)
class OptimizerSettings(ScaleSettings):
    """For :func:`signal_noise_optimizer`: one run's ``config`` (its optimizer is replaced), SNRs, number of seeds."""

    config: PretrainConfig
    snrs: tuple[float, ...]
    seeds: int


OPTIMIZER_PROTOCOLS = OptimizerSettings.SCALES = {  # the instances behind OptimizerSettings.for_scale
    "quick": OptimizerSettings(config=PretrainConfig(d=100, n=20, m=10, steps=200, evaluations=1, n_test=500),
                               snrs=(0.2, 0.5), seeds=2),
    "book": OptimizerSettings(config=PretrainConfig(evaluations=1), snrs=(0.1, 0.2, 0.3, 0.5), seeds=4),
    "full": OptimizerSettings(config=PretrainConfig(d=1000, steps=3000, evaluations=1, n_test=1000),
                              snrs=(0.1, 0.15, 0.2, 0.3, 0.4, 0.5), seeds=16),
}


@dataclasses.dataclass
class OptimizerComparison:
    """Final accuracy and coefficients, arrays ``(paradigm, optimizer, S, seeds)`` in the orders below."""

    config: PretrainConfig
    paradigms: tuple
    optimizers: tuple
    snrs: np.ndarray
    accuracy: np.ndarray
    signal: np.ndarray
    noise: np.ndarray


@experiment(plot=plot_optimizer_comparison)
def signal_noise_optimizer(scale: str | None = None, seed: int = 0, device=None) -> OptimizerComparison:
    """Gradient descent against sign-gradient descent, both paradigms, at a few SNRs."""
    protocol = OptimizerSettings.for_scale(scale)
    seeds = range(seed, seed + protocol.seeds)
    finals = {key: np.empty((len(PARADIGMS), len(OPTIMIZERS), len(protocol.snrs), protocol.seeds))
              for key in ("accuracy", "signal", "noise")}
    for i, paradigm in enumerate(PARADIGMS):
        for j, optimizer in enumerate(OPTIMIZERS):
            config = dataclasses.replace(protocol.config, optimizer=optimizer)
            run = pretrain_encoders(protocol.snrs, seeds, paradigm, config, device, desc=f"{paradigm}, {optimizer}")
            for key in finals:
                finals[key][i, j] = getattr(run, key)[..., -1]
    return OptimizerComparison(config=protocol.config, paradigms=PARADIGMS, optimizers=OPTIMIZERS,
                               snrs=np.array(protocol.snrs, dtype=float), **finals)


@dataclasses.dataclass(frozen=True)
class SingleIndexSettings(ScaleSettings):
    """For both single-index sweeps: the :func:`run_sweep` budget (``Ns`` to ``seeds``), the ambient ``dimensions``
    of :func:`single_index_dimension` (at r = 2), and the fixed ``rank_d`` and the ``ranks`` of
    :func:`single_index_rank`."""

    Ns: tuple[int, ...]
    m: int
    n_prompts: int
    N_pre: int
    n_test: int
    n_baseline: int
    seeds: int
    dimensions: tuple[int, ...]
    rank_d: int
    ranks: tuple[int, ...]

    def budget(self) -> dict:
        """The keyword arguments of :func:`run_sweep` that both sweeps share."""
        return {"Ns": self.Ns, "m": self.m, "n_prompts": self.n_prompts, "N_pre": self.N_pre, "n_test": self.n_test,
                "n_baseline": self.n_baseline, "seeds": self.seeds}


SingleIndexSettings.SCALES = {
    "quick": SingleIndexSettings(Ns=(4, 16, 64), m=24, n_prompts=1500, N_pre=64, n_test=400, n_baseline=400, seeds=1,
                                 dimensions=(8, 16), rank_d=8, ranks=(1, 2)),
    "book": SingleIndexSettings(Ns=(4, 8, 16, 32, 64, 128, 256, 512), m=40, n_prompts=3000, N_pre=64, n_test=2000,
                                n_baseline=500, seeds=3, dimensions=(16, 32, 64, 128), rank_d=32, ranks=(1, 2, 3, 4)),
    "full": SingleIndexSettings(Ns=(4, 8, 16, 32, 64, 128, 256, 512, 1024), m=48, n_prompts=12_000, N_pre=64,
                                n_test=4000, n_baseline=2000, seeds=5, dimensions=(16, 32, 64, 128, 256), rank_d=64,
                                ranks=(1, 2, 3, 4, 6)),
}
SingleIndexSettings.GPU = dataclasses.replace(SingleIndexSettings.SCALES["full"], n_baseline=500)  # the GPU suite's:
# the full sweeps, with the prompt-only baselines (a batched eigh per prompt) on 500 test prompts, as at book scale


@experiment(plot=plot_sweep)
def single_index_dimension(scale: str | None = None, seed: int = 0, device=None) -> SingleIndexSweep:
    """Single-index ICL: in-context error against N for several ambient d at r = 2, with prompt-only baselines."""
    settings = SingleIndexSettings.for_scale(scale)
    return run_sweep([(d, 2) for d in settings.dimensions], **settings.budget(), seed=seed, device=device)


@experiment(plot=plot_sweep)
def single_index_rank(scale: str | None = None, seed: int = 0, device=None) -> SingleIndexSweep:
    """Single-index ICL: in-context error against N for subspace dimensions r at fixed d."""
    settings = SingleIndexSettings.for_scale(scale)
    return run_sweep([(settings.rank_d, r) for r in settings.ranks], **settings.budget(), seed=seed, varied="r",
                     device=device)


# --- chapter settings: the scale-dependent numbers a chapter's own cells use ------------------------------


@dataclasses.dataclass(frozen=True)
class PretrainingInContextChapter(ScaleSettings):
    """Read by ``book/neighbours/pretraining_in_context.md``: ``d_check`` and ``n_check`` (dimension and prompts of
    the moment check), ``n_moment`` (prompts of the one-step picture), ``m_ex`` (the width m in the N_pre exercise)."""

    d_check: int
    n_check: int
    n_moment: int
    m_ex: int


PretrainingInContextChapter.SCALES = {
    "quick": PretrainingInContextChapter(d_check=16, n_check=500, n_moment=500, m_ex=16),
    "book": PretrainingInContextChapter(d_check=64, n_check=3000, n_moment=2000, m_ex=40),
    "full": PretrainingInContextChapter(d_check=128, n_check=10_000, n_moment=5000, m_ex=48),
}
