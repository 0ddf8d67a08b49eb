"""The app's logic as pure functions over loaded models: numpy / PIL in, numpy / figures out.

`app.py` only lays these out in Gradio; tests call them directly. Models are loaded once, as onnxruntime sessions of
their folders' ONNX graphs (`ae_vae.runtime.GraphModel`: the graphs the page runs too), and used read-only, so one
`Explorer` serves concurrent requests.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..checks import check_temperature, code_vector, number_in_range, whole_number
from ..data import CLASS_NAMES, DATASET_TITLES, normalize_dataset_name
from ..errors import InputError, WeightsError
from ..figures import image_grid, to_uint8
from ..folders import ModelFolder, load_model_folder
from ..latent.maps import LatentMaps
from ..latent.navigation import MAX_NEIGHBOURS, MAX_SIGMA, MODEL_TITLES, MODELS, Closeness, Navigator, Neighbours
from ..latent.paths import interpolate, path_codes
from ..latent.priors import GaussianMixturePrior, StandardNormalPrior, gaussian_prior
from ..preprocess import to_model_input
from ..runtime import GraphModel
from .figures import PANELS, RenderedFigure, maps_figure
from .knob import BetaKnob, BetaMapGrid, BetaReconstruction

logger = logging.getLogger(__name__)

MAX_SAMPLES = 64
DEFAULT_SAMPLES = 25  # a 5x5 grid per model: cheap to decode on one core (docs/experiments.md)
MAX_STEPS = 24
POSTERIOR_SAMPLES = 4
PRIORS = ("standard", "mixture")
# The Interpolate tab's default pair: (class, which of its bundled examples) for A and B, chosen by measuring every
# pair of the shipped examples (docs/experiments.md, "The default interpolation pair").
DEFAULT_INTERPOLATION = {"mnist": ((7, 1), (0, 2)), "fashion_mnist": ((0, 0), (7, 0))}
CODE_LIMIT = 10.0  # a decoded code's entries may be at most this many times the stored codes' largest entry


@dataclass
class DatasetModels:
    """The AE and VAE of one data set with their latent maps."""

    dataset: str
    ae: GraphModel
    vae: GraphModel
    ae_maps: LatentMaps
    vae_maps: LatentMaps
    ae_prior: GaussianMixturePrior | None = None  # fitted to the AE's training codes (None: N(0, I) only)
    vae_prior: GaussianMixturePrior | None = None
    prior_notes: dict[str, str] = field(default_factory=dict)  # "ae"/"vae" -> why its prior is missing
    ae_metrics: dict[str, Any] = field(default_factory=dict)  # each folder's metrics.json ({} when absent)
    vae_metrics: dict[str, Any] = field(default_factory=dict)
    folders: dict[str, Path] = field(default_factory=dict)  # "ae"/"vae" -> its weights folder

    @property
    def models(self) -> dict[str, GraphModel]:
        """The two models by kind: `pair.models["ae"]`."""
        return {"ae": self.ae, "vae": self.vae}

    @property
    def maps(self) -> dict[str, LatentMaps]:
        return {"ae": self.ae_maps, "vae": self.vae_maps}

    def sampler(self, kind: str, prior: str) -> GaussianMixturePrior | StandardNormalPrior:
        """What `kind`'s samples are drawn from: N(0, I) ("standard") or its fitted mixture ("mixture")."""
        if prior == "standard":
            return StandardNormalPrior(self.models[kind].latent_dim)
        return self.prior(kind)

    def prior(self, kind: str) -> GaussianMixturePrior:
        """The fitted prior of `kind` ("ae" or "vae"), or an `InputError` saying why there is none."""
        prior = {"ae": self.ae_prior, "vae": self.vae_prior}[kind]
        if prior is None:
            why = self.prior_notes.get(kind, "no prior.safetensors beside the weights")
            raise InputError(f"The {kind.upper()} has no fitted prior ({why}); only N(0, I) is available.")
        return prior

    @property
    def example_images(self) -> np.ndarray:
        return self.vae_maps.example_images

    @property
    def example_labels(self) -> np.ndarray:
        return self.vae_maps.example_labels

    def example(self, label: int, occurrence: int = 0) -> np.ndarray:
        """The bundled test image of class `label` (its `occurrence`-th, else the first), (28, 28) float32 in [0, 1]."""
        indices = np.flatnonzero(self.example_labels == label)
        index = int(indices[occurrence] if occurrence < len(indices) else indices[0])
        return self.example_images[index].astype(np.float32) / 255.0


