"""Required options and arguments are enforced at every dependency version we allow: with
typer 0.16 and the click pip picks for it, `merge` without `--out` ran on. The CLI runs in
this process; it stops at parsing, before touching any folder."""

import sys

import pytest

from bench import cli


@pytest.mark.parametrize("args,missing", [
    (["merge", "a", "b"], "--out"),
    (["compare", "a"], "new"),
    (["report"], "folder"),
])
def test_a_missing_required_option_or_argument_is_exit_2(capsys, monkeypatch, args, missing):
    monkeypatch.setattr(sys, "argv", ["sensorbench", *args])
    with pytest.raises(SystemExit) as ex:
        cli.main()
    err = capsys.readouterr().err
    assert ex.value.code == 2, err
    assert "Missing" in err and missing in err.lower(), err
