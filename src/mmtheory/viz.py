"""The book's figure style, and interactive figures that need no kernel.

A static site has no Python behind it, so a slider that recomputes its figure
cannot work there. The helpers here precompute every state of a figure over a
parameter grid and let the browser switch between them:

- :func:`widget_sweep` (option B): ipywidgets sliders linked *in the browser*
  (``jsdlink``) to a stack of images; one slider per parameter, a play button on the
  first. It looks and behaves the same in the book and in a live notebook.
- :func:`sweep_animation` (option A): matplotlib's self-contained HTML animation,
  one slider over one parameter; needs no widget machinery at all.

Both take the same ``draw(fig, **params)`` function, which draws one state into an
empty figure.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from .checks import Integer, Positive, constrain

# Colour-blind-safe qualitative palette (Okabe & Ito), used in this order.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
DIVERGING = "RdBu_r"
SEQUENTIAL = "viridis"

STYLE: dict[str, Any] = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "figure.constrained_layout.use": True,
    "font.size": 10.0,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": matplotlib.cycler(color=list(PALETTE)),
    "lines.linewidth": 1.8,
    "legend.frameon": False,
    "image.cmap": SEQUENTIAL,
    "savefig.bbox": "tight",
}

MAX_STATES = 400  # precomputed images per widget; more makes pages heavy


def use_style() -> None:
    """Apply the book's matplotlib style (call once at the top of a chapter)."""
    matplotlib.rcParams.update(STYLE)


@constrain(ncols=Integer(1), nrows=Integer(1), width=Positive(none_ok=True), height=Positive(none_ok=True))
def new_figure(ncols: int = 1, nrows: int = 1, width: float | None = None, height: float | None = None):
    """A figure in the book's style with an ``nrows x ncols`` grid of axes; returns ``(fig, axes)``.

    The default size is 3.4 inches per column (at most 10) by 3.2 inches per row.
    """
    use_style()
    width = width if width is not None else min(10.0, 3.4 * ncols)
    height = height if height is not None else 3.2 * nrows
    return plt.subplots(nrows, ncols, figsize=(width, height), squeeze=True)


@constrain(k=Integer(1))
def sequential_colors(k: int, cmap: str = SEQUENTIAL) -> list:
    """``k`` colours evenly spaced along a sequential colour map (for a family of curves)."""
    return list(matplotlib.colormaps[cmap](np.linspace(0.05, 0.85, k)))


def _format_value(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


def _check_sweep(draw: Callable, grid: Mapping[str, Sequence]) -> dict[str, list]:
    if not callable(draw):
        raise TypeError(f"draw must be a callable draw(fig, **params), got {type(draw).__name__}")
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("grid must be a non-empty mapping from parameter name to a sequence of values")
    checked = {}
    for name, values in grid.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"grid keys must be valid Python identifiers (they become draw's keywords), got {name!r}")
        values = list(values) if not isinstance(values, (str, bytes)) else []
        if not values:
            raise ValueError(f"grid[{name!r}] must be a non-empty sequence of values")
        checked[name] = values
    n_states = int(np.prod([len(v) for v in checked.values()]))
    if n_states > MAX_STATES:
        raise ValueError(f"grid must have at most {MAX_STATES} states in all (the product of its lengths), "
                         f"got {n_states}")
    return checked


def _render_png(fig, draw: Callable, params: dict, dpi: int) -> bytes:
    fig.clear()
    draw(fig, **params)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


@constrain(dpi=Integer(20, 300))
def render_states(draw: Callable, grid: Mapping[str, Sequence], figsize=(8.0, 3.2), dpi: int = 80) -> np.ndarray:
    """PNG bytes of every state of the grid, as an object array of shape ``(len(v) for v in grid.values())``."""
    grid = _check_sweep(draw, grid)
    use_style()
    names = list(grid)
    shape = tuple(len(v) for v in grid.values())
    states = np.empty(shape, dtype=object)
    fig = plt.figure(figsize=figsize)
    try:
        for index in itertools.product(*(range(k) for k in shape)):
            params = {name: grid[name][i] for name, i in zip(names, index)}
            states[index] = _render_png(fig, draw, params, dpi)
    finally:
        plt.close(fig)
    return states