def load_dataset_models(dataset: str, ae: ModelFolder | str | os.PathLike, vae: ModelFolder | str | os.PathLike
                        ) -> DatasetModels:
    """One data set's pair from its two folders, loaded (`ae_vae.folders.load_model_folder`) or to load."""
    ae, vae = (f if isinstance(f, ModelFolder) else load_model_folder(f, strict_prior=False) for f in (ae, vae))
    if ae.model.kind != "ae" or vae.model.kind != "vae":
        raise WeightsError(f"{ae.path} must hold an AE and {vae.path} a VAE")
    notes = {kind: folder.prior_note for kind, folder in (("ae", ae), ("vae", vae)) if folder.prior is None}
    return DatasetModels(dataset, ae.model, vae.model, ae.maps, vae.maps, ae.prior, vae.prior, prior_notes=notes,
                         ae_metrics=ae.metrics, vae_metrics=vae.metrics, folders={"ae": ae.path, "vae": vae.path})


@dataclass
class Reconstruction:
    model_input: np.ndarray  # (28, 28) uint8
    ae: np.ndarray  # (28, 28) uint8
    vae: np.ndarray  # (28, 28) uint8, decoded posterior mean
    vae_samples: np.ndarray  # uint8 grid of decoded posterior samples
    ae_mse: float
    vae_mse: float
    vae_sample_mse: list[float]

    def summary(self) -> str:
        return error_table(self.ae_mse, self.vae_mse, self.vae_sample_mse)


def error_table(ae_mse: float, vae_mse: float, vae_sample_mse: list[float]) -> str:
    """The Draw tab's table of reconstruction errors (MSE per pixel), wherever they were computed."""
    samples = ", ".join(f"{e:.4f}" for e in vae_sample_mse)
    return ("| | reconstruction MSE per pixel |\n|---|---|\n"
            f"| AE | {ae_mse:.4f} |\n| VAE (posterior mean) | {vae_mse:.4f} |\n"
            f"| VAE posterior samples | {samples} |")


def posterior_noise(latent_dim: int, seed: int = 0) -> np.ndarray:
    """The standard normal draws behind the Draw tab's `POSTERIOR_SAMPLES` posterior samples, (n, latent_dim) float32:
    sample i is mean + std * noise[i]. Drawn from `seed` alone, so the page, given them, shows the server's samples."""
    return np.random.default_rng(int(seed)).standard_normal((POSTERIOR_SAMPLES, latent_dim), dtype=np.float32)


@dataclass
class DrawingAnalysis:
    """What `Explorer.analyse` finds of one drawing."""

    reconstruction: Reconstruction
    typicality: dict[str, Any] | str  # as `Explorer.typicality` gives it, or why it is unavailable
    neighbours: dict[str, tuple[Neighbours, str]]  # as `Explorer.neighbours` gives them


