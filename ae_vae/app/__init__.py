"""The explorer app's machinery, apart from the library: the explorer's logic (`explorer`), which weights to serve
(`sources`), one handler module per tab (`draw`, `interpolate`, `sample`, `embeddings`), the drawing pad's server
side (`pad`) and its page files (`static/`), Gradio plumbing (`gradio_io`) and the figures the UI shows (`figures`).

Only `app.py` and this package import gradio; the library (`ae_vae` outside `ae_vae.app`) never does.
"""
