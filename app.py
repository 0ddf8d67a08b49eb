"""ae-vae-explorer: draw, interpolate, sample and map — an AE and a VAE side by side.

    python app.py                             # bundled weights in weights/
    AE_VAE_HUB_REPO=user/repo python app.py   # weights from the Hugging Face Hub (cached; falls back)

The layout lives here, one builder per tab with its events wired inside it; each tab's handlers are a module of
`ae_vae.app` of the same name (`draw`, `interpolate`, `sample`, `embeddings`), over the pure
`ae_vae.app.explorer.Explorer`, and are tested without the UI. The models run as onnxruntime sessions of the same
ONNX graphs the page runs: the app imports no torch (`requirements.txt`; training has `requirements-train.txt`).
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

# numpy's BLAS would start a spinning thread per core for the few small matrix products a request makes (the prior's
# densities, the neighbour search); requests run in parallel instead (`--concurrency`). Set before numpy loads.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import gradio as gr

from ae_vae.app.beta import BetaHandlers
from ae_vae.app.contract import PAGE_MODULES, Ids, page_event_js
from ae_vae.app.draw import DEFAULT_NEIGHBOURS, NEIGHBOURS_HINT, DrawHandlers
from ae_vae.app.embeddings import EmbeddingsHandlers
from ae_vae.app.explorer import DEFAULT_SAMPLES, MAX_SAMPLES, MAX_STEPS, Explorer
from ae_vae.app.gradio_io import (
    OutputFiles,
    captioned_gallery,
    class_menu,
    output_image,
    quiet_input_errors,
    upload_image,
)
from ae_vae.app.interpolate import InterpolateHandlers
from ae_vae.app.knob import KNOB_SAMPLES, KNOB_SEED
from ae_vae.app.knobview import knob_view
from ae_vae.app.mapview import maps_view
from ae_vae.app.memory import map_large_blocks
from ae_vae.app.pad import LIVE_CONCURRENCY, PadEvents, drawing_pad
from ae_vae.app.page import (
    PageData,
    file_url,
    first_graphs,
    preload_head,
    serve_page_files,
    write_page_config,
)
from ae_vae.app.sample import SampleHandlers
from ae_vae.app.sources import find_own_models, load_explorer
from ae_vae.app.views import (
    BETA_CURVE,
    BETA_RECONSTRUCTED,
    BETA_SAMPLED,
    DESCRIBED,
    DRAWN,
    FRAME_AT,
    INTERPOLATED,
    MAPPED,
    NEIGHBOURS,
    PAGE_ADDED,
    PAIR,
    POINT,
    PROFILED,
    RECONSTRUCTED,
    SAMPLED,
    SHOWN,
    STARRED,
    VIEWED,
    WALKED,
    BetaView,
    DrawingView,
    InterpolationView,
    MapsView,
    Outputs,
    SampleView,
)
from ae_vae.checks import COUNT, NOT_NEGATIVE, TEMPERATURE_RANGE, option, whole_number
from ae_vae.data import DATASET_TITLES, DATASETS
from ae_vae.errors import WeightsError
from ae_vae.latent.navigation import MAX_NEIGHBOURS, MAX_SIGMA
from ae_vae.runtime import set_session_threads

logger = logging.getLogger("app")
ROOT = Path(__file__).resolve().parent
BUNDLED_WEIGHTS = ROOT / "weights"
DATASET_CHOICES = [(DATASET_TITLES[d], d) for d in DATASETS]
CSS = """
.pixelated img { image-rendering: pixelated; object-fit: contain !important; }
#source-notice { font-size: 0.9em; opacity: 0.85; }
.page-status > :not(.in-page-status) { display: none !important; }  /* the page's status line over the server's */
.in-page-status { margin: 0; }
.image-caption p { margin: 0 0 2px 0; font-size: 0.85em; font-weight: 600; }
.captioned { gap: 0 !important; }
/* small galleries (examples, neighbours): each class name under its thumbnail, whole, not a badge over it; the
   gallery as tall as its rows, so no row is cut */
.captioned-gallery .thumbnail-item { aspect-ratio: auto !important; height: auto !important; display: flex;
                                     flex-direction: column; }
.captioned-gallery .thumbnail-item img { aspect-ratio: 1 / 1; height: auto !important; }
.captioned-gallery .caption-label { position: static !important; max-width: none !important; opacity: 1 !important;
                                    white-space: normal !important; overflow-wrap: anywhere; border: none !important;
                                    background: none !important; padding: 1px 0 !important; text-align: center !important;
                                    font-size: 0.75em; line-height: 1.15; }
.captioned-gallery .grid-wrap { height: auto !important; min-height: 0 !important; max-height: none !important;
                               overflow: visible !important; }
.captioned-gallery .grid-container { grid-template-columns: repeat(var(--grid-cols), minmax(0, 1fr)) !important;
                                     grid-template-rows: none !important; grid-auto-rows: auto !important; }
