"""Every test module's name is unique across tests/: the test folders are not packages, so
pytest imports each module by its bare name, and a second file of the same name stops the
whole collection ("import file mismatch") before any test runs."""

from collections import Counter

from tests.helpers import ROOT


def test_test_module_names_are_unique():
    names = Counter(p.name for p in (ROOT / "tests").rglob("test_*.py")
                    if "__pycache__" not in p.parts)
    assert [n for n, c in names.items() if c > 1] == []
