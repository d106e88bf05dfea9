"""Every test in this folder is an integration test (real backends, the kernel, the CLI in
processes of its own; most need root): marked ``integration`` here once, so that
``pytest -m "not integration"`` runs the fast suite alone and no file can forget it."""

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.integration)