.captioned-gallery { height: auto !important; }
/* before any drawing the neighbour panel is its one line of help, not two empty boxes */
.neighbours-panel:not(:has(.thumbnail-item)) .captioned { display: none !important; }
/* tables (error table, the Sample lesson's figures) break between words, never inside a number */
.prose td, .prose th { overflow-wrap: normal !important; word-break: normal !important; }
@media (max-width: 640px) {  /* a phone: thumbnails a finger can hit; tables in a smaller type, scrolled if wider */
  /* the live maps and the pad's row take most of the page's side margins (Gradio's own, outside this CSS's reach) */
  #maps-view, #draw-main { margin-left: -22px !important; margin-right: -22px !important;
                           width: calc(100% + 44px) !important; max-width: none !important; }
  #maps-view .html-container { padding: 0 !important; }
  .prose table { display: block; width: fit-content; max-width: 100%; overflow-x: auto; font-size: 0.8em; }
  #examples .grid-container, #interp-examples .grid-container { grid-template-columns: repeat(5, minmax(0, 1fr)) !important; }
  .neighbours .grid-container { grid-template-columns: repeat(min(var(--grid-cols), 4), minmax(0, 1fr)) !important; }
  /* Draw: the model input and both reconstructions in a strip beside the pad, so the finger and what the models
     make of the drawing are in view together; the columns' other parts follow below, full width */
  #draw-main { display: grid !important; grid-template-columns: minmax(0, 1fr) 92px; gap: 8px 8px; align-items: start; }
  #draw-input, #draw-output { display: contents !important; }
  #draw-input > *, #draw-output > * { grid-column: 1 / -1; min-width: 0 !important; }
  #draw-main #sketchpad { grid-column: 1; grid-row: 1; }
  #draw-main #draw-status { grid-column: 1; }
  #draw-main #draw-strip { grid-column: 2; grid-row: 1 / span 2; flex-direction: column !important; flex-wrap: nowrap !important;
                          gap: 4px !important; }
  #draw-strip > .captioned { min-width: 0 !important; width: 100%; }
  #draw-strip .image-caption p { font-size: 0.7em; line-height: 1.1; }
  #draw-strip .block.pixelated { height: auto !important; aspect-ratio: 1 / 1; min-height: 0 !important; }
  #draw-strip .block.pixelated > div:not(.wrap) { height: 100% !important; min-height: 0 !important; }
  /* every tab's button in the bar, none behind an overflow menu */
  .tab-container button { padding-left: 8px !important; padding-right: 8px !important; }
}
"""
INTRO = ("# AE vs VAE explorer\nAn autoencoder and a variational autoencoder, side by side, on MNIST and "
         "Fashion-MNIST. Draw, interpolate, sample and look at the latent maps to *see* why a VAE's latent space "
         "is generative and a plain AE's is not.")
INTERPOLATION_NOTE = ("**What to look for:** each frame's code is scored by the model's own fitted prior (its "
                      "percentile among the test set's codes: ~50 for an ordinary test image, near 0 where no test "
                      "image's code lies). A path that leaves the data's regions drops towards 0 mid-way: that is "
                      "where decoded frames stop looking like the data set.")
# Gradio's bundled SemiBold faces hold only ASCII letters, so a 600-weight caption would mix two typefaces: with
# only the complete Regular and Bold faces declared, the browser draws every bold word in Bold.
THEME = gr.themes.Default(
    font=[gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"],
    font_mono=[gr.themes.LocalFont("IBM Plex Mono", weights=(400, 700)), "ui-monospace", "monospace"])
PRIVATE: dict[str, Any] = {"api_visibility": "private"}
# Events waiting in the queue, all pages together: about two seconds of work at the rate bench/load_test.py measures
# (docs/experiments.md); an answer later than that is stale (the pad has moved on), so more are refused.
QUEUE_SIZE = 64
QUEUE_SUMMARY_EVERY = 1000  # events between two refreshes of Gradio's monitoring summary


def input_column(page: dict[str, Any]) -> tuple[gr.HTML, gr.Markdown, gr.Checkbox, gr.Button, gr.Image]:
    """The Draw tab's left column: the pad (reconstructing in the page where it can: `page` holds the URLs of the
    page's config and modules, and the server function that says when the page's data files are written), its status
    line (in view without scrolling), fill, button, upload."""
    with gr.Column(scale=3, elem_id="draw-input"):
        pad = drawing_pad(page["config"], page["modules"], page["data_ready"],
                          label="Draw a digit (or a garment): the reconstructions follow the pen",
                          elem_id="sketchpad")
        status = gr.Markdown("", elem_id=Ids.DRAW_STATUS)
        fill = gr.Checkbox(False, label="Fill closed outlines (Fashion-MNIST items are filled silhouettes: "
                                        "tick this when you draw a garment's outline)", elem_id=Ids.FILL)
        run = gr.Button("Reconstruct", variant="primary", elem_id="reconstruct-button")
        upload = upload_image("…or upload an image", sources=["upload", "clipboard"], height=200, elem_id=Ids.UPLOAD)
    return pad, status, fill, run, upload


def draw_tab(handlers: DrawHandlers, dataset: gr.Radio, page: dict[str, Any]) -> dict[str, Any]:
    """Pad, upload and examples → model input, both reconstructions, posterior samples (in the page while the pen
    moves, where `page` says it can). Returns the components other tabs read (the current model input) and the
    dataset switch re-runs."""
    first = handlers.explorer.datasets[0]
    source = gr.State(None)
    current_input = gr.State(None)
    with gr.Tab("Draw"):
        with gr.Row(elem_id="draw-main"):
            pad, status, fill, run, upload = input_column(page)
            with gr.Column(scale=4, elem_id="draw-output"):
                with gr.Row(elem_id="draw-strip"):  # beside the pad on a phone (CSS)
                    model_input = output_image("28×28 model input", height=168, elem_id=Ids.MODEL_INPUT)
                    ae_out = output_image("AE reconstruction", height=168, elem_id=Ids.AE_RECON)
                    vae_out = output_image("VAE reconstruction (mean)", height=168, elem_id=Ids.VAE_RECON)
                vae_samples = output_image("VAE posterior samples z ~ q(z|x)", height=120, elem_id=Ids.VAE_SAMPLES)
                errors = gr.Markdown(label="reconstruction errors", elem_id="draw-errors")
                view = Outputs(DrawingView, {"model_input": model_input, "ae": ae_out, "vae": vae_out,
                                             "vae_samples": vae_samples, "errors": errors, "drawing": current_input,
                                             "source": source, "status": status, "upload": upload})
                k = neighbours_panel(handlers, view, dataset, pad, upload, current_input)
                view.add(typicality=gr.Markdown("", elem_id="typicality"))
                typical_numbers = gr.JSON(visible=False, label="typicality per model")  # /typicality's output
                typical_trigger = gr.Button(visible=False)  # (inside the tab: a component between tabs splits the bar)
                api_reconstruct = gr.Button(visible=False)
        examples = captioned_gallery("Test-set examples (click one)", value=handlers.examples_for(first), columns=10,
                                     allow_preview=False, elem_id=Ids.EXAMPLES)
        walk_panel(handlers, view, dataset, pad, upload, current_input)
        code_panel(handlers, dataset, pad, upload, current_input)

    # a new drawing other than the pad's (or none): the rest of the tab once its reconstructions are in, one answer
    describe = event(view, handlers.after_drawing, [current_input, dataset, k], DESCRIBED)
    quiet = {"show_progress": "hidden", "postprocess": False, **PRIVATE}
    drawing_inputs = [pad, upload, dataset, source, fill]
    run.click(*event(view, handlers.reconstruct_button, drawing_inputs, DRAWN), **PRIVATE).then(*describe, **quiet)
    # API only: /reconstruct raises its problems as errors; the button above says them on the status line.
    api_reconstruct.click(*event(view, handlers.reconstruct, drawing_inputs, RECONSTRUCTED), api_name="reconstruct")
    # API only (the page shows the line below): a hidden trigger gives /typicality the same typed inputs as
    # /reconstruct, so clients send a drawing or an image the same way to both.
    typical_trigger.click(handlers.typicality, [pad, upload, dataset], typical_numbers, api_name="typicality")
    wire_pad(pad, PadEvents(handlers), view, [pad, dataset, source, fill, k])
    upload.upload(*event(view, handlers.reconstruct_from_upload, [upload, dataset, fill], DRAWN), **PRIVATE).then(
        *describe, **quiet)
    refresh = event(view, handlers.refresh_draw, drawing_inputs, DRAWN)
    fill.change(*refresh, **PRIVATE).then(*describe, **quiet)
    fill.change(None, fill, None, js=page_event_js("fill"), **PRIVATE)  # the page follows the switch (pad.js)
    examples.select(*event(view, handlers.pick_example, [dataset], ("upload", *DRAWN)), **PRIVATE).then(
        *describe, **quiet)
    return {"examples": examples, "examples_for": handlers.examples_for, "current_input": current_input,
            "refresh": refresh, "describe": describe, "pad": pad, "upload": upload}


def event(view: Outputs, handler: Any, inputs: list, fields: tuple[str, ...]) -> tuple[Any, list, list]:
    """`(fn, inputs, outputs)` of an event whose handler answers with a view: the components of `fields` it shows."""
    fn, outputs = view.event(handler, fields)
    return fn, inputs, outputs


def wire_pad(pad: gr.HTML, events: PadEvents, view: Outputs, inputs: list) -> None:
    """The pad's three events (pad.py): queued frames while the server draws, each final one answering the whole Draw
    tab, images inline (gradio_io.inline_png); while the page draws, one plain request per stroke for what the page
    does not show itself (`views.PAGE_ADDED`), and one when it is cleared."""
    common = {"show_progress": "hidden", "trigger_mode": "always_last", "postprocess": False, **PRIVATE}
    pad.input(*event(view, events.frame, inputs, SHOWN), concurrency_limit=LIVE_CONCURRENCY,
              concurrency_id="live-drawing", **common)
    pad.submit(*event(view, events.page_frame, inputs, PAGE_ADDED), queue=False, **common)
    pad.clear(*event(view, events.frame, inputs, SHOWN), queue=False, **common)


def interpolate_tab(handlers: InterpolateHandlers, dataset: gr.Radio, current_input: gr.State) -> dict[str, Any]:
    """Two images → decoded paths between their codes, AE above VAE, and a GIF."""
    with gr.Tab("Interpolate"):
        with gr.Row():  # no component default: the API needs both images; the page fills the default pair on load
            image_a = upload_image("Image A", height=160)
            image_b = upload_image("Image B", height=160)
            with gr.Column():
                steps = gr.Slider(2, MAX_STEPS, value=10, step=1, label="Steps")
                path = gr.Radio(["linear", "spherical"], value="linear", label="Path", elem_id=Ids.INTERP_PATH)
                use_a = gr.Button("Use my drawing as A")
                use_b = gr.Button("Use my drawing as B")
                run = gr.Button("Interpolate", variant="primary", elem_id="interpolate-button")
        examples = captioned_gallery("Test-set examples (a click fills A, the next one B)",
                                     value=handlers.examples_for(handlers.explorer.datasets[0]), columns=10,
                                     allow_preview=False, elem_id="interp-examples")
        fill_slot = gr.State("A")
        ae_strip = output_image("AE: decoded path between the two codes", height=120, elem_id="interp-ae")
        vae_strip = output_image("VAE: decoded path between the two posterior means", height=120,
                                 elem_id="interp-vae")
        view = Outputs(InterpolationView, {"image_a": image_a, "image_b": image_b, "next_slot": fill_slot,
                                           "examples": examples, "ae_path": ae_strip, "vae_path": vae_strip})
        codes, frame = scrub_panel(handlers, view, run, image_a, image_b, dataset, path)
        profile_plot = gr.Image(label="How typical each frame's code is", show_label=False, format="png", buttons=[],
                                interactive=False, elem_id="interp-profile")
        profile_numbers = gr.JSON(visible=False, label="typicality along the path")  # its numbers
        gr.Markdown(INTERPOLATION_NOTE)
        lesson = gr.Markdown(handlers.explorer.interpolation_lesson(handlers.explorer.datasets[0]),
                             elem_id="interp-lesson")
        view.add(gif=gr.File(label="Animated GIF (AE above VAE)"), profile_plot=profile_plot,
                 profile_numbers=profile_numbers)

    inputs = [image_a, image_b, dataset, steps, path]
    interpolated = event(view, handlers.interpolate, inputs, INTERPOLATED)
    profile = event(view, handlers.interpolation_profile, inputs, PROFILED)
    run.click(*interpolated, api_name="interpolate").then(*profile, api_name="interpolation_profile")
    examples.select(*event(view, handlers.pick_for_interpolation, [dataset, fill_slot], (*PAIR, "next_slot")),
                    **PRIVATE)
    dataset.change(handlers.explorer.interpolation_lesson, dataset, lesson, **PRIVATE)
    use_a.click(handlers.current_drawing, current_input, image_a, **PRIVATE)
    use_b.click(handlers.current_drawing, current_input, image_b, **PRIVATE)
    return {"switched": event(view, handlers.switch_dataset, [dataset], ("examples", *PAIR)),
            "default_pair": event(view, handlers.default_pair, [dataset], PAIR),
            "refresh": interpolated, "profile": profile, "codes": codes, "frame": frame}


def scrub_panel(handlers: InterpolateHandlers, view: Outputs, run: gr.Button, image_a: gr.Image, image_b: gr.Image,
                dataset: gr.Radio, path: gr.Radio) -> tuple[tuple, tuple]:
    """A scrubber t from 0 to 1 and both models' frame at t: decoded in the page while it is dragged (page/scrub.js,
    from the codes the server hands over after Interpolate), else by the server (/interpolate_at). Returns the
    (fn, inputs, outputs) of handing over the codes and of the server's frame, for the tab's refreshes."""
    with gr.Row():
        with gr.Column(scale=2):
            scrub = gr.Slider(0, 1, value=0.5, step=0.01, label="Scrub the path: t from A (0) to B (1)",
                              elem_id=Ids.INTERP_T)
            scrub_codes = gr.HTML("", elem_id=Ids.INTERP_CODES, padding=False)  # the codes the page decodes
        ae_frame = output_image("AE at t", height=120, elem_id=Ids.SCRUB_AE)
        vae_frame = output_image("VAE at t", height=120, elem_id=Ids.SCRUB_VAE)
    codes = (handlers.scrub_codes, [image_a, image_b, dataset], scrub_codes)
    view.add(frame_ae=ae_frame, frame_vae=vae_frame)
    frame = event(view, handlers.interpolate_at, [image_a, image_b, dataset, path, scrub], FRAME_AT)
    # (the public event first: a private step of the same function registered before it would take its name)
    scrub.input(*frame, api_name="interpolate_at", trigger_mode="always_last", show_progress="hidden")
    run.click(*codes, show_progress="hidden", **PRIVATE).then(*frame, show_progress="hidden", **PRIVATE)
    return codes, frame


def sample_tab(handlers: SampleHandlers, dataset: gr.Radio) -> dict[str, Any]:
    """Decoded samples: the AE and the VAE from N(0, I) or from mixtures fitted to their codes (any class or a
    chosen one), and the AE from one Gaussian fitted to its codes."""
    first = handlers.explorer.datasets[0]
    with gr.Tab("Sample"):
        with gr.Row():
            count = gr.Slider(1, MAX_SAMPLES, value=DEFAULT_SAMPLES, step=1, label="Number of samples")
            seed = gr.Number(value=0, precision=0, minimum=0, label="Seed")
            temperature = gr.Slider(*TEMPERATURE_RANGE, value=1.0, step=0.05, label="Temperature (std of z)")
        with gr.Row():
            prior = gr.Radio([("N(0, I)", "standard"), ("mixture fitted to the training codes", "mixture")],
                             value="standard", label="Prior (for the AE and the VAE alike)", elem_id="sample-prior")
            label = class_menu(handlers.class_choices(first)["choices"], value=-1, label="Class (needs the mixture)",
                               elem_id="sample-class")
            run = gr.Button("Sample", variant="primary", elem_id="sample-button")
        with gr.Row():
            ae_grid = output_image("AE decoded from the chosen prior", height=320, elem_id="sample-ae")
            vae_grid = output_image("VAE decoded from the chosen prior", height=320, elem_id="sample-vae")
            ae_fitted = output_image("AE decoded from one Gaussian fitted to its training codes", height=320,
                                     elem_id="sample-ae-fitted")
        lesson = gr.Markdown(handlers.explorer.sample_lesson(first), elem_id="sample-lesson")

    view = Outputs(SampleView, {"ae": ae_grid, "vae": vae_grid, "ae_fitted": ae_fitted})
    sampled = event(view, handlers.sample, [dataset, count, seed, temperature, prior, label], SAMPLED)
    gr.on([run.click, prior.change, label.change], *sampled, api_name="sample")
    dataset.change(handlers.class_choices, dataset, label, **PRIVATE)
    dataset.change(handlers.explorer.sample_lesson, dataset, lesson, **PRIVATE)
    return {"refresh": sampled}


MAPS_HELP = """Each dot is one test image, placed where the model's **latent code** for it lies — the short list of
numbers (32 for MNIST, 64 for Fashion-MNIST) the encoder squeezes an image into. The codes are flattened to two
dimensions in two ways: **PCA** shows the two directions along which the codes vary most (distances are true to
scale, but clusters can overlap), **UMAP** keeps each point's nearest neighbours together (clusters are trustworthy,
the distances between them are not). Colours and names are the classes; the yellow star is your drawing. Move the
pointer over a map to see what its model decodes there, in the map's corner; a click or a tap pins the point and
says how far it is from the data: between the AE's clusters it tends to produce smudges, the VAE fills its space
more evenly."""

MANIFOLD_HELP = """Below, each model decodes a 12 × 12 grid of points on its PCA plane: from left to right along
PC1 and from bottom to top along PC2, each from −2 to +2 standard deviations (σ) of its test codes."""


def embeddings_tab(handlers: EmbeddingsHandlers, dataset: gr.Radio, current_input: gr.State,
                   page: dict[str, Any]) -> dict[str, Any]:
    """Live PCA and UMAP maps of both latent spaces with the user's drawing starred (drawn and decoded in the page,
    `mapview.py`), and decoded PCA planes. Returns the dataset switch's refresh."""
    first = handlers.explorer.datasets[0]
    with gr.Tab("Embeddings") as tab:
        gr.Markdown(MAPS_HELP, elem_id="maps-help")
        with gr.Row(equal_height=False):
            mark = upload_image("The star: your drawing from the Draw tab (or upload another image)", height=140,
                                sources=["upload", "clipboard"], elem_id="maps-star")
            variance = gr.Markdown(label="explained variance", elem_id="maps-variance")
        maps_live = maps_view(page["config"], page["modules"], first, handlers.map_point, elem_id=Ids.MAPS_VIEW)
        starred = gr.State(None)  # the drawing last put on the star
        view = Outputs(MapsView, {"view": maps_live, "variance": variance, "star": mark, "starred": starred})
        point_panel(handlers, view, dataset)
        gr.Markdown(MANIFOLD_HELP)
        with gr.Row():
            view.add(ae_plane=output_image("AE decoded over its PCA plane"),
                     vae_plane=output_image("VAE decoded over its PCA plane"))
        # API only: the four maps as one image, the drawing starred (the tab draws them live above)
        # (its label as the API has always described it)
        maps_image = gr.Image(visible=False, format="png",
                              label="PCA (top) and UMAP (bottom), AE left, VAE right — click a map to decode there")
        view.add(maps=maps_image)
        api_embedding = gr.Button(visible=False)

    api_embedding.click(*event(view, handlers.embedding, [dataset, mark], MAPPED), api_name="embedding")
    viewed = event(view, handlers.maps_view, [dataset, mark], VIEWED)
    quiet = {"show_progress": "hidden", **PRIVATE}
    mark.upload(*viewed, **quiet)
    mark.clear(*viewed, **quiet)
    # the tab opened: the star follows the Draw tab's drawing (checked here, not sent after every stroke)
    tab.select(*event(view, handlers.star_on_visit, [current_input, starred], STARRED), **quiet).then(*viewed, **quiet)
    return {"refresh": viewed}


