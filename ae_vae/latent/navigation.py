"""Asking a latent map questions: what a point of it decodes to, which real images lie near a drawing, where a
code's main directions lead. Pure numpy over one model's stored codes (`LatentMaps`); `Explorer` encodes/decodes.

From a map position back to a latent (a map shows 2 of D dimensions, so "the" latent of a position is a choice):
- PCA, exact: z = mean + x·PC1 + y·PC2, the point of the PCA plane, so projecting z gives (x, y) back. Its other
  D − 2 coordinates are the mean's: the plane is a flat slice through the code space.
- UMAP, an estimate (UMAP has no inverse without the fitted model, a pickle): around (x, y), the nearest stored
  point in each of 8 directions (45° sectors), their latents averaged with weights 1 / distance². On a stored
  point it is that point's latent; inside a cluster the 8 are its close neighbours, one class; in a gap between
  clusters they are the points of the clusters around it, so the code blends their classes — for the AE such
  blends lie in the holes between its clusters, for the VAE they are codes its decoder was trained near (what
  they decode to is measured in docs/experiments.md, "The holes between the clusters"; a plain weighted mean of
  the nearest points would hide them: in a gap those all lie on one cluster's edge). Far from every point the sectors facing away are empty and the latent is a blend of the map's nearest edge; the
  text then says how far the position is from the map's points, in units of their typical spacing.

How far a latent is from the data: the Euclidean distance to the nearest stored code, read against the stored
codes' own nearest-neighbour distances (each to its nearest other stored code): farther than 99 % of those is
"off the data", than 90 % "at the edge". Far from the codes is where the AE's decodes break down; between two
clusters a code need not be far (in 32 dimensions the gaps are not much wider than the spacing inside a cluster),
so this measures distance, not whether the decode looks like the data.

Neighbours: the k stored codes nearest (Euclidean) to a drawing's code — the AE code or the VAE posterior mean,
the same kind of code as the stored ones — with a one-line vote ("the VAE's 8 nearest neighbours: 7 sevens,
1 one"). The stored codes searched are the map's test points and, when the folder stores them
(`neighbours.safetensors`), the first training images: the test points alone are too sparse for a reliable vote
(docs/experiments.md, "How many points the neighbour search needs").

Directions: each model's first principal directions of its stored codes (3, or D if smaller), in units of the
codes' standard deviation along each. A direction is labelled by what it measurably does when the stored images
are there: the classes at its two ends (when the class explains ≥ 25 % of the variance along it, η² ≥ 0.25) and
the image property it correlates with best among ink, slant, width and height (when |r| ≥ 0.4); otherwise by its
number and explained variance.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..errors import InputError
from .maps import LatentMaps, fit_pca

MODELS = ("ae", "vae")
# candidates beyond k whose exact distances `Navigator.neighbours` computes: far more than the float32 rounding of
# |c|² - 2 c·q could move across the k-th distance
SHORTLIST_MARGIN = 64
PROJECTIONS = ("pca", "umap")
MODEL_TITLES = {"ae": "AE", "vae": "VAE"}
UMAP_INVERSE_SECTORS = 8
EDGE_PERCENTILE, OFF_DATA_PERCENTILE = 90.0, 99.0
DIRECTIONS = 3
MAX_SIGMA = 3.0
MAX_NEIGHBOURS = 32
STRONG_CORRELATION = 0.7  # |r| from which a property's trend along a direction is called strong
CLASS_SHARE = 0.25  # η² above which a direction is labelled by the classes at its ends
PROPERTY_CORRELATION = 0.4  # |r| above which a direction is labelled by an image property
# (negative end, positive end) of each measured image property
PROPERTY_WORDS = {"ink": ("less ink", "more ink"), "slant": ("leaning left", "leaning right"),
                  "width": ("narrower", "wider"), "height": ("shorter", "taller")}
# (one, many) for the vote line
COUNTED_NAMES = {
    "mnist": [("zero", "zeros"), ("one", "ones"), ("two", "twos"), ("three", "threes"), ("four", "fours"),
              ("five", "fives"), ("six", "sixes"), ("seven", "sevens"), ("eight", "eights"), ("nine", "nines")],
    "fashion_mnist": [("T-shirt/top", "T-shirts/tops"), ("trouser", "trousers"), ("pullover", "pullovers"),
                      ("dress", "dresses"), ("coat", "coats"), ("sandal", "sandals"), ("shirt", "shirts"),
                      ("sneaker", "sneakers"), ("bag", "bags"), ("ankle boot", "ankle boots")],
}


@dataclass(frozen=True)
class Closeness:
    """How far a latent lies from the stored codes, against how far they lie from each other."""

    distance: float  # to the nearest stored code
    percentile: float  # % of stored codes whose nearest other stored code is closer than `distance`
    typical: float  # the median of those own distances

    @property
    def off_data(self) -> bool:
        return self.percentile >= OFF_DATA_PERCENTILE

    @property
    def verdict(self) -> str:
        if self.off_data:
            return "off the data"
        return "at the edge of the data" if self.percentile >= EDGE_PERCENTILE else "among the data"

    def describe(self) -> str:
        return (f"nearest test code at {self.distance:.2f}, farther than {self.percentile:.0f} % of test codes are "
                f"from their nearest one (median {self.typical:.2f}): {self.verdict}")


@dataclass(frozen=True)
class Neighbours:
    """The k stored points (test points, then training points) nearest to a code, nearest first."""

    indices: np.ndarray  # (k,) into the test points, then (from N on) the training points
    distances: np.ndarray  # (k,)
    labels: np.ndarray  # (k,)
    images: np.ndarray | None  # (k, 28, 28) uint8, None when the folder stores no images

    def vote(self) -> int:
        """The most frequent label (a tie goes to the label met first, i.e. nearest)."""
        counts = Counter(self.labels.tolist())
        return max(counts, key=lambda label: (counts[label], -self.labels.tolist().index(label)))


@dataclass(frozen=True)
class Direction:
    vector: np.ndarray  # (D,) unit vector
    std: float  # standard deviation of the stored codes along it: one slider unit
    variance_ratio: float  # share of the codes' total variance along it
    label: str


class Navigator:
    """One model's stored codes made searchable: both maps' inverses, distances, neighbours, directions."""

    def __init__(self, maps: LatentMaps, dataset: str, directions: int = DIRECTIONS):
        self.maps = maps
        self.dataset = dataset
        self.own_distances = np.sort(nearest_other_distances(maps.latents))
        self.map_spacing = float(np.median(nearest_other_distances(maps.umap)))
        self.directions = principal_directions(maps, dataset, min(directions, maps.latents.shape[1]))
        self._search_sets = [(maps.latents, maps.labels, maps.images)]  # what `neighbours` searches: test points,
        if maps.has_neighbours:                                          # then the training points
            self._search_sets.append((maps.neighbour_latents, maps.neighbour_labels, maps.neighbour_images))
        self._squared_norms = np.concatenate([np.einsum("ij,ij->i", codes, codes) for codes, _, _ in self._search_sets])
        self.largest_entry = float(np.abs(maps.latents).max())  # of the stored codes: what bounds a code from outside

    # ------------------------------------------------------------------ map position -> latent

    def check_position(self, projection: str, x: float, y: float, name: str = "") -> tuple[float, float]:
        """(x, y) as floats if finite and within the map's extent widened by its own size on every side."""
        coords = self.coordinates(projection)
        where = f"the {name + ' ' if name else ''}{projection.upper()} map"
        checked = []
        for axis, value in (("x", x), ("y", y)):
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise InputError(f"{axis} must be a number, got {value!r}") from None
            low, high = (float(v) for v in np.percentile(coords[:, "xy".index(axis)], [0, 100]))
            span = high - low
            if not np.isfinite(number) or not low - span <= number <= high + span:
                raise InputError(f"{axis} = {value!r} is outside {where}: its points span {axis} from {low:.2f} "
                                    f"to {high:.2f}; positions from {low - span:.2f} to {high + span:.2f} are decoded")
            checked.append(number)
        return checked[0], checked[1]

    def coordinates(self, projection: str) -> np.ndarray:
        if projection not in PROJECTIONS:
            raise InputError(f"projection must be one of {', '.join(PROJECTIONS)}, got {projection!r}")
        return self.maps.pca if projection == "pca" else self.maps.umap

    def latent_at(self, projection: str, x: float, y: float) -> tuple[np.ndarray, float | None]:
        """The latent at map position (x, y) and, for UMAP, the distance to the nearest map point in units of the
        map's typical spacing (None for PCA, whose inverse is exact everywhere)."""
        if self.coordinates(projection) is self.maps.pca:
            return self.pca_inverse(x, y), None
        latent, distance = self.umap_inverse(x, y)
        return latent, distance / max(self.map_spacing, 1e-12)

    def pca_inverse(self, x: float, y: float) -> np.ndarray:
        return self.maps.pca_plane(np.array([x]), np.array([y]))[0].astype(np.float32)

    def umap_inverse(self, x: float, y: float, sectors: int = UMAP_INVERSE_SECTORS) -> tuple[np.ndarray, float]:
        """The latents of the nearest map point in each of `sectors` directions around (x, y), weighted by
        1 / distance², and the distance to the nearest map point (map units)."""
        dx, dy = self.maps.umap[:, 0] - x, self.maps.umap[:, 1] - y
        distances = np.hypot(dx, dy).astype(np.float64)
        nearest = int(distances.argmin())
        if distances[nearest] < 1e-9:
            return self.maps.latents[nearest].astype(np.float32), 0.0
        sector = ((np.arctan2(dy, dx) + np.pi) / (2 * np.pi) * sectors).astype(int) % sectors
        order = np.lexsort((distances, sector))  # by sector, nearest first within each
        firsts = order[np.r_[0, np.flatnonzero(np.diff(sector[order])) + 1]]
        weights = 1.0 / distances[firsts] ** 2
        latent = (weights[:, None] * self.maps.latents[firsts]).sum(0) / weights.sum()
        return latent.astype(np.float32), float(distances[nearest])

    # ------------------------------------------------------------------ latent -> data

    def closeness(self, latent: np.ndarray) -> Closeness:
        distance = float(np.sqrt(((self.maps.latents - latent) ** 2).sum(1).min()))
        percentile = 100.0 * np.searchsorted(self.own_distances, distance, side="left") / len(self.own_distances)
        return Closeness(distance, float(percentile), float(np.median(self.own_distances)))

    def neighbours(self, latent: np.ndarray, k: int = 8) -> Neighbours:
        """The k nearest of the test points and the training points (nearest first; a tie goes to the lower index, so
        a test point ties ahead of an identical training image), searched in place: the two sets are never copied
        into one. A shortlist comes from |c|² - 2 c·q (one matrix-vector product per set, the codes' squared norms
        kept; einsum rather than BLAS, whose threads spin on a busy CPU) instead of the (N, D) differences to every
        code; the shortlist's exact distances then order it."""
        query = np.asarray(latent, np.float32)
        sets = self._search_sets
        approx = self._squared_norms - 2 * np.concatenate([np.einsum("ij,j->i", codes, query) for codes, _, _ in sets])
        k = min(k, len(approx))
        size = min(len(approx), k + SHORTLIST_MARGIN)
        shortlist = np.sort(np.argpartition(approx, size - 1)[:size] if size < len(approx) else np.arange(size))
        n = len(self.maps.latents)
        picked = [(0, i) if i < n else (1, i - n) for i in shortlist.tolist()]
        rows = np.stack([sets[which][0][i] for which, i in picked]) - query
        squared = np.einsum("ij,ij->i", rows, rows)
        chosen = np.lexsort((shortlist, squared))[:k]  # nearest first; a tie goes to the lower index
        order, picks = shortlist[chosen], [picked[i] for i in chosen.tolist()]
        labels = np.array([sets[which][1][i] for which, i in picks], dtype=np.int64)
        images = None
        if self.maps.images is not None:
            images = np.stack([sets[which][2][i] for which, i in picks])
        return Neighbours(order, np.sqrt(squared[chosen]), labels, images)

    def vote_line(self, neighbours: Neighbours, kind: str) -> str:
        """'the VAE's 8 nearest neighbours: 7 sevens, 1 one' (most frequent first)."""
        names = COUNTED_NAMES[self.dataset]
        labels = neighbours.labels.tolist()
        counts = sorted(Counter(labels).items(), key=lambda item: (-item[1], labels.index(item[0])))
        parts = [f"{count} {names[label][0 if count == 1 else 1]}" for label, count in counts]
        return f"the {MODEL_TITLES[kind]}'s {len(labels)} nearest neighbours: {', '.join(parts)}"

    # ------------------------------------------------------------------ directions

    def walk(self, latent: np.ndarray, sigmas: list[float]) -> np.ndarray:
        """latent + Σ sigma_i · std_i · direction_i (extra sigmas beyond the model's directions are ignored)."""
        moved = np.asarray(latent, np.float64).copy()
        for direction, sigma in zip(self.directions, sigmas):
            moved += float(sigma) * direction.std * direction.vector
        return moved.astype(np.float32)


