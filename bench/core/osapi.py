"""The platform's process plumbing, chosen once, the way psutil picks ``_pslinux`` or
``_pswindows``: code that runs on both platforms imports these names from here and never
``_linux`` or ``_windows`` itself.

On Linux a cell's processes live in process groups and cgroups and die with their parent
through PR_SET_PDEATHSIG; on Windows they live in Job Objects the harness holds with
kill-on-close. ``join_group`` takes a cgroup path on Linux and a job name on Windows.
"""

from __future__ import annotations

import sys

IS_WINDOWS = sys.platform == "win32"
IS_LINUX = sys.platform.startswith("linux")

if IS_WINDOWS:
    from bench.core import _windows as _plat
else:
    from bench.core import _linux as _plat

pid_alive = _plat.pid_alive
die_with_parent = _plat.die_with_parent
tight_timers = _plat.tight_timers
popen_group = _plat.popen_group
kill_group = _plat.kill_group
stop_group = _plat.stop_group
join_group = _plat.join_group
is_elevated = _plat.is_elevated
lock_file = _plat.lock_file