KNOB_HELP = """**The KL knob.** A VAE is an autoencoder whose codes are pulled towards N(0, I) by a KL term; β weighs
that term. One network, trained at every β of its range at once, answers at the β you choose: turn it from towards an
autoencoder (small β) through the VAE (β = 1) to codes pulled onto the prior (large β). The **rate** is the KL
term in nats (how much the code says about the image), the **distortion** the reconstruction term in nats (how much
of the image is lost); your drawing from the Draw tab is reconstructed from its posterior mean."""


def beta_tab(handlers: BetaHandlers, dataset: gr.Radio, drawing: dict[str, Any], page: dict[str, Any]
             ) -> dict[str, Any]:
    """The KL knob: a log-scale β slider over the β-conditioned VAE's trained range and what β does (`knobview.py`,
    drawn in the page), and the API's /beta_reconstruct, /beta_sample and /beta_curve. Returns the dataset switch's
    refresh."""
    first = handlers.explorer.datasets[0]
    with gr.Tab("β") as tab:
        gr.Markdown(KNOB_HELP, elem_id="knob-help")
        view = Outputs(BetaView, {"view": knob_view(page["config"], page["modules"],
                                                    handlers.knob_view(first, None).view, handlers.knob_point,
                                                    page["data_ready"], elem_id=Ids.KNOB_VIEW)})
        # API only: its inputs and outputs (the tab draws everything in the page)
        with gr.Group(visible=False):
            beta = gr.Number(1.0, label="β")
            count = gr.Number(KNOB_SAMPLES, precision=0, label="Number of samples")
            seed = gr.Number(KNOB_SEED, precision=0, label="Seed")
            view.add(model_input=gr.Image(format="png", label="28×28 model input"),
                     recon=gr.Image(format="png", label="Reconstruction at β (from the posterior mean)"),
                     rate=gr.Number(label="rate (nats)"), distortion=gr.Number(label="distortion (nats)"),
                     samples=gr.Image(format="png", label="N(0, I) draws decoded at β"),
                     curve=gr.JSON(label="the rate–distortion curve"))
            api_buttons = [gr.Button() for _ in range(3)]

    api_buttons[0].click(*event(view, handlers.beta_reconstruct, [drawing["pad"], drawing["upload"], dataset, beta],
                                BETA_RECONSTRUCTED), api_name="beta_reconstruct")
    api_buttons[1].click(*event(view, handlers.beta_sample, [dataset, beta, count, seed], BETA_SAMPLED),
                         api_name="beta_sample")
    api_buttons[2].click(*event(view, handlers.beta_curve, [dataset], BETA_CURVE), api_name="beta_curve")
    shown = event(view, handlers.knob_view, [dataset, drawing["current_input"]], ("view",))
    tab.select(*shown, show_progress="hidden", **PRIVATE)  # the tab opened: the drawing of the other tabs
    return {"refresh": shown}


