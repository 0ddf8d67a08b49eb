"""The Embeddings tab's live maps: a component the page draws itself (`static/page/mapview.js`).

Each model's PCA and UMAP map of the stored test codes is drawn in the page from the map data
(`page.map_data`: points, classes, extents, where the class names go), so it is crisp at any size and one map per
row on a phone. Under the pointer, the point is decoded in an inset inside that map's own view: in the page where it
runs the models, on a tap by the server where it does not (no WebAssembly, `?inference=server`). A tap pins the
point; the server then adds its sentence (how far the point is from the data: `PointDecode.summary`) under the map,
through this component's server function `map_point` (a plain request, not an event of the API).

The component's value is the view's state from the server: the data set shown and where the drawing's star lands on
each map (`Explorer.locate`), as JSON (`view_value`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import gradio as gr

from .contract import STATIC, component_css, page_module_loader, server_function

MAPS_LOADER = page_module_loader("mapview.js", "startMapView(element, props, server, watch, config)",
                                 "the latent maps")


def view_value(dataset: str, star: dict[str, dict[str, list[float]]] | None = None) -> str:
    """The maps' state: the data set shown, and the star's place on each map ({model: {projection: [x, y]}}) or
    None for no star."""
    return json.dumps({"dataset": dataset, "star": star})


def maps_view(config_url: str, modules_url: str, dataset: str, map_point: Callable[[Any], dict],
              **kwargs: Any) -> gr.HTML:
    """The live maps as a component (`kwargs` go to `gr.HTML`; the app passes `elem_id=Ids.MAPS_VIEW`).
    `map_point(request)` answers a tap: the server function the page calls as `map_point`."""
    return gr.HTML(view_value(dataset), html_template=(STATIC / "maps.html").read_text(encoding="utf-8"),
                   css_template=component_css("maparea.css", "maps.css"), js_on_load=MAPS_LOADER,
                   apply_default_css=False, server_functions=[server_function(map_point, "map_point")],
                   config=config_url, modules=modules_url, padding=False, **kwargs)
