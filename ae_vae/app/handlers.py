"""What every tab's handlers share: one `Explorer`, one `OutputFiles`, and how a drawing arrives.

`Explorer` computes (numpy in, numpy out); the handlers (one module per tab: `draw`, `interpolate`, `sample`,
`embeddings`, as `app.py` lays the tabs out) write PNG/GIF files, pick between the pad and the upload, and turn
user errors into messages. The methods `app.py` wires with an `api_name` are the public API, so their parameter
names and order are a contract.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data import CLASS_NAMES
from ..errors import InputError
from .explorer import Explorer
from .gradio_io import OutputFiles, inline_png


def drawing_sent(sketch: Any, image: Any) -> Any:
    """What an API client sent: the image when given (as in /reconstruct), else the sketch."""
    if image is not None:
        return image
    if sketch is None or sketch == "":
        raise InputError("Pass an image (handle_file('digit.png')) or a sketch value; both were empty.")
    return sketch


def drawing_made(drawing: Any) -> Any:
    """The Draw tab's current model input, or a message that there is none yet."""
    if drawing is None:
        raise InputError("Nothing to encode yet: draw, upload or pick an example on the Draw tab first.")
    return drawing


class TabHandlers:
    """Handlers over one `Explorer`, writing their images through one `OutputFiles`."""

    def __init__(self, explorer: Explorer, files: OutputFiles):
        self.explorer = explorer
        self.files = files

    def image_value(self, image: np.ndarray, inline: bool = False) -> str | dict:
        """An output image: a file Gradio serves (what API clients get), or, for the page's own events run with
        `postprocess=False`, the image inside the answer (`inline_png`: nothing more to fetch)."""
        return inline_png(image) if inline else self.files.png(image)

    def examples_for(self, dataset: str) -> list[tuple[str, str]]:
        """The bundled test-set examples of a data set with their class names (gallery items)."""
        pair = self.explorer.models(dataset)
        names = CLASS_NAMES[pair.dataset]
        return [(self.files.png(img), names[int(label)]) for img, label in zip(pair.example_images,
                                                                               pair.example_labels)]
