"""The in-context learners as torch modules, and the loop that trains them on fresh prompts."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from ..checks import Device, Integer, Positive, check_integer, constrain
from ..runtime import get_device
from ..train import Optimisation, train
from .closed_forms import LatentFactorModel, _check_depth
from .modalities import TwoModalityLaw, sample_modal_prompts
from .prompts import Prompts, context_moments, excess_over_oracle, sample_prompts


class CrossAttentionStack(torch.nn.Module):
    r"""The linearised cross-attention stack with covariate re-injection and a self-attention readout.

    Implements {eq}`eq-ca-layer`

    ``mode="tied"``: one scalar, :math:`\beta = -\alpha`; ``"two"``: scalars :math:`\alpha, \beta`;
    ``"full"``: query, key and value maps :math:`W_Q, W_K, W_V \in \mathbb R^{d \times d}` shared across layers,
    the attention term :math:`\frac1L (h W_Q)(X W_K)^\top (X W_V)`, started at :math:`W_Q = W_K = I`,
    :math:`W_V = \beta_0 I`. Only the query token's stream is computed: each token's stream evolves on
    its own, and the readout uses the query's.
    """

    def __init__(self, d: int, T: int, mode: str = "tied", alpha0: float = 0.05):
        super().__init__()
        if mode not in ("tied", "two", "full"):
            raise ValueError(f"mode must be 'tied', 'two' or 'full', got {mode!r}")
        self.T, self.mode = _check_depth(T), mode
        self.alpha = torch.nn.Parameter(torch.tensor(float(alpha0), dtype=torch.float64))
        if mode == "two":
            self.beta = torch.nn.Parameter(torch.tensor(-float(alpha0), dtype=torch.float64))
        if mode == "full":
            eye = torch.eye(d, dtype=torch.float64)
            self.W_Q = torch.nn.Parameter(eye.clone())
            self.W_K = torch.nn.Parameter(eye.clone())
            self.W_V = torch.nn.Parameter(-float(alpha0) * eye)

    def forward(self, p: Prompts) -> torch.Tensor:
        L = p.X.shape[1]
        Sigma, c = context_moments(p)
        h = torch.zeros_like(p.xq)
        for _ in range(self.T):
            if self.mode == "full":
                keys, values = p.X @ self.W_K, p.X @ self.W_V  # (n, L, d)
                attention = ((h @ self.W_Q)[:, None, :] @ keys.transpose(1, 2)) @ values / L  # (n, 1, d)
                update = attention[:, 0]
            else:
                beta = -self.alpha if self.mode == "tied" else self.beta
                update = beta * (Sigma @ h[:, :, None])[..., 0]
            h = h + update + self.alpha * p.xq
        return (c * h).sum(-1)  # readout: (1/L) sum_i y_i <x_i, h_q>


class LinearSelfAttention(torch.nn.Module):
    r"""Single-layer linear self-attention, in two parametrisations.

    ``mode="full"``: the reduced form :math:`\hat y_q = x_q^\top \Gamma^\top \hat c` with one learnable
    :math:`d \times d` matrix :math:`\Gamma`: one step of gradient descent with a fixed preconditioner.
    ``mode="standard"``: the merged-weights form of Zhang, Frei and Bartlett,
    :math:`f(E) = E + W^{PV} E\, (E^\top W^{KQ} E)/L` on the embedding
    :math:`E = \begin{pmatrix} x_1 & \cdots & x_L & x_q \\ y_1 & \cdots & y_L & 0 \end{pmatrix}`, with
    :math:`\hat y_q` the bottom-right entry; the keys run over the :math:`L` context columns only.
    """

    def __init__(self, d: int, mode: str = "full", gamma0: float = 0.0):
        super().__init__()
        if mode not in ("full", "standard"):
            raise ValueError(f"mode must be 'full' or 'standard', got {mode!r}")
        self.mode = mode
        if mode == "full":
            self.Gamma = torch.nn.Parameter(gamma0 * torch.eye(d, dtype=torch.float64))
        else:
            self.W_PV = torch.nn.Parameter(torch.zeros(d + 1, d + 1, dtype=torch.float64))
            self.W_KQ = torch.nn.Parameter(torch.zeros(d + 1, d + 1, dtype=torch.float64))
            with torch.no_grad():
                self.W_PV[d, d] = 1.0
                self.W_KQ[:d, :d] = gamma0 * torch.eye(d, dtype=torch.float64)

    def forward(self, p: Prompts) -> torch.Tensor:
        if self.mode == "full":
            _, c = context_moments(p)
            return ((p.xq @ self.Gamma.T) * c).sum(-1)
        L = p.X.shape[1]
        context = torch.cat([p.X, p.y[:, :, None]], dim=2)  # (n, L, d+1): the context columns
        query = torch.cat([p.xq, torch.zeros_like(p.yq)[:, None]], dim=1)  # (n, d+1)
        attention = (context @ self.W_KQ @ query[:, :, None])[..., 0] / L  # (n, L): e_i^T W^KQ e_q / L
        mixed = (context * attention[:, :, None]).sum(1)  # (n, d+1): sum_i e_i (e_i^T W^KQ e_q) / L
        return query[:, -1] + mixed @ self.W_PV[-1]


class SoftmaxTransformer(torch.nn.Module):
    r"""A standard transformer baseline: softmax attention, MLPs, layer norms, nothing tied to the model.

    Each context example becomes the token :math:`(x_i, y_i)` and the query the token :math:`(x_q, 0)`, with a
    learned flag marking the query; a linear embedding, ``depth`` pre-norm encoder blocks (``heads``-head
    softmax attention over all tokens, a GELU MLP of width ``4 * width``), and a linear read-out of
    :math:`\hat y_q` from the query token. It runs in float32 and returns float64 like the other modules.
    """

    def __init__(self, d: int, width: int = 64, depth: int = 4, heads: int = 4):
        super().__init__()
        d, width = check_integer(d, "d", 1), check_integer(width, "width", 1)
        depth, heads = check_integer(depth, "depth", 1), check_integer(heads, "heads", 1)
        if width % heads:
            raise ValueError(f"width must be a multiple of heads, got width={width}, heads={heads}")
        self.embed = torch.nn.Linear(d + 2, width)
        block = torch.nn.TransformerEncoderLayer(width, heads, dim_feedforward=4 * width, dropout=0.0,
                                                 activation="gelu", batch_first=True, norm_first=True)
        self.blocks = torch.nn.TransformerEncoder(block, depth, enable_nested_tensor=False)
        self.readout = torch.nn.Sequential(torch.nn.LayerNorm(width), torch.nn.Linear(width, 1))

    def forward(self, p: Prompts) -> torch.Tensor:
        n, L, _ = p.X.shape
        flag = torch.zeros(n, L + 1, 1, dtype=p.X.dtype, device=p.X.device)
        flag[:, -1] = 1.0
        values = torch.cat([p.y, torch.zeros_like(p.yq)[:, None]], dim=1)[:, :, None]
        tokens = torch.cat([torch.cat([p.X, p.xq[:, None]], dim=1), values, flag], dim=2).float()
        hidden = self.blocks(self.embed(tokens))
        return self.readout(hidden[:, -1])[:, 0].double()


@dataclasses.dataclass
class TrainResult:
    """A model trained on fresh prompts: its excess over the oracle along training, and its final parameters."""

    steps: np.ndarray
    excess: np.ndarray
    parameters: dict
    excess_se: float = math.nan  # the standard error of the last evaluation's excess, over the evaluation prompts


@constrain(steps=Integer(1), batch=Integer(1), lr=Positive(), eval_prompts=Integer(2), record_every=Integer(1),
           seed=Integer(0), device=Device())
def train_in_context(module: torch.nn.Module, model: LatentFactorModel | TwoModalityLaw, L: int, steps: int = 1000,
                     batch: int = 256, lr: float = 1e-2, eval_prompts: int = 2000, record_every: int = 50,
                     seed: int = 0, device=None) -> TrainResult:
    """Adam with a cosine-decayed step on the squared error of the query prediction, with a fresh batch of
    tasks and prompts every step (online training); the excess over the oracle is measured on fixed
    evaluation prompts. ``model`` is the chapter's law or a :class:`TwoModalityLaw`."""
    draw = sample_modal_prompts if isinstance(model, TwoModalityLaw) else sample_prompts
    settings = Optimisation(steps, lr)
    dev = get_device(device)
    module = module.to(dev)
    evaluation = draw(model, eval_prompts, L, seed=10**6 + seed, device=dev)
    recorded, excess, spread = [], [], []

    def evaluate(step):
        with torch.no_grad():
            prediction = module(evaluation)
            recorded.append(step)
            excess.append(excess_over_oracle(prediction, evaluation))
            gaps = (prediction - (evaluation.w * evaluation.xq).sum(-1)) ** 2
            spread.append(float(gaps.std()) / math.sqrt(gaps.numel()))

    def loss(step):
        p = draw(model, batch, L, seed=seed * 10**5 + step, device=dev)
        return ((module(p) - p.yq) ** 2).mean()

    train([module], loss, settings, desc="in-context training", record_every=record_every, callback=evaluate)
    params = {name: value.detach().cpu().numpy() for name, value in module.named_parameters()}
    return TrainResult(steps=np.array(recorded), excess=np.array(excess), parameters=params,
                       excess_se=spread[-1])
