"""Part III: contextures. The expectation operator of a context and its SVD, contexts with closed forms, the
objectives that learn the top singular functions, scaling and context quality.

Chapters and tests import from here; the modules behind these names may move."""

# ruff: noqa: F401
from . import contexts, experiments, figures, infonce, objectives, operator, quality, scaling
from .operator import (validate_context, expectation_operator, dual_kernel, ContextSVD, context_svd,
    duality_residuals, check_rho, cca_r2, probe_error, coefficients, compatibility, Representer, representers,
    theorem16_range,
    optimal_worst_case_error, worst_case_error, ratio_trace, tau_metric, decay_rate)
from .contexts import (gaussian_context, hermite_functions, hypercube_points, hypercube_context,
    hypercube_spectrum, parities, ring_context, ring_weights, ring_spectrum, label_context, knn_context, two_moons,
    empirical_context, mehler_kernel, nystrom_contexture, convolve, convex_mix, concatenate, loss_mixture, concatenated_encoders, nested_cluster_context,
    closed_form_residuals)
from .infonce import weak_association, double_centred_pmi, pmi_top_functions, fit_low_rank_infonce
from .objectives import (spectral_contrastive_loss, noncontrastive_loss, balanced_mse_loss, mse_loss,
    eigenmap_loss, contrastive_minimum, noncontrastive_minimum, balanced_mse_minimum, eigenmap_minimum, fit_table,
    loss_kernel_spectrum, plain_mse_minimum)
from .quality import (SubspaceEstimate, subspace_estimate, ridge_probe_error, sample_masked_pairs, estimated_contexture, hypercube_target, knn_spectrum,
    TIE, knn_errors)
from .scaling import (GRID, TEST_SEED, sample_context_pairs, spectral_contrastive_batch_loss,
    gaussian_contrastive_minimum, optimal_features, alignment_r2, population_loss, best_linear_map, MLPEncoder,
    theorem16_midpoint, gaussian_worst_case_error, EncoderFit, train_encoder, train_encoders)
from .experiments import (WidthSweepResult, WidthSweepSettings, SWEEP_SIZES, contexture_width_sweep,
    MaskRateResult, run_mask_rate, MaskRateSettings, mask_rate_sweep, KnnQualityResult, run_knn_quality,
    KnnQualitySettings, knn_quality, ContextureLearningChapter)
from .figures import (ASSOCIATION_LEVELS, ROTATION, draw_association_state, draw_optimality_state, draw_mixing_state,
    plot_width_sweep, draw_alignment_state, plot_mask_rate, draw_mask_rate_state, plot_knn_quality)

__all__ = ['contexts', 'experiments', 'figures', 'infonce', 'objectives', 'operator', 'quality', 'scaling',
    'validate_context', 'expectation_operator', 'dual_kernel', 'ContextSVD', 'context_svd', 'duality_residuals',
    'check_rho', 'cca_r2', 'probe_error', 'coefficients', 'compatibility', 'Representer', 'representers',
    'theorem16_range',
    'optimal_worst_case_error', 'worst_case_error', 'ratio_trace', 'tau_metric', 'decay_rate', 'gaussian_context',
    'hermite_functions', 'hypercube_points', 'hypercube_context', 'hypercube_spectrum', 'parities', 'ring_context',
    'ring_weights', 'ring_spectrum', 'label_context', 'knn_context', 'two_moons', 'empirical_context',
    'mehler_kernel', 'nystrom_contexture', 'convolve', 'convex_mix', 'concatenate', 'loss_mixture', 'concatenated_encoders', 'nested_cluster_context',
    'closed_form_residuals', 'weak_association', 'double_centred_pmi', 'pmi_top_functions',
    'fit_low_rank_infonce',
    'spectral_contrastive_loss', 'noncontrastive_loss', 'balanced_mse_loss', 'mse_loss', 'eigenmap_loss',
    'contrastive_minimum', 'noncontrastive_minimum', 'balanced_mse_minimum', 'eigenmap_minimum', 'fit_table',
    'loss_kernel_spectrum', 'plain_mse_minimum',
    'SubspaceEstimate', 'subspace_estimate', 'ridge_probe_error', 'sample_masked_pairs', 'estimated_contexture', 'hypercube_target', 'knn_spectrum', 'TIE',
    'knn_errors', 'GRID', 'TEST_SEED', 'sample_context_pairs', 'spectral_contrastive_batch_loss',
    'gaussian_contrastive_minimum', 'optimal_features', 'alignment_r2', 'population_loss', 'best_linear_map',
    'theorem16_midpoint', 'gaussian_worst_case_error', 'MLPEncoder', 'EncoderFit', 'train_encoder', 'train_encoders', 'WidthSweepResult', 'WidthSweepSettings', 'SWEEP_SIZES',
    'contexture_width_sweep', 'MaskRateResult', 'run_mask_rate', 'MaskRateSettings', 'mask_rate_sweep',
    'KnnQualityResult', 'run_knn_quality', 'KnnQualitySettings', 'knn_quality', 'ContextureLearningChapter',
    'ASSOCIATION_LEVELS', 'ROTATION', 'draw_association_state', 'draw_optimality_state', 'draw_mixing_state',
    'plot_width_sweep', 'draw_alignment_state', 'plot_mask_rate', 'draw_mask_rate_state', 'plot_knn_quality']
