"""What the page needs to run the models itself: the vendored onnxruntime-web, each model's ONNX graphs, and the
URLs it fetches them from.

The server serves only these files (`gr.set_static_paths`: the app's `static/` folder and one page folder holding a
copy of each model's two graphs and the map data, never the rest of a weights folder; two served paths, because
Gradio checks every file a request returns against each of them). The graphs are the ones the server runs (every
folder the app loads has them), copied under names that carry their version (`GraphModel.version`: the hash of the
weights they were exported from), so a browser never runs a cached copy of other graphs. Every data set is drawn on
the server when the page cannot run WebAssembly or the URL says `?inference=server`; the page says which in one
line under the pad.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from ..data import CLASS_NAMES, DATASET_TITLES, SUBJECTS
from ..figures import GRID_GREY, GRID_PAD, LABEL_COLOURS, class_name_places, map_extent
from ..fileio import atomic_write_text
from ..graph_files import DECODER_FILE, ENCODER_FILE
from ..latent.navigation import MODEL_TITLES, UMAP_INVERSE_SECTORS
from ..models.config import LOGVAR_RANGE
from ..preprocess import FRAME, FRAMINGS, MNIST_CENTRE
from ..runtime import GraphModel
from .beta import KNOB_ENDS, KNOB_WORDS
from .contract import KNOB_ELEMENTS, PAGE_EVENTS, PAGE_MODULES, STATIC, Ids
from .draw import DONE_STATUS, LIVE_STATUS
from .explorer import Explorer, posterior_noise
from .figures import MARKER_FILL, PANELS
from .knob import KNOB_SAMPLES, KNOB_SEED, PROBABILITY_FLOOR
from .memory import return_freed_memory
from .pad import BRUSH_WIDTH, FRAME_INTERVAL_MS, MARGIN, MAX_SIDE, PAD_SIZE

logger = logging.getLogger(__name__)

VENDOR = STATIC / "vendor" / "onnxruntime-web"
RUNTIME_MODULE, RUNTIME_WASM = "ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm.gz"  # as runtime.js loads
FILE_ROUTE = "gradio_api/file="  # Gradio's route for static files, relative to the app's root URL


def file_url(path: Path) -> str:
    """The URL of a served file, relative to the app's root (the page resolves it against `gradio_config.root`,
    so the app works under a path prefix too)."""
    return FILE_ROUTE + str(path.resolve())


def map_data_file(folder: Path, dataset: str) -> Path:
    return folder / f"maps-{dataset}.json"


def knob_data_file(folder: Path, dataset: str) -> Path:
    return folder / f"knob-{dataset}.json"


def served_graph(page_folder: Path, dataset: str, model: GraphModel, graph: str) -> Path:
    """Where the page folder holds the copy of one model's graph that the page fetches: a name with the graphs'
    version in it, so its URL changes whenever the graphs do."""
    return page_folder / f"{dataset}-{model.kind}-{model.version}-{graph}"


def page_config(explorer: Explorer, page_folder: Path) -> dict[str, Any]:
    """Everything the page's modules are told, the one source of every number and name they use: where the modules
    and the runtime are; each data set's graphs with the normal draws of the Draw tab's posterior samples (so the
    page's are the server's); where each data set's map data will be (`PageData`: absent until written) and how many
    times to ask for it; the pad's size, brush and payload; each data set's framing (`ae_vae.preprocess`) and the
    margin the server puts around the pad's ink; the VAE's log-variance clamp; the image grid's layout; the element
    ids and page events (`contract`); the data set shown first and what each data set's images show; the status
    line's words for a drawing the page reconstructs (the server's own); the maps' order, the models' names and the
    star's colour."""
    graphs = {}
    for dataset in explorer.datasets:
        pair = explorer.models(dataset)
        graphs[dataset] = {kind: {"encoder": file_url(served_graph(page_folder, dataset, model, ENCODER_FILE)),
                                  "decoder": file_url(served_graph(page_folder, dataset, model, DECODER_FILE)),
                                  "latent_dim": int(model.latent_dim)}
                           for kind, model in (("ae", pair.ae), ("vae", pair.vae))}
        graphs[dataset]["vae"]["noise"] = posterior_noise(pair.vae.latent_dim).tolist()  # the server's samples' draws
    maps = {d: file_url(map_data_file(page_folder, d)) for d in graphs}
    knobs = {}
    for dataset in explorer.datasets:
        if explorer.has_knob(dataset):
            knob = explorer.knob(dataset)
            knobs[dataset] = {"encoder": file_url(served_graph(page_folder, dataset, knob.model, ENCODER_FILE)),
                              "decoder": file_url(served_graph(page_folder, dataset, knob.model, DECODER_FILE)),
                              "latent_dim": int(knob.latent_dim), "range": list(knob.beta_range),
                              "data": file_url(knob_data_file(page_folder, dataset))}
    framings = {dataset: {"box": framing.box, "crop_threshold": framing.crop_threshold, "by_mass": framing.by_mass,
                          "solid_fill": framing.solid_fill, "full_ink": framing.full_ink, "centre": MNIST_CENTRE,
                          "frame": FRAME, "margin": MARGIN}
                for dataset, framing in FRAMINGS.items()}
    return {"modules": file_url(PAGE_MODULES), "vendor": file_url(VENDOR), "graphs": graphs, "maps": maps,
            "pad": {"size": PAD_SIZE, "brush": BRUSH_WIDTH, "max_side": MAX_SIDE, "frame_interval_ms": FRAME_INTERVAL_MS},
            "frame": FRAME, "framings": framings, "logvar_range": list(LOGVAR_RANGE),
            "grid": {"pad": GRID_PAD, "grey": GRID_GREY}, "ids": Ids.for_page(), "events": PAGE_EVENTS,
            "knobs": knobs, "knob_ids": KNOB_ELEMENTS, "knob_words": [[upto if upto != float("inf") else 1e308, text] for upto, text in KNOB_WORDS],
            "knob_ends": KNOB_ENDS, "probability_floor": PROBABILITY_FLOOR, "data_asks": DATA_ASKS,
            "dataset": explorer.datasets[0], "subjects": {d: SUBJECTS[d] for d in explorer.datasets},
            "status": {"live": LIVE_STATUS, "done": DONE_STATUS},
            "panels": [list(panel) for panel in PANELS], "model_titles": dict(MODEL_TITLES),
            "star": "#{:02x}{:02x}{:02x}".format(*MARKER_FILL)}


