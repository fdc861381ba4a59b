"""Generated reference docs must match the code (run `make docs` to refresh them)."""

import pytest

from cardsim.cli.docgen import DOCS, ROOT


@pytest.mark.parametrize("rel", sorted(DOCS))
def test_generated_docs_are_current(rel):
    current = (ROOT / rel).read_text(encoding="utf-8")
    assert current == DOCS[rel](), f"{rel} is out of date: run `make docs`"
