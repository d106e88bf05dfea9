"""The mutation report's arithmetic and its matching of survivors to their reasons, on
constructed verdicts (``make mutation`` itself runs outside ``make test``)."""

import math

from tests.mutation.report import Mutant, Reason, Score, as_json, load_reasons, render

DIFF = """--- bench/analysis/blocks.py
+++ bench/analysis/blocks.py
@@ -1,4 +1,4 @@
 def cell_mean(op_times):
-    if op_times is None or len(op_times) < MIN_OPS:
+    if op_times is None or len(op_times) <= MIN_OPS:
         return math.nan"""


def _mutants():
    return [
        Mutant("bench.analysis.blocks.x_cell_mean__mutmut_1", "killed"),
        Mutant("bench.analysis.blocks.x_cell_mean__mutmut_2", "timeout"),
        Mutant("bench.analysis.blocks.x_cell_mean__mutmut_3", "survived", DIFF),
        Mutant("bench.results.compare.xǁSideǁknown__mutmut_1", "no tests", DIFF),
        Mutant("bench.results.compare.xǁSideǁknown__mutmut_2", "skipped"),
    ]


def test_score_counts_timeouts_as_detected_and_unreached_code_as_survived():
    s = Score(_mutants())
    # 4 mutants count (the skipped one does not); killed + timeout = 2 detected
    assert (s.detected, s.total) == (2, 4)
    assert s.score == 0.5
    assert [m.name[-1] for m in s.survivors] == ["3", "1"]
    assert math.isnan(Score([]).score)


def test_module_function_and_change_are_read_off_the_name_and_diff():
    m = _mutants()[3]
    assert m.module == "bench.results.compare"
    assert m.function == "bench.results.compare.xǁSideǁknown"
    assert _mutants()[2].change == ("if op_times is None or len(op_times) < MIN_OPS:",
                                    "if op_times is None or len(op_times) <= MIN_OPS:")


def test_a_reason_names_its_function_and_change_not_the_mutants_number():
    old, new = _mutants()[2].change
    fits = Reason("bench.analysis.blocks.x_cell_mean", old, new, "why not")
    other_fn = Reason("bench.analysis.blocks.x_paired", old, new, "elsewhere")
    s = Score(_mutants(), [other_fn, fits])
    assert s.reason(s.survivors[0]) is fits
    assert s.reason(s.survivors[1]) is None   # same change, another function
    page = render(s, 0.85)
    assert "Survivors explained (1)" in page and "Survivors unexplained (1)" in page
    assert "50.0%" in page and "floor 85%" in page
    # a reason whose mutant no longer survives is named, so that it can go
    assert "Reasons no survivor needs (1)" in page and "x_paired" in page
    j = as_json(s, 0.85)
    assert j["score"] == 0.5 and j["survivors"][0]["why"] == "why not"
    assert j["modules"]["bench.analysis.blocks"] == {"killed": 1, "timeout": 1, "survived": 1}


def test_accepted_file_is_read(tmp_path):
    p = tmp_path / "accepted.toml"
    p.write_text('[[mutant]]\nfunction = "m.x_f"\nfrom = "a < b"\nto = "a <= b"\n'
                 'why = "equivalent: a never equals b"\n')
    (r,) = load_reasons(p)
    assert (r.function, r.old, r.new) == ("m.x_f", "a < b", "a <= b")
    assert load_reasons(tmp_path / "none.toml") == []
