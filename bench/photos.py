"""Photos and scans of digits, hand-drawn canvases and enlarged test images through `to_model_input`.

    python bench/photos.py [--count 500] [--baseline HEAD] [--data-dir data]

1. Photo-like set: MNIST *test* digits rendered as dark ink on light grey, textured paper, unevenly lit
   (illumination gradient, a soft shadow, some with the page's edge and the table beyond it, dust),
   camera blur, sensor noise, JPEG; random size and position in a photo of 480..1600 px. Reports how
   often a classifier recognises the digit in the 28x28 model input and in the shipped AE's and VAE's
   reconstructions of it.
2. Hand-drawn style: the same digits as solid anti-aliased brush strokes on a transparent 280x280
   canvas (what the sketchpad sends), random size and position.
3. Fixed point: test images of MNIST and Fashion-MNIST uploaded 10x enlarged (nearest and bicubic)
   must come back as themselves: mean |model input - original| and classifier accuracy on both.
4. `to_model_input` time on a 280x280 RGBA drawing and a 3000x4000 JPEG photo (a quick timeit).

With `--baseline REV` every row is also measured with `ae_vae/preprocess.py` as of git revision REV
(before/after). The classifier is the shipped judge (`weights/judge-<dataset>`) when it is there;
otherwise the judge's architecture is trained here for 2 epochs on 1 thread (said in the output).
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ae_vae.data import load_dataset
from bench.common import argument_parser, machine
from tests.support.harness import ROOT

Preprocess = Callable[..., np.ndarray]


# ---------------------------------------------------------------- renderings

def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Zero-mean, unit-std noise with a correlation length of about `sigma` px."""
    from scipy import ndimage

    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return field / max(float(field.std()), 1e-9)


def _place_digit(digit: np.ndarray, canvas: tuple[int, int], height: int, rng: np.random.Generator) -> np.ndarray:
    """The 28x28 digit enlarged (bicubic) so its 20 px box is `height` px tall, at a random place inside `canvas`."""
    size = max(28, round(height * 28 / 20))
    big = np.asarray(Image.fromarray((digit * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC),
                     np.float64) / 255
    h, w = canvas
    out = np.zeros(canvas)
    top = int(rng.integers(0, max(1, h - size)))
    left = int(rng.integers(0, max(1, w - size)))
    patch = big[:h - top, :w - left]
    out[top:top + patch.shape[0], left:left + patch.shape[1]] = patch
    return np.clip(out, 0, 1)


def photo_of_digit(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """A JPEG 'phone photo' of `digit` (28x28 in [0, 1], white on black) written on paper."""
    from scipy import ndimage

    long_side = int(rng.integers(480, 1601))
    h, w = (long_side, long_side * 3 // 4) if rng.random() < 0.5 else (long_side * 3 // 4, long_side)
    ink = _place_digit(digit, (h, w), int(rng.uniform(0.25, 0.7) * min(h, w)), rng)
    ink = np.clip((ink - 0.15) / 0.6, 0, 1)  # a pen's line: solid core, soft edge
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)  # isotropic
    yn, xn = yy * max(h, w) / (h - 1), xx * max(h, w) / (w - 1)  # 0..1 across each side
    paper = rng.uniform(0.72, 0.92) * (1 + 0.025 * _smooth_noise(rng, (h, w), 1.0)
                                       + 0.02 * _smooth_noise(rng, (h, w), long_side / 60))
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xx + np.sin(angle) * yy
    light = 1 - rng.uniform(0.1, 0.35) * (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-9)
    if rng.random() < 0.8:  # a soft shadow (hand, phone) over one part of the page
        angle = rng.uniform(0, 2 * np.pi)
        side = np.cos(angle) * (xx - rng.uniform(0.2, 0.8) * w / max(h, w)) \
            + np.sin(angle) * (yy - rng.uniform(0.2, 0.8) * h / max(h, w))
        light *= 1 - rng.uniform(0.15, 0.35) / (1 + np.exp(-side / rng.uniform(0.03, 0.1)))
    surface = paper * light
    rows, cols = np.flatnonzero(ink.max(axis=1) > 0.05), np.flatnonzero(ink.max(axis=0) > 0.05)
    free = [cols[0] / w, 1 - cols[-1] / w, rows[0] / h, 1 - rows[-1] / h]  # paper beside the digit, per side
    sides = [side for side in range(4) if free[side] > 0.06]
    if sides and rng.random() < 0.25:  # the page's edge, the table beyond it (never under the digit)
        side = int(rng.choice(sides))
        across, along = [(xn, yn), (1 - xn, yn), (yn, xn), (1 - yn, xn)][side]
        width = rng.uniform(0.02, min(0.1, free[side] - 0.03))
        table = across < width + rng.uniform(-0.015, 0.015) * (along - 0.5)
        surface = np.where(table, rng.uniform(0.15, 0.4) * light, surface)
    dust = np.zeros((h, w))
    for _ in range(int(rng.integers(0, 6))):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.uniform(1, 3) * long_side / 800
        dust = np.maximum(dust, rng.uniform(0.2, 0.6) * (((yy * max(h, w) - cy) ** 2 + (xx * max(h, w) - cx) ** 2)
                                                         < r * r))
    reflect = rng.uniform(0.1, 0.3)
    tint = np.array([rng.uniform(0.9, 1.0), rng.uniform(0.9, 1.0), 1.0])  # a blue-ish ballpoint or black ink
    coverage = np.maximum(ink, dust)[..., None]
    rgb = surface[..., None] * np.array([1.0, rng.uniform(0.97, 1.0), rng.uniform(0.92, 1.0)]) \
        * (1 - coverage * (1 - reflect * tint))
    rgb = ndimage.gaussian_filter(rgb, (rng.uniform(0.4, 1.2) * long_side / 800,) * 2 + (0,))
    rgb = rgb + rng.uniform(2, 6) / 255 * rng.standard_normal(rgb.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)).save(
        buffer, format="JPEG", quality=int(rng.integers(50, 91)))
    return buffer.getvalue()


def drawing_of_digit(digit: np.ndarray, rng: np.random.Generator, size: int = 280) -> np.ndarray:
    """What the sketchpad sends: black brush strokes (alpha, anti-aliased edge) on a transparent canvas."""
    ink = _place_digit(digit, (size, size), int(rng.uniform(0.35, 0.8) * size), rng)
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., 3] = (np.clip((ink - 0.3) / 0.3, 0, 1) * 255 + 0.5).astype(np.uint8)
    return rgba


