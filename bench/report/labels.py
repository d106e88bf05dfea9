"""Series names next to their points on a scatter chart, placed where they cover the fewest
other labels, markers and whiskers (the overview charts label every backend by name)."""

from __future__ import annotations


def place_labels(fig, ax, items, whiskers=()) -> None:
    """Put each series name next to its point where it covers the fewest other labels,
    markers and whiskers: a greedy search over positions around the marker, nearest first;
    farther ones (a crowd, typically the many backends that drop nothing) get a thin
    leader line. ``items``: (x, y, text, colour, marker radius in pt); ``whiskers``:
    (x_low, x_high, y) in data units."""
    renderer = fig.canvas.get_renderer()
    px = fig.dpi / 72.0
    f = ax.get_window_extent(renderer)
    frame = (f.x0, f.y0, f.x1, f.y1)
    obstacles = []
    for x, y, _, _, r in items:
        cx, cy = ax.transData.transform((x, y))
        obstacles.append((cx - r * px, cy - r * px, cx + r * px, cy + r * px))
    for lo, hi, y in whiskers:
        (x0, cy), (x1, _) = ax.transData.transform([(lo, y), (hi, y)])
        obstacles.append((x0, cy - 4 * px, x1, cy + 4 * px))

    def overlap(a, b) -> float:
        w = min(a[2], b[2]) - max(a[0], b[0])
        h = min(a[3], b[3]) - max(a[1], b[1])
        return w * h if w > 0 and h > 0 else 0.0

    fontsize = 8
    # Largest markers first: they are the hardest to label without covering something.
    for x, y, text, colour, r in sorted(items, key=lambda it: -it[4]):
        # Measure the text once; candidate boxes are then arithmetic (drawing each
        # candidate to measure it would cost seconds on a 20-backend run).
        probe = ax.text(0, 0, text, fontsize=fontsize)
        bb = probe.get_window_extent(renderer)
        probe.remove()
        w, h = bb.width + 2, bb.height + 2
        cx, cy = ax.transData.transform((x, y))
        best = None
        for k, (dx, dy, ha, va, far) in enumerate(label_offsets(r, h / px)):
            x0 = cx + dx * px - w * {"left": 0, "center": 0.5, "right": 1}[ha]
            y0 = cy + dy * px - h * {"bottom": 0, "center": 0.5, "top": 1}[va]
            box = (x0, y0, x0 + w, y0 + h)
            outside = w * h - overlap(box, frame)
            score = sum(overlap(box, o) for o in obstacles) + 3 * outside + k * 2
            if best is None or score < best[0]:
                best = (score, box, (dx, dy, ha, va, far))
        _, box, (dx, dy, ha, va, far) = best
        ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                    fontsize=fontsize, color=colour, zorder=6, annotation_clip=False,
                    arrowprops=dict(arrowstyle="-", color=colour, lw=0.6, alpha=0.7,
                                    shrinkA=1, shrinkB=r) if far else None)
        obstacles.append(box)


def label_offsets(r: float, h: float):
    """Label positions around a marker of radius ``r`` pt for a label ``h`` pt tall:
    (dx, dy, ha, va, needs a leader line), nearest first."""
    g = r + 2
    near = [(g, 0, "left", "center"), (-g, 0, "right", "center"),
            (0, g, "center", "bottom"), (0, -g, "center", "top"),
            (0.7 * g, 0.7 * g, "left", "bottom"), (0.7 * g, -0.7 * g, "left", "top"),
            (-0.7 * g, 0.7 * g, "right", "bottom"), (-0.7 * g, -0.7 * g, "right", "top")]
    out = [(*o, False) for o in near]
    # Stacks above and below, then diagonally out: where a crowd's labels find room.
    for n in range(1, 9):
        d = g + n * h
        out += [(2, d, "left", "bottom", True), (2, -d, "left", "top", True),
                (-2, d, "right", "bottom", True), (-2, -d, "right", "top", True)]
    return out
