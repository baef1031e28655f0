"""The commands that build, test and publish the book are the README's, word for word."""

import re

import yaml
from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_command(heading: str) -> str:
    """The one-line command in the first bash block after ``heading`` (bold text or a title) in the README."""
    match = re.search(re.escape(heading) + r".*?```bash\n(.*?)\n```", README, re.DOTALL)
    assert match, f"the README has no bash block after {heading}"
    return match.group(1).strip()


def test_the_pages_workflow_builds_with_the_readme_command_and_deploys_the_site():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "pages.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["build"]["steps"]
    runs = [s["run"].strip() for s in steps if "run" in s and "jupyter-book" in s["run"]]
    assert runs[0] == readme_command("**Build the book**")
    student = runs[1].splitlines()
    assert student[0] == readme_command("## The student edition")
    assert student[1] == "cp -r _build/student/_build/html _build/html/student"
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact")]
    assert uploads and uploads[0]["with"]["path"] == "_build/html"
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["steps"][0]["uses"].startswith("actions/deploy-pages")


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1].strip() == readme_command("**Run the whole test suite**")
