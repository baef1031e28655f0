"""Every labelled result of the book is linked to the code that computes it, or listed as having none.

Links run both ways. A docstring under ``src/mmtheory`` that computes a labelled result says so in one
line, ``Implements {eq}`eq-label``` or ``Implements {prf:ref}`thm-label```, and the chapter names the
function next to the result, so that ``grep -rn eq-label src book`` finds both. The checks here are pure
text: labels are read from the chapters' MyST source and references from the docstrings (parsed with
``ast``, nothing imported).

In scope are labelled equations (```` ```{math} ```` blocks with ``:label:``, and ``$$ ... $$ (label)``)
and labelled sphinx-proof directives (``{prf:theorem}``, ``{prf:definition}``, ``{prf:proposition}``,
``{prf:lemma}``, ``{prf:corollary}``, ...). Exercises and section anchors ``(name)=`` are not.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
PACKAGE = ROOT / "src" / "mmtheory"

# Labels with no code behind them: each is pure mathematics, or a statement that the library checks or
# illustrates (the function named in the reason) without computing it. An entry must be a real label that
# no docstring cites; when a function starts computing one of these, cite it there and drop it here.
NO_CODE = {
    # Prologue and Part I
    "thm-pmi-minimiser": "a statement about the minimiser, proved on paper; pmi computes the minimiser and "
                         "pmi_recovery / fit_score_table illustrate the convergence",
    "prop-one-direction": "a statement about minimisers, proved on paper; clip_risk_exact(direction=...) only "
                          "checks it numerically",
    "thm-excess-controls-suff": "an inequality between quantities computed elsewhere (excess_risk_large_batch, "
                                "the sufficiency functions); suff_vs_excess checks it",
    "prop-zero-shot": "an identity, a bound and a schematic 1/M rate; zero_shot checks them on a tiny JGHM",
    # Part II
    "thm-end-to-end": "a schematic chain of three links; its derived step (Delta <= 4 eta) is checked in the chapter "
                      "with excess_risk_large_batch, and the generalisation link is not computed here",
    "thm-transformer-bp": "schematic existence and generalisation result; bp_as_attention executes an exact "
                          "variant of the construction, not the theorem's approximating transformer",
    # Part III
    "def-learning-contexture": "a property of an encoder (a span condition); cca_r2 and ratio_trace measure it "
                               "but nothing computes it",
    # Part V
    "thm-huang-multimodal": "schematic theorem of the source, not verified; signal_noise_snr_sweep measures the "
                            "window instead",
    "thm-si-icl": "schematic theorem of the source (exponents not verified); single_index_dimension measures "
                  "the effect instead",
    "prop-meta-decoupled": "an eigenvector statement at eps = 0, proved on paper; checked in the chapter with "
                           "metastable_kernel and top_eigenvectors",
}

# --------------------------------------------------------------------------- reading the book

_OPENER = re.compile(r"^\s*(`{3,}|:{3,})\s*\{([\w:-]+)\}")
_OPTION = re.compile(r"^\s*:([\w-]+):\s*(.*?)\s*$")
_DOLLAR_LABEL = re.compile(r"\$\$\s*\(([\w:.-]+)\)\s*$")


def _in_scope(kind: str) -> bool:
    return kind == "math" or kind.startswith("prf:")


def book_labels(text: str, source: str = "<text>") -> dict[str, tuple[str, str, int]]:
    """The in-scope labels of one MyST page: ``{label: (kind, source, line)}``, kind ``math`` or ``prf:...``.

    A directive's options are the ``:key: value`` lines right after its opening fence; ``$$ ... $$ (label)``
    is a labelled equation too.
    """
    labels: dict[str, tuple[str, str, int]] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        opener = _OPENER.match(line)
        if opener:
            kind = opener.group(2)
            for j in range(i + 1, len(lines)):
                option = _OPTION.match(lines[j])
                if not option:
                    break
                if option.group(1) == "label" and _in_scope(kind):
                    labels[option.group(2)] = (kind, source, j + 1)
        dollar = _DOLLAR_LABEL.search(line)
        if dollar:
            labels[dollar.group(1)] = ("math", source, i + 1)
    return labels


def _chapters() -> list[Path]:
    return sorted(p for p in BOOK.rglob("*.md") if "node_modules" not in p.parts and "_build" not in p.parts)


def all_book_labels() -> dict[str, tuple[str, str, int]]:
    labels: dict[str, tuple[str, str, int]] = {}
    for path in _chapters():
        found = book_labels(path.read_text(), str(path.relative_to(ROOT)))
        clash = set(found) & set(labels)
        assert not clash, f"labels defined twice: {sorted(clash)} (again in {path.relative_to(ROOT)})"
        labels.update(found)
    return labels


# --------------------------------------------------------------------------- reading the docstrings

_REFERENCE = re.compile(r"\{(eq|prf:ref)\}`([^`]+)`")


def references(docstring: str) -> list[tuple[str, str]]:
    """The ``(role, label)`` pairs of ``{eq}`label``` and ``{prf:ref}`label``` (or ``{role}`title <label>```)."""
    out = []
    for role, target in _REFERENCE.findall(docstring):
        explicit = re.search(r"<([^<>]+)>\s*$", target)
        out.append((role, (explicit.group(1) if explicit else target).strip()))
    return out


def docstrings(source: str) -> list[tuple[str, str]]:
    """``(qualified name, docstring)`` of a module's own docstring and every class and function in it."""
    tree = ast.parse(source)
    out = [("<module>", ast.get_docstring(tree) or "")]

    def visit(node, prefix: str):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                out.append((name, ast.get_docstring(child) or ""))
                visit(child, name + ".")

    visit(tree, "")
    return out