def neighbours_panel(handlers: DrawHandlers, view: Outputs, dataset: gr.Radio, pad: gr.HTML, upload: gr.Image,
                     current_input: gr.State) -> gr.Slider:
    """The drawing's k nearest stored images (test and training) in each latent space, after every drawing (the
    event is draw_tab's); adds both galleries and the vote to the tab's `view`, returns k."""
    with gr.Group(elem_classes="neighbours-panel"):
        galleries = []
        for kind in ("AE", "VAE"):
            galleries.append(captioned_gallery(f"Nearest real images in the {kind}'s latent space, nearest first",
                                               columns=8, object_fit="contain", allow_preview=False,
                                               elem_id=f"{kind.lower()}-neighbours",
                                               elem_classes=["pixelated", "neighbours"]))
        ae_gallery, vae_gallery = galleries
        with gr.Row():
            summary = gr.Markdown(NEIGHBOURS_HINT, elem_id="neighbours-summary", label="the neighbours' vote")
            k = gr.Slider(1, MAX_NEIGHBOURS, value=DEFAULT_NEIGHBOURS, step=1, label="Neighbours (k)", scale=0,
                          min_width=200)

    view.add(ae_neighbours=ae_gallery, vae_neighbours=vae_gallery, vote=summary)
    k.release(*event(view, handlers.neighbours_of_input, [current_input, dataset, k], NEIGHBOURS),
              show_progress="hidden", **PRIVATE)
    # API only: a hidden trigger gives /neighbors the typed drawing inputs of /reconstruct (plus k)
    gr.Button(visible=False).click(*event(view, handlers.neighbors, [pad, upload, dataset, k], NEIGHBOURS),
                                   api_name="neighbors")
    return k


