"""The images the API examples send (README.md, docs/api.md): three hand-drawn-style digits, written to
docs/examples/ as a visitor's upload would look (black ink on white, 280 x 280 px).

    python docs/make_examples.py     # then run the examples from the repository's root

The strokes are drawn with the pad's brush (`ae_vae.app.pad.BRUSH_WIDTH`), anti-aliased as a browser's canvas draws
them (`tests/support/harness.render_strokes`). A docs generator, not a test.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ae_vae.app.pad import BRUSH_WIDTH, PAD_SIZE
from tests.support.harness import ROOT, render_strokes

# Each digit as strokes of canvas points (x right, y down) on the pad's 280 px canvas.
DIGITS = {
    "digit": [[(80, 65), (200, 65), (125, 225)]],  # a seven
    "two": [[(82, 98), (100, 72), (140, 60), (180, 72), (196, 102), (184, 134), (150, 166), (112, 198), (80, 226),
             (204, 226)]],
    "five": [[(192, 60), (104, 60), (94, 132)],
             [(94, 132), (132, 118), (172, 128), (194, 160), (190, 196), (162, 222), (122, 228), (88, 210)]],
}
OUT = ROOT / "docs" / "examples"


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, strokes in DIGITS.items():
        ink = render_strokes(strokes, size=PAD_SIZE, width=float(BRUSH_WIDTH))
        path = OUT / f"{name}.png"
        Image.fromarray((255 - ink).astype(np.uint8)).save(path, optimize=True)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
