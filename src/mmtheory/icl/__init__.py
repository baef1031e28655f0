"""Part IV: multi-modal in-context learning on a latent-factor model: closed forms, prompts and predictors, the
attention modules and their training.

Chapters and tests import from here; the modules behind these names may move."""

# ruff: noqa: F401
from . import closed_forms, experiments, figures, modalities, modules, prompts
from .closed_forms import (LatentFactorModel, alpha_star, rho_star, bayes_risk, lsa_optimum, ca_excess,
    optimal_alpha, optimal_alpha_beta, VARIANTS, best_variant_excess)
from .prompts import (Prompts, sample_tasks, sample_prompts, modality_oracle_risks, context_moments,
    gradient_descent_prediction, excess_over_oracle, ols_prediction, ols_excess, linear_regression_prompts, zfb_optimum,
    fit_preconditioner)
from .modalities import (TwoModalityLaw, sample_modal_prompts, modal_excess, weighted_spectrum, minimax_steps,
    blind_step, whitened_steps, ModalityStack, OneWayStack, one_way_floor)
from .modules import (CrossAttentionStack, LinearSelfAttention, SoftmaxTransformer, TrainResult, train_in_context)
from .experiments import (DepthSweepResult, DepthSweepSettings, icl_depth_sweep, FiniteContextResult,
    FiniteContextSettings, icl_finite_context, BaselineResult, SoftmaxBaselineSettings, SOFTMAX_SIZES,
    icl_softmax_baseline, OneLayerChapter, DeepCrossAttentionChapter, ModalitiesChapter)
from .figures import (draw_lsa_state, plot_depth_sweep, draw_depth_state, plot_finite_context, draw_context_state,
    plot_softmax_baseline, NOISE_GRID, draw_modality_state)

__all__ = ['closed_forms', 'experiments', 'figures', 'modules', 'prompts', 'LatentFactorModel', 'alpha_star',
    'rho_star', 'bayes_risk', 'lsa_optimum', 'ca_excess', 'optimal_alpha', 'optimal_alpha_beta', 'VARIANTS',
    'best_variant_excess', 'Prompts', 'sample_tasks', 'sample_prompts', 'modality_oracle_risks', 'context_moments',
    'gradient_descent_prediction', 'excess_over_oracle', 'ols_prediction', 'ols_excess', 'linear_regression_prompts', 'zfb_optimum', 'fit_preconditioner', 'CrossAttentionStack',
    'LinearSelfAttention', 'SoftmaxTransformer', 'TrainResult', 'train_in_context', 'DepthSweepResult',
    'DepthSweepSettings', 'icl_depth_sweep', 'FiniteContextResult', 'FiniteContextSettings', 'icl_finite_context',
    'BaselineResult', 'SoftmaxBaselineSettings', 'SOFTMAX_SIZES', 'icl_softmax_baseline', 'OneLayerChapter',
    'DeepCrossAttentionChapter', 'draw_lsa_state', 'plot_depth_sweep', 'draw_depth_state', 'plot_finite_context',
    'draw_context_state', 'plot_softmax_baseline', 'modalities', 'TwoModalityLaw', 'sample_modal_prompts',
    'modal_excess', 'weighted_spectrum', 'minimax_steps', 'blind_step', 'whitened_steps', 'ModalityStack', 'OneWayStack',
    'one_way_floor', 'NOISE_GRID', 'draw_modality_state', 'ModalitiesChapter']