def enlarged(image: np.ndarray, factor: int, resample: int) -> Image.Image:
    """A 28x28 test image as someone would upload it: enlarged, dark on light (RGB, like a saved screenshot)."""
    grey = Image.fromarray(255 - (image * 255 + 0.5).astype(np.uint8))
    return grey.resize((28 * factor, 28 * factor), resample).convert("RGB")


# ---------------------------------------------------------------- preprocessors and classifiers

def preprocess_at(revision: str | None) -> Preprocess:
    """`to_model_input` of the working tree, or of `ae_vae/preprocess.py` at a git revision."""
    if revision is None:
        from ae_vae.preprocess import to_model_input
        return to_model_input
    source = subprocess.run(["git", "show", f"{revision}:ae_vae/preprocess.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "preprocess.py"
        path.write_text(source, encoding="utf-8")
        # A module inside the package, so the old file's relative imports (`from .data import ...`) resolve.
        spec = importlib.util.spec_from_file_location("ae_vae._preprocess_baseline", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module.to_model_input


def run(preprocess: Preprocess, source, dataset: str) -> np.ndarray:
    """The model input, or an all-zero image when the preprocessor refuses the input (counted as a miss)."""
    takes_dataset = "dataset" in inspect.signature(preprocess).parameters
    try:
        return preprocess(source, dataset=dataset) if takes_dataset else preprocess(source)
    except ValueError:  # InputError
        return np.zeros((28, 28), np.float32)


def classifier(dataset: str, train_images: torch.Tensor, train_labels: torch.Tensor, weights_dir: Path):
    """The shipped judge, or the judge's architecture trained here (2 epochs, 1 thread); and a note which."""
    from ae_vae.data import ImageSet
    from ae_vae.models.judge import load_judge
    from ae_vae.training.judge import train_judge

    folder = weights_dir / f"judge-{dataset}"
    if (folder / "config.json").is_file():
        judge, _ = load_judge(folder)
        return judge, f"shipped judge {folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder}"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    start = time.perf_counter()
    judge = train_judge(ImageSet(train_images, train_labels), epochs=2, seed=0)
    torch.set_num_threads(threads)
    seconds = time.perf_counter() - start
    return judge, f"no {folder.name} yet: the judge's CNN trained here, 2 epochs, 1 thread ({seconds:.0f} s)"


@torch.no_grad()
def accuracy(judge, images: np.ndarray, labels: np.ndarray) -> float:
    return float((judge.predict(torch.from_numpy(images[:, None])) == torch.from_numpy(labels)).float().mean())


@torch.no_grad()
def reconstructions(folder: Path, images: np.ndarray) -> np.ndarray | None:
    """The model's reconstruction (VAE: decoded posterior mean), or None when the weights are absent."""
    from ae_vae import load_model

    if not (folder / "config.json").is_file():
        return None
    model = load_model(folder).eval()
    x = torch.from_numpy(images[:, None])
    return model.decode(model.embed(x)).numpy()[:, 0]


# ---------------------------------------------------------------- the bench

def photo_rows(preprocessors: dict[str, Preprocess], digits: np.ndarray, labels: np.ndarray, judge,
               weights_dir: Path, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    photos = [photo_of_digit(d, rng) for d in digits]
    drawings = [drawing_of_digit(d, rng) for d in digits]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, jpeg in enumerate(photos):
            paths.append(Path(tmp) / f"photo-{i}.jpg")
            paths[-1].write_bytes(jpeg)
        for name, preprocess in preprocessors.items():
            inputs = np.stack([run(preprocess, str(p), "mnist") for p in paths])
            cells = [f"{100 * accuracy(judge, inputs, labels):.1f} %"]
            for kind in ("ae", "vae"):
                rec = reconstructions(weights_dir / f"mnist-{kind}", inputs)
                cells.append("—" if rec is None else f"{100 * accuracy(judge, rec, labels):.1f} %")
            drawn = np.stack([run(preprocess, d, "mnist") for d in drawings])
            cells.append(f"{100 * accuracy(judge, drawn, labels):.1f} %")
            rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return rows


def fixed_point_rows(preprocessors: dict[str, Preprocess], dataset: str, images: np.ndarray, labels: np.ndarray,
                     judge) -> list[str]:
    rows = [f"| {dataset} | originals | — | {100 * accuracy(judge, images, labels):.1f} % |"]
    for name, preprocess in preprocessors.items():
        for resample, title in ((Image.NEAREST, "nearest"), (Image.BICUBIC, "bicubic")):
            inputs = np.stack([run(preprocess, enlarged(x, 10, resample), dataset) for x in images])
            rows.append(f"| {dataset} | {name}, 10× {title} | {np.abs(inputs - images).mean():.4f} | "
                        f"{100 * accuracy(judge, inputs, labels):.1f} % |")
    return rows


def timing_rows(preprocessors: dict[str, Preprocess], digit: np.ndarray, repeats: int) -> list[str]:
    rng = np.random.default_rng(1)
    drawing = drawing_of_digit(digit, rng)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "photo.jpg"
        big = Image.open(io.BytesIO(photo_of_digit(digit, rng))).resize((3000, 4000), Image.BICUBIC)
        big.save(photo, quality=90)
        cases = (("280×280 RGBA drawing (array)", drawing), ("3000×4000 JPEG photo (file)", str(photo)),
                 ("3000×4000 photo (decoded PIL image)", big))
        for name, preprocess in preprocessors.items():
            for case, source in cases:
                run(preprocess, source, "mnist")  # warm-up
                times = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    run(preprocess, source, "mnist")
                    times.append(time.perf_counter() - start)
                rows.append(f"| {name} | {case} | {1000 * float(np.median(times)):.1f} ms |")
    return rows


def main() -> int:
    parser = argument_parser(__doc__, weights_dir=True, data_dir=True)
    parser.add_argument("--count", type=int, default=500, help="photo-like and hand-drawn digits")
    parser.add_argument("--fixed-point-count", type=int, default=2000, help="test images per data set, enlarged")
    parser.add_argument("--baseline", default=None, help="also measure ae_vae/preprocess.py at this git revision")
    parser.add_argument("--seed", type=int, default=0, help="seed of the renderings")
    parser.add_argument("--repeats", type=int, default=20, help="timing repeats (median)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    preprocessors = {"this tree": preprocess_at(None)}
    if args.baseline:
        preprocessors = {f"at {args.baseline}": preprocess_at(args.baseline), **preprocessors}
    print(f"{machine()}; {args.count} digits, seed {args.seed}\n")
    tables = {}
    for dataset in ("mnist", "fashion_mnist"):
        train, test = load_dataset(dataset, args.data_dir, download=False)
        judge, note = classifier(dataset, train.images, train.labels, args.weights_dir)
        print(f"{dataset} classifier: {note}")
        images, labels = test.images[:, 0].numpy(), test.labels.numpy()
        pick = np.random.default_rng(args.seed).permutation(len(labels))
        if dataset == "mnist":
            chosen = pick[:args.count]
            tables["photos"] = photo_rows(preprocessors, images[chosen], labels[chosen], judge,
                                          args.weights_dir, args.seed)
            tables["timing"] = timing_rows(preprocessors, images[chosen[0]], args.repeats)
        chosen = pick[:args.fixed_point_count]
        tables.setdefault("fixed", []).extend(fixed_point_rows(preprocessors, dataset, images[chosen],
                                                                 labels[chosen], judge))
    print("\n| preprocessing | photo-like: model input | AE reconstruction | VAE reconstruction | hand-drawn canvas |")
    print("|---|---|---|---|---|")
    print("\n".join(tables["photos"]))
    print("\n| data set | input | mean abs diff to original | classifier accuracy |\n|---|---|---|---|")
    print("\n".join(tables["fixed"]))
    print("\n| preprocessing | input | median time |\n|---|---|---|")
    print("\n".join(tables["timing"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
