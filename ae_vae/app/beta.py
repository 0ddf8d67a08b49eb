"""The β tab's handlers: the KL knob's state for the page, one β answered by the server (where the page does not
run the models), and the API's /beta_reconstruct, /beta_sample and /beta_curve."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

from ..errors import InputError
from .gradio_io import user_errors
from .handlers import TabHandlers, drawing_sent
from .knob import KNOB_SAMPLES, KNOB_SEED
from .views import BetaView

# What the visitor sees along β, in plain words: (up to this β, the sentence), the last for anything above.
KNOB_WORDS = [
    (0.15, ("Small β: the KL term hardly counts, so each code says more about its image (a higher rate) and the "
           "reconstruction keeps a little more of it; the codes are held less tightly to N(0, I), so draws from "
           "N(0, I) decode less like the data set. This end is the closest to an autoencoder.")),
    (0.6, ("β below 1: a higher rate than the VAE's, a little less distortion; draws from N(0, I) decode like the "
          "data set.")),
    (1.7, ("β near 1: the VAE's own objective, the evidence lower bound. Codes fill N(0, I), so decoded draws look "
          "like the data set, at the price of some detail in the reconstructions.")),
    (float("inf"), ("Large β: the KL term dominates. Codes are pulled onto the prior (the rate falls towards 0 nats and "
                   "fewer of the code's dimensions carry anything), so reconstructions and draws blur towards "
                   "average images.")),
]
KNOB_ENDS = {"low": "towards an autoencoder", "high": "codes pulled onto the prior"}


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, np.uint8).tobytes()).decode("ascii")


def knob_value(dataset: str, drawing: np.ndarray | None, note: str = "") -> str:
    """The β view's state (its component's value): the data set, the drawing the other tabs use (28 x 28 bytes,
    base64, or None) and, where the knob is not available, why."""
    return json.dumps({"dataset": dataset, "drawing": None if drawing is None else _b64(drawing), "note": note})


class BetaHandlers(TabHandlers):
    """The KL knob: the β-conditioned VAE at any β of its trained range."""

    def knob_view(self, dataset: str, model_input: np.ndarray | None) -> BetaView:
        """The tab opened, or the data set or the drawing changed: the view's state."""
        try:
            dataset = self.explorer.models(dataset).dataset
            self.explorer.knob(dataset)
        except InputError as exc:  # an unknown data set, or no β-conditioned VAE for it: the view says so
            return BetaView(view=knob_value(str(dataset), None, str(exc)))
        return BetaView(view=knob_value(dataset, model_input))

    def knob_point(self, request: Any) -> dict[str, Any]:
        """The view's server function, for a page that does not run the models: {"dataset", "beta", "drawing"
        (base64 28 x 28 bytes or None), "at" (optional: a point {x, y} of the map at β)} -> the drawing at β (image,
        rate, distortion, where it lands on the map), the tab's N(0, I) draws decoded at β (`KNOB_SAMPLES` tiles,
        base64) and the map's point decoded at β ({x, y, image}, or None), or {"error": why}."""
        try:
            if not isinstance(request, dict):
                raise InputError("A β point is {dataset, beta, drawing, at}.")
            dataset = self.explorer.models(request.get("dataset")).dataset
            knob = self.explorer.knob(dataset)
            beta = knob.check_beta(request.get("beta"))
            samples = knob.model.decode(knob.draws(KNOB_SAMPLES, KNOB_SEED), beta)
            answer: dict[str, Any] = {"dataset": dataset, "beta": beta,
                                      "samples": _b64(np.round(samples[:, 0] * 255)), "drawing": None}
            drawing = _drawing_bytes(request.get("drawing"))
            if drawing is not None:
                x = drawing.astype(np.float32)[None, None] / 255.0
                result = knob.reconstruct(x, beta)
                answer["drawing"] = {"image": _b64(result.image), "rate": result.rate,
                                     "distortion": result.distortion,
                                     "place": self.explorer.beta_map(dataset).place(result.code, beta)}
            answer["map_point"] = self._map_point(dataset, beta, request.get("at"))
        except InputError as exc:
            return {"error": str(exc)}
        return answer

    def _map_point(self, dataset: str, beta: float, at: Any) -> dict[str, Any] | None:
        if at is None:
            return None
        if not isinstance(at, dict):
            raise InputError("A point of the map is {x, y}.")
        image = self.explorer.beta_map_point(dataset, beta, at.get("x"), at.get("y"))
        return {"x": float(at["x"]), "y": float(at["y"]), "image": _b64(image)}

    @user_errors
    def beta_reconstruct(self, sketch: Any = None, image: Any = None, dataset: str = "mnist",
                         beta: float = 1.0) -> BetaView:
        """A drawing (the sketch, or an image: the image wins) reconstructed at β: model input, reconstruction, rate
        and distortion in nats (the curve's estimator: analytic KL, −log p(x|z) at the posterior mean)."""
        result = self.explorer.beta_reconstruct(drawing_sent(sketch, image), dataset, beta)
        return BetaView(model_input=self.files.png(result.model_input), recon=self.files.png(result.image),
                        rate=round(result.rate, 4), distortion=round(result.distortion, 4))

    @user_errors
    def beta_sample(self, dataset: str = "mnist", beta: float = 1.0, count: int = KNOB_SAMPLES,
                    seed: int = KNOB_SEED) -> BetaView:
        """`count` N(0, I) draws from `seed`, decoded at β, as one grid."""
        return BetaView(samples=self.files.png(self.explorer.knob(dataset).sample(beta, count, seed)))

    @user_errors
    def beta_curve(self, dataset: str = "mnist") -> BetaView:
        """The measured rate–distortion curve along the trained range (test split), with the shipped AE's and
        VAE's reference points by the same estimator."""
        curve = self.explorer.knob(dataset).curve()
        curve["reference"] = self.explorer.beta_reference(dataset)
        return BetaView(curve=curve)


def _drawing_bytes(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (TypeError, ValueError):
        raise InputError("The drawing is 28 x 28 bytes, base64.") from None
    if len(raw) != 28 * 28:
        raise InputError("The drawing is 28 x 28 bytes, base64.")
    return np.frombuffer(raw, np.uint8).reshape(28, 28)