def write_page_config(explorer: Explorer, page_folder: Path) -> str:
    """Write `page_config` into the page folder as JSON, under a name carrying its hash (a browser never keeps an older
    one), and return its URL: the pad's module fetches it as it starts (a file, not a prop of the pad: Gradio would
    carry a prop through every update of the pad's value)."""
    text = json.dumps(page_config(explorer, page_folder), sort_keys=True)
    path = page_folder / f"page-config-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    atomic_write_text(path, text)
    return file_url(path)


def _floats(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


def _bytes(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.uint8).tobytes()).decode("ascii")


def map_data(explorer: Explorer, dataset: str) -> dict[str, Any]:
    """What the page needs to draw each model's maps (`static/page/mapview.js`) and decode under the pointer as
    `Navigator.latent_at` does on the server, and to walk a code as `Navigator.walk`: per model its stored map
    points (PCA and UMAP), their classes, codes, PCA basis and share of variance, walk directions, and per map its
    extent and where each class's name goes (float32 little-endian or uint8, base64); the classes' names and
    colours."""
    pair = explorer.models(dataset)
    names = CLASS_NAMES[pair.dataset]
    models = {}
    for kind, maps in (("ae", pair.ae_maps), ("vae", pair.vae_maps)):
        n, d = maps.latents.shape
        directions = [{"vector": _floats(direction.vector), "std": float(direction.std)}
                      for direction in explorer.navigator(dataset, kind).directions]
        extents = {"pca": map_extent(maps.pca), "umap": map_extent(maps.umap)}
        models[kind] = {"n": int(n), "d": int(d), "latents": _floats(maps.latents), "umap": _floats(maps.umap),
                        "pca": _floats(maps.pca), "labels": _bytes(maps.labels),
                        "pca_mean": _floats(maps.pca_mean), "pca_components": _floats(maps.pca_components),
                        "explained": [float(v) for v in maps.pca_explained_variance_ratio],
                        "directions": directions, "extents": extents,
                        "names": {projection: class_name_places(getattr(maps, projection), maps.labels, names, extent)
                                  for projection, extent in extents.items()}}
    return {"dataset": pair.dataset, "title": DATASET_TITLES[pair.dataset], "classes": list(names),
            "colours": LABEL_COLOURS, "models": models, "sectors": UMAP_INVERSE_SECTORS}