@constrain(dpi=Integer(20, 300), interval_ms=Integer(50))
def widget_sweep(
    draw: Callable,
    grid: Mapping[str, Sequence],
    figsize=(8.0, 3.2),
    dpi: int = 80,
    play: bool = True,
    interval_ms: int = 600,
):
    """A figure with one slider per grid parameter, working without a kernel.

    Every state is drawn once here, by ``draw(fig, **params)`` into an empty
    figure. The sliders are linked to nested :class:`ipywidgets.Stack` widgets of
    the images by ``jsdlink``, which the browser carries out, so the widget responds
    in the static site (through the saved widget state) exactly as in a live notebook.
    The links are one-way (control to display): a two-way link between the play
    button and the slider stops the slider from driving the images in the static page.

    Parameters
    ----------
    draw : callable ``draw(fig, **params)``
    grid : mapping ``{name: values}``; the product of the lengths is the number of images
    figsize, dpi : size of each precomputed image
    play : add a play button that steps through the first parameter
    """
    import ipywidgets as widgets

    states = render_states(draw, grid, figsize=figsize, dpi=dpi)
    names = list(grid)
    sliders = [
        widgets.SelectionSlider(
            options=[(_format_value(v), i) for i, v in enumerate(grid[name])],
            value=0,
            description=name,
            continuous_update=True,
            layout=widgets.Layout(width="min(100%, 32em)"),
            style={"description_width": "initial"},
        )
        for name in names
    ]

    def stack(level: int, index: tuple[int, ...]):
        if level == len(names):
            return widgets.Image(value=states[index], format="png", layout=widgets.Layout(max_width="100%"))
        children = [stack(level + 1, index + (i,)) for i in range(states.shape[level])]
        box = widgets.Stack(children, selected_index=0)
        widgets.jsdlink((sliders[level], "index"), (box, "selected_index"))
        return box

    controls = list(sliders)
    if play:
        player = widgets.Play(min=0, max=states.shape[0] - 1, step=1, interval=interval_ms, value=0,
                              description=f"play {names[0]}")
        widgets.jsdlink((player, "value"), (sliders[0], "index"))
        controls = [widgets.HBox([player, sliders[0]]), *sliders[1:]]
    return widgets.VBox([*controls, stack(0, ())], layout=widgets.Layout(align_items="flex-start"))


_REMOTE_LINK = re.compile(r"<link[^>]+href=\"https?://[^\"]*\"[^>]*>\s*", re.IGNORECASE)


@constrain(dpi=Integer(20, 300), interval_ms=Integer(50))
def sweep_animation(
    draw: Callable,
    name: str,
    values: Sequence,
    figsize=(8.0, 3.2),
    dpi: int = 80,
    interval_ms: int = 600,
):
    """A one-parameter sweep as matplotlib's self-contained HTML animation (slider and play buttons).

    Each frame is ``draw(fig, **{name: value})`` with the value written in the corner.
    The remote icon stylesheet that matplotlib adds is removed, so the output loads nothing.
    """
    from IPython.display import HTML
    from matplotlib.animation import FuncAnimation

    grid = _check_sweep(draw, {name: values})
    use_style()
    values = grid[name]
    fig = plt.figure(figsize=figsize, dpi=dpi)

    def frame(i: int):
        fig.clear()
        draw(fig, **{name: values[i]})
        fig.text(0.005, 0.005, f"{name} = {_format_value(values[i])}", ha="left", va="bottom", fontsize=9)
        return []

    try:
        anim = FuncAnimation(fig, frame, frames=len(values), interval=interval_ms, blit=False)
        html = anim.to_jshtml(default_mode="once")
    finally:
        plt.close(fig)
    return HTML(_REMOTE_LINK.sub("", html))