def nearest_other_distances(points: np.ndarray, chunk: int = 1000) -> np.ndarray:
    """For each point, the Euclidean distance to its nearest *other* point (exact up to float64 rounding). A map's
    points (2-D) through a k-d tree, ~30x faster there; codes (16-64 dimensions, where a tree is slower than the
    brute force) in chunks of rows: |a|² + |b|² - 2 a·b, one matrix product per chunk."""
    points = np.asarray(points, np.float64)
    if points.shape[1] <= 3:
        return cKDTree(points).query(points, k=2)[0][:, 1]
    squared = (points * points).sum(1)
    out = np.empty(len(points))
    for start in range(0, len(points), chunk):
        rows = points[start:start + chunk]
        distances = squared[start:start + chunk, None] + squared[None] - 2.0 * (rows @ points.T)
        distances[np.arange(len(rows)), np.arange(len(rows)) + start] = np.inf
        out[start:start + chunk] = np.sqrt(np.maximum(distances.min(1), 0.0))
    return out


def image_properties(images: np.ndarray) -> dict[str, np.ndarray]:
    """Per image: ink (mean intensity), slant (horizontal shift per row upwards: > 0 leans right), width and
    height (standard deviations of the ink along x and y), from the ink's moments."""
    ink = images.astype(np.float64) / 255.0
    mass = ink.sum((1, 2)) + 1e-9
    ys, xs = np.mgrid[0:ink.shape[1], 0:ink.shape[2]]
    cx, cy = (ink * xs).sum((1, 2)) / mass, (ink * ys).sum((1, 2)) / mass
    dx, dy = xs[None] - cx[:, None, None], ys[None] - cy[:, None, None]
    vx, vy = (ink * dx ** 2).sum((1, 2)) / mass, (ink * dy ** 2).sum((1, 2)) / mass
    cxy = (ink * dx * dy).sum((1, 2)) / mass
    return {"ink": mass / ink[0].size, "slant": -cxy / (vy + 1e-9), "width": np.sqrt(vx), "height": np.sqrt(vy)}


