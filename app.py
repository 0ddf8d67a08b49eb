"""ae-vae-explorer: draw, interpolate, sample and map — an AE and a VAE side by side.

    python app.py                       # bundled weights in weights/
    AE_VAE_HUB_REPO=user/repo python app.py   # weights from the Hugging Face Hub (cached; falls back)

All logic lives in `ae_vae.explorer` (pure functions, tested without the UI); this file lays it
out with one `gr.Tab` per feature and wires every event with an explicit `api_name`.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import torch
from PIL import Image

from ae_vae.data import CLASS_NAMES, DATASET_TITLES, DATASETS
from ae_vae.explorer import DEFAULT_SAMPLES, MAX_SAMPLES, MAX_STEPS, Explorer, gif_bytes, load_dataset_models
from ae_vae.fileio import atomic_write_bytes
from ae_vae.hub import resolve_model_folders
from ae_vae.preprocess import InputError

logger = logging.getLogger("app")
ROOT = Path(__file__).resolve().parent
DATASET_CHOICES = [(DATASET_TITLES[d], d) for d in DATASETS]
CSS = """
.pixelated img { image-rendering: pixelated; object-fit: contain !important; }
#source-notice { font-size: 0.9em; opacity: 0.85; }
"""
# Gradio 6's sketchpad starts (and restarts after "Clear") with no tool selected, so a first
# stroke would do nothing; select the brush whenever the pad is empty.
SELECT_BRUSH_JS = """
() => {
  const pick = () => {
    const pad = document.getElementById('sketchpad');
    if (!pad || !pad.querySelector('.empty')) return;
    const brush = pad.querySelector('button[aria-label="Brush"]') || pad.querySelector('.toolbar-wrap button');
    if (brush) brush.click();
  };
  new MutationObserver(pick).observe(document.body, {childList: true, subtree: true});
  pick();
}
"""
AE_SAMPLE_NOTE = ("**Why the AE's N(0, I) samples fail:** nothing in its training pulled the codes towards "
                  "N(0, I), so random points land in the empty space between (or far from) the regions its encoder "
                  "uses, and the decoder has never been asked to decode them. The VAE's KL term makes N(0, I) its "
                  "latent distribution, so its samples are images. The third grid decodes a Gaussian fitted to "
                  "the AE's own training codes: better, but the codes are not Gaussian, so many samples are still "
                  "blends — that fit is what the VAE's prior gives for free.")


def load_explorer(hub_repo: str | None, weights_dir: Path, timeout: float = 5.0, **hub_options: Any) -> Explorer:
    """Load all models once, from the Hub if configured (cached, with fallback), else from `weights_dir`.

    `hub_options` (endpoint, cache_dir, token, revision) go to `resolve_model_folders`.
    """
    source = resolve_model_folders(hub_repo, weights_dir, timeout=timeout, **hub_options)
    models = {dataset: load_dataset_models(dataset, source.folders[f"{dataset}-ae"], source.folders[f"{dataset}-vae"])
              for dataset in DATASETS}
    return Explorer(models, source_notice=source.notice)


def readable_upload(component: gr.Image) -> gr.Image:
    """Make an upload component turn unreadable files (a text file, a broken PNG) into a clear message.

    Gradio opens uploads with Pillow before our handler runs; its exceptions would reach the user
    as a bare error and the log as a traceback. (An instance-level wrapper rather than a subclass:
    Gradio writes a `.pyi` copy of any module that subclasses a component.)
    """
    original = component.preprocess

    def preprocess(payload):
        try:
            return original(payload)
        except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad files
            name = getattr(payload, "orig_name", None) or "The file"
            what = "is not an image that can be read" if component.__class__ is gr.Image else "could not be read"
            raise gr.Error(f"{name} {what} ({exc.__class__.__name__}); use a PNG, JPEG, WebP, BMP or GIF image.",
                           print_exception=False) from None

    component.preprocess = preprocess
    return component


def upload_image(label: str, **kwargs: Any) -> gr.Image:
    """An image input handed to the handlers as a file path, any Pillow mode, unreadable files explained."""
    return readable_upload(gr.Image(type="filepath", image_mode=None, format="png", label=label,
                                    elem_classes="pixelated", **kwargs))


def output_image(label: str, **kwargs: Any) -> gr.Image:
    """A PNG output (lossless: 28x28 images must not be re-encoded as webp), upscaled without blur."""
    return gr.Image(label=label, format="png", elem_classes="pixelated", interactive=False, **kwargs)


def _user_error(exc: InputError) -> gr.Error:
    return gr.Error(str(exc), print_exception=False)


class OutputFiles:
    """Output files (PNG images, GIFs), content-addressed, each written once and atomically.

    Handing Gradio numpy arrays makes it re-encode them into a content-named cache file that it rewrites
    in place on every request; under load (16 clients, identical drawings) a client reading that file
    while another request rewrote it got a torn download. Files it is given are copied into its cache
    atomically instead. Files older than an hour are pruned (checked at most once a minute).
    """

    def __init__(self, folder: Path, max_age_s: float = 3600.0):
        self.folder = folder
        self.max_age_s = max_age_s
        self._last_prune = time.time()

    def write(self, data: bytes, suffix: str) -> str:
        path = self.folder / f"{hashlib.sha1(data).hexdigest()[:20]}{suffix}"
        if not path.exists():
            atomic_write_bytes(path, data)
        now = time.time()
        if now - self._last_prune > 60:
            self._last_prune = now
            for old in self.folder.iterdir():
                if now - old.stat().st_mtime > self.max_age_s:
                    old.unlink(missing_ok=True)
        return str(path)

    def png(self, image: np.ndarray) -> str:
        buffer = io.BytesIO()
        Image.fromarray(np.asarray(image)).save(buffer, format="png")
        return self.write(buffer.getvalue(), ".png")


def build_demo(explorer: Explorer) -> gr.Blocks:
    """The Blocks app over `explorer`'s handlers."""
    files = OutputFiles(Path(tempfile.mkdtemp(prefix="ae-vae-outputs-")))
    png = files.png

    def reconstruct(sketch: Any, image: Any, dataset: str, source: str | None = None):
        """Model input, AE and VAE reconstructions, VAE posterior samples, error table."""
        chosen = image if (image is not None and source != "pad") or sketch is None else sketch
        try:
            result = explorer.reconstruct(chosen, dataset)
        except InputError as exc:
            raise _user_error(exc) from None
        return (png(result.model_input), png(result.ae), png(result.vae), png(result.vae_samples), result.summary(),
                result.model_input)

    def soft_reconstruct(sketch: Any, image: Any, dataset: str, source: str | None, done: str):
        """For automatic updates: problems go to the status line instead of an error pop-up."""
        try:
            return (*reconstruct(sketch, image, dataset, source), source, done)
        except gr.Error as exc:
            return (*[gr.skip()] * 6, source, f"⚠️ {exc.message}")

    def reconstruct_from_pad(sketch: Any, dataset: str):
        """After every stroke; an empty or cleared pad only updates the status line."""
        if not isinstance(sketch, dict) or sketch.get("composite") is None:
            return (*[gr.skip()] * 7, "The pad is empty: draw a digit (mouse or finger).")
        return soft_reconstruct(sketch, None, dataset, "pad", "Reconstructed your drawing.")

    def reconstruct_from_upload(image: Any, dataset: str):
        return soft_reconstruct(None, image, dataset, "upload", "Reconstructed your upload.")

    def refresh_draw(sketch: Any, image: Any, dataset: str, source: str | None):
        """Dataset switch: redo the current drawing with the other pair of models."""
        if source is None:
            return (*[gr.skip()] * 7, gr.skip())
        return soft_reconstruct(sketch, image, dataset, source, f"Reconstructed with the {DATASET_TITLES[dataset]} "
                                                                 "models.")

    def mark_value(model_input: np.ndarray | None):
        """The drawing for the Embeddings tab, shown 4x larger. (Also a different file from the model-input
        image: Gradio rewrites equal images in place, and a browser still fetching one would get a torn PNG.)"""
        return None if model_input is None else png(np.kron(model_input, np.ones((4, 4), np.uint8)))

    def current_drawing(model_input: np.ndarray | None):
        if model_input is None:
            raise gr.Error("Draw or upload something on the Draw tab first.", print_exception=False)
        return png(model_input)

    def examples_for(dataset: str) -> list[tuple[np.ndarray, str]]:
        pair = explorer.models(dataset)
        names = CLASS_NAMES[pair.dataset]
        return [(png(img), names[int(label)]) for img, label in zip(pair.example_images, pair.example_labels)]

    def pick_example(dataset: str, evt: gr.SelectData):
        pair = explorer.models(dataset)
        image = pair.example_images[evt.index]
        outputs = reconstruct(None, image, dataset, "upload")
        return (png(image), *outputs, "upload", f"Reconstructed test example #{evt.index}.")

    def pick_for_interpolation(dataset: str, slot: str, evt: gr.SelectData):
        """Clicking examples fills A, then B, then A again."""
        image = explorer.models(dataset).example_images[evt.index]
        return (png(image), gr.skip(), "B") if slot == "A" else (gr.skip(), png(image), "A")

    def interpolate(image_a: Any, image_b: Any, dataset: str, steps: int, path: str):
        try:
            ae_strip, vae_strip, frames = explorer.interpolate(image_a, image_b, dataset, steps, path)
        except InputError as exc:
            raise _user_error(exc) from None
        return png(ae_strip), png(vae_strip), files.write(gif_bytes(frames), ".gif")

    def default_pair(dataset: str) -> tuple[str, str]:
        return tuple(png(image) for image in explorer.default_pair(dataset))

    def sample(dataset: str, count: int, seed: int, temperature: float):
        try:
            return tuple(png(grid) for grid in explorer.sample(dataset, count, seed, temperature))
        except InputError as exc:
            raise _user_error(exc) from None

    def embedding(dataset: str, image: Any):
        try:
            fig, text = explorer.embedding(dataset, image)
            ae_grid, vae_grid = explorer.manifold(dataset)
        except InputError as exc:
            raise _user_error(exc) from None
        return png(fig), text, png(ae_grid), png(vae_grid)

    first = explorer.datasets[0]
    with gr.Blocks(title="AE vs VAE explorer", delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# AE vs VAE explorer\nAn autoencoder and a variational autoencoder, side by side, on MNIST "
                    "and Fashion-MNIST. Draw, interpolate, sample and look at the latent maps to *see* why a VAE's "
                    "latent space is generative and a plain AE's is not.")
        gr.Markdown(f"Weights: {explorer.source_notice}", elem_id="source-notice")
        dataset = gr.Radio(DATASET_CHOICES, value=first, label="Dataset (applies to every tab)")
        current_input = gr.State(None)
        source = gr.State(None)

        with gr.Tab("Draw"):
            with gr.Row():
                with gr.Column(scale=3):
                    pad = readable_upload(gr.Sketchpad(
                        canvas_size=(280, 280), fixed_canvas=True, type="numpy", image_mode="RGBA", format="png",
                        layers=False, transforms=(),
                        brush=gr.Brush(default_size=11, colors=["#000000"], color_mode="fixed"),
                        label="Draw a digit (or a garment) — updates after every stroke", elem_id="sketchpad"))
                    upload = upload_image("…or upload an image", sources=["upload", "clipboard"], height=200,
                                          elem_id="upload")
                    run = gr.Button("Reconstruct", variant="primary", elem_id="reconstruct-button")
                    status = gr.Markdown("", elem_id="draw-status")
                with gr.Column(scale=4):
                    with gr.Row():
                        model_input = output_image("28×28 model input", height=168, elem_id="model-input")
                        ae_out = output_image("AE reconstruction", height=168, elem_id="ae-recon")
                        vae_out = output_image("VAE reconstruction (posterior mean)", height=168, elem_id="vae-recon")
                    vae_samples = output_image("VAE posterior samples z ~ q(z|x)", height=120)
                    errors = gr.Markdown(label="reconstruction errors")
            examples = gr.Gallery(value=examples_for(first), label="Test-set examples (click one)", columns=10,
                                  height=150, allow_preview=False, elem_id="examples", format="png")

        with gr.Tab("Interpolate"):
            default_a, default_b = default_pair(first)
            with gr.Row():
                image_a = upload_image("Image A", value=default_a, height=160)
                image_b = upload_image("Image B", value=default_b, height=160)
                with gr.Column():
                    steps = gr.Slider(2, MAX_STEPS, value=10, step=1, label="Steps")
                    path = gr.Radio(["linear", "spherical"], value="linear", label="Path")
                    use_a = gr.Button("Use my drawing as A")
                    use_b = gr.Button("Use my drawing as B")
                    interp_run = gr.Button("Interpolate", variant="primary", elem_id="interpolate-button")
            interp_examples = gr.Gallery(value=examples_for(first), label="Test-set examples (a click fills A, the "
                                         "next one B)", columns=10, height=120, allow_preview=False, format="png")
            fill_slot = gr.State("A")
            ae_strip = output_image("AE: decoded straight path between the two codes", height=120, elem_id="interp-ae")
            vae_strip = output_image("VAE: decoded path between the two posterior means", height=120,
                                     elem_id="interp-vae")
            gif = gr.File(label="Animated GIF (AE above VAE)")

        with gr.Tab("Sample"):
            with gr.Row():
                count = gr.Slider(1, MAX_SAMPLES, value=DEFAULT_SAMPLES, step=1, label="Number of samples")
                seed = gr.Number(value=0, precision=0, minimum=0, label="Seed")
                temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="Temperature (std of z)")
                sample_run = gr.Button("Sample", variant="primary", elem_id="sample-button")
            with gr.Row():
                ae_grid = output_image("AE decoded from N(0, I)", height=320, elem_id="sample-ae")
                vae_grid = output_image("VAE decoded from N(0, I) — its prior", height=320, elem_id="sample-vae")
                ae_fitted = output_image("AE decoded from a Gaussian fitted to its training codes", height=320,
                                         elem_id="sample-ae-fitted")
            gr.Markdown(AE_SAMPLE_NOTE)

        with gr.Tab("Embeddings") as embeddings_tab:
            with gr.Row():
                mark = upload_image("Point to mark (your latest drawing)", height=140)
                embed_run = gr.Button("Update maps", variant="primary", elem_id="maps-button")
            maps_plot = gr.Image(label="Test-set latents: PCA (top) and UMAP (bottom), AE left, VAE right",
                                 format="png", interactive=False, elem_id="maps-plot")
            maps_text = gr.Markdown(label="explained variance")
            with gr.Row():
                ae_manifold = output_image("AE decoded over its PCA plane (±2σ)")
                vae_manifold = output_image("VAE decoded over its PCA plane (±2σ)")

        # ---- events: one listener per pad; explicit inputs, outputs and api names
        draw_outputs = [model_input, ae_out, vae_out, vae_samples, errors, current_input]
        run.click(reconstruct, [pad, upload, dataset, source], draw_outputs, api_name="reconstruct")
        pad.change(reconstruct_from_pad, [pad, dataset], [*draw_outputs, source, status],
                   api_visibility="private", show_progress="hidden", trigger_mode="always_last")
        upload.upload(reconstruct_from_upload, [upload, dataset], [*draw_outputs, source, status],
                      api_visibility="private")
        examples.select(pick_example, [dataset], [upload, *draw_outputs, source, status], api_visibility="private")
        current_input.change(mark_value, current_input, mark, api_visibility="private", show_progress="hidden")

        interp_inputs = [image_a, image_b, dataset, steps, path]
        interp_run.click(interpolate, interp_inputs, [ae_strip, vae_strip, gif], api_name="interpolate")
        interp_examples.select(pick_for_interpolation, [dataset, fill_slot], [image_a, image_b, fill_slot],
                               api_visibility="private")
        use_a.click(current_drawing, current_input, image_a, api_visibility="private")
        use_b.click(current_drawing, current_input, image_b, api_visibility="private")

        sample_inputs = [dataset, count, seed, temperature]
        sample_run.click(sample, sample_inputs, [ae_grid, vae_grid, ae_fitted], api_name="sample")

        embed_outputs = [maps_plot, maps_text, ae_manifold, vae_manifold]
        embed_run.click(embedding, [dataset, mark], embed_outputs, api_name="embedding")
        embeddings_tab.select(embedding, [dataset, mark], embed_outputs, api_visibility="private")

        dataset.change(lambda d: (examples_for(d), examples_for(d), *default_pair(d)), dataset,
                       [examples, interp_examples, image_a, image_b], api_visibility="private").then(
            refresh_draw, [pad, upload, dataset, source], [*draw_outputs, source, status],
            api_visibility="private").then(
            interpolate, interp_inputs, [ae_strip, vae_strip, gif], api_visibility="private").then(
            sample, sample_inputs, [ae_grid, vae_grid, ae_fitted], api_visibility="private")
        demo.load(interpolate, interp_inputs, [ae_strip, vae_strip, gif], api_visibility="private").then(
            sample, sample_inputs, [ae_grid, vae_grid, ae_fitted], api_visibility="private")
    return demo


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the AE vs VAE explorer (Gradio).",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--hub-repo", default=os.environ.get("AE_VAE_HUB_REPO") or None,
                        help="Hub model repo holding mnist-ae/, mnist-vae/, fashion_mnist-ae/, fashion_mnist-vae/ "
                             "(env AE_VAE_HUB_REPO); unset: the bundled weights")
    parser.add_argument("--weights-dir", default=str(ROOT / "weights"), help="bundled weights (the fallback)")
    parser.add_argument("--hub-timeout", type=float, default=5.0,
                        help="seconds to wait for the Hub before falling back to the cache or bundled weights")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), help="bind address")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")), help="port")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads per request (requests run in parallel; see bench/load.py)")
    parser.add_argument("--concurrency", type=int, default=2,
                        help="requests computed at once (queue concurrency; see bench/load.py)")
    return parser.parse_args(argv)


def create_app(args: argparse.Namespace) -> gr.Blocks:
    torch.set_num_threads(max(1, args.threads))
    explorer = load_explorer(args.hub_repo, Path(args.weights_dir), timeout=args.hub_timeout)
    logger.info("weights: %s", explorer.source_notice)
    # Render the latent maps (~1 s per data set) off the start-up path, before anyone opens the tab.
    threading.Thread(target=explorer.prepare, name="render-maps", daemon=True).start()
    return build_demo(explorer).queue(default_concurrency_limit=max(1, args.concurrency))


def launch(demo: gr.Blocks, args: argparse.Namespace, **kwargs: Any):
    return demo.launch(server_name=args.host, server_port=args.port, css=CSS, js=SELECT_BRUSH_JS,
                       max_file_size="25mb", show_error=True, **kwargs)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cli_args = parse_args()
    launch(create_app(cli_args), cli_args)
