"""mmtheory: the tested library behind the monograph on the statistical theory of
multimodal representation learning.

One subpackage per part of the book, each re-exporting its public names (chapters and tests import
from these, never from the modules behind them):

- :mod:`mmtheory.sufficiency`: Part I and the Prologue (finite joint laws, the contrastive risk,
  sufficiency of encoders, downstream tasks);
- :mod:`mmtheory.jghm`: Part II (the JGHM, exact belief propagation ``jghm.bp``, Bayes risks,
  transformers and their training);
- :mod:`mmtheory.contexture`: Part III (the expectation operator and its SVD, contexts, objectives,
  scaling, context quality);
- :mod:`mmtheory.icl`: Part IV (multi-modal in-context learning);
- :mod:`mmtheory.neighbours`: Part V (neighbouring results).

Shared rooms: :mod:`mmtheory.numerics` (small solvers and statistics), :mod:`mmtheory.checks` (argument
checks), :mod:`mmtheory.viz` (figure style and kernel-free widgets), :mod:`mmtheory.runtime` (device,
seeding, scale, progress), :mod:`mmtheory.train` (the one training loop every trainer calls),
:mod:`mmtheory.io` (atomic writes, checkpoints), :mod:`mmtheory.registry` and
:mod:`mmtheory.cli` (the experiments the command line runs: ``python -m mmtheory list``), and
:mod:`mmtheory.suite` (the GPU suite: every GPU experiment in one short window, results stored for the chapters).
The map of the package is in the README, section "Architecture".
"""

__version__ = "0.1.0"

from . import contexture, icl, jghm, neighbours, numerics, runtime, sufficiency, viz  # noqa: E402, F401
