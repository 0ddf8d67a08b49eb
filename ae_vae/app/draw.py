"""The Draw tab's handlers: the reconstructions of a drawing or an upload, how typical it is, its nearest stored
images, the walk along each model's principal directions, and its codes.

The page works on the tab's current model input (a 28x28 uint8 array, used as is); the public endpoints
(/reconstruct, /typicality, /neighbors, /traverse, /encode, /locate) take `(sketch, image, dataset, ...)`, each
drawing parameter defaulting to None so a client may pass either alone, by name.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np

from ..data import CLASS_NAMES, DATASET_TITLES, SUBJECTS
from ..errors import InputError
from .contract import Ids, PageResults
from .explorer import DrawingAnalysis, Explorer, error_table
from .gradio_io import OutputFiles, inline_png, user_errors
from .handlers import TabHandlers, drawing_made, drawing_sent
from .views import DrawingView

DEFAULT_NEIGHBOURS = 8
LIVE_STATUS = "Drawing… (the reconstructions follow the pen)"
DONE_STATUS = "Reconstructed your drawing."
# the neighbour panel's line while there is no drawing (before the first, after Clear or a failed upload)
NEIGHBOURS_HINT = "Draw, upload or click an example: its nearest real images in each model's latent space show here."
WALK_SLIDERS = len(Ids.WALK_SLIDERS)  # /traverse's pc1, pc2, pc3
AT_ZERO = (0.0,) * WALK_SLIDERS  # the walk's sliders back at 0
THUMBNAILS = 4096  # inline neighbour thumbnails kept by `DrawHandlers` (under 1 KB each)


def nothing_described() -> DrawingView:
    """No drawing (cleared, or an upload that failed): nothing of an earlier one left under the reconstructions."""
    return DrawingView(typicality="", ae_neighbours=[], vae_neighbours=[], vote=NEIGHBOURS_HINT, walk_sigmas=AT_ZERO,
                       walk_ae=None, walk_vae=None)


def nothing_reconstructed(source: str | None, status: str) -> DrawingView:
    """Every output of a drawing emptied, `status` saying why, and nothing described."""
    empty = DrawingView(model_input=None, ae=None, vae=None, vae_samples=None, errors="", drawing=None, source=source,
                        status=status)
    return empty | nothing_described()


def empty_pad_message(dataset: str) -> str:
    """What the status line says when the pad is cleared (each data set names its own things)."""
    return f"The pad is empty: draw a {SUBJECTS.get(dataset, 'digit')} (mouse or finger)."


def typical_words(percentile: float, subject: str) -> str:
    """A percentile of the drawing's density among the test codes, in words ("less typical than 37 % of test
    digits"; at the ends, "than any test digit")."""
    if percentile <= 0:
        return f"less typical than any test {subject}"
    if percentile >= 100:
        return f"more typical than any test {subject}"
    if percentile < 50:
        return f"less typical than {100 - percentile:.0f} % of test {subject}s"
    return f"more typical than {percentile:.0f} % of test {subject}s"


