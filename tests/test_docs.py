"""The documentation's Python examples run and their assertions hold."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def python_blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


@pytest.mark.parametrize("index", range(len(python_blocks(DOCS / "online.md"))))
def test_online_docs_examples_run(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(python_blocks(DOCS / "online.md")[index], f"online.md[{index}]", "exec"), {})


@pytest.mark.parametrize("index", range(len(python_blocks(DOCS / "serving.md"))))
def test_serving_docs_examples_run(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(python_blocks(DOCS / "serving.md")[index], f"serving.md[{index}]", "exec"), {})


@pytest.mark.parametrize("index", range(len(python_blocks(DOCS / "rollout.md"))))
def test_rollout_docs_examples_run(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(python_blocks(DOCS / "rollout.md")[index], f"rollout.md[{index}]", "exec"), {})