class Explorer:
    """Loaded models for every data set plus a note on where the weights came from."""

    def __init__(self, models: dict[str, DatasetModels], source_notice: str = "",
                 knobs: dict[str, BetaKnob] | None = None):
        self._models = models
        self.source_notice = source_notice
        self._knobs = dict(knobs or {})  # data set -> its β-conditioned VAE (the β tab), where the weights have one
        self.closing = threading.Event()  # set as the app closes: background computations stop
        self._rendered: dict[str, RenderedFigure] = {}
        self._render_lock = threading.Lock()
        self._navigators: dict[tuple[str, str], Navigator] = {}
        self._navigator_lock = threading.Lock()

    @property
    def datasets(self) -> list[str]:
        return list(self._models)

    def models(self, dataset: str) -> DatasetModels:
        key = normalize_dataset_name(dataset)
        if key not in self._models:
            raise InputError(f"No models loaded for {dataset!r}; available: {', '.join(self._models)}")
        return self._models[key]

    # ------------------------------------------------------------------ the KL knob

    def has_knob(self, dataset: str) -> bool:
        return self.models(dataset).dataset in self._knobs

    def knob(self, dataset: str) -> BetaKnob:
        """The data set's β-conditioned VAE, or an `InputError` saying the knob is not available for it."""
        pair = self.models(dataset)
        if pair.dataset not in self._knobs:
            raise InputError(f"The KL knob is not available for {DATASET_TITLES[pair.dataset]}: these weights have "
                             f"no β-conditioned VAE for it (a {pair.dataset}-beta-vae folder).")
        return self._knobs[pair.dataset]

    def beta_reconstruct(self, image: Any, dataset: str, beta: Any, fill_outlines: bool = False
                         ) -> BetaReconstruction:
        """A drawing framed as `dataset`'s images, reconstructed by the β-conditioned VAE at `beta`, with its rate and
        distortion (nats)."""
        knob = self.knob(dataset)
        knob.check_beta(beta)  # before the framing: a bad β is the first thing said
        return knob.reconstruct(self._input_tensor(image, self.models(dataset), fill_outlines), beta)

    def beta_map(self, dataset: str) -> BetaMapGrid:
        """The latent map along β (`knob.BetaMapGrid`) over the data set's stored test images."""
        return self.knob(dataset).map_grid(self.models(dataset).vae_maps, self.closing)

    def beta_map_point(self, dataset: str, beta: Any, x: Any, y: Any) -> np.ndarray:
        """The point (x, y) of the latent map at β decoded by the β-conditioned VAE at β (28 x 28 uint8)."""
        knob = self.knob(dataset)
        beta = knob.check_beta(beta)
        code = self.beta_map(dataset).code_at(x, y, beta)
        return to_uint8(knob.model.decode(code[None], beta)[0, 0])

    def beta_reference(self, dataset: str) -> dict[str, Any]:
        """The shipped VAE's (rate, distortion) and the AE's distortion by the knob's estimator."""
        pair = self.models(dataset)
        return self.knob(dataset).reference(pair.ae, pair.vae, pair.vae_maps, self.closing)

    # ------------------------------------------------------------------ draw

    def reconstruct(self, image: Any, dataset: str, seed: int = 0, fill_outlines: bool = False) -> Reconstruction:
        """Preprocess a drawing / upload as `dataset`'s images were framed (closed outlines filled if asked: Fashion
        items are filled silhouettes), then reconstruct it with the AE and the VAE."""
        pair = self.models(dataset)
        return self._reconstruct(pair, self._input_tensor(image, pair, fill_outlines), seed)[0]

    def analyse(self, image: Any, dataset: str, k: Any = 8, fill_outlines: bool = False, seed: int = 0
                ) -> DrawingAnalysis:
        """Everything the Draw tab shows of one drawing: its reconstructions (as `reconstruct`), how typical its codes
        are (as `typicality`; a model without a fitted prior gets a note instead) and its k nearest stored images (as
        `neighbours`), from one framing and one encoding per model instead of one per question."""
        pair = self.models(dataset)
        k = whole_number(k, 1, MAX_NEIGHBOURS, "k")
        reconstruction, codes = self._reconstruct(pair, self._input_tensor(image, pair, fill_outlines), seed)
        return DrawingAnalysis(reconstruction, *self._described(pair, codes, k))

    def describe_codes(self, dataset: str, codes: dict[str, Any], k: Any = 8
                       ) -> tuple[dict[str, Any] | str, dict[str, tuple[Neighbours, str]]]:
        """What needs the server's data about a drawing whose codes were computed elsewhere (the page runs the
        encoders): how typical they are and the k nearest stored images, as `analyse` gives them. `codes`: the AE's
        code and the VAE's posterior mean ("ae", "vae"), each the model's latent size of floats."""
        pair = self.models(dataset)
        k = whole_number(k, 1, MAX_NEIGHBOURS, "k")
        checked = {kind: self._checked_code(pair, kind, codes.get(kind))[None] for kind in MODELS}
        return self._described(pair, checked, k)

    def _described(self, pair: DatasetModels, codes: dict[str, np.ndarray], k: int
                   ) -> tuple[dict[str, Any] | str, dict[str, tuple[Neighbours, str]]]:
        try:
            typicality = self._typicality(pair, codes)
        except InputError as exc:
            typicality = str(exc)
        return typicality, self._neighbours(pair, codes, k)

    def _input_tensor(self, image: Any, pair: DatasetModels, fill_outlines: bool = False) -> np.ndarray:
        """The framed drawing as a batch of one, (1, 1, 28, 28) float32."""
        return self.model_input(image, pair.dataset, fill_outlines=bool(fill_outlines))[None, None]

    @staticmethod
    def _reconstruct(pair: DatasetModels, x: np.ndarray, seed: int) -> tuple[Reconstruction, dict[str, np.ndarray]]:
        """The reconstructions of the framed input `x` (1, 1, 28, 28) and each model's code of it (the AE's code, the
        VAE's posterior mean: what the maps, the prior and the neighbour search use, as `embed` gives them)."""
        ae_code = pair.ae.encode(x)
        ae_out = pair.ae.decode(ae_code)
        posterior = pair.vae.encode(x)
        samples = posterior.mean + posterior.std * posterior_noise(posterior.mean.shape[1], seed)
        z = np.concatenate([posterior.mean, samples])
        decoded = pair.vae.decode(z)  # the mean and the samples in one call: one pass of the network, not two
        vae_out, samples = decoded[:1], decoded[1:]
        reconstruction = Reconstruction(
            model_input=to_uint8(x[0, 0]), ae=to_uint8(ae_out[0, 0]), vae=to_uint8(vae_out[0, 0]),
            vae_samples=image_grid(samples, ncol=POSTERIOR_SAMPLES),
            ae_mse=float(((ae_out - x) ** 2).mean()), vae_mse=float(((vae_out - x) ** 2).mean()),
            vae_sample_mse=[float(((s - x[0]) ** 2).mean()) for s in samples])
        return reconstruction, {"ae": ae_code, "vae": posterior.mean}

    # ------------------------------------------------------------------ interpolate

    def default_pair(self, dataset: str) -> tuple[np.ndarray, np.ndarray]:
        """The Interpolate tab's first pair, uint8 28x28: bundled test images chosen by measurement
        (`DEFAULT_INTERPOLATION`: typical ends, a path that shows the AE's gap and the VAE's filled space)."""
        pair = self.models(dataset)
        (a, i), (b, j) = DEFAULT_INTERPOLATION[pair.dataset]
        return to_uint8(pair.example(a, i)), to_uint8(pair.example(b, j))

    def interpolation_lesson(self, dataset: str, steps: int = 10) -> str:
        """What the default pair's typicality profile shows, in numbers read from it (so the words match it)."""
        pair = self.models(dataset)
        if pair.ae_prior is None or pair.vae_prior is None:
            return ""
        profile = self.interpolation_profile(*self.default_pair(dataset), dataset, steps, "linear")
        (a, _), (b, _) = DEFAULT_INTERPOLATION[pair.dataset]
        names = CLASS_NAMES[pair.dataset]
        ae, vae = profile["ae"], profile["vae"]
        ends = min(ae[0], ae[-1], vae[0], vae[-1])
        return (f"With the default pair (a {names[a]} and a {names[b]}, whose codes sit at the {_ordinal(ends)} "
                f"percentile or above), the AE's path drops to the {_ordinal(min(ae[1:-1]))} percentile mid-way and "
                f"the VAE's to the {_ordinal(min(vae[1:-1]))}.")

    def _interpolation_inputs(self, image_a: Any, image_b: Any, dataset: str, steps: Any, path: Any
                              ) -> tuple[DatasetModels, list[np.ndarray], int]:
        pair = self.models(dataset)
        steps = whole_number(steps, 2, MAX_STEPS, "steps")
        if path not in ("linear", "spherical"):
            raise InputError(f"path must be 'linear' or 'spherical', got {path!r}")
        inputs = []
        for name, image in (("A", image_a), ("B", image_b)):
            try:
                inputs.append(self.model_input(image, pair.dataset)[None])
            except InputError as exc:
                raise InputError(f"Image {name}: {exc}") from None
        return pair, inputs, steps

    def interpolate(self, image_a: Any, image_b: Any, dataset: str, steps: int = 10,
                    path: Literal["linear", "spherical"] = "linear") -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """AE strip, VAE strip (uint8 rows) and GIF frames (AE above VAE) from image A to image B."""
        pair, inputs, steps = self._interpolation_inputs(image_a, image_b, dataset, steps, path)
        ae_path = interpolate(pair.ae, inputs[0], inputs[1], steps, path)
        vae_path = interpolate(pair.vae, inputs[0], inputs[1], steps, path)
        frames = [np.vstack([to_uint8(a[0]), np.full((2, 28), 64, np.uint8), to_uint8(v[0])])
                  for a, v in zip(ae_path, vae_path)]
        return image_grid(ae_path, ncol=steps), image_grid(vae_path, ncol=steps), frames

    def interpolation_codes(self, image_a: Any, image_b: Any, dataset: str) -> dict[str, list[list[float]]]:
        """The codes the paths run between: {"ae": [code of A, code of B], "vae": [mean of A, mean of B]}."""
        pair, inputs, _ = self._interpolation_inputs(image_a, image_b, dataset, 2, "linear")
        both = np.stack(inputs)
        return {kind: [_floats(z) for z in net.embed(both)] for kind, net in (("ae", pair.ae), ("vae", pair.vae))}

    def interpolate_at(self, image_a: Any, image_b: Any, dataset: str, path: str = "linear", t: float = 0.5
                       ) -> tuple[np.ndarray, np.ndarray]:
        """The AE's and the VAE's frame at fraction `t` (0: A, 1: B) of the path between the two codes (uint8)."""
        pair, inputs, _ = self._interpolation_inputs(image_a, image_b, dataset, 2, path)
        t = number_in_range(t, 0.0, 1.0, "t")
        frames = []
        for net in (pair.ae, pair.vae):
            z = net.embed(np.stack(inputs))
            frames.append(to_uint8(net.decode(path_codes(z[0], z[1], np.array([t]), path))[0, 0]))
        return frames[0], frames[1]

    def interpolation_profile(self, image_a: Any, image_b: Any, dataset: str, steps: int = 10,
                              path: Literal["linear", "spherical"] = "linear") -> dict[str, list[float]]:
        """How typical each frame's code is under each model's fitted prior: the percentile of its density among
        the test set's codes (50: an ordinary test image; near 0: a region no test image occupies)."""
        pair, inputs, steps = self._interpolation_inputs(image_a, image_b, dataset, steps, path)
        t = np.linspace(0.0, 1.0, steps)
        profile: dict[str, list[float]] = {"t": [round(float(v), 4) for v in t]}
        for kind, model in (("ae", pair.ae), ("vae", pair.vae)):
            prior = pair.prior(kind)
            z = model.embed(np.stack(inputs))
            codes = path_codes(z[0], z[1], t, path)
            profile[kind] = [round(float(p), 2) for p in prior.percentile(codes)]
        return profile

    # ------------------------------------------------------------------ sample

    def sample_lesson(self, dataset: str) -> str:
        """The Sample tab's lesson, with the Fréchet distances the shipped models' metrics.json measured."""
        pair = self.models(dataset)
        text = ("**A generator is a decoder plus a density over its codes.** The VAE's KL term pulls its codes "
                "towards N(0, I), so N(0, I) is where its decoder was trained to work; nothing pulls the AE's codes "
                "there, so N(0, I) may be where its decoder has never been. A mixture of Gaussians fitted to the "
                "training codes after training gives either model a density of its own — and a class's own mixture "
                "aims at that class. How well each works for these weights is measured, not assumed:")
        quality = {kind: metrics.get("sample_quality", {}) for kind, metrics in (("AE", pair.ae_metrics),
                                                                                  ("VAE", pair.vae_metrics))}
        rows = []
        for kind, measured in quality.items():
            fd = {name: measured.get(name, {}).get("frechet_distance") for name in ("standard", "gaussian", "mixture")}
            if all(isinstance(v, (int, float)) for v in fd.values()):
                accuracy = measured.get("class_conditional", {}).get("accuracy")
                rows.append(f"| {kind} | {fd['standard']:.1f} | {fd['gaussian']:.1f} | **{fd['mixture']:.1f}** | "
                            + (f"{100 * accuracy:.1f} % |" if isinstance(accuracy, (int, float)) else "– |"))
        if rows:
            text += ("\n\nHow far 10 000 samples are from the real test images, as a fixed judge classifier sees "
                     "them (the Fréchet distance of its features: 0 would be indistinguishable; lower is better), and "
                     "how often a class's samples are that class:\n\n| model | N(0, I) | one fitted Gaussian | "
                     "mixture | right class |\n|---|---|---|---|---|\n" + "\n".join(rows))
        if len(rows) < 2:
            missing = " and ".join(k for k, m in quality.items() if not m) or "one model"
            text += (f"\n\nNo sample quality is recorded for the {missing} of these weights (`train.py` measures "
                     "it when it has the judge; `python -m ae_vae refit-prior FOLDER` does it for a finished run): "
                     "judge the grids by eye.")
        return text

    def sample(self, dataset: str, count: int = DEFAULT_SAMPLES, seed: int = 0, temperature: float = 1.0,
               prior: str = "standard", label: int = -1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Grids of the AE and the VAE decoded from `prior`, and of the AE decoded from one Gaussian fitted to its
        codes. `prior` is "standard" (N(0, T²I)) or "mixture" (the mixture fitted to the training codes, each
        component's std scaled by T); `label` 0-9 picks a class's mixture, -1 any class."""
        pair = self.models(dataset)
        count = whole_number(count, 1, MAX_SAMPLES, "number of samples")
        seed = whole_number(seed, 0, 2 ** 31 - 1, "seed")
        temperature = check_temperature(temperature)
        label = whole_number(label, -1, 9, "label")
        if prior not in PRIORS:
            raise InputError(f"prior must be one of {', '.join(PRIORS)}, got {prior!r}")
        ncol = int(np.ceil(np.sqrt(count)))
        chosen = None if label < 0 else label
        ae_prior, vae_prior = (
            model.decode(pair.sampler(kind, prior).sample(count, chosen, temperature, np.random.default_rng(seed)))
            for kind, model in (("ae", pair.ae), ("vae", pair.vae)))
        fitted = gaussian_prior(pair.ae_maps.train_latent_mean, pair.ae_maps.train_latent_cov)
        ae_fitted = pair.ae.decode(fitted.sample(count, None, temperature, np.random.default_rng(seed)))
        return image_grid(ae_prior, ncol), image_grid(vae_prior, ncol), image_grid(ae_fitted, ncol)

    def typicality(self, image: Any, dataset: str) -> dict[str, Any]:
        """How typical a drawing's code is under each model's fitted prior: the log-density of the code (AE code,
        VAE posterior mean) and the percent of the test set's codes that are at most as likely."""
        pair = self.models(dataset)
        x = self._input_tensor(image, pair)
        return self._typicality(pair, {"ae": pair.ae.embed(x), "vae": pair.vae.embed(x)})

    @staticmethod
    def _typicality(pair: DatasetModels, codes: dict[str, np.ndarray]) -> dict[str, Any]:
        result: dict[str, Any] = {"dataset": pair.dataset}
        for kind in MODELS:
            prior, z = pair.prior(kind), codes[kind]
            log_density = prior.log_prob(z)
            result[kind] = {"log_density": round(float(log_density[0]), 3),
                            "percentile": round(float(prior.percentile(z, log_density)[0]), 2)}
        return result

    # ------------------------------------------------------------------ embeddings

    def embedding(self, dataset: str, image: Any = None) -> tuple[np.ndarray, str]:
        """PCA and UMAP maps, AE beside VAE, as an RGB image; the user's drawing (if any) starred on every map."""
        pair = self.models(dataset)
        return self.marked_maps(pair.dataset, image), self.variance_line(pair.dataset)

    def variance_line(self, dataset: str) -> str:
        """How much of each model's codes' variance its PCA map shows, one line."""
        pair = self.models(dataset)
        lines = [f"{kind}: the first two principal components explain "
                 f"{100 * maps.pca_explained_variance_ratio.sum():.1f}% of the variance of its "
                 f"{model.latent_dim}-d latents"
                 for kind, model, maps in (("AE", pair.ae, pair.ae_maps), ("VAE", pair.vae, pair.vae_maps))]
        return "; ".join(lines) + "."

    def marked_maps(self, dataset: str, image: Any = None) -> np.ndarray:
        """The rendered maps with the drawing starred on every panel."""
        pair = self.models(dataset)
        stars: list[np.ndarray | None] = [None] * len(PANELS)
        if image is not None:
            where = self.locate(image, pair.dataset)
            stars = [np.array(where[model][projection]) for model, projection in PANELS]
        return self.rendered_maps(pair.dataset).with_markers(stars)

    def rendered_maps(self, dataset: str) -> RenderedFigure:
        """The four class-coloured maps of a data set, rendered once (thread-safe, lazily or by `prepare`)."""
        with self._render_lock:
            if dataset not in self._rendered:
                self._rendered[dataset] = RenderedFigure.render(maps_figure(
                    dataset, self._models[dataset].ae_maps, self._models[dataset].vae_maps))
            return self._rendered[dataset]

    def prepare(self) -> None:
        """Index every data set's codes now (the app calls this in the background at start-up). The maps image is
        rendered on the API's first /embedding instead: the page draws its maps itself, and rendering them (~1 CPU
        second per data set) at start-up would slow the first visitors' pages."""
        for dataset in self._models:
            for model in MODELS:
                self.navigator(dataset, model)

    def manifold(self, dataset: str, grid_size: int = 12) -> tuple[np.ndarray, np.ndarray]:
        """Decoded grids over each model's PCA plane (±2 standard deviations of the test latents)."""
        pair = self.models(dataset)
        grid_size = whole_number(grid_size, 2, 20, "grid size")
        grids = []
        for model, maps in ((pair.ae, pair.ae_maps), (pair.vae, pair.vae_maps)):
            spread = 2.0 * maps.pca.std(axis=0)
            a, b = np.meshgrid(np.linspace(-spread[0], spread[0], grid_size),
                               np.linspace(spread[1], -spread[1], grid_size))
            z = maps.pca_plane(a.ravel(), b.ravel()).astype(np.float32)
            grids.append(image_grid(model.decode(z), ncol=grid_size, pad=1))
        return grids[0], grids[1]


    # ------------------------------------------------------------------ navigation (click, neighbours, walk)

    def navigator(self, dataset: str, model: str) -> Navigator:
        """`model`'s stored codes of `dataset`, indexed once (thread-safe, lazily or by `prepare`)."""
        pair = self.models(dataset)
        if model not in MODELS:
            raise InputError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
        key = (pair.dataset, model)
        with self._navigator_lock:
            if key not in self._navigators:
                self._navigators[key] = Navigator(pair.maps[model], pair.dataset)
            return self._navigators[key]

    def encode(self, image: Any, dataset: str) -> dict[str, Any]:
        """The AE code and the VAE posterior (mean, log-variance) of a drawing, as lists of floats."""
        pair = self.models(dataset)
        x = self._input_tensor(image, pair)
        posterior = pair.vae.encode(x)
        return {"dataset": pair.dataset, "ae": {"code": _floats(pair.ae.encode(x)[0])},
                "vae": {"mean": _floats(posterior.mean[0]), "logvar": _floats(posterior.logvar[0])}}

    def decode(self, dataset: str, model: str, code: Any) -> np.ndarray:
        """A code (D floats) decoded by `model`: (28, 28) uint8."""
        pair = self.models(dataset)
        z = self._checked_code(pair, model, code)
        return to_uint8(pair.models[model].decode(z[None])[0, 0])

    def _checked_code(self, pair: DatasetModels, model: str, code: Any) -> np.ndarray:
        """A code of `model` ("ae" or "vae") from outside: the latent size of finite numbers, none beyond `CODE_LIMIT`
        times the stored codes' largest entry (float32); an `InputError` otherwise."""
        limit = CODE_LIMIT * self.navigator(pair.dataset, model).largest_entry
        return code_vector(code, pair.models[model].latent_dim, limit,
                           f"the {MODEL_TITLES[model]}'s code", f"{CODE_LIMIT:.0f}× the largest entry of the stored codes")

    def locate(self, image: Any, dataset: str) -> dict[str, dict[str, list[float]]]:
        """Where a drawing lands on each map, in the maps' data coordinates (where its star is drawn)."""
        pair = self.models(dataset)
        x = self._input_tensor(image, pair)
        where = {}
        for model, net, maps in (("ae", pair.ae, pair.ae_maps), ("vae", pair.vae, pair.vae_maps)):
            z = net.embed(x)
            where[model] = {"pca": _floats(maps.place_pca(z)[0]), "umap": _floats(maps.place_umap(z)[0])}
        return where

    def decode_point(self, dataset: str, model: str, projection: str, x: Any, y: Any) -> PointDecode:
        """The latent at map position (x, y) (data coordinates) decoded by `model`, with its distance to the data."""
        navigator = self.navigator(dataset, model)
        x, y = navigator.check_position(projection, x, y, MODEL_TITLES[model] + "'s")
        latent, map_distance = navigator.latent_at(projection, x, y)
        pair = self.models(dataset)
        image = to_uint8(pair.models[model].decode(latent[None])[0, 0])
        return PointDecode(model, projection, x, y, image, latent, navigator.closeness(latent), map_distance)

    def neighbours(self, image: Any, dataset: str, k: Any = 8) -> dict[str, tuple[Neighbours, str]]:
        """The k stored points (test and training images) nearest to the drawing's code in each model's latent space,
        with a vote line."""
        pair = self.models(dataset)
        k = whole_number(k, 1, MAX_NEIGHBOURS, "k")
        x = self._input_tensor(image, pair)
        return self._neighbours(pair, {"ae": pair.ae.embed(x), "vae": pair.vae.embed(x)}, k)

    def _neighbours(self, pair: DatasetModels, codes: dict[str, np.ndarray], k: int
                    ) -> dict[str, tuple[Neighbours, str]]:
        found = {}
        for model in MODELS:
            navigator = self.navigator(pair.dataset, model)
            near = navigator.neighbours(codes[model][0], k)
            found[model] = (near, navigator.vote_line(near, model))
        return found

    def walk(self, image: Any, dataset: str, sigmas: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """The drawing's AE code and VAE posterior mean moved by sigmas[i] standard deviations along each model's own
        i-th principal direction, decoded: (AE, VAE) uint8 28x28."""
        pair = self.models(dataset)
        steps = [number_in_range(s, -MAX_SIGMA, MAX_SIGMA, f"direction {i + 1}") for i, s in enumerate(sigmas)]
        x = self._input_tensor(image, pair)
        decoded = []
        for model, net in (("ae", pair.ae), ("vae", pair.vae)):
            z = self.navigator(pair.dataset, model).walk(net.embed(x)[0], steps)
            decoded.append(to_uint8(net.decode(z[None])[0, 0]))
        return decoded[0], decoded[1]

    def direction_labels(self, dataset: str) -> dict[str, list[str]]:
        """Per model, what each of its principal directions does (measured) or its number and explained variance."""
        return {model: [d.label for d in self.navigator(dataset, model).directions] for model in MODELS}

    @staticmethod
    def model_input(image: Any, dataset: str, fill_outlines: bool = False) -> np.ndarray:
        """(28, 28) float32 in [0, 1]: a (28, 28) uint8 array is taken as an already framed model input (the
        Draw tab's state, a stored test image); anything else is preprocessed with `dataset`'s framing."""
        if isinstance(image, np.ndarray) and image.shape == (28, 28) and image.dtype == np.uint8 and image.max() > 25:
            return image.astype(np.float32) / 255.0  # (a blank one goes on to preprocessing's "no ink" message)
        return to_model_input(image, dataset=dataset, fill_outlines=fill_outlines)


# What a point's distance to the data means for its decoded image (`Closeness.verdict` -> words).
POINT_MEANING = {
    "among the data": "the decoder was trained on codes like it, so expect an image like the data set's",
    "at the edge of the data": "few real images have codes this far out, so the image may look less real",
    "off the data": "no real image has a code here, so expect an image unlike the data set's",
}


@dataclass
class PointDecode:
    """What `Explorer.decode_point` found at a map position."""

    model: str
    projection: str
    x: float
    y: float
    image: np.ndarray  # (28, 28) uint8
    latent: np.ndarray  # (D,)
    closeness: Closeness
    map_distance: float | None  # UMAP: from the nearest map point, in the map's typical spacings; None for PCA

    def summary(self) -> str:
        """One plain sentence: where the point is, how far its code is from real images' codes, what that means
        for the image; on an empty part of the UMAP map, that the code there is a blend."""
        where = f"{MODEL_TITLES[self.model]} at {self.projection.upper()} ({self.x:.2f}, {self.y:.2f})"
        c = self.closeness
        distance = (f"nearest test code at {c.distance:.2f}, where test codes are typically {c.typical:.2f} from "
                    "their nearest neighbour")
        if self.map_distance is not None and self.map_distance >= 3:
            return (f"{where}: an empty part of the map ({self.map_distance:.0f}× the usual spacing from the nearest "
                    f"point), so the code decoded here is a blend of the surrounding points' codes; that blend lies "
                    f"{c.verdict} in the model's own space ({distance}): {POINT_MEANING[c.verdict]}.")
        return f"{where}: its code lies {c.verdict} ({distance}): {POINT_MEANING[c.verdict]}."


def _ordinal(value: float) -> str:
    n = round(value)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _floats(values: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in np.asarray(values).ravel()]
