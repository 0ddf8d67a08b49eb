"""The latent maps as a tool: does a drawing's map position decode back to the drawn digit, do its
neighbours vote for it, and how fast are a click and a slider move?

    python bench/navigation.py                      # accuracy + compute timings (in process)
    python bench/navigation.py --browser            # + click -> decoded image and slider -> decode in Chromium

Drawn-style inputs: MNIST test digits that are *not* among the 5 000 stored points (test images 5 000 on),
`--per-class` of each class, redrawn as a person draws on the pad: the digit's ink is thinned to its skeleton
(Zhang-Suen) and stroked again with the pad's round brush (18 px) at a random size (55-85 % of the 280 px
canvas) and place, then sent through the pad's own payload (ink box reduced to <= 112 px) and the app's
preprocessing. For each drawing and each model:
- round trip: its UMAP position (`Explorer.locate`, what `/locate` returns) decoded back (`Explorer.decode_point`,
  what `/decode_point` returns) and classified by the judge; target >= 90 % classified as the drawn digit;
- the vote of its 8 nearest stored images (`Explorer.neighbours`, what `/neighbors` shows: the 5 000 test points
  and the folder's training points); target >= 95 %; for the VAE also under two other distances (per-dimension
  std, the drawing's posterior σ) and over the test points alone (the search set before training points).
For reference: the judge on the drawings themselves (are they recognisable?), on their plain reconstructions,
and the same round trip through the PCA map (a 2-D slice: expected to lose most digits). And the holes: on a
40 x 40 grid over each UMAP map, the positions farther than 5 typical spacings from every point (the gaps),
decoded as a click there would be: how often the judge is less than 90 % sure of what it sees, AE vs VAE.
The judge is the shipped `weights/judge-mnist` (`ae_vae.judge`); without it, a 3-nearest-neighbour classifier
in pixel space on the MNIST training set stands in (its accuracy on clean test digits is printed).

Timings (in process, one thread as the app's workers): decode compute per tapped point, the API's maps image
(stars on a copy of the pre-rendered maps) and its PNG encoding, neighbours, a walk decode.
With `--browser`: a click on a live map -> its decode and sentence shown in the map (target p95 <= 0.5 s) and a
slider move -> the new decode loaded (target p95 <= 0.3 s), in headless Chromium against `python app.py`.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ae_vae.app.figures import PANELS
from ae_vae.app.pad import BRUSH_WIDTH, PAD_SIZE, decode_payload, encode_payload
from ae_vae.app.sources import load_explorer
from ae_vae.data import load_split
from ae_vae.latent.navigation import MODELS, Neighbours
from ae_vae.preprocess import to_model_input
from bench.common import argument_parser, machine, percentile, timed_ms
from tests.support.harness import exit_unless_ready

STORED_POINTS = 5000
TARGETS = {"round trip (UMAP)": 90.0, "neighbours' vote": 95.0}


# ---------------------------------------------------------------- drawn-style inputs

def zhang_suen(mask: np.ndarray) -> np.ndarray:
    """The skeleton of a binary image (Zhang & Suen 1984), vectorised over the pixels of each sub-iteration."""
    img = np.pad(mask.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = [np.roll(np.roll(img, -dy, 0), -dx, 1) for dy, dx in
                 ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))]  # P2..P9
            neighbours = sum(p)
            transitions = sum(((p[i] == 0) & (p[(i + 1) % 8] == 1)).astype(np.uint8) for i in range(8))
            if step == 0:
                cond = (p[0] * p[2] * p[4] == 0) & (p[2] * p[4] * p[6] == 0)
            else:
                cond = (p[0] * p[2] * p[6] == 0) & (p[0] * p[4] * p[6] == 0)
            remove = (img == 1) & (neighbours >= 2) & (neighbours <= 6) & (transitions == 1) & cond
            if remove.any():
                img[remove] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def drawn_canvas(digit: np.ndarray, rng: np.random.Generator, supersample: int = 2) -> np.ndarray:
    """A test digit redrawn with the pad's brush: (PAD_SIZE, PAD_SIZE) alpha channel, uint8."""
    big = np.asarray(Image.fromarray(digit).resize((112, 112), Image.BILINEAR)) > 100
    skeleton = zhang_suen(big)
    ys, xs = np.nonzero(skeleton)
    height = rng.uniform(0.55, 0.85) * PAD_SIZE
    scale = height / max(np.ptp(ys) + 1, 1)
    scale = min(scale, 0.85 * PAD_SIZE / max(np.ptp(xs) + 1, 1))
    width_px, height_px = (np.ptp(xs) + 1) * scale, (np.ptp(ys) + 1) * scale
    margin = BRUSH_WIDTH
    left = rng.uniform(margin, max(margin, PAD_SIZE - margin - width_px))
    top = rng.uniform(margin, max(margin, PAD_SIZE - margin - height_px))
    s = supersample
    canvas = Image.new("L", (PAD_SIZE * s, PAD_SIZE * s), 0)
    draw = ImageDraw.Draw(canvas)
    point = {(y, x): ((left + (x - xs.min()) * scale) * s, (top + (y - ys.min()) * scale) * s) for y, x in zip(ys, xs)}
    radius = BRUSH_WIDTH * s / 2
    for (y, x), (cx, cy) in point.items():
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=255)
        for dy, dx in ((0, 1), (1, -1), (1, 0), (1, 1)):  # join 8-neighbours with the brush
            if (y + dy, x + dx) in point:
                draw.line([point[(y, x)], point[(y + dy, x + dx)]], fill=255, width=int(BRUSH_WIDTH * s))
    return np.asarray(canvas.resize((PAD_SIZE, PAD_SIZE), Image.BOX))


