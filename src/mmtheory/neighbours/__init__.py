"""Part V: neighbouring results. Signal-noise contrastive pre-training (one modality against two), pre-training for
in-context learning of single-index tasks, and metastable chains.

Chapters and tests import from here; the modules behind these names may move."""

# ruff: noqa: F401
from . import experiments, figures, gradient_step, metastable, signal_noise, single_index
from .signal_noise import (PARADIGMS, OPTIMIZERS, PretrainConfig, evaluation_steps, noise_scale, features,
    Trajectories, pretrain_encoders)
from .single_index import (MAX_WIDTH, CHUNK_ELEMENTS, link, SingleIndexTasks, Prompts, sample_prompts,
    moment_matrix, learned_subspace, subspace_cosine, design_rows, solve_gamma, fit_gamma, PretrainedICL,
    random_directions, fit_attention, pretrain_icl, top_eigenvector, prompt_only_prediction, PREDICTORS, SingleIndexSweep,
    evaluate, run_sweep, format_sweep)
from .gradient_step import (symmetric_init, network_output, pretraining_loss, loss_gradient, expected_correlation,
    subspace_fraction, off_plane_energy, large_step, OneStep, predicted_fraction, gradient_steps, one_gradient_step,
    population_step, learner_from_rows, BudgetSweep, run_budget_sweep, format_budget_sweep, GradientStepSettings)
from .metastable import (cluster_labels, metastable_parts, metastable_kernel, stationary_law, top_eigenvectors,
    indicators, cluster_alignment, davis_kahan_bound, spectral_gap, hitting_time, meta_chain)
from .experiments import (SNRSweepSettings, SWEEP_PROTOCOLS, SNRSweep, signal_noise_snr_sweep, sweep_summary,
    format_sweep_summary, store_sweep_summary, OptimizerSettings, OPTIMIZER_PROTOCOLS, OptimizerComparison,
    signal_noise_optimizer, SingleIndexSettings, single_index_dimension, single_index_rank,
    PretrainingInContextChapter)
from .figures import (plot_snr_sweep, draw_training_state, plot_optimizer_comparison, plot_sweep,
    draw_prompt_state, draw_metastable_state, plot_singular_thread)

__all__ = ['experiments', 'figures', 'gradient_step', 'metastable', 'signal_noise', 'single_index', 'PARADIGMS', 'OPTIMIZERS',
    'PretrainConfig', 'evaluation_steps', 'noise_scale', 'features', 'Trajectories', 'pretrain_encoders',
    'MAX_WIDTH', 'CHUNK_ELEMENTS', 'link', 'SingleIndexTasks', 'Prompts', 'sample_prompts', 'moment_matrix',
    'learned_subspace', 'subspace_cosine', 'design_rows', 'solve_gamma', 'fit_gamma', 'PretrainedICL',
    'random_directions', 'fit_attention', 'pretrain_icl', 'top_eigenvector', 'prompt_only_prediction', 'PREDICTORS',
    'SingleIndexSweep', 'evaluate', 'run_sweep', 'format_sweep', 'symmetric_init', 'network_output',
    'pretraining_loss', 'loss_gradient', 'expected_correlation', 'subspace_fraction', 'off_plane_energy', 'large_step',
    'OneStep', 'predicted_fraction', 'gradient_steps', 'one_gradient_step', 'population_step', 'learner_from_rows',
    'BudgetSweep', 'run_budget_sweep', 'format_budget_sweep', 'GradientStepSettings', 'cluster_labels', 'metastable_parts',
    'metastable_kernel', 'stationary_law', 'top_eigenvectors', 'indicators', 'cluster_alignment',
    'davis_kahan_bound', 'spectral_gap', 'hitting_time', 'meta_chain', 'SNRSweepSettings', 'SWEEP_PROTOCOLS',
    'SNRSweep', 'signal_noise_snr_sweep', 'sweep_summary', 'format_sweep_summary', 'store_sweep_summary',
    'OptimizerSettings', 'OPTIMIZER_PROTOCOLS', 'OptimizerComparison', 'signal_noise_optimizer',
    'SingleIndexSettings', 'single_index_dimension', 'single_index_rank', 'PretrainingInContextChapter',
    'plot_snr_sweep', 'draw_training_state', 'plot_optimizer_comparison', 'plot_sweep', 'draw_prompt_state',
    'draw_metastable_state', 'plot_singular_thread']
