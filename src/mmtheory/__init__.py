"""mmtheory: the tested library behind the monograph on the statistical theory of
multimodal representation learning.

Modules are named for the mathematics they hold:

- :mod:`mmtheory.joint`: finite joint laws of two modalities, pointwise and total mutual information;
- :mod:`mmtheory.contrastive`: the contrastive (InfoNCE, CLIP) risk, exact and Monte Carlo, and training a score;
- :mod:`mmtheory.sufficiency`: encoders of a finite modality and the four forms of their sufficiency;
- :mod:`mmtheory.downstream`: zero-shot classification, conditional denoising, next-token prediction from a code;
- :mod:`mmtheory.jghm`: the Joint Generative Hierarchical Model (transition matrices, exact leaf laws);
- :mod:`mmtheory.icl`: multi-modal in-context learning: latent-factor prompts, LSA, the cross-attention stack;
- :mod:`mmtheory.viz`: the book's figure style and kernel-free interactive figures;
- :mod:`mmtheory.runtime`: device, seeding, the run scale, progress bars;
- :mod:`mmtheory.io`: atomic writing of results, figures and checkpoints;
- :mod:`mmtheory.registry`: the experiments the command line runs (``python -m mmtheory list``).
"""

__version__ = "0.1.0"