def as_the_app_gets_it(alpha: np.ndarray) -> np.ndarray:
    """The pad's payload for this canvas, decoded as the server does, then the app's preprocessing: uint8 28x28."""
    frame = decode_payload(encode_payload(alpha))
    return (to_model_input(frame.image()) * 255 + 0.5).astype(np.uint8)


# ---------------------------------------------------------------- the judge

class PixelNeighbours:
    """Stand-in judge: the majority label of the 3 nearest training images in pixel space."""

    def __init__(self, data_dir: Path):
        train = load_split("mnist", data_dir, train=True, download=False)
        self.images = train.images.flatten(1)
        self.labels = train.labels
        self.norms = (self.images ** 2).sum(1)

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        flat = images.flatten(1)
        out = []
        for start in range(0, len(flat), 250):
            block = flat[start:start + 250]
            d2 = (block ** 2).sum(1, keepdim=True) + self.norms[None] - 2 * block @ self.images.T
            nearest = d2.topk(3, largest=False).indices
            out.append(torch.mode(self.labels[nearest], dim=1).values)
        return torch.cat(out)


def load_the_judge(weights_dir: Path, data_dir: Path):
    """The shipped judge, or the pixel-space stand-in (and why)."""
    folder = weights_dir / "judge-mnist"
    try:
        from ae_vae.models.judge import load_judge

        judge, card = load_judge(folder)
        return judge, f"the shipped judge ({folder}, test accuracy {card.test_accuracy:.4f})"
    except Exception as exc:  # noqa: BLE001 - absent module or folder: use the stand-in, and say so
        reason = f"{type(exc).__name__}: {exc}"
    stand_in = PixelNeighbours(data_dir)
    return stand_in, f"a 3-NN pixel classifier on the MNIST training set (no shipped judge: {reason})"


def classify(judge, images: list[np.ndarray]) -> np.ndarray:
    batch = torch.from_numpy(np.stack(images).astype(np.float32) / 255.0)[:, None]
    with torch.no_grad():
        return judge.predict(batch).numpy()


# ---------------------------------------------------------------- measurements

def accuracy_table(explorer, judge, drawings: list[np.ndarray], labels: np.ndarray
                   ) -> list[tuple[str, str, float, float]]:
    """Rows (measure, model, % classified as the drawn digit, the same among the drawings the judge recognises)."""
    decoded = {(m, p): [] for m in MODELS for p in ("umap", "pca")}
    votes = {m: [] for m in MODELS}
    plain = {m: [] for m in MODELS}
    for drawing in drawings:
        where = explorer.locate(drawing, "mnist")
        for model in MODELS:
            for projection in ("umap", "pca"):
                decoded[(model, projection)].append(
                    explorer.decode_point("mnist", model, projection, *where[model][projection]).image)
        for model, (near, _) in explorer.neighbours(drawing, "mnist", 8).items():
            votes[model].append(near.vote())
        ae, vae = explorer.walk(drawing, "mnist", [0.0, 0.0, 0.0])
        plain["ae"].append(ae)
        plain["vae"].append(vae)
    recognised = classify(judge, drawings) == labels

    def row(name: str, model: str, right: np.ndarray) -> tuple[str, str, float, float]:
        return name, model, 100 * right.mean(), 100 * right[recognised].mean()

    rows = [row("the drawings themselves (model inputs)", "-", recognised)]
    for model in MODELS:
        rows += [row("plain reconstruction decode(embed(x))", model, classify(judge, plain[model]) == labels),
                 row("round trip (UMAP)", model, classify(judge, decoded[(model, "umap")]) == labels),
                 row("round trip (PCA plane, for contrast)", model, classify(judge, decoded[(model, "pca")]) == labels),
                 row("neighbours' vote", model, np.array(votes[model]) == labels)]
    return rows


