"""``make floors`` installs the lowest versions pyproject allows: the floors it reads."""

from tests.floors import floors


def test_floors_are_the_lower_bounds_with_markers_that_hold_here():
    doc = {"project": {
        "dependencies": ["numpy>=1.24", "pyarrow>=14,<30", "pywintrace>=0.2; sys_platform == 'win32'",
                         "plain"],
        "optional-dependencies": {"test": ["pytest>=7"], "mutation": ["mutmut==3.8.1"]},
    }}
    assert floors(doc) == ["numpy==1.24", "pyarrow==14", "pytest==7"]
    assert floors(doc, ("mutation",)) == ["numpy==1.24", "pyarrow==14", "mutmut==3.8.1"]
