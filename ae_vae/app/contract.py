"""What the layout (`app.py`), the server and the page's modules share, defined once here: the element ids of the
components the page draws into, reads or listens to, and the names of the events through which the page learns the
values it follows (the data set, the fill switch), both handed to the page in its config (`page.page_config`); and
what a page that runs the models sends back of a drawing (`PageResults`, decoded by `pad.py`).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

STATIC = Path(__file__).resolve().parent / "static"  # the page's files: the pad's template, its modules, the runtime
PAGE_MODULES = STATIC / "page"


class Ids:
    """Element ids (`elem_id=`) of the components the page touches."""

    DATASET = "dataset"
    FILL = "fill-outlines"
    DRAW_STATUS = "draw-status"
    UPLOAD = "upload"
    EXAMPLES = "examples"
    MODEL_INPUT = "model-input"
    AE_RECON = "ae-recon"
    VAE_RECON = "vae-recon"
    VAE_SAMPLES = "vae-samples"
    WALK_SLIDERS = ("walk-1", "walk-2", "walk-3")
    WALK_AE = "walk-ae"
    WALK_VAE = "walk-vae"
    INTERP_T = "interp-t"
    INTERP_CODES = "interp-codes"
    INTERP_PATH = "interp-path"
    SCRUB_AE = "scrub-ae"
    SCRUB_VAE = "scrub-vae"
    MAPS_VIEW = "maps-view"
    KNOB_VIEW = "knob-view"

    @classmethod
    def for_page(cls) -> dict[str, str | list[str]]:
        """The ids as the page's config carries them: {"model_input": "model-input", ...}."""
        return {name.lower(): list(value) if isinstance(value, tuple) else value
                for name, value in vars(cls).items() if name.isupper()}


# Ids of elements inside the β tab's view (not components: its page module gives them), for tests and scripts
# to find: the slider, the drawing's reconstruction and the draws.
KNOB_ELEMENTS = {"slider": "beta", "recon": "beta-recon", "samples": "beta-samples"}

# What the page learns as values, each from a page-only listener of the app's own component (no server call): the
# document event that carries it.
PAGE_EVENTS = {"dataset": "ae-vae:dataset", "fill": "ae-vae:fill"}


def page_event_js(name: str) -> str:
    """The `js=` of a page-only listener that hands a component's new value to the page as `PAGE_EVENTS[name]`."""
    return f"(value) => {{ document.dispatchEvent(new CustomEvent({json.dumps(PAGE_EVENTS[name])}, {{detail: value}})); }}"


def component_css(*names: str) -> str:
    """A component's `css_template`: the static style sheets `names`, in order (a sheet two components share, such
    as a latent map's area, is written once)."""
    return "\n".join((STATIC / name).read_text(encoding="utf-8") for name in names)


def page_module_loader(module: str, call: str, what: str) -> str:
    """The `js_on_load` of a component the page runs (the pad, the maps): it fetches the page's config (the
    component's `config` prop, a URL) and imports `module` from the page's modules (its `modules` prop), then makes
    `call` of the module with `config` (what the component's `js_on_load` has: `element`, `trigger`, `props`,
    `server`, `watch`). One fixed script: every number and id reaches the module through the config."""
    return f"""
const root = (window.gradio_config && window.gradio_config.root) || document.baseURI;
const url = (path) => new URL(path, root).href;
const loading = fetch(url(props.config)).then((response) => {{
  if (!response.ok) throw new Error(`the page's config did not load (HTTP ${{response.status}})`);
  return response.json();
}});
Promise.all([import(url(props.modules + '/{module}')), loading])
  .then(([module, config]) => module.{call})
  .catch((err) => console.warn('ae-vae: {what} did not start', err));
"""


def server_function(answer: Callable[[Any], Any], name: str) -> Callable[[Any], Any]:
    """`answer` as a server function of a component the page runs (`gr.HTML(server_functions=...)`): a plain request
    the page makes by `name` (Gradio calls it by the function's name), not an event of the API. A wrapper, because
    Gradio marks the function it is given and `answer` may be a bound method; a coroutine function stays one, so an
    answer that waits holds no thread."""
    if inspect.iscoroutinefunction(answer):
        async def request(payload: Any) -> Any:
            return await answer(payload)
    else:
        def request(payload: Any) -> Any:
            return answer(payload)
    request.__name__ = request.__qualname__ = name
    return request


@dataclass(frozen=True)
class PageResults:
    """What a page running the models computed of a final frame: for the data set and framing it was computed with,
    its model input, the AE's code and the VAE's posterior mean of it, and the reconstruction errors it shows (MSE per
    pixel: AE, VAE posterior mean, each posterior sample, `pad.PAGE_ERRORS` in all)."""

    dataset: str
    fill_outlines: bool
    model_input: np.ndarray  # (28, 28) uint8
    codes: dict[str, np.ndarray]  # "ae", "vae": float32
    errors: tuple[float, ...]
