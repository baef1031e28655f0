"""Part II: the Joint Generative Hierarchical Model, exact belief propagation (``bp``), the Bayes risks of its four
tasks, transformers that approximate BP, and their training.

Chapters and tests import from here; the modules behind these names may move."""

# ruff: noqa: F401
from . import (bp, bp_scaled, evaluation, experiments, figures, model, reference, reference_tier, risks, training,
    transformers)
from .bp_scaled import SCALED_RANGE, CPU_BLOCK
from .model import (MAX_LEAF_CONFIGURATIONS, MAX_TUPLES, transition_matrices, paired_trees, paired_ingredients, check_tree,
    leaves_given_root, leaf_joint, TinyTree, JGHM, Sample, sample_tree, sampling_tables)
from .reference import (sample_reference, coupled_draw, root_message_reference, root_posterior_reference,
    denoising_mean_reference)
from .risks import (TASKS, ClipBatch, clip_batch, clip_loss, Risk, bayes_risk, zero_shot_logits, draw_prompts)
from .transformers import (GUIDANCE_FLOOR, CONDITIONS, Block, TreeEncoder, DenoisingTransformer,
    NextTokenTransformer, guidance_targets, guidance_penalty, guided_blocks, bp_as_attention)
from .training import (FINAL_WINDOW, NEGATIVES, TrainConfig, ClipRun, train_clip, DenoiserRun, train_denoiser,
    NextTokenRun, train_next_token)
from .evaluation import (EVAL_SEED, evaluate_clip, evaluate_zero_shot, evaluate_denoiser, evaluate_next_token)
from .experiments import (CHECKPOINT_ENV, Protocol, PROTOCOLS, ARCHITECTURES, clip_run, probe_messages,
    ProbeResult, jghm_probe, ClipResult, jghm_clip, DownstreamResult, jghm_downstream, BayesCurves,
    BayesCurvesSettings, BAYES_SCALES, bayes_curves, jghm_bayes_curves, PromptCurve, PromptCurveSettings,
    PROMPT_SCALES, prompt_curve, jghm_prompts, JGHMModelChapter)
from .figures import (TASK_LABELS, draw_jghm_state, draw_attention_bp_state, plot_bayes_curves, plot_prompt_curve,
    draw_denoising_state, plot_probes, plot_clip, plot_downstream, draw_ood_state, plot_clip_reference)
from .reference_tier import REFERENCE_PROTOCOLS, ReferenceProtocol, ReferenceResult, jghm_clip_reference

__all__ = ['bp', 'bp_scaled', 'SCALED_RANGE', 'CPU_BLOCK', 'evaluation', 'experiments', 'figures', 'model', 'reference', 'reference_tier', 'risks', 'training',
    'transformers',
    'MAX_LEAF_CONFIGURATIONS', 'MAX_TUPLES', 'transition_matrices', 'paired_trees', 'paired_ingredients', 'check_tree',
    'leaves_given_root', 'leaf_joint', 'TinyTree', 'JGHM', 'Sample', 'sample_tree', 'sampling_tables',
    'sample_reference', 'coupled_draw', 'root_message_reference', 'root_posterior_reference', 'denoising_mean_reference', 'TASKS', 'ClipBatch',
    'clip_batch', 'clip_loss', 'Risk', 'bayes_risk', 'zero_shot_logits', 'draw_prompts', 'GUIDANCE_FLOOR',
    'CONDITIONS', 'Block', 'TreeEncoder', 'DenoisingTransformer', 'NextTokenTransformer', 'guidance_targets',
    'guidance_penalty', 'guided_blocks', 'bp_as_attention', 'FINAL_WINDOW', 'NEGATIVES', 'TrainConfig', 'ClipRun',
    'train_clip',
    'DenoiserRun', 'train_denoiser', 'NextTokenRun', 'train_next_token', 'EVAL_SEED', 'evaluate_clip',
    'evaluate_zero_shot', 'evaluate_denoiser', 'evaluate_next_token', 'CHECKPOINT_ENV', 'Protocol', 'PROTOCOLS',
    'ARCHITECTURES', 'clip_run', 'probe_messages', 'ProbeResult', 'jghm_probe', 'ClipResult', 'jghm_clip',
    'DownstreamResult', 'jghm_downstream', 'BayesCurves', 'BayesCurvesSettings', 'BAYES_SCALES', 'bayes_curves',
    'jghm_bayes_curves', 'PromptCurve', 'PromptCurveSettings', 'PROMPT_SCALES', 'prompt_curve', 'jghm_prompts',
    'JGHMModelChapter', 'TASK_LABELS', 'draw_jghm_state', 'draw_attention_bp_state', 'plot_bayes_curves',
    'plot_prompt_curve', 'draw_denoising_state', 'plot_probes', 'plot_clip', 'plot_downstream', 'draw_ood_state',
    'plot_clip_reference', 'REFERENCE_PROTOCOLS', 'ReferenceProtocol', 'ReferenceResult', 'jghm_clip_reference']
