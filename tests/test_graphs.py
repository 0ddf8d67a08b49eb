"""The ONNX graphs the page and the app run: parity with PyTorch (onnxruntime), the checks on load (shapes, the weights
they came from), the command, the app's refusal of a folder without them."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from ae_vae import (
    VAE,
    AutoEncoder,
    AutoEncoderConfig,
    BetaVAE,
    BetaVAEConfig,
    VAEConfig,
    load_model_folder,
    save_model_folder,
)
from ae_vae.cli import main
from ae_vae.errors import WeightsError
from ae_vae.graph_files import (
    DECODER_FILE,
    ENCODER_FILE,
    WEIGHTS_SHA256_KEY,
    check_graphs,
    file_sha256,
    graph_signature,
)
from ae_vae.models.graphs import export_graphs
from ae_vae.runtime import GraphModel

pytestmark = pytest.mark.slow

ort = pytest.importorskip("onnxruntime", reason="onnxruntime (requirements.txt) runs the graphs")
WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
SHIPPED = ("mnist-ae", "mnist-vae", "fashion_mnist-ae", "fashion_mnist-vae")
TOLERANCE = 1e-4


def tiny(kind: str, latent_dim: int = 3, seed: int = 0):
    torch.manual_seed(seed)
    shape = {"latent_dim": latent_dim, "channels": (4, 8), "hidden_blocks": 1}
    if kind == "beta-vae":
        return BetaVAE(BetaVAEConfig(**shape, condition_width=8)).eval()
    return (AutoEncoder(AutoEncoderConfig(**shape)) if kind == "ae" else VAE(VAEConfig(**shape))).eval()


def exported(folder: Path, model) -> Path:
    """`model`'s weights folder with its graphs, as train.py leaves it."""
    save_model_folder(model, folder)
    export_graphs(folder)
    return folder


def run(path: Path, name: str, value: np.ndarray) -> list[np.ndarray]:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {name: value})


def assert_graphs_match(model, folder: Path, images: torch.Tensor) -> None:
    encoded = run(folder / ENCODER_FILE, "image", images.numpy())
    with torch.no_grad():
        codes = model.encoder(images).float()
        expected = codes.chunk(2, dim=1) if model.config.model_type == "vae" else (codes,)
        decoded = model.decode(expected[0])
    assert len(encoded) == len(expected)
    for got, want in zip(encoded, expected, strict=True):
        assert got.shape == tuple(want.shape) and np.abs(got - want.numpy()).max() <= TOLERANCE
    (image,) = run(folder / DECODER_FILE, "z", expected[0].numpy())
    assert image.shape == (len(images), 1, 28, 28) and np.abs(image - decoded.numpy()).max() <= TOLERANCE


@pytest.mark.parametrize("kind", ["ae", "vae"])
@pytest.mark.parametrize("batch", [1, 7])
def test_exported_graphs_compute_what_the_model_does(tmp_path, kind, batch, caplog):
    model = tiny(kind)
    save_model_folder(model, tmp_path)
    with caplog.at_level(logging.INFO):
        assert {p.name for p in export_graphs(tmp_path)} == {ENCODER_FILE, DECODER_FILE}
    assert [r.getMessage() for r in caplog.records if r.name.startswith(("onnx", "torch"))] == []  # no exporter chatter
    assert check_graphs(tmp_path, model.config).weights_sha256 == file_sha256(tmp_path / "model.safetensors")
    assert_graphs_match(model, tmp_path, torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(1)))