def walk_panel(handlers: DrawHandlers, view: Outputs, dataset: gr.Radio, pad: gr.HTML, upload: gr.Image,
               current_input: gr.State) -> None:
    """Sliders moving the drawing's codes along each model's own first principal directions, decoded live; adds the
    sliders and both images to the tab's `view` (a new drawing resets them: the event is draw_tab's)."""
    with gr.Accordion("Walk your drawing's code: each model along its own principal directions (in σ of its "
                      "test codes)", open=True):
        with gr.Row():
            with gr.Column(scale=2):
                sliders = [gr.Slider(-MAX_SIGMA, MAX_SIGMA, value=0.0, step=0.1, label=f"Direction {i + 1} (σ)",
                                     elem_id=elem_id) for i, elem_id in enumerate(Ids.WALK_SLIDERS)]
                reset = gr.Button("Reset", elem_id="walk-reset")
            ae_walk = output_image("AE: its code moved", height=168, elem_id=Ids.WALK_AE)
            vae_walk = output_image("VAE: its posterior mean moved", height=168, elem_id=Ids.WALK_VAE)
        labels = gr.Markdown(elem_id="walk-labels")

    view.add(walk_sigmas=sliders, walk_ae=ae_walk, walk_vae=vae_walk)
    gr.on([s.input for s in sliders], *event(view, handlers.walk_input, [current_input, dataset, *sliders], WALKED),
          trigger_mode="always_last", show_progress="hidden", **PRIVATE)
    reset.click(*event(view, handlers.reset_walk, [current_input, dataset], ("walk_sigmas", *WALKED)),
                show_progress="hidden", **PRIVATE)
    gr.on(None, handlers.direction_text, dataset, labels, show_progress="hidden", **PRIVATE)  # on load and switch
    gr.Button(visible=False).click(*event(view, handlers.traverse, [pad, upload, dataset, *sliders], WALKED),
                                   api_name="traverse")  # API only, as /neighbors