def vote_by_metric(explorer, drawings: list[np.ndarray], labels: np.ndarray, k: int = 8) -> list[tuple[str, float]]:
    """The VAE's neighbours' vote (% right) under other distances than the app's Euclidean one: each dimension
    divided by the stored codes' std, and the drawing's own posterior (distance / its σ², ranking by q(z_i | x)); and
    over the test points alone."""
    pair = explorer.models("mnist")
    maps = pair.vae_maps
    latents = np.concatenate([maps.latents, maps.neighbour_latents]) if maps.has_neighbours else maps.latents
    stored_labels = np.concatenate([maps.labels, maps.neighbour_labels]) if maps.has_neighbours else maps.labels
    stored = latents.astype(np.float64)
    inputs = np.stack([explorer.model_input(d, "mnist") for d in drawings])[:, None]
    posterior = pair.vae.encode(inputs)
    means, variances = posterior.mean.astype(np.float64), np.exp(posterior.logvar.astype(np.float64))
    test_only = len(pair.vae_maps.labels)
    std = stored.std(0)
    variants = {"Euclidean (the app)": (lambda i: 1.0, len(stored)),
                "per-dimension std of the stored codes": (lambda i: std, len(stored)),
                "the drawing's posterior σ": (lambda i: np.sqrt(variances[i]), len(stored)),
                f"Euclidean, the {test_only} test points alone": (lambda i: 1.0, test_only)}
    rows = []
    for name, (scale, searched) in variants.items():
        right = []
        for i, mean in enumerate(means):
            squared = (((stored[:searched] - mean) / scale(i)) ** 2).sum(1)
            order = np.argsort(squared, kind="stable")[:k]
            near = Neighbours(order, np.sqrt(squared[order]), stored_labels[order], None)
            right.append(near.vote() == labels[i])
        rows.append((name, 100 * float(np.mean(right))))
    return rows


def vote_by_search_size(explorer, data_dir: Path, drawings: list[np.ndarray], labels: np.ndarray,
                        sizes: list[int], k: int = 8) -> list[tuple[int, float, float]]:
    """(M, AE vote % right, VAE vote % right) when the search set is the stored test points plus the first M
    training images, encoded here (what `train.py --neighbour-points M` stores)."""
    pair = explorer.models("mnist")
    train = load_split("mnist", data_dir, train=True, download=False).subset(max(sizes))
    inputs = np.stack([explorer.model_input(d, "mnist") for d in drawings])[:, None]
    right = {}
    for model, net, maps in (("ae", pair.ae, pair.ae_maps), ("vae", pair.vae, pair.vae_maps)):
        extra = np.concatenate([net.embed(train.images[i:i + 1000].numpy()) for i in range(0, len(train), 1000)])
        queries = net.embed(inputs)
        for size in sizes:
            stored = np.concatenate([maps.latents, extra[:size]])
            stored_labels = np.concatenate([maps.labels, train.labels[:size].numpy()])
            votes = [Neighbours(order, order, stored_labels[order], None).vote() for order in
                     (np.argsort(((stored - q) ** 2).sum(1), kind="stable")[:k] for q in queries)]
            right[(model, size)] = 100 * float(np.mean(np.array(votes) == labels))
    return [(size, right[("ae", size)], right[("vae", size)]) for size in sizes]