def test_a_beta_vaes_graphs_take_beta_and_compute_what_the_model_does(tmp_path):
    """A β-conditioned VAE's graphs take β (one per item) beside the image and the code, and give what the model
    gives at those β; the check knows that input: a plain VAE's graphs in its place are refused, naming it."""
    model = tiny("beta-vae")
    folder = exported(tmp_path / "beta", model)
    assert check_graphs(folder, model.config).weights_sha256 == file_sha256(folder / "model.safetensors")
    images = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    betas = torch.tensor([0.03, 0.3, 1.0, 3.0, 8.0])
    encoder = ort.InferenceSession(str(folder / ENCODER_FILE), providers=["CPUExecutionProvider"])
    mean, logvar = encoder.run(None, {"image": images.numpy(), "beta": betas.numpy()})
    with torch.no_grad():
        posterior = model.encode(images, betas)
        decoded = model.decode(posterior.mean, betas)
    assert np.abs(mean - posterior.mean.numpy()).max() <= TOLERANCE
    assert np.abs(logvar - posterior.logvar.numpy()).max() <= TOLERANCE
    decoder = ort.InferenceSession(str(folder / DECODER_FILE), providers=["CPUExecutionProvider"])
    (image,) = decoder.run(None, {"z": posterior.mean.numpy(), "beta": betas.numpy()})
    assert np.abs(image - decoded.numpy()).max() <= TOLERANCE
    served = GraphModel.from_folder(folder)  # the server's side: the same numbers, β a number or one per item
    assert np.abs(served.encode(images.numpy(), betas.numpy()).mean - posterior.mean.numpy()).max() <= TOLERANCE
    assert np.abs(served.decode(posterior.mean.numpy(), betas.numpy()) - decoded.numpy()).max() <= TOLERANCE
    with torch.no_grad():
        at_one = model.decode(posterior.mean, 1.0).numpy()
    assert np.abs(served.decode(posterior.mean.numpy(), 1.0) - at_one).max() <= TOLERANCE
    for call, message in [(lambda: served.decode(posterior.mean.numpy()), "takes a beta"),
                          (lambda: served.decode(posterior.mean.numpy(), betas.numpy()[:2]), "one per item")]:
        with pytest.raises(ValueError, match=message):
            call()
    plain = exported(tmp_path / "plain", tiny("vae"))
    with pytest.raises(ValueError, match="takes no beta"):
        GraphModel.from_folder(plain).decode(posterior.mean.numpy(), 1.0)
    with pytest.raises(WeightsError, match=r"needs image \('N', 1, 28, 28\), beta \('N',\)"):
        check_graphs(plain, model.config)


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_graph_matches_its_model_and_records_its_weights(name):
    folder = load_model_folder(WEIGHTS / name)
    model = folder.model.config.model_type == "vae" and VAE or AutoEncoder
    images = torch.tensor(folder.maps.images[:64], dtype=torch.float32).unsqueeze(1) / 255
    assert_graphs_match(model.from_pretrained(WEIGHTS / name), WEIGHTS / name, images)
    weights = file_sha256(WEIGHTS / name / "model.safetensors")
    for graph in (ENCODER_FILE, DECODER_FILE):
        assert graph_signature((WEIGHTS / name / graph).read_bytes()).metadata[WEIGHTS_SHA256_KEY] == weights
    assert folder.model.version == weights[:16]


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("graph", [ENCODER_FILE, DECODER_FILE])
def test_the_start_up_reader_sees_the_inputs_outputs_and_metadata_onnx_sees(name, graph):
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(WEIGHTS / name / graph), load_external_data=False)
    initialised = {init.name for init in model.graph.initializer}

    def shapes(values):
        return {v.name: tuple(d.dim_value if d.HasField("dim_value") else d.dim_param
                              for d in v.type.tensor_type.shape.dim) for v in values if v.name not in initialised}

    signature = graph_signature((WEIGHTS / name / graph).read_bytes())
    assert (signature.inputs, signature.outputs) == (shapes(model.graph.input), shapes(model.graph.output))
    assert signature.metadata == {entry.key: entry.value for entry in model.metadata_props}
    assert any(isinstance(d, str) for shape in shapes(model.graph.input).values() for d in shape)  # the dynamic batch


def test_a_folder_without_graphs_is_refused_naming_the_command(tmp_path):
    save_model_folder(tiny("ae"), tmp_path)
    with pytest.raises(WeightsError, match=r"no encoder\.onnx and decoder\.onnx .*python -m ae_vae export-onnx"):
        check_graphs(tmp_path, tiny("ae").config)


def test_graphs_of_other_weights_are_refused_naming_the_command(tmp_path):
    """A retrain that left the old graphs behind: the graphs record other weights than the folder's file."""
    exported(tmp_path, tiny("vae"))
    save_model_folder(tiny("vae", seed=1), tmp_path)
    with pytest.raises(WeightsError, match=r"exported from other weights .*python -m ae_vae export-onnx"):
        check_graphs(tmp_path, tiny("vae").config)
    export_graphs(tmp_path)
    assert check_graphs(tmp_path, tiny("vae").config).weights_sha256 == file_sha256(tmp_path / "model.safetensors")


def test_graphs_that_record_no_weights_are_served_with_a_notice(tmp_path, caplog):
    """Folders and Hub repos exported before graphs recorded their weights still load, after the shape check."""
    onnx = pytest.importorskip("onnx")
    exported(tmp_path, tiny("ae"))
    for graph in (ENCODER_FILE, DECODER_FILE):
        model = onnx.load(str(tmp_path / graph))
        del model.metadata_props[:]
        onnx.save(model, str(tmp_path / graph))
    with caplog.at_level(logging.WARNING):
        checked = check_graphs(tmp_path, tiny("ae").config)
    assert checked.weights_sha256 is None and len(checked.version) == 16
    assert "do not record which weights" in caplog.text and "export-onnx" in caplog.text