def code_panel(handlers: DrawHandlers, dataset: gr.Radio, pad: gr.HTML, upload: gr.Image,
               current_input: gr.State) -> None:
    """The drawing's codes and map positions as JSON, and a code decoded (the API's /encode, /locate, /decode)."""
    with gr.Accordion("Your drawing's codes (as the API's /encode, /locate and /decode give them)", open=False):
        with gr.Row():
            encode = gr.Button("Encode my drawing")
            locate = gr.Button("Locate it on the maps")
            model = gr.Radio([("AE", "ae"), ("VAE", "vae")], value="vae", label="Decode with")
            decode = gr.Button("Decode the code")
        with gr.Row():
            codes = gr.JSON(label="AE code, VAE posterior mean and log-variance", elem_id="codes-json")
            where = gr.JSON(label="Where it lands on the maps (data coordinates)", elem_id="locate-json")
            code = gr.JSON(label="Code to decode (the chosen model's code of your drawing)", elem_id="code-json")
            decoded = output_image("Decoded code", height=168, elem_id="decoded-code")

    encode.click(handlers.encode_input, [current_input, dataset], codes, **PRIVATE).then(
        handlers.code_of, [codes, model], code, **PRIVATE)
    model.change(handlers.code_of, [codes, model], code, **PRIVATE)
    locate.click(handlers.locate_input, [current_input, dataset], where, **PRIVATE)
    decode.click(handlers.decode, [dataset, model, code], decoded, api_name="decode")
    # API only, as /neighbors
    gr.Button(visible=False).click(handlers.encode, [pad, upload, dataset], codes, api_name="encode")
    gr.Button(visible=False).click(handlers.locate, [pad, upload, dataset], where, api_name="locate")


