"""What groups a cell's processes, chosen once: a cgroup v2 on Linux (``cgroup.py``), a
Job Object on Windows (``jobobject.py``). Both give the same handful of calls; a group's
``path`` is a directory on Linux and a job name on Windows, and is what a process passes
to ``osapi.join_group`` to enter it."""

from __future__ import annotations

from bench.core.osapi import IS_WINDOWS

if IS_WINDOWS:
    from bench.harness import jobobject as _impl
    CellGroup = _impl.CellJob
    NAME = "job object"
else:
    from bench.harness import cgroup as _impl
    CellGroup = _impl.CellCgroup
    NAME = "cgroup"

usage_us = _impl.usage_us
RESOLUTION_S = _impl.RESOLUTION_S   # how far a difference of two usage readings can be off
kill = _impl.kill
remove = _impl.remove
current = _impl.current
clean_stale = _impl.clean_stale
remove_parent_if_empty = _impl.remove_parent_if_empty
