"""One common test of bad input, in the spirit of scikit-learn's ``estimator_checks``.

Every public function that declares its arguments with :func:`mmtheory.checks.constrain` is called with each
invalid example of each declared argument, that argument alone: it must raise a ``ValueError`` whose message
names the argument, before doing any work. Every registered experiment must refuse a bad ``scale``, ``seed``
and ``device``. And a function with a count, size, rate or probability argument must declare it (or be on
the allow-list below, with the reason).
"""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

from mmtheory.checks import Constraint
from mmtheory.registry import experiments

MODULES = ["mmtheory.sufficiency", "mmtheory.jghm", "mmtheory.contexture", "mmtheory.icl", "mmtheory.neighbours",
           "mmtheory.numerics", "mmtheory.train", "mmtheory.viz"]


def public_functions():
    """``(qualified name, function)`` for every public function of the modules (``__all__`` or attributes)."""
    seen, out = set(), []
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
        for name in names:
            fn = getattr(module, name)
            if inspect.isfunction(fn) and fn.__module__.startswith("mmtheory") and id(fn) not in seen:
                seen.add(id(fn))
                out.append((f"{fn.__module__}.{fn.__name__}", fn))
    return out


FUNCTIONS = public_functions()
DECLARED = [(qualname, fn, arg, constraint) for qualname, fn in FUNCTIONS
            for arg, constraint in getattr(fn, "__constraints__", {}).items()]
CASES = [pytest.param(fn, arg, bad, id=f"{qualname}-{arg}-{bad!r}")
         for qualname, fn, arg, constraint in DECLARED for bad in constraint.invalid()]


def test_the_common_test_covers_many_arguments():
    assert len({qualname for qualname, *_ in DECLARED}) >= 100 and len(DECLARED) >= 200


@pytest.mark.parametrize("fn, arg, bad", CASES)
def test_a_bad_argument_alone_raises_a_value_error_naming_it(fn, arg, bad):
    with pytest.raises(ValueError, match=rf"\b{re.escape(arg)}\b"):
        fn(**{arg: bad})


@pytest.mark.parametrize("qualname, fn, arg, constraint", [pytest.param(*case, id=f"{case[0]}-{case[2]}")
                                                           for case in DECLARED])
def test_defaults_satisfy_their_declaration(qualname, fn, arg, constraint):
    assert isinstance(constraint, Constraint)
    default = inspect.signature(fn).parameters[arg].default
    if default is not inspect.Parameter.empty:
        constraint.check(default, arg)


EXPERIMENTS = sorted(experiments())


@pytest.mark.parametrize("arg, bad", [("scale", "huge"), ("scale", 3), ("seed", -1), ("seed", 0.5), ("seed", 2**32),
                                      ("device", "tpu"), ("device", 3.5)])
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_refuses_a_bad_scale_seed_and_device(name, arg, bad):
    with pytest.raises(ValueError, match=rf"\b{arg}\b"):
        experiments()[name].run(**{arg: bad})


# Arguments whose names say "count, size, rate or probability" ...
COUNTED = re.compile(r"^(n|d|k|m|r|s|K|M|N|L|T|C|p|rho|eps|epsilon|eta|sigma|tau|lr|ridge|steps|batch|chunk|depth|"
                     r"width|dim|seed|seeds|dpi|n_.*|.*_steps|.*_every|.*_rate)$")
# ... and the functions that do not declare one of them, with the reason.
ALLOWED = {
    # a value that must be one of those stored in the result (checked against the result, not a range)
    "mmtheory.sufficiency.figures.draw_pmi_recovery_state": "rho is one of the result's correlations",
    "mmtheory.sufficiency.figures.draw_zero_shot_state": "k and M index the stored grid",
    "mmtheory.contexture.figures.draw_mask_rate_state": "p is one of the stored mask rates",
    "mmtheory.neighbours.figures.draw_prompt_state": "d and N are stored values of the sweep",
    "mmtheory.icl.figures.draw_context_state": "L is one of the stored context lengths",
    "mmtheory.contexture.figures.draw_association_state": "level indexes the family's stored values",
    # tensors or arrays, not scalars; checked inline with their shapes
    "mmtheory.neighbours.signal_noise.pretrain_encoders": "seeds is a list, checked entry by entry",
    "mmtheory.icl.prompts.gradient_descent_prediction": "step and T may be per-layer tensors",
    "mmtheory.icl.prompts.ols_excess": "L must exceed the model's d + 1: checked inline against the model",
    "mmtheory.icl.prompts.sample_tasks": "called per training step (hot loop)",
    "mmtheory.jghm.risks.clip_batch": "called per training step (hot loop)",
    "mmtheory.contexture.scaling.sample_context_pairs": "called per training step (hot loop)",
    "mmtheory.neighbours.single_index.solve_gamma": "count is an array of counts",
    "mmtheory.jghm.model.sample_tree": "root is a tensor of symbols",
    "mmtheory.jghm.bp.leaf_given_root": "leaf is checked against the tree by leaf_path",
    "mmtheory.jghm.bp.label_posterior": "leaf is checked against the tree by leaf_path",
    "mmtheory.jghm.bp.label_prior": "leaf is checked against the tree by leaf_path",
    "mmtheory.jghm.reference.denoising_mean_reference": "arrays; sigma is declared",
    "mmtheory.sufficiency.figures.draw_denoising_state": "a figure state; sigma is checked by denoising_excess",
    "mmtheory.contexture.figures.draw_alignment_state": "width and depth are stored values of the sweep",
    # ranges that depend on another argument: checked inline, with that argument's value in the message
    "mmtheory.contexture.operator.worst_case_error": "epsilon must lie in (1 - s_1, 1), s_1 from svd",
    "mmtheory.icl.prompts.sample_prompts": "L must exceed the model's d",
    "mmtheory.icl.modalities.sample_modal_prompts": "L must exceed the law's d",
    "mmtheory.icl.modules.train_in_context": "L must exceed the model's d + 1",
    # the experiments modules are being re-sized by another change; their helpers are declared there later
    "mmtheory.jghm.experiments.bayes_curves": "experiments module (scales edited separately)",
    "mmtheory.jghm.experiments.prompt_curve": "experiments module (scales edited separately)",
    "mmtheory.contexture.experiments.run_mask_rate": "experiments module; checks its tuples inline",
    "mmtheory.contexture.experiments.run_knn_quality": "experiments module; checks its tuples inline",
}


def _is_number(param: inspect.Parameter) -> bool:
    """A scalar argument: annotated ``int`` or ``float`` (maybe ``| None``) or with a number as default
    (``p`` or ``M`` annotated as prompts or a matrix are not counts)."""
    annotation = str(param.annotation).replace(" | None", "")
    default = param.default
    return annotation in ("int", "float") or (isinstance(default, (int, float)) and not isinstance(default, bool))


def test_count_size_and_probability_arguments_are_declared():
    missing = []
    for qualname, fn in FUNCTIONS:
        declared = getattr(fn, "__constraints__", {})
        names = [name for name, param in inspect.signature(fn).parameters.items()
                 if COUNTED.match(name) and _is_number(param)]
        undeclared = [p for p in names if p not in declared]
        if undeclared and qualname not in ALLOWED:
            missing.append(f"{qualname}: {undeclared}")
    assert not missing, "declare these with @constrain, or add them to ALLOWED with a reason:\n" + "\n".join(missing)