def knob_data(explorer: Explorer, dataset: str) -> dict[str, Any]:
    """What the β tab draws beside the knob's graphs (`static/page/betaview.js`): the measured curve with the shipped
    models' reference points, the tab's fixed N(0, I) draws, and the latent map along β (`knob.BetaMapGrid`: each
    grid β's positions of the stored test images, its plane's mean and axes, one extent for every β), with the
    classes' names and colours."""
    knob, grid = explorer.knob(dataset), explorer.beta_map(dataset)
    return {"dataset": knob.dataset, "title": DATASET_TITLES[knob.dataset], "classes": list(CLASS_NAMES[knob.dataset]),
            "colours": LABEL_COLOURS, "curve": knob.curve(), "reference": explorer.beta_reference(dataset),
            "draws": _floats(knob.draws(KNOB_SAMPLES, KNOB_SEED)),
            "map": {"betas": grid.betas, "n": len(grid.labels), "labels": _bytes(grid.labels),
                    "positions": _floats(grid.positions), "means": _floats(grid.means),
                    "components": _floats(grid.components), "extent": grid.extent}}


def write_map_data(explorer: Explorer, folder: Path) -> None:
    """Write each data set's map data for the page (atomically), the first data set first, then index the codes
    (`Explorer.prepare`), then the β tab's data of each data set that has a knob."""
    for dataset in explorer.datasets:
        atomic_write_text(map_data_file(folder, dataset), json.dumps(map_data(explorer, dataset)))
    explorer.prepare()
    try:
        for dataset in explorer.datasets:
            if explorer.has_knob(dataset):
                atomic_write_text(knob_data_file(folder, dataset), json.dumps(knob_data(explorer, dataset)))
    except InterruptedError:  # the app is closing (`Explorer.closing`)
        return
    return_freed_memory()


DATA_WAIT_S = 10.0  # how long one ask of `PageData.ready` waits for a file still being written
DATA_ASKS = 30  # how many times the page asks before it gives up on a file (5 minutes)


class PageData:
    """The page's data files (each data set's map data, the β tab's data), written by a thread as the server starts
    (`write_map_data`), off the start-up path. Before it fetches one, the page asks `ready` (a server function of
    the components that fetch them: a plain request, not an event of the API), which waits while the file is being
    written: so the page never requests a file that is not there yet (Gradio answers those 403, and the browser
    logs every such answer as an error)."""

    def __init__(self, explorer: Explorer, folder: Path):
        self.explorer, self.folder = explorer, folder
        self.writer = threading.Thread(target=write_map_data, args=(explorer, folder), name="map-data", daemon=True)

    def start(self) -> None:
        self.writer.start()

    def stop(self) -> None:
        """At exit: the writer stops at its next step and is waited for (a process that leaves while one of its
        onnxruntime sessions runs is aborted)."""
        self.explorer.closing.set()
        if self.writer.is_alive():
            self.writer.join(timeout=30)

    def file(self, request: Any) -> Path | None:
        """The file a request names ({"data": "maps" or "knob", "dataset": …}), or None where there is none."""
        if not isinstance(request, dict) or request.get("dataset") not in self.explorer.datasets:
            return None
        dataset = request["dataset"]
        if request.get("data") == "maps":
            return map_data_file(self.folder, dataset)
        if request.get("data") == "knob" and self.explorer.has_knob(dataset):
            return knob_data_file(self.folder, dataset)
        return None

    async def ready(self, request: Any) -> str:
        """"ready" once the named file is written; "pending" if it is still being written after `DATA_WAIT_S` (ask
        again); "missing" if it never will be (no such file, or the writer stopped without it: its log says why)."""
        path = self.file(request)
        if path is None:
            return "missing"
        deadline = time.monotonic() + DATA_WAIT_S
        while not path.exists():
            if not self.writer.is_alive():
                return "ready" if path.exists() else "missing"
            if time.monotonic() >= deadline:
                return "pending"
            await asyncio.sleep(0.05)
        return "ready"


