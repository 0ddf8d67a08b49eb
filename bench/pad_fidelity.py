"""How close the drawing pad's reduced payload comes to a full-size PNG of the same ink, as the models see it.

    python bench/pad_fidelity.py                       # 300 test images per data set, judges from weights/
    python bench/pad_fidelity.py --judge-dir /tmp/judges --count 1000

Drawings: test-set images of each data set drawn on the 280 px pad (25-85% of its side, anywhere on it,
anti-aliased edge), and the synthetic strokes of `tests/support/harness.py` `SHAPES` at three sizes and three places.
Each drawing becomes a 28x28 model input twice, through the one preprocessing path: from the pad's payload
(`ae_vae.drawing_pad.encode_payload`, the Python twin of the page's encoder) and from a full-size PNG of the
canvas. The reference for "the same input" is the drawing's own jitter: the same ink drawn half a canvas
pixel elsewhere. Rows give the mean |difference| per pixel (raw, and up to the framing's one-pixel rounding:
`framing_difference`) and, with a judge (`ae_vae.judge`, folder `<judge-dir>/judge-<dataset>`), how often its
class agrees with the full-size PNG's, and its accuracy on the test images' labels.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ae_vae.app.pad import PAD_SIZE, PAYLOAD_TOLERANCE, encode_payload, framing_difference, sketch_value
from ae_vae.data import DATASETS, load_split
from ae_vae.preprocess import to_model_input
from bench.common import argument_parser, machine
from tests.support.harness import DEFAULT_WEIGHTS_DIR, SHAPES, render_strokes, shape_on_canvas


def rgba(alpha: np.ndarray) -> np.ndarray:
    """The canvas as the Sketchpad sent it: black, alpha = ink."""
    image = np.zeros(alpha.shape + (4,), np.uint8)
    image[..., 3] = alpha
    return image


def drawn(image: np.ndarray, size: int, top: int, left: int, shift: float = 0.0) -> np.ndarray:
    """A 28x28 test image (floats in [0, 1]) drawn `size` px large on the pad: a pen's solid line, soft edge."""
    big = np.asarray(Image.fromarray(image.astype(np.float32), mode="F").resize((size, size), Image.BILINEAR))
    canvas = np.zeros((PAD_SIZE, PAD_SIZE))
    canvas[top:top + size, left:left + size] = big
    if shift:
        canvas = ndimage.shift(canvas, (shift, shift), order=1)
    return (np.clip((canvas - 0.3) / 0.3, 0, 1) * 255 + 0.5).astype(np.uint8)


def drawings(dataset: str, data_dir: Path, count: int, seed: int = 0):
    """(label or None, canvas alpha, the same ink half a canvas pixel elsewhere) for test images and strokes."""
    rng = np.random.default_rng(seed)
    try:
        test = load_split(dataset, data_dir, train=False, download=False)
        images = test.images[:count, 0].numpy().astype(np.float32)
        images /= max(float(images.max()), 1.0) if images.max() > 1 else 1.0
        for image, label in zip(images, test.labels[:count].tolist()):
            size = int(rng.uniform(0.25, 0.85) * PAD_SIZE)
            top, left = rng.integers(5, PAD_SIZE - size - 5 + 1, 2)
            yield int(label), drawn(image, size, top, left), drawn(image, size, top, left, shift=0.5)
    except Exception as exc:  # noqa: BLE001 - no data set: the strokes alone still measure the reduction
        print(f"({dataset} test set unavailable: {exc}; synthetic strokes only)", file=sys.stderr)
    for shape in SHAPES:
        for scale in (0.35, 0.8, 1.4):
            for offset in ((0, 0), (-37.3, 21.6), (20.5, -10.25)):
                points = shape_on_canvas(shape, scale, offset=offset)
                yield None, render_strokes([points]), render_strokes([[(x + 0.5, y + 0.5) for x, y in points]])


def load_judge_or_none(folder: Path):
    if not (folder / "model.safetensors").is_file():
        return None
    from ae_vae.models.judge import load_judge

    return load_judge(folder)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, data_dir=True)
    parser.add_argument("--count", type=int, default=300, help="test images per data set")
    parser.add_argument("--judge-dir", type=Path, default=DEFAULT_WEIGHTS_DIR,
                        help="folder holding judge-mnist/ and judge-fashion_mnist/ (ae_vae.judge)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"machine: {machine()}; tolerance (framed, per drawing) {PAYLOAD_TOLERANCE}\n")
    print("| framing | drawings | compared with the full-size PNG | raw mean / max | framed mean / p95 / max "
          "| judge agrees | judge accuracy (test images) |\n|---|---|---|---|---|---|---|")
    worst = 0.0
    for dataset in DATASETS:
        judge = load_judge_or_none(args.judge_dir / f"judge-{dataset}")
        rows: dict[str, list] = {"pad payload": [], "same ink ½ px elsewhere": []}
        inputs: dict[str, list] = {"full-size PNG": [], "pad payload": [], "same ink ½ px elsewhere": []}
        labels = []
        for label, alpha, shifted in drawings(dataset, args.data_dir, args.count):
            full = to_model_input(rgba(alpha), dataset=dataset)
            others = {"pad payload": to_model_input(sketch_value(encode_payload(alpha))["composite"], dataset=dataset),
                      "same ink ½ px elsewhere": to_model_input(rgba(shifted), dataset=dataset)}
            inputs["full-size PNG"].append(full)
            labels.append(-1 if label is None else label)
            for name, other in others.items():
                rows[name].append((float(np.abs(other - full).mean()), framing_difference(other, full)))
                inputs[name].append(other)
        labels_t = torch.tensor(labels)
        predicted = ({name: judge.predict(torch.from_numpy(np.stack(x))[:, None]) for name, x in inputs.items()}
                     if judge is not None else {})
        for name, values in rows.items():
            raw, framed = np.array(values).T
            worst = max(worst, float(framed.max())) if name == "pad payload" else worst
            agree = accuracy = "no judge"
            if predicted:
                agree = f"{(predicted[name] == predicted['full-size PNG']).float().mean():.3f}"
                known = labels_t >= 0
                accuracy = (f"{(predicted[name][known] == labels_t[known]).float().mean():.3f} "
                            f"(full-size: {(predicted['full-size PNG'][known] == labels_t[known]).float().mean():.3f})")
            print(f"| {dataset} | {len(values)} | {name} | {raw.mean():.4f} / {raw.max():.4f} "
                  f"| {framed.mean():.4f} / {np.percentile(framed, 95):.4f} / {framed.max():.4f} | {agree} "
                  f"| {accuracy} |", flush=True)
    print(f"\nworst framed difference of the pad payload: {worst:.4f} (tolerance {PAYLOAD_TOLERANCE})")
    return 0 if worst <= PAYLOAD_TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
