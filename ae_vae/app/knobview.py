"""The β tab's view: a component the page draws itself (`static/page/betaview.js`), around one log-scale slider over
the β-conditioned VAE's trained range.

Where the page runs the models, the drawing's reconstruction, the N(0, I) draws, the curve's marks and the latent
map all follow the slider while it moves (`static/page/knob.js`, from the knob's own graphs, fetched when the tab is
first opened); the map decodes at β the point under the pointer, and a point a click or a tap pins follows β. Where
the page does not run the models (no WebAssembly, `?inference=server`), the map and the curve's mark still follow the
slider and the server decodes on release and on a tap, through this component's server function `knob_point` (a
plain request, not an event of the API).

The component's value is the view's state from the server (`beta.knob_value`): the data set, the drawing the other
tabs use, or why the knob is not available.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import gradio as gr

from .contract import STATIC, component_css, page_module_loader, server_function

KNOB_LOADER = page_module_loader("betaview.js", "startKnobView(element, props, server, watch, config)",
                                 "the KL knob")


def knob_view(config_url: str, modules_url: str, value: str, knob_point: Callable[[Any], dict],
              data_ready: Callable[[Any], Awaitable[str]], **kwargs: Any) -> gr.HTML:
    """The β tab's view as a component (`kwargs` go to `gr.HTML`; the app passes `elem_id=Ids.KNOB_VIEW`).
    `knob_point(request)` answers one β for a page that does not run the models, and `data_ready(request)`
    (`page.PageData.ready`) says when the tab's data is written: its server functions."""
    return gr.HTML(value, html_template=(STATIC / "knob.html").read_text(encoding="utf-8"),
                   css_template=component_css("maparea.css", "knob.css"), js_on_load=KNOB_LOADER,
                   apply_default_css=False, config=config_url, modules=modules_url, padding=False,
                   server_functions=[server_function(knob_point, "knob_point"),
                                     server_function(data_ready, "data_ready")], **kwargs)
