"""The floor of a Gradio app: /reconstruct's components (sketchpad + image + radio in, four PNGs + text out), no work.

    python bench/trivial_app.py PORT     # serve it (bench/latency.py times its cold start against app.py's)

Imports only gradio and numpy, so its start-up is Gradio's own.
"""

from __future__ import annotations

import sys

import gradio as gr
import numpy as np


def trivial_app(outputs: tuple):
    """Same components as /reconstruct, answering `outputs` at once."""
    with gr.Blocks() as demo:
        pad = gr.Sketchpad(type="numpy", image_mode="RGBA", format="png")
        image = gr.Image(type="filepath", image_mode=None, format="png")
        dataset = gr.Radio(["mnist", "fashion_mnist"], value="mnist")
        out = [gr.Image(format="png") for _ in range(4)] + [gr.Markdown()]
        gr.Button().click(lambda s, i, d: outputs, [pad, image, dataset], out, api_name="reconstruct")
    return demo.queue()


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit(__doc__.split("\n\n")[1])
    blank = tuple(np.zeros((28, 28), np.uint8) for _ in range(4)) + ("errors",)
    trivial_app(blank).launch(server_name="127.0.0.1", server_port=int(sys.argv[1]))
