"""pytest's entry point for shared fixtures; they live in ``tests.helpers.fixtures``.

Nothing with state may live here: pytest imports this file as ``conftest``, so a test
module importing it as ``tests.conftest`` would get a second copy.
"""

from tests.helpers.fixtures import audit_exclusive, leaves_nothing  # noqa: F401

pytest_plugins = ["pytester"]
