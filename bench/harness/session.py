"""One run's lifecycle, shared by ``sensorbench run`` and ``sensorbench scenario``.

Both kinds of run do the same things around their cells, in the same order:

1. ``with RunSession(...)``: make the work directory's base (``--workdir``) and open the
   results folder, refusing one that holds results unless the run resumes it. Anything the
   user got wrong is a ``BadInput`` here, before anything is set up, and leaves nothing.
2. ``start(specs, meta)``: clean what dead runs left (their cgroups and work
   directories), read the machine's facts and say its noise warnings, record them with
   the run's id (``run_id``: made now, kept when the run resumes; a cell's id is unique
   within its run only), every backend's description and the caller's ``meta`` in
   ``meta.json``, start the janitor (it undoes a cell should the harness itself be
   killed) and this run's locked work directory, and turn SIGTERM into a
   KeyboardInterrupt (as Ctrl-C) for the cells.
3. ``finish(meta)`` (in the caller's ``finally``): no second SIGTERM, gather the results'
   pieces, write the closing ``meta.json`` entries.
4. leaving the ``with``: remove the run's work directory, the cgroup parent if empty, the
   base if we made it and it is empty, and close the janitor; restore SIGTERM.
"""

from __future__ import annotations

import shutil
import signal
import threading
import time
import uuid
from pathlib import Path
from collections.abc import Callable

from rich.console import Console

from bench.core.errors import BadInput
from bench.core.settings import Spec
from bench.harness import machine, workdir
from bench.harness.container import clean_stale, remove_parent_if_empty
from bench.harness.janitor import Janitor


def backend_record(spec: Spec) -> dict:
    """What ``meta.json`` keeps of a backend spec: its settings and everything a report
    needs to describe it without the backend's code (mode, mechanism, the kinds it sees,
    the partial keys it matches on, the real tool of its mechanism)."""
    from bench import backends

    cls = backends.get(spec.name)
    return {"name": spec.name, "settings": spec.settings, "mode": cls.mode,
            "mechanism": cls.mechanism, "kinds": sorted(k.name for k in cls.kinds),
            "partial_keys": {k.name: pk.label for k, pk in cls.partial_keys.items()},
            "same_mechanism": cls.same_mechanism}


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class RunSession:
    """The lifecycle above (one object per run). ``res`` is the results store, ``janitor``
    and ``rundir`` exist from ``start`` on, ``facts`` and ``warnings`` are the machine's."""

    def __init__(self, out: Path, workdir_opt: Path | None, open_store: Callable[[Path], object],
                 console: Console | None = None, resume: bool = False,
                 resume_hint: str = "pass --resume to continue that run, or choose another --out"):
        self.out, self.workdir_opt, self.open_store = out, workdir_opt, open_store
        self.console = console or Console(stderr=True)
        self.resume, self.resume_hint = resume, resume_hint
        self.res = None
        self.janitor: Janitor | None = None
        self.rundir: workdir.RunDir | None = None
        self.facts: dict = {}
        self.warnings: list[str] = []
        self._old_term = None
        self._base: Path | None = None
        self._made_base = False

    # -- 1. open --------------------------------------------------------------------------
    def __enter__(self) -> RunSession:
        self._base, self._made_base = workdir.prepare_base(self.workdir_opt)
        try:
            self.res = self.open_store(self.out)
            if self.res.done() and not self.resume:
                raise BadInput(f"{self.out} already holds results: {self.resume_hint}")
        except BaseException:
            self._remove_base()
            raise
        return self

    # -- 2. start -------------------------------------------------------------------------
    def start(self, specs: list[Spec], meta: dict) -> None:
        stale = clean_stale()
        stale_dirs = workdir.clean_stale(self._base)
        self.facts = machine.facts()
        self.warnings = machine.noise_warnings(self.facts)
        for w in self.warnings:
            self.console.print(f"[yellow]warning:[/] {w}")
        rid = self.res.meta().get("run_id")
        self.res.write_meta({
            "run_id": rid if isinstance(rid, str) and rid else uuid.uuid4().hex[:16],
            "machine": self.facts, "warnings": self.warnings,
            "stale_cgroups_cleaned": stale, "stale_workdirs_cleaned": stale_dirs,
            "started": now(), "backends": {s.text: backend_record(s) for s in specs},
            "workdir": {"path": str(self._base), "fs": workdir.fs_type(self._base)},
            **meta})
        self.janitor = Janitor(self.res.path / "logs" / "janitor.log")
        self.janitor.backends([s.name for s in specs])
        self.rundir = workdir.RunDir(self._base)
        self.janitor.watch("path", path=str(self.rundir.path))
        self._old_term = _term_as_interrupt()

    # -- 3. finish ------------------------------------------------------------------------
    def closing(self) -> None:
        """From here on a SIGTERM is ignored: one clean-up, not two (first thing in the
        caller's ``finally``)."""
        if self._old_term is not None:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def finish(self, meta: dict) -> None:
        """Gather the pieces and close ``meta.json``."""
        self.closing()
        self.res.finalize()
        self.res.write_meta({"finished": now(), **meta})

    # -- 4. leave -------------------------------------------------------------------------
    def __exit__(self, *exc) -> None:
        if self.res is not None and self.janitor is not None:
            shutil.rmtree(self.res.parts / "tmp", ignore_errors=True)
        if self.rundir is not None:
            self.rundir.remove()
            remove_parent_if_empty()
        self._remove_base()
        if self.janitor is not None:
            self.janitor.close()
        if self._old_term is not None:
            signal.signal(signal.SIGTERM, self._old_term)
            self._old_term = None

    def _remove_base(self) -> None:
        if self._made_base:
            try:
                self._base.rmdir()   # only if empty: every run removes its own directory
            except OSError:
                pass


def _term_as_interrupt():
    """SIGTERM (kill, systemd, a CI timeout) stops the run like Ctrl-C: finished cells are
    kept and the cell under way is undone. Returns the previous handler (None off the main
    thread, where Python cannot install one)."""
    def on_term(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, on_term)