def point_panel(handlers: EmbeddingsHandlers, view: Outputs, dataset: gr.Radio) -> None:
    """Decode exact map coordinates (the API's /decode_point)."""
    with gr.Accordion("Decode exact map coordinates (as the API's /decode_point does)", open=False):
        with gr.Row():
            model = gr.Radio([("AE", "ae"), ("VAE", "vae")], value="vae", label="Model")
            projection = gr.Radio([("PCA", "pca"), ("UMAP", "umap")], value="umap", label="Map")
            x = gr.Number(value=0.0, label="x")
            y = gr.Number(value=0.0, label="y")
            run = gr.Button("Decode this point")
        with gr.Row():
            image = output_image("Decoded point", height=168, elem_id="point-image")
            text = gr.Markdown(elem_id="point-text", label="how far from the data")
    view.add(point=image, point_text=text)
    run.click(*event(view, handlers.decode_point, [dataset, model, projection, x, y], POINT), api_name="decode_point")


def build_demo(explorer: Explorer, output_dir: str | Path | None = None) -> gr.Blocks:
    """The Blocks app over `explorer`: a dataset switch that applies to every tab, then one tab per feature."""
    files = OutputFiles(output_dir or tempfile.mkdtemp(prefix="ae-vae-outputs-"))
    page_folder = Path(tempfile.mkdtemp(prefix="ae-vae-page-"))
    serve_page_files(explorer, page_folder)
    # Write the page's map data and index the codes off the start-up path, before anyone draws or opens the maps.
    data = PageData(explorer, page_folder)
    data.start()
    atexit.register(data.stop)
    # Gradio's queue rebuilds a pandas summary of its last 10 000 events after every event, for a monitoring page
    # this app does not open: more CPU per event than a drawing's final frame computes (docs/experiments.md).
    # Refreshed every QUEUE_SUMMARY_EVERY events instead (read when the queue is made, in gr.Blocks).
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(QUEUE_SUMMARY_EVERY))
    with gr.Blocks(title="AE vs VAE explorer", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO)
        gr.Markdown(f"Weights: {explorer.source_notice}", elem_id="source-notice")
        dataset = gr.Radio(DATASET_CHOICES, value=explorer.datasets[0], label="Dataset (applies to every tab)",
                           elem_id=Ids.DATASET)
        dataset.change(None, dataset, None, js=page_event_js("dataset"), **PRIVATE)  # the page follows it (pad.js)
        page = {"config": write_page_config(explorer, page_folder), "modules": file_url(PAGE_MODULES),
                "data_ready": data.ready}
        demo.page_head = preload_head(page["config"], first_graphs(explorer, page_folder))  # for launch
        draw = draw_tab(DrawHandlers(explorer, files), dataset, page)
        interp = interpolate_tab(InterpolateHandlers(explorer, files), dataset, draw["current_input"])
        sample = sample_tab(SampleHandlers(explorer, files), dataset)
        maps = embeddings_tab(EmbeddingsHandlers(explorer, files), dataset, draw["current_input"], page)
        knob = beta_tab(BetaHandlers(explorer, files), dataset, draw, page)

        # one chain, so the tabs refresh in order after the switch: the examples first, then the outputs
        switched = dataset.change(draw["examples_for"], dataset, draw["examples"], **PRIVATE).then(
            *interp["switched"], **PRIVATE)
        refreshes = (interp["refresh"], interp["profile"], interp["codes"], interp["frame"], sample["refresh"])
        switched = switched.then(*maps["refresh"], show_progress="hidden", **PRIVATE)
        switched = switched.then(*knob["refresh"], show_progress="hidden", **PRIVATE)
        switched = switched.then(*draw["refresh"], **PRIVATE).then(*draw["describe"], show_progress="hidden",
                                                                    postprocess=False, **PRIVATE)
        for fn, inputs, outputs in refreshes:
            switched = switched.then(fn, inputs, outputs, **PRIVATE)
        loaded = demo.load(*interp["default_pair"], **PRIVATE)
        for step in refreshes:
            loaded = loaded.then(*step, **PRIVATE)
        # in the page only: marks the on-load outputs as all shown (tests and benchmarks draw after it)
        loaded.then(None, js="() => { document.documentElement.dataset.firstOutputs = 'shown'; }", **PRIVATE)
    quiet_input_errors(demo)
    return demo


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the AE vs VAE explorer (Gradio).",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--hub-repo", default=os.environ.get("AE_VAE_HUB_REPO") or None,
                        help="Hub model repo holding mnist-ae/, mnist-vae/, fashion_mnist-ae/, fashion_mnist-vae/ "
                             "and optionally mnist-beta-vae/, fashion_mnist-beta-vae/ (env AE_VAE_HUB_REPO); unset: "
                             "the bundled weights")
    parser.add_argument("--weights-dir", default=None,
                        help="your models: a train.py output folder, or a folder holding any of mnist-ae/, mnist-vae/, "
                             "fashion_mnist-ae/, fashion_mnist-vae/; what it lacks comes from the bundled weights/")
    parser.add_argument("--ae", action="append", default=[], metavar="DIR",
                        help="a train.py output folder of an AE (its data set is read from config.json); repeatable")
    parser.add_argument("--vae", action="append", default=[], metavar="DIR",
                        help="a train.py output folder of a VAE (its data set is read from config.json); repeatable")
    parser.add_argument("--beta-vae", action="append", default=[], metavar="DIR",
                        help="a train.py output folder of a β-conditioned VAE (the β tab's knob; its data set is read "
                             "from config.json); repeatable")
    parser.add_argument("--hub-timeout", type=NOT_NEGATIVE, default=5.0,
                        help="seconds to wait for the Hub before falling back to the cache or bundled weights")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), help="bind address")
    parser.add_argument("--port", type=option(whole_number, 0, 65535), default=os.environ.get("GRADIO_SERVER_PORT", "7860"),
                        help="port (env GRADIO_SERVER_PORT)")
    parser.add_argument("--threads", type=COUNT, default=1,
                        help="onnxruntime intra-op threads of each model (a request runs its models on this many "
                             "threads; requests run in parallel, see --concurrency and bench/load_test.py)")
    parser.add_argument("--concurrency", type=COUNT, default=2,
                        help="requests computed at once (queue concurrency; see bench/load_test.py)")
    return parser.parse_args(argv)