def gap_doubt(explorer, judge) -> dict[str, tuple[int, float]]:
    """Per model: how many grid positions of its UMAP map are gaps, and the % of their decodes the judge is less
    than 90 % sure of (its top class probability)."""
    found = {}
    for model in MODELS:
        navigator = explorer.navigator("mnist", model)
        points = navigator.maps.umap
        low, high = points.min(0), points.max(0)
        gx, gy = np.meshgrid(np.linspace(low[0], high[0], 40), np.linspace(low[1], high[1], 40))
        grid = np.stack([gx.ravel(), gy.ravel()], 1)
        far = [np.hypot(*(points - g).T).min() > 5 * navigator.map_spacing for g in grid]
        images = [explorer.decode_point("mnist", model, "umap", x, y).image for x, y in grid[far]]
        batch = torch.from_numpy(np.stack(images).astype(np.float32) / 255.0)[:, None]
        with torch.no_grad():
            sure = judge.predict_proba(batch).max(1).values.numpy() if hasattr(judge, "predict_proba") else None
        found[model] = (len(images), float("nan") if sure is None else 100 * float((sure < 0.9).mean()))
    return found


def rgb_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


def compute_timings(explorer, drawing: np.ndarray, repeats: int) -> list[tuple[str, list[float]]]:
    rng = np.random.default_rng(0)
    rendered = explorer.rendered_maps("mnist")
    clicks = []
    for _ in range(repeats + 1):
        panel = int(rng.integers(len(PANELS)))
        x_min, x_max, y_min, y_max = rendered.limits[panel]
        clicks.append((*PANELS[panel], rng.uniform(x_min, x_max), rng.uniform(y_min, y_max)))
    it = iter(clicks)
    marked = explorer.marked_maps("mnist", drawing)
    return [
        ("decode a tapped point (map -> latent -> image, distance to the data)",
         timed_ms(lambda: explorer.decode_point("mnist", *next(it)), repeats)),
        ("the API's maps image: stars on a copy of the maps (RGB)",
         timed_ms(lambda: explorer.marked_maps("mnist", drawing), repeats)),
        ("  PNG-encoded at zlib level 1", timed_ms(lambda: rgb_png(marked), repeats)),
        ("8 neighbours in both latent spaces", timed_ms(lambda: explorer.neighbours(drawing, "mnist", 8), repeats)),
        ("a walk decode (both models)", timed_ms(lambda: explorer.walk(drawing, "mnist", [1.0, -0.5, 2.0]), repeats)),
    ]


def browser_timings(weights_dir: Path, repeats: int) -> list[tuple[str, list[float]]]:
    """Tap on a live map -> its decode and sentence shown in the map, and slider move -> new decode loaded, in
    headless Chromium."""
    from tests.support.harness import app_server, chromium, move_slider, open_app, open_tab, wait_new_image

    rng = np.random.default_rng(1)
    clicks, slides = [], []
    view = "document.querySelector('#maps-view .maps-view').aeVaeMaps"
    # A click is on screen when the map's sentence is the new point's and its inset shows the decode.
    pinned = """([selector, before]) => { const f = document.querySelector(selector);
        const text = f.querySelector('.map-text').innerText;
        return text !== before && text.includes('nearest test code') && !f.querySelector('.map-inset').hidden; }"""
    with app_server(weights_dir) as app, chromium() as page:
        page.set_default_timeout(60_000)
        open_app(page, app.url)
        page.locator("#examples button.thumbnail-item").nth(7).click()
        wait_new_image(page, "walk-vae", None, 30_000)
        values = [0.0, 0.0, 0.0]
        for i in range(repeats + 1):
            slider = i % 3
            values[slider] = round(float(rng.uniform(0.2, 3) * (1 if values[slider] <= 0 else -1)), 1)  # a change
            before = page.evaluate("() => document.querySelector('#walk-vae img').src")
            start = time.perf_counter()
            move_slider(page, f"walk-{slider + 1}", values[slider])
            wait_new_image(page, "walk-vae", before)
            slides.append(1000 * (time.perf_counter() - start))
        open_tab(page, "Embeddings")
        page.wait_for_function(f"() => {view} && {view}.data", timeout=60_000)
        for i in range(repeats + 1):
            model, projection = PANELS[i % len(PANELS)]
            selector = f"#maps-view figure[data-model={model}][data-projection={projection}]"
            area = page.locator(f"{selector} .map-area")
            area.scroll_into_view_if_needed()
            box = area.bounding_box()
            before = page.locator(f"{selector} .map-text").inner_text()
            start = time.perf_counter()
            page.mouse.click(box["x"] + box["width"] * rng.uniform(0.05, 0.95),
                             box["y"] + box["height"] * rng.uniform(0.05, 0.95))
            page.wait_for_function(pinned, arg=[selector, before], polling="raf", timeout=15_000)
            clicks.append(1000 * (time.perf_counter() - start))
    return [("browser: click on a live map -> its decode and sentence shown in the map", clicks[1:]),
            ("browser: slider move -> new decode loaded", slides[1:])]


