import ipywidgets as widgets
import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest

from mmtheory import viz


def draw_line(fig, slope, offset=0.0):
    ax = fig.subplots()
    ax.plot([0, 1], [offset, offset + slope])
    ax.set_ylim(-3, 3)


def images_of(stack):
    """All Image widgets under a (nested) Stack, in order."""
    if isinstance(stack, widgets.Image):
        return [stack]
    return [img for child in stack.children for img in images_of(child)]


def links_of(widget):
    """The client-side links (jslink) that touch ``widget``, from ipywidgets' registry of live widgets."""
    from ipywidgets.widgets.widget import _instances
    from ipywidgets.widgets.widget_link import Link

    return [link for link in _instances.values() if isinstance(link, Link)
            and widget in (link.source[0], link.target[0])]


def test_widget_sweep_one_parameter_has_slider_play_and_one_image_per_value():
    box = viz.widget_sweep(draw_line, {"slope": [-1.0, 0.0, 2.0]}, dpi=30)
    controls, stack = box.children[0], box.children[-1]
    player, slider = controls.children
    assert isinstance(player, widgets.Play) and isinstance(slider, widgets.SelectionSlider)
    assert slider.options == (("-1", 0), ("0", 1), ("2", 2))
    assert isinstance(stack, widgets.Stack) and len(stack.children) == 3
    pngs = [img.value for img in stack.children]
    assert all(p[:4] == b"\x89PNG" for p in pngs) and len(set(pngs)) == 3
    # the slider drives the stack in the browser: a client-side link, index -> selected_index
    assert any(link.source == (slider, "index") and link.target == (stack, "selected_index")
               for link in links_of(stack))
    assert any(link.source == (player, "value") and link.target == (slider, "index") for link in links_of(player))


def test_widget_sweep_two_parameters_nests_stacks_in_grid_order():
    grid = {"slope": [0.0, 1.0], "offset": [-1.0, 0.0, 1.0]}
    box = viz.widget_sweep(draw_line, grid, dpi=30, play=False)
    stack = box.children[-1]
    assert [len(child.children) for child in stack.children] == [3, 3]
    states = viz.render_states(draw_line, grid, dpi=30)
    assert [img.value for img in images_of(stack)] == list(states.ravel())
    assert len(set(states.ravel())) == 6
    second_slider = box.children[1]
    assert all(any(link.target == (inner, "selected_index") and link.source == (second_slider, "index")
                   for link in links_of(inner)) for inner in stack.children)


def test_sweep_animation_is_self_contained_html():
    html = viz.sweep_animation(draw_line, "slope", [0.0, 1.0, 2.0], dpi=30).data
    assert "<img" in html and 'type="range"' in html
    assert "http://" not in html and "https://" not in html


def test_render_states_shape():
    states = viz.render_states(draw_line, {"slope": [0, 1], "offset": [0, 1, 2]}, dpi=20)
    assert states.shape == (2, 3)


@pytest.mark.parametrize(
    "draw, grid, message",
    [
        ("not callable", {"slope": [1]}, "draw must be a callable"),
        (draw_line, {}, "grid must be a non-empty mapping"),
        (draw_line, [1, 2], "grid must be a non-empty mapping"),
        (draw_line, {"slope": []}, r"grid\['slope'\] must be a non-empty sequence"),
        (draw_line, {"not valid": [1]}, "valid Python identifiers"),
        (draw_line, {"slope": range(21), "offset": range(20)}, "at most 400 states"),
    ],
)
def test_bad_sweeps_are_rejected_naming_the_argument(draw, grid, message):
    with pytest.raises((ValueError, TypeError), match=message):
        viz.widget_sweep(draw, grid)


def test_new_figure_applies_the_style_and_checks_its_arguments():
    fig, axes = viz.new_figure(ncols=2)
    assert len(axes) == 2 and matplotlib.rcParams["axes.spines.top"] is False
    assert len(viz.sequential_colors(4)) == 4
    np.testing.assert_allclose(fig.get_size_inches(), [6.8, 3.2])