def create_app(args: argparse.Namespace) -> gr.Blocks:
    """Load the models (raising a `WeightsError` naming an unusable folder) and build the app."""
    map_large_blocks()
    set_session_threads(args.threads)
    weights_dir = args.weights_dir
    if weights_dir is not None and Path(weights_dir).resolve() == BUNDLED_WEIGHTS.resolve():
        weights_dir = None  # the bundled folder is the default, not "your models"
    own = find_own_models(weights_dir, ae=args.ae, vae=args.vae, beta_vae=args.beta_vae)
    explorer = load_explorer(args.hub_repo, BUNDLED_WEIGHTS, timeout=args.hub_timeout, own_models=own)
    logger.info("weights: %s", explorer.source_notice)
    return build_demo(explorer).queue(default_concurrency_limit=args.concurrency, max_size=QUEUE_SIZE)


def launch(demo: gr.Blocks, args: argparse.Namespace, **kwargs: Any):
    return demo.launch(server_name=args.host, server_port=args.port, css=CSS, theme=THEME, head=demo.page_head,
                       max_file_size="25mb", show_error=True, **kwargs)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cli_args = parse_args()
    try:
        app = create_app(cli_args)
    except WeightsError as exc:
        raise SystemExit(f"error: {exc}") from None
    try:
        launch(app, cli_args)
    except OSError as exc:  # the port is taken, or the address is not this machine's
        said = str(exc).split(". ")[0]  # Gradio's first sentence; the rest speaks of launch()'s parameters
        raise SystemExit(f"error: cannot serve on {cli_args.host}:{cli_args.port} ({said}); choose another --port "
                         "or --host") from None