class DrawHandlers(TabHandlers):
    """Everything the Draw tab shows of the current drawing."""

    def __init__(self, explorer: Explorer, files: OutputFiles):
        super().__init__(explorer, files)
        self._thumbnails: dict[tuple[str, str, int], dict] = {}  # (data set, model, stored index) -> inline PNG

    def _thumbnail(self, dataset: str, model: str, index: int, image: np.ndarray) -> dict:
        """A stored image as an inline gallery image, encoded once: searches return the same stored images again
        and again, and encoding them was a tenth of a drawing's answer. (At most `THUMBNAILS` kept.)"""
        key = (dataset, model, int(index))
        found = self._thumbnails.get(key)
        if found is None:
            if len(self._thumbnails) >= THUMBNAILS:
                self._thumbnails.clear()
            found = self._thumbnails[key] = inline_png(image)
        return dict(found)  # a copy: the answer is the caller's to change

    # ------------------------------------------------------------------ reconstructions

    @user_errors
    def reconstruct(self, sketch: Any = None, image: Any = None, dataset: str = "mnist", source: str | None = None,
                    fill_outlines: bool = False) -> DrawingView:
        """Model input, AE and VAE reconstructions, VAE posterior samples, error table (+ the model input).

        `sketch` and `image` default to None so that an API client may pass either alone: for an input whose
        component starts empty, Gradio marks the API parameter optional only when the function's own default
        for it is None (`Blocks.get_api_info`). `fill_outlines` fills closed outlines first (garments drawn as
        outlines: Fashion-MNIST items are filled silhouettes)."""
        chosen = image if (image is not None and source != "pad") or sketch is None else sketch
        result = self.explorer.reconstruct(chosen, dataset, fill_outlines=bool(fill_outlines))
        png = self.files.png
        return DrawingView(model_input=png(result.model_input), ae=png(result.ae), vae=png(result.vae),
                           vae_samples=png(result.vae_samples), errors=result.summary(), drawing=result.model_input)

    def show_drawing(self, drawing: Any, dataset: str, source: str | None, fill_outlines: bool = False,
                     k: int = DEFAULT_NEIGHBOURS, *, live: bool = False, page: PageResults | None = None,
                     describe: bool = True, inline: bool = True, done: str = DONE_STATUS) -> DrawingView:
        """The one entry for a new drawing, however it came: the pad's frames (`live` while the pen moves: the model
        input and both reconstructions only), a page's final frame (`page`: what the page computed and drew itself,
        so only what needs the server's data, from its codes), an upload, an example, the Reconstruct button, a switch
        of data set or framing. `describe` False leaves typicality, neighbours and the walk to `after_drawing` (those
        events show the reconstructions first); `inline` puts the images inside the answer (`inline_png`: events run
        with `postprocess=False`). A drawing that cannot be shown empties the outputs and says why on the status line,
        so nothing on screen belongs to an earlier input."""
        fill_outlines = bool(fill_outlines)
        image = inline_png if inline else self.files.png
        try:
            if page is not None:
                typicality, neighbours = self.explorer.describe_codes(dataset, page.codes, k)
                shown = DrawingView(errors=error_table(page.errors[0], page.errors[1], list(page.errors[2:])),
                                    drawing=page.model_input, source=source, status=done)
                return shown | self.description(typicality, neighbours, dataset, inline)
            if live or not describe:
                result, described = self.explorer.reconstruct(drawing, dataset, fill_outlines=fill_outlines), None
            else:
                analysis = self.explorer.analyse(drawing, dataset, k, fill_outlines=fill_outlines)
                result, described = analysis.reconstruction, self.described(analysis, dataset, inline)
        except InputError as exc:
            return nothing_reconstructed(source, f"⚠️ {exc}")
        shown = DrawingView(model_input=image(result.model_input), ae=image(result.ae), vae=image(result.vae),
                            source=source, status=LIVE_STATUS if live else done)
        if live:
            return shown
        shown |= DrawingView(vae_samples=image(result.vae_samples), errors=result.summary(), drawing=result.model_input)
        return shown | described if described is not None else shown

    def reconstruct_button(self, sketch: Any, image: Any, dataset: str, source: str | None,
                           fill_outlines: bool = False) -> DrawingView:
        """The page's Reconstruct button: as `/reconstruct`, but a problem (an empty pad) is said on the status
        line beside the pad and empties the outputs, instead of an error pop-up over stale images."""
        upload = image is not None and (source != "pad" or sketch is None)
        return self.show_drawing(image if upload else sketch, dataset, source, fill_outlines, describe=False,
                                 inline=False, done="Reconstructed your upload." if upload else "Reconstructed.")

    def reconstruct_from_upload(self, image: Any, dataset: str, fill_outlines: bool = False) -> DrawingView:
        return self.show_drawing(image, dataset, "upload", fill_outlines, describe=False, inline=False,
                                 done="Reconstructed your upload.")

    def refresh_draw(self, sketch: Any, image: Any, dataset: str, source: str | None, fill_outlines: bool = False
                     ) -> DrawingView:
        """Dataset switch or fill toggle: redo the current drawing with the chosen models and framing. An upload
        source without its image is a newer input (an example clicked while the switch runs) whose image has not
        reached this step yet: that input's own event shows it, so nothing is redone or emptied here."""
        if source is None or (source == "upload" and image is None):
            return DrawingView()
        return self.show_drawing(image if source == "upload" else sketch, dataset, source, fill_outlines,
                                 describe=False, inline=False,
                                 done=f"Reconstructed with the {DATASET_TITLES[dataset]} models.")

    def pick_example(self, dataset: str, evt: gr.SelectData) -> DrawingView:
        image = self.explorer.models(dataset).example_images[evt.index]
        shown = self.show_drawing(image, dataset, "upload", describe=False, inline=False,
                                  done=f"Reconstructed test example #{evt.index}.")
        return shown | DrawingView(upload=self.files.png(image))

    # ------------------------------------------------------------------ typicality

    @user_errors
    def typicality(self, sketch: Any = None, image: Any = None, dataset: str = "mnist") -> dict[str, Any]:
        """Per model, the log-density of the drawing's code under the fitted prior and its percentile among
        the test set's codes (the upload wins over the pad, as in `reconstruct`)."""
        return self.explorer.typicality(image if image is not None else sketch, dataset)

    def typicality_line(self, model_input: np.ndarray | None, dataset: str) -> str:
        """One line under the reconstructions: how typical the current drawing is for each model."""
        if model_input is None:
            return ""
        try:
            return self._typicality_text(self.explorer.typicality(model_input, dataset))
        except InputError as exc:
            return self._typicality_text(str(exc))

    @staticmethod
    def _typicality_text(result: dict[str, Any] | str) -> str:
        """`Explorer.typicality`'s answer (or why there is none) as the line under the reconstructions."""
        if isinstance(result, str):
            return f"Typicality unavailable: {result}"
        subject = SUBJECTS[result["dataset"]]
        parts = [f"{kind.upper()}: {typical_words(result[kind]['percentile'], subject)}" for kind in ("ae", "vae")]
        return "**How typical is your drawing's code** (density under each model's fitted prior): " + \
            "; ".join(parts) + "."

    # ------------------------------------------------------------------ neighbours

    @user_errors
    def neighbors(self, sketch: Any = None, image: Any = None, dataset: str = "mnist", k: int = DEFAULT_NEIGHBOURS
                  ) -> DrawingView:
        """The API's /neighbors: the k nearest stored images (the maps' test images and the folder's training
        images) in the AE's latent space and in the VAE's (galleries captioned with the class names, nearest first)
        and a one-line vote per model."""
        return self.neighbours_of(drawing_sent(sketch, image), dataset, k)

    def neighbours_of(self, drawing: Any, dataset: str, k: int = DEFAULT_NEIGHBOURS) -> DrawingView:
        """Both galleries (image files) and the vote (`views.NEIGHBOURS`)."""
        return self._neighbour_outputs(self.explorer.neighbours(drawing_made(drawing), dataset, k), dataset, False)

    def _neighbour_outputs(self, found: dict, dataset: str, inline: bool) -> DrawingView:
        """`Explorer.neighbours`'s answer as the two galleries (captioned with the class names) and the vote; `inline`
        gives each gallery as its data with the images inside (`image_value`), for events run with
        `postprocess=False`."""
        key = self.explorer.models(dataset).dataset
        names = CLASS_NAMES[key]
        galleries, lines = [], []
        for model, (near, vote) in found.items():
            line = vote[0].upper() + vote[1:] + "."
            if near.images is None:
                galleries.append([])
                line += (" (Neighbours unavailable for this folder: its embeddings.safetensors stores no images; "
                         f"`python -m ae_vae store-points <{model} folder> --data-dir DIR` adds them.)")
            else:
                galleries.append([{"image": self._thumbnail(key, model, index, img), "caption": names[int(label)]}
                                  if inline else (self.image_value(img), names[int(label)])
                                  for index, img, label in zip(near.indices, near.images, near.labels)])
            lines.append(line)
        return DrawingView(ae_neighbours=galleries[0], vae_neighbours=galleries[1], vote="\n\n".join(lines))

    def neighbours_of_input(self, model_input: np.ndarray | None, dataset: str, k: int = DEFAULT_NEIGHBOURS
                            ) -> DrawingView:
        """k moved: the current drawing's neighbours; problems on the summary line instead of a pop-up. No drawing
        (cleared, or an upload that failed) empties them: nothing on screen belongs to an earlier input."""
        if model_input is None:
            return DrawingView(ae_neighbours=[], vae_neighbours=[], vote=NEIGHBOURS_HINT)
        try:
            return self.neighbours_of(model_input, dataset, k)
        except InputError as exc:
            return DrawingView(vote=f"⚠️ {exc}")

    # ------------------------------------------------------------------ the walk

    @user_errors
    def traverse(self, sketch: Any = None, image: Any = None, dataset: str = "mnist", pc1: float = 0.0,
                 pc2: float = 0.0, pc3: float = 0.0) -> DrawingView:
        """The API's /traverse: the drawing's AE code and VAE posterior mean moved pc_i standard deviations (-3 to 3)
        along each model's own i-th principal direction, decoded (AE image, VAE image)."""
        return self.walked(drawing_sent(sketch, image), dataset, pc1, pc2, pc3)

    def walked(self, drawing: Any, dataset: str, pc1: float = 0.0, pc2: float = 0.0, pc3: float = 0.0
               ) -> DrawingView:
        """Both models' codes of `drawing` walked, decoded (`views.WALKED`)."""
        ae, vae = self.explorer.walk(drawing_made(drawing), dataset, [pc1, pc2, pc3])
        return DrawingView(walk_ae=self.files.png(ae), walk_vae=self.files.png(vae))

    @user_errors
    def walk_input(self, model_input: np.ndarray | None, dataset: str, pc1: float, pc2: float, pc3: float
                   ) -> DrawingView:
        """A slider moved: nothing before there is a drawing."""
        if model_input is None:
            return DrawingView()
        return self.walked(model_input, dataset, pc1, pc2, pc3)

    def reset_walk(self, model_input: np.ndarray | None, dataset: str) -> DrawingView:
        """The walk's Reset button: the sliders back to 0 and the plain reconstructions."""
        if model_input is None:
            return DrawingView(walk_sigmas=AT_ZERO, walk_ae=None, walk_vae=None)
        try:
            return self.walked(model_input, dataset) | DrawingView(walk_sigmas=AT_ZERO)
        except InputError:
            return DrawingView(walk_sigmas=AT_ZERO)

    # ------------------------------------------------------------------ a new drawing

    def after_drawing(self, model_input: np.ndarray | None, dataset: str, k: int = DEFAULT_NEIGHBOURS
                      ) -> DrawingView:
        """A new drawing from an upload, an example, the Reconstruct button or a switch of data set or framing (or
        none: a failed upload): the rest of the tab in one answer, images inside it (registered with
        `postprocess=False`): `views.DESCRIBED`. (The pad's frames carry them in their own answer.)"""
        if model_input is None:
            return nothing_described()
        try:
            return self.described(self.explorer.analyse(model_input, dataset, k), dataset, inline=True)
        except InputError as exc:
            return DrawingView(typicality="", vote=f"⚠️ {exc}", walk_sigmas=AT_ZERO)

    def described(self, analysis: DrawingAnalysis, dataset: str, inline: bool = False) -> DrawingView:
        """What the tab shows of a drawing besides its reconstructions (`views.DESCRIBED`): the typicality line, both
        neighbour galleries and their vote, the walk's sliders back at 0 and its images (at 0, the reconstructions
        themselves)."""
        rec = analysis.reconstruction
        walked = DrawingView(walk_ae=self.image_value(rec.ae, inline), walk_vae=self.image_value(rec.vae, inline))
        return self.description(analysis.typicality, analysis.neighbours, dataset, inline) | walked

    def description(self, typicality: dict[str, Any] | str, neighbours: dict, dataset: str, inline: bool
                    ) -> DrawingView:
        """`described` but the walk's images (a page that runs the models draws them itself), from its parts
        (`Explorer.describe_codes` gives them)."""
        described = DrawingView(typicality=self._typicality_text(typicality), walk_sigmas=AT_ZERO)
        return self._neighbour_outputs(neighbours, dataset, inline) | described

    def direction_text(self, dataset: str) -> str:
        """What each slider's direction does, per model (a Markdown table)."""
        labels = self.explorer.direction_labels(dataset)
        rows = [f"| {(labels['ae'][i:] or ['—'])[0]} | {(labels['vae'][i:] or ['—'])[0]} |" for i in range(WALK_SLIDERS)]
        return "| AE | VAE |\n|---|---|\n" + "\n".join(rows)

    # ------------------------------------------------------------------ codes

    @user_errors
    def locate(self, sketch: Any = None, image: Any = None, dataset: str = "mnist") -> dict:
        """The API's /locate: where the drawing lands on the maps, in their data coordinates (where its star is
        drawn): {"ae": {"pca": [x, y], "umap": [x, y]}, "vae": {...}}."""
        return self.explorer.locate(drawing_sent(sketch, image), dataset)

    @user_errors
    def encode(self, sketch: Any = None, image: Any = None, dataset: str = "mnist") -> dict:
        """The API's /encode: the AE code and the VAE posterior mean and log-variance, lists of floats."""
        return self.explorer.encode(drawing_sent(sketch, image), dataset)

    @user_errors
    def locate_input(self, model_input: np.ndarray | None, dataset: str) -> dict:
        return self.explorer.locate(drawing_made(model_input), dataset)

    @user_errors
    def encode_input(self, model_input: np.ndarray | None, dataset: str) -> dict:
        return self.explorer.encode(drawing_made(model_input), dataset)

    @staticmethod
    def code_of(codes: dict | None, model: str):
        """The chosen model's code out of `encode`'s JSON (the AE code or the VAE posterior mean)."""
        if not isinstance(codes, dict) or model not in codes:
            return gr.skip()
        return codes[model].get("code", codes[model].get("mean"))

    @user_errors
    def decode(self, dataset: str, model: str, code: Any) -> str:
        """A code (the model's latent size of floats) decoded by the AE or the VAE."""
        return self.files.png(self.explorer.decode(dataset, model, code))
