"""Colours and line styles that make kernel vs user mode visible at a glance.

Kernel-mode backends get warm colours and solid lines, user-mode backends cool colours and
dashed lines, the calibration backend greys and dotted lines. Within a mode, colours and
markers cycle, so each series stays distinct on a slide and in greyscale print. Charts that
name every point instead (the overview) use one colour and one marker shape per mode.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")   # no display, ever: reports are built on servers and in CI

KERNEL = ["#c0392b", "#e67e22", "#8e4a1c", "#d4a017", "#e84393", "#a0522d", "#ff6f61"]
USER = ["#1f5fa8", "#16a085", "#6c3fa0", "#2e86de", "#27ae60", "#0b3d62", "#48c9b0",
        "#8e7cc3", "#5d6d7e"]
CALIBRATION = ["#555555", "#999999", "#333333"]
PALETTE = {"kernel": KERNEL, "user": USER, "calibration": CALIBRATION}
LINESTYLE = {"kernel": "-", "user": "--", "calibration": ":"}
MODE_COLOUR = {"kernel": KERNEL[0], "user": USER[0], "calibration": CALIBRATION[0]}
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">"]
# Charts that draw one point per backend and tell modes apart by the point alone (the
# overview) use one colour and one marker shape per mode: shape survives greyscale print.
MODE_MARKER = {"kernel": "s", "user": "o", "calibration": "D"}
MODE_NAME = {"kernel": "kernel mode (sensor code in the kernel: eBPF)",
             "user": "user mode (OS facility or polling)",
             "calibration": "calibration (synthetic)"}

RC = {
    "figure.dpi": 100, "savefig.dpi": 100, "font.size": 11, "axes.titlesize": 12,
    "axes.labelsize": 11, "legend.fontsize": 9, "axes.grid": True, "grid.alpha": 0.3,
    "axes.spines.top": False, "axes.spines.right": False, "svg.fonttype": "none",
}


class Styles:
    """Stable style per series: the same backend looks the same in every chart."""

    def __init__(self, series_info):
        self._style: dict[str, dict] = {}
        used: dict[str, int] = {}
        for _, s in series_info.iterrows():
            mode = s["mode"] if s["mode"] in PALETTE else "user"
            i = used.get(mode, 0)
            used[mode] = i + 1
            pal = PALETTE[mode]
            self._style[s["series"]] = {
                "color": pal[i % len(pal)], "linestyle": LINESTYLE[mode],
                "marker": MARKERS[i % len(MARKERS)], "mode": s["mode"],
            }

    def __call__(self, series: str) -> dict:
        return self._style.get(series, {"color": "#777777", "linestyle": "-", "marker": "o",
                                        "mode": "?"})

    def line(self, series: str) -> dict:
        s = self(series)
        return {"color": s["color"], "linestyle": s["linestyle"], "marker": s["marker"]}

    def label(self, series: str) -> str:
        return f"{series} [{self(series)['mode']}]"
