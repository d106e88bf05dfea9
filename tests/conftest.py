"""pytest's entry point for shared fixtures; they live in ``tests.helpers.fixtures``.

Nothing with state may live here: pytest imports this file as ``conftest``, so a test
module importing it as ``tests.conftest`` would get a second copy.

On Windows only the test files that carry the ``windows`` marker are collected (the rest
import Linux-only modules or need Linux facilities): ``py -m pytest -m windows``.
"""

import sys

from hypothesis import HealthCheck, settings

# Properties run the same examples on every machine and in every run (a property that
# fails only sometimes is a red CI waiting to happen), keep no example database in the
# checkout, and are not timed (a shared VM's pauses are not the code's).
settings.register_profile("sensorbench", derandomize=True, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("sensorbench")

if sys.platform == "win32":
    def pytest_ignore_collect(collection_path, config):
        # a file is collected when some test in it says it runs on Windows too
        if collection_path.suffix == ".py" and collection_path.name.startswith(("test_", "bench_")):
            return "pytest.mark.windows" not in collection_path.read_text(errors="replace")
        return None
else:
    from tests.helpers.fixtures import audit_exclusive, leaves_nothing, ten_ms_ticks  # noqa: F401

pytest_plugins = ["pytester"]
