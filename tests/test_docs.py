"""Documentation that must follow the code."""

from __future__ import annotations

import re
from pathlib import Path

from fleet.config import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_configuration_page_lists_every_setting() -> None:
    page = (DOCS / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`{name.upper()}`" not in page]
    assert missing == []


def test_docs_links_point_to_existing_pages() -> None:
    broken = []
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([a-z0-9\-]+\.md)\)", page.read_text()):
            if not (DOCS / target).exists():
                broken.append(f"{page.name} -> {target}")
    assert broken == []