def print_accuracy(explorer, args, test, drawings: list[np.ndarray], labels: np.ndarray) -> None:
    judge, about = load_the_judge(args.weights_dir, args.data_dir)
    print(f"judge: {about}")
    clean = slice(STORED_POINTS, STORED_POINTS + 1000)
    right = judge.predict(test.images[clean]).numpy() == test.labels[clean].numpy()
    print(f"judge accuracy on 1000 clean test digits: {100 * right.mean():.1f} %\n")
    print("| measure | model | classified as the drawn digit | among drawings the judge recognises | target |\n"
          "|---|---|---|---|---|")
    for name, model, value, given in accuracy_table(explorer, judge, drawings, labels):
        target = TARGETS.get(name)
        mark = "" if target is None else f"≥ {target:.0f} % {'✓' if value >= target else '✗'}"
        print(f"| {name} | {model.upper()} | {value:.1f} % | {given:.1f} % | {mark} |")
    print("\n| VAE neighbours' vote, distance (search set) | right |\n|---|---|")
    for name, value in vote_by_metric(explorer, drawings, labels):
        print(f"| {name} | {value:.1f} % |")
    if args.search_sizes:
        print("\n| search set: test points + first M training images, M | AE vote | VAE vote |\n|---|---|---|")
        for size, ae, vae in vote_by_search_size(explorer, args.data_dir, drawings, labels, args.search_sizes):
            print(f"| {size} | {ae:.1f} % | {vae:.1f} % |")
    print()
    for model, (count, doubt) in gap_doubt(explorer, judge).items():
        print(f"{model.upper()}: of {count} gap positions of its UMAP map, the judge is < 90 % sure of {doubt:.0f} % "
              "of the decodes")


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, weights_dir=True, data_dir=True)
    parser.add_argument("--per-class", type=int, default=50, help="drawings per digit")
    parser.add_argument("--repeats", type=int, default=50, help="timed calls per measurement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--browser", action="store_true", help="also time clicks and slider moves in Chromium")
    parser.add_argument("--timings-only", action="store_true", help="skip the accuracy measurements")
    parser.add_argument("--search-sizes", type=int, nargs="*", default=[], metavar="M",
                        help="also the neighbours' vote with the first M training images searched (encoded here), "
                             "for each M, e.g. 0 10000 20000 60000")
    args = parser.parse_args(argv)
    exit_unless_ready(args.weights_dir, browser=args.browser)
    torch.set_num_threads(1)
    explorer = load_explorer(None, args.weights_dir)
    test = load_split("mnist", args.data_dir, train=False, download=False)
    rng = np.random.default_rng(args.seed)
    rest = np.arange(STORED_POINTS, len(test))
    picks = np.concatenate([rng.choice(rest[test.labels[rest].numpy() == c], args.per_class, replace=False)
                            for c in range(10)])
    digits = (test.images[picks, 0].numpy() * 255 + 0.5).astype(np.uint8)
    labels = test.labels[picks].numpy()
    start = time.perf_counter()
    drawings = [as_the_app_gets_it(drawn_canvas(d, rng)) for d in digits]
    print(f"# Latent navigation bench ({machine()})\n")
    print(f"{len(drawings)} drawn-style MNIST digits (test images >= {STORED_POINTS}, {args.per_class} per class), "
          f"drawn in {time.perf_counter() - start:.0f} s")
    if not args.timings_only:
        print_accuracy(explorer, args, test, drawings, labels)
    timings = compute_timings(explorer, drawings[0], args.repeats)
    if args.browser:
        timings += browser_timings(args.weights_dir, min(args.repeats, 30))
    print("\nTimings (ms; this machine, load shown above — a training may share the CPU)\n")
    print("| what | p50 | p95 |\n|---|---|---|")
    for name, samples in timings:
        print(f"| {name} | {percentile(samples, 50):.1f} | {percentile(samples, 95):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
