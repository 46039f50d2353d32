#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""qr-image.py TEXT IMAGE

Draws the QR code that oyster printed on a terminal (TEXT, as captured
from the pseudo-terminal) into IMAGE, a greyscale PGM that zbarimg reads:
each character cell is two modules stacked, a block drawn in the
foreground colour is light (oyster sets white on black), a blank is dark.
Exits 1 when TEXT holds no such drawing.
"""
import re
import sys

CELLS = {" ": (0, 0), "\u2584": (0, 1), "\u2580": (1, 0), "\u2588": (1, 1)}
SCALE = 8


def main():
    text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
    text = re.sub(r"\x1b\[[0-9;]*m", "", text.replace("\r", ""))
    rows = []
    for line in text.split("\n"):
        if line and "\u2588" in line and all(c in CELLS for c in line):
            rows.append(CELLS[c][0] for c in line)
            rows[-1] = list(rows[-1])
            rows.append([CELLS[c][1] for c in line])
    if not rows:
        sys.exit("qr-image.py: no QR code in " + sys.argv[1])
    width = max(len(r) for r in rows)
    # A wide light border, as paper around a printed code.
    pad = 4
    grid = [[1] * (width + 2 * pad) for _ in range(pad)]
    grid += [[1] * pad + r + [1] * (width - len(r) + pad) for r in rows]
    grid += [[1] * (width + 2 * pad) for _ in range(pad)]
    w, h = len(grid[0]) * SCALE, len(grid) * SCALE
    with open(sys.argv[2], "wb") as f:
        f.write(b"P5\n%d %d\n255\n" % (w, h))
        for r in grid:
            line = bytes(255 if v else 0 for v in r for _ in range(SCALE))
            f.write(line * SCALE)


if __name__ == "__main__":
    main()