def all_citations() -> list[tuple[str, str, str]]:
    """Every reference in a docstring under src/mmtheory: ``(where, role, label)``."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for name, doc in docstrings(path.read_text()):
            found += [(f"{path.relative_to(ROOT)}::{name}", role, label) for role, label in references(doc)]
    return found


def unresolved(citations, labels) -> list[str]:
    """Problems with ``citations`` against the book's ``labels``: unknown labels, and roles of the wrong kind
    ({eq} must name an equation, {prf:ref} a theorem-like directive)."""
    problems = []
    for where, role, label in citations:
        if label not in labels:
            problems.append(f"{where} cites {{{role}}}`{label}`, which is not a label in book/")
            continue
        kind, source, line = labels[label]
        if (role == "eq") != (kind == "math"):
            problems.append(f"{where} cites {{{role}}}`{label}`, but {source}:{line} labels a {{{kind}}}: "
                            f"use {{{'eq' if kind == 'math' else 'prf:ref'}}}")
    return problems


LABELS = all_book_labels()
CITATIONS = all_citations()
CITED = {label for _, _, label in CITATIONS}


# --------------------------------------------------------------------------- the checks


def test_the_book_has_labelled_results_and_the_library_cites_them():
    assert len(LABELS) >= 40, f"only {len(LABELS)} labels found in book/: is the parser broken?"
    assert len(CITED) >= 30, f"only {len(CITED)} labels cited under src/: is the parser broken?"


def test_every_reference_in_a_docstring_resolves_to_a_label_of_the_book():
    problems = unresolved(CITATIONS, LABELS)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("label", sorted(LABELS))
def test_every_labelled_result_is_cited_by_code_or_listed_as_having_none(label):
    kind, source, line = LABELS[label]
    role = "{eq}" if kind == "math" else "{prf:ref}"
    assert label in CITED or label in NO_CODE, (
        f"{source}:{line}: the {{{kind}}} labelled {label!r} is cited by no docstring under src/mmtheory. "
        f"Add 'Implements {role}`{label}`' to the function that computes it (and name that function in the "
        f"chapter), or list it in NO_CODE in tests/test_links.py with the reason it has no code")


@pytest.mark.parametrize("label", sorted(NO_CODE))
def test_the_no_code_list_holds_only_real_labels_that_no_docstring_cites(label):
    assert label in LABELS, f"NO_CODE lists {label!r}, which is not an in-scope label of any chapter in book/"
    citing = sorted(where for where, _, cited in CITATIONS if cited == label)
    assert not citing, f"NO_CODE lists {label!r}, but {citing} cite it: drop it from NO_CODE"
    assert NO_CODE[label].strip(), f"NO_CODE[{label!r}] needs a reason"


def test_an_unknown_or_miscast_reference_is_reported():
    fake = '''
def f():
    """Something.

    Implements {eq}`eq-no-such-label`, {prf:ref}`eq-pmi`, {prf:ref}`Title <thm-pmi-minimiser>`
    """
'''
    citations = [("fake.py::" + name, role, label)
                 for name, doc in docstrings(fake) for role, label in references(doc)]
    assert [label for _, _, label in citations] == ["eq-no-such-label", "eq-pmi", "thm-pmi-minimiser"]
    problems = unresolved(citations, LABELS)
    assert len(problems) == 2, problems
    assert "eq-no-such-label" in problems[0] and "not a label" in problems[0] and "fake.py::f" in problems[0]
    assert "eq-pmi" in problems[1] and "use {eq}" in problems[1]


def test_the_label_parser_reads_every_form_and_skips_exercises():
    lines = [
        "```{math}", ":label: eq-a", "x = 1", "```",
        ":::{prf:lemma} A lemma", ":label: lem-b", ":::",
        "````{prf:corollary} With options", ":class: dropdown", ":label: cor-c", "````",
        "$$ y = 2 $$ (eq-d)",
        "```{exercise} Not in scope", ":label: ex-e", "```",
        "(section-anchor)=",
        "```{math}", "z = 3", "```", ":label: not-an-option-any-more",
    ]
    page = "\n".join(lines)
    labels = book_labels(page, "page.md")
    assert labels == {"eq-a": ("math", "page.md", 2), "lem-b": ("prf:lemma", "page.md", 6),
                      "cor-c": ("prf:corollary", "page.md", 10), "eq-d": ("math", "page.md", 12)}


# --------------------------------------------------------------------------- the names the chapters give

_PUBLIC_PATH = re.compile(r"`(mmtheory(?:\.\w+)+)`")


def _top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.ImportFrom):
            names |= {alias.asname or alias.name for alias in node.names}
    return names


def resolves(dotted: str) -> bool:
    """Whether ``mmtheory.a.b...`` names a package, module, or a top-level name of one, by reading the sources."""
    here = PACKAGE
    parts = dotted.split(".")[1:]
    for i, part in enumerate(parts):
        if (here / part).is_dir() and (here / part / "__init__.py").is_file():
            here = here / part
        elif (here / f"{part}.py").is_file():
            here = here / f"{part}.py"
        else:
            module = here / "__init__.py" if here.is_dir() else here
            # a name defined or re-exported there; anything after it is an attribute of that object
            return part in _top_level_names(module)
        if here.is_file() and i < len(parts) - 1:
            return parts[i + 1] in _top_level_names(here)
    return True


@pytest.mark.parametrize("path", _chapters(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_public_paths_named_in_the_chapters_exist(path):
    missing = sorted({name for name in _PUBLIC_PATH.findall(path.read_text()) if not resolves(name)})
    assert missing == [], f"{path.relative_to(ROOT)} names {missing}, which the sources do not define"
