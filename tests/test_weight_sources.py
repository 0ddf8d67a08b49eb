"""Own models beside the bundled ones: `--weights-dir` with any subset, `--ae` / `--vae` / `--beta-vae` with train.py
folders."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import write_tiny_beta_folder

from ae_vae import BetaFolder, ModelFolder
from ae_vae.app.sources import WeightsSource, beta_folders, find_own_models, load_explorer, with_own_models
from ae_vae.errors import WeightsError

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "weights"
MODEL_FILES = ("config.json", "model.safetensors", "embeddings.safetensors", "encoder.onnx", "decoder.onnx")


def copy_model(name: str, target: Path) -> Path:
    """A train.py-like output folder holding a copy of a bundled model."""
    target.mkdir(parents=True)
    for file in MODEL_FILES:
        shutil.copy(BUNDLED / name / file, target / file)
    return target


def test_a_subset_folder_and_single_folders(tmp_path):
    subset = tmp_path / "mine"
    copy_model("fashion_mnist-vae", subset / "fashion_mnist-vae")
    my_ae = copy_model("mnist-ae", tmp_path / "runs" / "my-ae")
    found = {name: folder.path for name, folder in find_own_models(subset, ae=[my_ae]).items()}
    assert found == {"fashion_mnist-vae": subset / "fashion_mnist-vae", "mnist-ae": my_ae}
    assert {n: f.path for n, f in find_own_models(my_ae).items()} == {"mnist-ae": my_ae}  # a train.py output folder as --weights-dir


@pytest.mark.parametrize("case, message", [
    ("missing", "not a folder"), ("empty", "holds no model"), ("wrong-kind", "--vae needs a VAE folder"),
    ("beta-as-vae", "--vae needs a VAE folder, but its config.json describes a β-conditioned VAE"),
    ("vae-as-beta", "--beta-vae needs a β-conditioned VAE folder, but its config.json describes a VAE"),
    ("beta-no-curve", "metrics.json: no usable rate–distortion curve"),
    ("no-config", "config.json: file not found"),
    ("no-graphs", (r"no encoder\.onnx and decoder\.onnx \(the app runs the models from their ONNX graphs; "
                   r"python -m ae_vae export-onnx .*no-graphs writes them\)"))])
def test_unusable_folders_are_one_line(tmp_path, case, message):
    folder = tmp_path / case
    kwargs = {}
    if case == "empty":
        folder.mkdir()
    elif case == "wrong-kind":
        kwargs = {"vae": [copy_model("mnist-ae", folder)]}
        folder = None
    elif case == "beta-as-vae":  # the KL knob's model: the β tab's, not the Draw, Interpolate, Sample and maps tabs'
        from ae_vae import BetaVAE, BetaVAEConfig, save_model_folder

        save_model_folder(BetaVAE(BetaVAEConfig(latent_dim=3, channels=(4, 8), hidden_blocks=1)), folder)
        kwargs, folder = {"vae": [folder]}, None
    elif case == "vae-as-beta":
        kwargs, folder = {"beta_vae": [copy_model("mnist-vae", folder)]}, None
    elif case == "beta-no-curve":  # asked for by name, so a broken one is an error, not a warning
        write_tiny_beta_folder(folder)
        (folder / "metrics.json").write_text("{}")
    elif case == "no-config":
        copy_model("mnist-ae", folder)
        (folder / "config.json").unlink()
        kwargs, folder = {"ae": [folder]}, None
    elif case == "no-graphs":  # a folder from before the app served through onnxruntime, never exported
        copy_model("mnist-ae", folder)
        for graph in ("encoder.onnx", "decoder.onnx"):
            (folder / graph).unlink()
        kwargs, folder = {"ae": [folder]}, None
    with pytest.raises(WeightsError, match=message) as info:
        find_own_models(folder, **kwargs)
    assert "\n" not in str(info.value)


def test_beta_folders_are_found_like_the_others(tmp_path):
    """A β-conditioned VAE's folder is served under `<dataset>-beta-vae` as a `BetaFolder`, whether it is
    --weights-dir itself, a sub-folder of it, or given with --beta-vae; the app's own source merges it, and
    `beta_folders` hands it over by data set."""
    run = write_tiny_beta_folder(tmp_path / "runs" / "my-beta", "mnist")
    for found in (find_own_models(run), find_own_models(beta_vae=[run])):
        assert list(found) == ["mnist-beta-vae"] and isinstance(found["mnist-beta-vae"], BetaFolder)
        assert found["mnist-beta-vae"].path == run
    mine = tmp_path / "mine"
    copy_model("mnist-ae", mine / "mnist-ae")
    shutil.copytree(run, mine / "mnist-beta-vae")
    found = find_own_models(mine)
    assert sorted(found) == ["mnist-ae", "mnist-beta-vae"] and isinstance(found["mnist-ae"], ModelFolder)
    assert {dataset: folder.path for dataset, folder in beta_folders(found).items()} == {"mnist": mine / "mnist-beta-vae"}
    with pytest.raises(WeightsError, match="two folders for mnist-beta-vae"):
        find_own_models(mine, beta_vae=[run])

    explorer = load_explorer(None, BUNDLED, own_models=find_own_models(beta_vae=[run]))
    assert f"mnist-beta-vae from {run}" in explorer.source_notice  # the four from weights/, the β one mine


def test_the_notice_says_which_model_came_from_where(tmp_path):
    bundled = WeightsSource({n: BUNDLED / n for n in ("mnist-ae", "mnist-vae")}, "bundled",
                            "Using the bundled weights in weights/ (no Hub repo configured)")
    mine = tmp_path / "my-ae"
    own = SimpleNamespace(path=mine)  # what with_own_models reads of a loaded folder
    source = with_own_models(bundled, {"mnist-ae": own})
    assert source.folders == {"mnist-ae": own, "mnist-vae": BUNDLED / "mnist-vae"}
    assert source.notice == (f"Using your models: mnist-ae from {mine}. mnist-vae: using the bundled weights in "
                             "weights/ (no Hub repo configured)")
    assert with_own_models(bundled, {}) is bundled


def test_the_explorer_uses_the_own_model(tmp_path):
    my_vae = copy_model("fashion_mnist-vae", tmp_path / "my-vae")
    explorer = load_explorer(None, BUNDLED, own_models=find_own_models(vae=[my_vae]))
    assert f"fashion_mnist-vae from {my_vae}" in explorer.source_notice
    assert explorer.models("fashion_mnist").vae is not explorer.models("mnist").vae


def test_app_cli_reports_an_unusable_folder_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "app.py"), "--ae", str(tmp_path / "nope")],
                            check=False, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"error: {tmp_path / 'nope'}: not a folder"


@pytest.mark.parametrize("flags, said", [
    (["--threads", "0"], "argument --threads: must be a whole number of at least 1, got '0'"),
    (["--concurrency", "two"], "argument --concurrency: must be a whole number of at least 1, got 'two'"),
    (["--port", "99999"], "argument --port: must be a whole number from 0 to 65535, got '99999'"),
    (["--hub-timeout", "-1"], "argument --hub-timeout: must be a number of at least 0, got '-1'"),
    (["--hub-timeout", "inf"], "argument --hub-timeout: must be a number of at least 0, got 'inf'"),
])
def test_app_cli_refuses_a_bad_setting_in_one_line(flags, said, capsys):
    import app as app_module

    with pytest.raises(SystemExit) as stopped:
        app_module.parse_args(flags)
    assert stopped.value.code == 2 and said in capsys.readouterr().err


def test_app_cli_says_in_one_line_that_its_port_is_taken():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, str(ROOT / "app.py"), "--port", str(port)],
                                check=False, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: cannot serve on 127.0.0.1:{port} (") and last.endswith("choose another --port or --host")
