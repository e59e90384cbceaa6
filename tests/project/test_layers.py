"""Imports point down only: bot → handlers → jobs → storage."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.cli import ROOT

# What each layer must never import.
FORBIDDEN = {
    "handlers": ("bot", "slack_bolt", "slack_sdk", "telegram"),
    "jobs": ("bot", "handlers", "slack_bolt", "slack_sdk", "telegram"),
    "storage": ("bot", "handlers", "jobs", "slack_bolt", "slack_sdk", "telegram"),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_down(layer: str) -> None:
    offenders = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top in FORBIDDEN[layer]:
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []
