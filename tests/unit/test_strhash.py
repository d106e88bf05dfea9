"""The vectorized string hash: the function its module states (checked against a plain
Python reading of it), whatever strings it is hashed beside, and apart where strings
differ only past a word, in length or in one byte."""

import numpy as np
from hypothesis import given, settings, strategies as st

from bench.analysis.strhash import hash_strings

M64 = 2**64 - 1


def _mix(x: int) -> int:
    x ^= x >> 30
    x = x * 0xBF58476D1CE4E5B9 & M64
    x ^= x >> 27
    x = x * 0x94D049BB133111EB & M64
    return x ^ (x >> 31)


def reference(s: str) -> int:
    """The module's hash, one string at a time: from the length in bytes, each 8-byte
    little-endian word (the last zero-filled) folded in with h = mix(h ^ word)."""
    b = s.encode()
    h = _mix(len(b) ^ 0x9E3779B97F4A7C15)
    for i in range(0, len(b), 8):
        h = _mix(h ^ int.from_bytes(b[i:i + 8], "little"))
    return h


def _hash(values) -> list[int]:
    return hash_strings(np.array(values, dtype=object))[0].tolist()


EDGES = ["", "a", "a\0", "abcdefg", "abcdefgh", "abcdefghi", "é", "/tmp/ü/日本/x",
         "x" * 4096 + "y", "/var/tmp/sensorbench/sbcafe0001/sbcafe0001-0000001.new"]


def test_hashes_are_the_stated_function():
    assert _hash(EDGES) == [reference(s) for s in EDGES]


@given(st.lists(st.text(max_size=40), max_size=30))
@settings(max_examples=200)
def test_any_strings_hash_as_stated_alone_or_together(strings):
    # a string's hash is its own: the same alone, beside others, at the end of the
    # buffer (its last word read past the end) or not
    together = _hash(strings)
    assert together == [reference(s) for s in strings]
    assert [_hash([s])[0] for s in strings] == together


def test_missing_values_hash_to_zero_and_are_flagged():
    h, missing = hash_strings(np.array([None, "a", float("nan"), ""], dtype=object))
    assert h.tolist() == [0, reference("a"), 0, reference("")]
    assert missing.tolist() == [True, False, True, False]
    assert reference("") != 0


def test_an_empty_array_and_empty_strings_only():
    h, missing = hash_strings(np.array([], dtype=object))
    assert h.dtype == np.uint64 and len(h) == 0 and len(missing) == 0
    assert _hash(["", ""]) == [reference("")] * 2


def test_strings_that_differ_only_past_a_word_or_in_length_hash_apart():
    base = "/var/tmp/sensorbench/" + "d" * 100
    near = [base[:i] + "X" + base[i + 1:] for i in (0, 7, 8, 15, 16, 63, 64, 120)]
    near += [base + "X", base[:-1], base + "\0", base + "\0\0"]
    hashes = _hash([base] + near)
    assert len(set(hashes)) == len(hashes)


def test_many_similar_paths_do_not_collide():
    paths = [f"/var/tmp/sensorbench/sbcafe0001/sbcafe0001-{i:07d}.{ext}"
             for i in range(100_000) for ext in ("new", "tmp")]
    h = hash_strings(np.array(paths, dtype=object))[0]
    assert len(np.unique(h)) == len(paths)
