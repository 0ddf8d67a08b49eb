"""What the page needs to run the models itself: the vendored onnxruntime-web, each model's ONNX graphs, and the
URLs it fetches them from.

The server serves only these files (`gr.set_static_paths`: the app's `static/` folder and each folder's two
graphs, never the rest of a weights folder). A data set whose folders lack graphs (`python -m ae_vae export-onnx`
writes them) is drawn on the server, as is every data set when the page cannot run WebAssembly or the URL says
`?inference=server`; the page says which in one line under the pad.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from ..models.graphs import DECODER_FILE, ENCODER_FILE
from .explorer import Explorer

STATIC = Path(__file__).resolve().parent / "static"
VENDOR = STATIC / "vendor" / "onnxruntime-web"
RUNTIME_MODULE, RUNTIME_WASM = "ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm.gz"  # as runtime.js loads
FILE_ROUTE = "gradio_api/file="  # Gradio's route for static files, relative to the app's root URL


def file_url(path: Path) -> str:
    """The URL of a served file, relative to the app's root (the page resolves it against `gradio_config.root`,
    so the app works under a path prefix too)."""
    return FILE_ROUTE + str(path.resolve())


def page_config(explorer: Explorer) -> dict[str, Any]:
    """What the pad's script is told: where its modules and the runtime are, each data set's graphs (or why none)."""
    graphs, missing = {}, {}
    for dataset in explorer.datasets:
        pair = explorer.models(dataset)
        lacking = [str(pair.folders[kind]) for kind in ("ae", "vae") if not pair.graphs.get(kind)]
        if lacking:
            missing[dataset] = (f"{' and '.join(lacking)} {'has' if len(lacking) == 1 else 'have'} no ONNX graphs "
                                f"(python -m ae_vae export-onnx FOLDER writes them)")
            continue
        graphs[dataset] = {kind: {"encoder": file_url(pair.folders[kind] / ENCODER_FILE),
                                  "decoder": file_url(pair.folders[kind] / DECODER_FILE),
                                  "latent_dim": int(model.latent_dim)}
                           for kind, model in (("ae", pair.ae), ("vae", pair.vae))}
    return {"modules": file_url(STATIC / "page"), "vendor": file_url(VENDOR), "graphs": graphs, "missing": missing}


def serve_page_files(explorer: Explorer) -> None:
    """Let the server hand out the page's modules, the runtime and every model's graphs (and nothing else)."""
    files = [STATIC]
    for dataset in explorer.datasets:
        pair = explorer.models(dataset)
        files += [pair.folders[kind] / name for kind in ("ae", "vae") if pair.graphs.get(kind)
                  for name in (ENCODER_FILE, DECODER_FILE)]
    gr.set_static_paths(files)


def preload_head() -> str:
    """<link>s for the page's <head>: the browser fetches the runtime and the page's modules while Gradio's own
    scripts start, instead of after the pad has mounted."""
    modules = [STATIC / "page" / name for name in ("draw.js", "framing.js", "models.js", "runtime.js", "canvas.js")]
    links = [f'<link rel="modulepreload" href="{file_url(path)}">' for path in [*modules, VENDOR / RUNTIME_MODULE]]
    links.append(f'<link rel="preload" as="fetch" crossorigin="anonymous" href="{file_url(VENDOR / RUNTIME_WASM)}">')
    return "\n".join(links)