@pytest.mark.parametrize("damage, message", [
    ("one_missing", "no decoder.onnx"),
    ("garbage", "encoder.onnx: not a readable ONNX file"),
    ("truncated", "encoder.onnx: not a readable ONNX file"),
    ("other_size", "encoder.onnx: its outputs are code"),
    ("other_kind", "encoder.onnx: its outputs are mean"),
])
def test_graphs_that_do_not_fit_the_config_are_refused(tmp_path, damage, message):
    model = tiny("vae" if damage == "other_kind" else "ae")
    exported(tmp_path, model)
    config = model.config
    if damage == "one_missing":
        (tmp_path / DECODER_FILE).unlink()
    elif damage == "garbage":
        (tmp_path / ENCODER_FILE).write_bytes(b"\x08\x07 not a model")
    elif damage == "truncated":
        data = (tmp_path / ENCODER_FILE).read_bytes()
        (tmp_path / ENCODER_FILE).write_bytes(data[:len(data) // 2])
    elif damage == "other_size":
        config = tiny("ae", latent_dim=5).config
    else:
        config = tiny("ae").config  # a VAE's graphs (mean, logvar) beside an AE's config
        exported(tmp_path / "ae", tiny("ae"))
        shutil.copy(tmp_path / "ae" / DECODER_FILE, tmp_path / DECODER_FILE)
    with pytest.raises(WeightsError, match=message.replace(".", r"\.")):
        check_graphs(tmp_path, config)


def test_the_export_command_writes_checked_graphs(tmp_path, capsys):
    model = tiny("vae")
    save_model_folder(model, tmp_path / "vae")
    assert main(["export-onnx", str(tmp_path / "vae")]) == 0
    assert "encoder.onnx" in capsys.readouterr().out and check_graphs(tmp_path / "vae", model.config)
    assert main(["export-onnx", str(tmp_path / "nowhere")]) == 2
    said = capsys.readouterr().err
    assert "nowhere/config.json: file not found" in said and "Errno" not in said
    (tmp_path / "half").mkdir()
    shutil.copy(tmp_path / "vae" / "config.json", tmp_path / "half")
    assert main(["export-onnx", str(tmp_path / "half")]) == 2
    said = capsys.readouterr().err
    assert "half/model.safetensors: file not found" in said and "Errno" not in said


def test_the_pages_preloads_name_the_files_its_modules_load():
    """The <head> preloads (ae_vae.app.page.preload_head) and runtime.js agree on the runtime's file names, and
    every preloaded file is shipped."""
    import re

    from ae_vae.app.contract import PAGE_MODULES
    from ae_vae.app.page import FILE_ROUTE, RUNTIME_MODULE, RUNTIME_WASM, VENDOR, preload_head, preloads

    runtime = (PAGE_MODULES / "runtime.js").read_text()
    assert RUNTIME_MODULE in runtime and RUNTIME_WASM in runtime
    hrefs = [Path(link["href"].removeprefix(FILE_ROUTE)) for link in preloads()]
    assert re.findall(r'"href": "([^"]+)"', preload_head()) == [link["href"] for link in preloads()]
    assert sorted(hrefs) == sorted([*PAGE_MODULES.glob("*.js"), VENDOR / RUNTIME_MODULE, VENDOR / RUNTIME_WASM])
    assert all(h.is_file() for h in hrefs)


def test_the_vendored_runtime_is_npms_package_byte_for_byte():
    """docs/vendor_onnxruntime_web.py --check: the shipped files' SHA-256 (the WebAssembly unpacked) against
    SHA256SUMS, and the licence beside them."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "docs" / "vendor_onnxruntime_web.py"
    spec = importlib.util.spec_from_file_location("vendor_onnxruntime_web", path)
    vendor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vendor)
    assert vendor.check() == []
    assert "MIT License" in (vendor.VENDOR / "LICENSE").read_text()



def test_the_page_fetches_the_served_graphs_under_urls_that_carry_their_weights(tmp_path):
    """The page's graph URLs name the hash of the weights the graphs were exported from, and the files behind them are
    the graphs the server runs: a browser that cached another version's graphs fetches these anew."""
    from ae_vae.app.page import FILE_ROUTE, page_config, serve_page_files
    from ae_vae.app.sources import load_explorer

    explorer = load_explorer(None, WEIGHTS)
    serve_page_files(explorer, tmp_path)
    graphs = page_config(explorer, tmp_path)["graphs"]
    assert sorted(graphs) == sorted(explorer.datasets)
    for dataset in explorer.datasets:
        pair = explorer.models(dataset)
        for kind, model in (("ae", pair.ae), ("vae", pair.vae)):
            weights = file_sha256(pair.folders[kind] / "model.safetensors")
            for graph, name in (("encoder", ENCODER_FILE), ("decoder", DECODER_FILE)):
                served = Path(graphs[dataset][kind][graph].removeprefix(FILE_ROUTE))
                assert weights[:16] in served.name and served.parent == tmp_path.resolve()
                assert served.read_bytes() == (pair.folders[kind] / name).read_bytes()
