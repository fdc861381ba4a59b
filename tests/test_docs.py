"""Generated reference docs must match the code (run `make docs` to refresh them), and the worked
example in docs/api.md must run."""

import re
import shutil

import pytest

from cardsim.cli.docgen import DOCS, ROOT


@pytest.mark.parametrize("rel", sorted(DOCS))
def test_generated_docs_are_current(rel):
    current = (ROOT / rel).read_text(encoding="utf-8")
    assert current == DOCS[rel](), f"{rel} is out of date: run `make docs`"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.S | re.M)


def test_api_example_runs(tmp_path, monkeypatch, capsys):
    blocks = python_blocks((ROOT / "docs" / "api.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/api.md block {i + 1}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "has no effect in replay" in out and "records diverge" in out
    assert (tmp_path / "keys" / "root-ca.pem").exists() and (tmp_path / "weekday.db").exists()
