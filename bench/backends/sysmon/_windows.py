"""The installed Sysmon: whether its service runs, its version and the configuration it
runs with (``Sysmon64.exe -c`` prints both), for ``available`` and meta.json.

Sysmon's service is named after its binary (``Sysmon64`` or ``Sysmon``, or a name chosen
at install); its binary's path is the service's. Nothing here is called on Linux.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

CONFIG = Path(__file__).resolve().parent / "sysmon.xml"
SERVICES = ("Sysmon64", "Sysmon")
INSTALL = (f"install Sysmon with our configuration (elevated): Sysmon64.exe -accepteula -i "
           f"{CONFIG}")

_VERSION = re.compile(r"System Monitor v(\d+(?:\.\d+)*)")
_HASH = re.compile(r"Config(?:uration)? (?:file )?hash:\s*(\S+)", re.I)
_RULES = re.compile(r"^\s*-\s*(\w+)\s+onmatch:\s*(\w+)", re.M)


def service():
    """(name, binary path, status) of the Sysmon service, or None when not installed."""
    import psutil

    for name in SERVICES:
        try:
            s = psutil.win_service_get(name).as_dict()
        except Exception:  # noqa: BLE001 - psutil raises NoSuchProcess for a missing one
            continue
        binpath = (s.get("binpath") or "").strip().strip('"')
        return name, binpath, s.get("status")
    return None


def parse_dump(text: str) -> dict:
    """What ``Sysmon64.exe -c`` (no file: print the running configuration) says: its
    version, the configuration's hash, and which event types have rules."""
    v, h = _VERSION.search(text), _HASH.search(text)
    return {"version": v.group(1) if v else None, "config_hash": h.group(1) if h else None,
            "rules": {m.group(1): m.group(2) for m in _RULES.finditer(text)}}


def running_config() -> dict:
    """The installed Sysmon's version and configuration, or {"error": why}."""
    svc = service()
    if svc is None:
        return {"error": "Sysmon is not installed: " + INSTALL}
    name, binpath, status = svc
    info = {"service": name, "binary": binpath, "status": status}
    try:
        r = subprocess.run([binpath, "-c"], capture_output=True, text=True, timeout=30,
                           errors="replace")
        info.update(parse_dump(r.stdout + r.stderr))
    except (OSError, subprocess.TimeoutExpired) as e:
        info["error"] = f"cannot ask {binpath} for its configuration: {e}"
    return info


def our_config_sha256() -> str:
    return hashlib.sha256(CONFIG.read_bytes()).hexdigest()