def principal_directions(maps: LatentMaps, dataset: str, count: int) -> list[Direction]:
    """The first `count` principal directions of the stored codes, each labelled by what it measurably does."""
    mean, vectors, ratios = fit_pca(maps.latents.astype(np.float64), count)
    properties = image_properties(maps.images) if maps.images is not None else {}
    directions = []
    for number, (vector, ratio) in enumerate(zip(vectors, ratios), start=1):
        position = (maps.latents - mean) @ vector
        head = f"direction {number} ({100 * ratio:.0f} % of variance)"
        parts = [p for p in (_class_ends(position, maps.labels, dataset),
                             _property_trend(position, properties)) if p]
        label = f"{head}: {'; '.join(parts)}" if parts else head
        directions.append(Direction(vector.astype(np.float32), float(position.std()), float(ratio), label))
    return directions


def _class_ends(position: np.ndarray, labels: np.ndarray, dataset: str) -> str | None:
    """'ones (−) to zeros (+)' when the class explains ≥ CLASS_SHARE of the variance along the direction (η²)."""
    classes = np.unique(labels)
    means = np.array([position[labels == c].mean() for c in classes])
    counts = np.array([(labels == c).sum() for c in classes])
    share = float((counts * (means - position.mean()) ** 2).sum() / max(((position - position.mean()) ** 2).sum(),
                                                                         1e-12))
    if share < CLASS_SHARE:
        return None
    names = COUNTED_NAMES[dataset]
    low, high = classes[means.argmin()], classes[means.argmax()]
    return f"{names[low][1]} (−) to {names[high][1]} (+), the class explaining {100 * share:.0f} % of the spread"


def _property_trend(position: np.ndarray, properties: dict[str, np.ndarray]) -> str | None:
    """'+ means more ink (a clear trend)' for the image property best correlated with the position, if |r| ≥ 0.4
    (a strong trend from |r| ≥ 0.7)."""
    best, best_r = None, 0.0
    for name, values in properties.items():
        if values.std() < 1e-9 or position.std() < 1e-12:
            continue
        r = float(np.corrcoef(position, values)[0, 1])
        if abs(r) > abs(best_r):
            best, best_r = name, r
    if best is None or abs(best_r) < PROPERTY_CORRELATION:
        return None
    strength = "strong" if abs(best_r) >= STRONG_CORRELATION else "clear"
    return f"+ means {PROPERTY_WORDS[best][1 if best_r > 0 else 0]} (a {strength} trend)"
