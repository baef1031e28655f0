"""Part I (and the Prologue): finite joint laws of two modalities, the contrastive risk, encoders and their
sufficiency, and the downstream tasks a sufficient encoder serves.

Chapters and tests import from here; the modules behind these names may move."""

# ruff: noqa: F401
from . import contrastive, downstream, encoders, experiments, figures, joint
from .joint import (validate_joint, marginals, pmi, mutual_information, gaussian_joint, ratio_singular_values,
    entropy, conditional, conditional_kl, validate_encoder)
from .contrastive import (info_nce_loss, align_to_pmi, distance_to_pmi, excess_risk_large_batch, clip_risk_exact,
    mixture_kl, finite_k_constant,
    monte_carlo_losses, clip_risk_monte_carlo, clip_excess_monte_carlo, ScoreFit, fit_score_table)
from .encoders import (encode, encode_both, sufficiency_kl, sufficiency_information, variational_objective,
    sufficiency_variational, factoring_score, sufficiency_contrastive, prefix_encoder, block_encoder)
from .downstream import (label_channel, bayes_label_posterior, zero_shot_posterior, draw_prompts,
    cross_entropy_risk, denoising_excess, diffusion_score_gap, next_token_excess)
from .experiments import (PMIRecoveryConfig, PMIRecoveryResult, pmi_recovery, SuffVsExcessConfig,
    SuffVsExcessResult, suff_vs_excess, ZeroShotConfig, ZeroShotResult, zero_shot, CLIPRiskChapter,
    SufficientStatisticsChapter)
from .figures import (draw_gaussian_joint_state, plot_pmi_recovery, draw_pmi_recovery_state,
    draw_risk_profile_state, plot_suff_vs_excess, draw_coarsening_state, plot_zero_shot, draw_zero_shot_state,
    draw_denoising_state)

__all__ = ['contrastive', 'downstream', 'encoders', 'experiments', 'figures', 'joint', 'validate_joint',
    'marginals', 'pmi', 'mutual_information', 'gaussian_joint', 'ratio_singular_values', 'entropy', 'conditional',
    'conditional_kl', 'validate_encoder', 'info_nce_loss', 'align_to_pmi', 'distance_to_pmi',
    'excess_risk_large_batch', 'clip_risk_exact', 'mixture_kl', 'finite_k_constant', 'monte_carlo_losses', 'clip_risk_monte_carlo',
    'clip_excess_monte_carlo', 'ScoreFit', 'fit_score_table', 'encode', 'encode_both', 'sufficiency_kl',
    'sufficiency_information', 'variational_objective', 'sufficiency_variational', 'factoring_score',
    'sufficiency_contrastive', 'prefix_encoder', 'block_encoder', 'label_channel', 'bayes_label_posterior',
    'zero_shot_posterior', 'draw_prompts', 'cross_entropy_risk', 'denoising_excess', 'diffusion_score_gap', 'next_token_excess',
    'PMIRecoveryConfig', 'PMIRecoveryResult', 'pmi_recovery', 'SuffVsExcessConfig', 'SuffVsExcessResult',
    'suff_vs_excess', 'ZeroShotConfig', 'ZeroShotResult', 'zero_shot', 'CLIPRiskChapter',
    'SufficientStatisticsChapter', 'draw_gaussian_joint_state', 'plot_pmi_recovery', 'draw_pmi_recovery_state',
    'draw_risk_profile_state', 'plot_suff_vs_excess', 'draw_coarsening_state', 'plot_zero_shot',
    'draw_zero_shot_state', 'draw_denoising_state']