def serve_page_files(explorer: Explorer, page_folder: Path) -> None:
    """Let the server hand out the page's modules, the runtime, and from `page_folder` every model's graphs (copied
    there) and the map data: nothing else of the weights folders."""
    for dataset in explorer.datasets:
        pair = explorer.models(dataset)
        for kind, model in (("ae", pair.ae), ("vae", pair.vae)):
            for name in (ENCODER_FILE, DECODER_FILE):
                shutil.copyfile(pair.folders[kind] / name, served_graph(page_folder, dataset, model, name))
        if explorer.has_knob(dataset):
            knob = explorer.knob(dataset)
            for name in (ENCODER_FILE, DECODER_FILE):
                shutil.copyfile(knob.folder.path / name, served_graph(page_folder, dataset, knob.model, name))
    gr.set_static_paths([STATIC, page_folder])


def first_graphs(explorer: Explorer, page_folder: Path) -> list[str]:
    """The URLs of the first data set's graphs: what a page needs for its first answer besides its modules, the
    runtime and its config."""
    pair = explorer.models(explorer.datasets[0])
    return [file_url(served_graph(page_folder, pair.dataset, model, graph))
            for model in (pair.ae, pair.vae) for graph in (ENCODER_FILE, DECODER_FILE)]


def preloads(files: Sequence[str] = ()) -> list[dict[str, str]]:
    """The attributes of each <link> that makes a page running the models fetch them early: its modules, the
    runtime (both of its files) and `files` (its config, the first data set's graphs)."""
    modules = sorted(PAGE_MODULES.glob("*.js"))
    links = [{"rel": "modulepreload", "href": file_url(path)} for path in [*modules, VENDOR / RUNTIME_MODULE]]
    fetched = [file_url(VENDOR / RUNTIME_WASM), *files]
    links += [{"rel": "preload", "as": "fetch", "crossOrigin": "anonymous", "href": href} for href in fetched]
    return links


def preload_head(config_url: str | None = None, graphs: Sequence[str] = ()) -> str:
    """A script for the page's <head>: the browser fetches the runtime, the page's modules, its config and `graphs`
    while Gradio's own scripts start, and, given the config, starts the first data set's models then
    (`draw.js` `startedDraw`, which the pad takes over when it mounts) instead of after the pad has mounted. Not
    where the address asks for the server (`?inference=server`): such a page fetches no runtime and no graphs."""
    files = [config_url, *graphs] if config_url else list(graphs)
    warm_up = "" if not config_url else (
        "  const at = (path) => new URL(path, document.baseURI).href;\n"
        "  const root = (window.gradio_config && window.gradio_config.root) || document.baseURI;\n"
        f"  Promise.all([import(at({json.dumps(file_url(PAGE_MODULES / 'draw.js'))})),\n"
        f"               fetch(at({json.dumps(config_url)})).then((response) => response.json())])\n"
        "    .then(([draw, config]) => draw.startedDraw(config, root))\n"
        "    .catch(() => {});  // the pad says why when it starts\n")
    return ("<script>(() => {\n"
            "  if (new URLSearchParams(window.location.search).get('inference') === 'server') return;\n"
            f"  for (const attributes of {json.dumps(preloads(files))}) {{\n"
            "    document.head.appendChild(Object.assign(document.createElement('link'), attributes));\n"
            "  }\n" + warm_up +
            "})();</script>")
