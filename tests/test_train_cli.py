"""train.py end to end on a tiny IDX data set (through torchvision's real loading path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ae_vae import load_maps, load_model
from ae_vae.data import load_split
from ae_vae.errors import DataNotFoundError
from ae_vae.latent.priors import GaussianMixturePrior

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TINY = {"--epochs": "1", "--latent-dim": "2", "--channels": ("4", "8"), "--hidden-blocks": "0", "--batch-size": "64",
        "--iwae-samples": "5", "--iwae-images": "20", "--embedding-points": "100", "--threads": "1",
        "--prior-components": "3", "--prior-class-components": "1", "--prior-samples": "50"}


def tiny_flags(**changes: str) -> list[str]:
    """The tiny run's flags with some values changed by name (`latent_dim="3"` sets --latent-dim 3)."""
    values = {**TINY, **{f"--{name.replace('_', '-')}": value for name, value in changes.items()}}
    assert set(values) == set(TINY), "only the tiny run's own flags can be changed"
    return [item for flag, value in values.items()
            for item in (flag, *(value if isinstance(value, tuple) else (value,)))]


TINY_FLAGS = tiny_flags()
HELD_OUT = ["--validation-images", "40", "--weight-decay", "1e-4", "--encoder-noise", "0.1",
            "--augment-shift", "1"]  # 216 train / 40 val


def run_train(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], check=False, capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One tiny VAE run shared by the tests below (UMAP's numba warm-up makes each run ~15 s)."""
    from conftest import write_tiny_dataset

    tmp = tmp_path_factory.mktemp("run")
    data = write_tiny_dataset(tmp / "data", "FashionMNIST")
    out = tmp / "out"
    result = run_train("--model", "VAE", "--dataset", "FashionMNIST", "--data_dir", str(data), "--output_dir",
                       str(out), "--visualize-every", "1", "--visu-dir", str(tmp / "visu"), *TINY_FLAGS,
                       *HELD_OUT)
    return result, out, tmp, data


def test_smoke_run_writes_a_complete_folder(trained_run):
    result, out, tmp, _ = trained_run
    assert result.returncode == 0, result.stderr[-3000:]
    names = {p.name for p in out.iterdir()}
    assert {"model.safetensors", "config.json", "metrics.json", "embeddings.safetensors", "README.md",
            "samples.png", "loss_curves.png", "training.json", "checkpoints", "prior.safetensors"} <= names
    assert not [p for p in out.rglob("*") if p.suffix in (".pt", ".pth", ".pkl", ".bin")]
    umask = os.umask(0)
    os.umask(umask)
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in out.iterdir() if p.is_file()}
    assert set(modes.values()) == {oct(0o666 & ~umask)}, modes  # as a plain open() would, not mkstemp's 0600
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("neg_elbo", "recon_nll", "kl", "iwae_nll", "active_units", "knn5_accuracy", "mse_per_pixel"):
        assert key in metrics
    assert metrics["iwae_nll"] <= metrics["neg_elbo"] + 1.0
    model = load_model(out)
    assert model.config.dataset == "fashion_mnist" and model.config.latent_dim == 2
    prior = GaussianMixturePrior.from_pretrained(out, latent_dim=2, weights=model)  # fitted to these weights
    maps = load_maps(out / "embeddings.safetensors", 2)  # with the stored points' images, for the app's neighbours
    assert maps.images is not None and maps.images.shape == (len(maps.labels), 28, 28)
    assert prior.num_classes == 10 and prior.sample(4, label=3).shape == (4, 2)
    card = (out / "README.md").read_text()
    assert card.startswith("---\n") and "model-index" in card and "python train.py" in card
    # the per-epoch figures of the older project
    visu = tmp / "visu" / "fashion_mnist_vae"
    for kind in ("recon", "pca", "umap", "interp", "noise"):
        assert (visu / kind / "epoch_001.png").is_file(), kind
    assert (visu / "loss_curves.png").is_file()
    # the log shows per-epoch test metrics and duration
    assert "epoch 1/1" in result.stderr and "test neg_elbo=" in result.stderr
    # --validation-images: the held-out images are scored every epoch and never trained on
    assert "216 train / 40 validation / 128 test images" in result.stderr and "val neg_elbo=" in result.stderr
    training = json.loads((out / "training.json").read_text())
    assert training["args"]["validation_images"] == 40 and training["args"]["weight_decay"] == 1e-4
    assert training["args"]["encoder_noise"] == 0.1 and training["args"]["augment_shift"] == 1
    assert training["history"][0]["val_neg_elbo"] > 0


def test_resume_continues_from_the_checkpoint(trained_run):
    result, out, _tmp, data = trained_run
    assert result.returncode == 0
    flags = tiny_flags(epochs="2")
    # the precision may change on resume (it changes speed, not the model); prior matching and clipping may start
    resumed = run_train("--model", "vae", "--dataset", "fashion_mnist", "--data-dir", str(data), "--output-dir",
                        str(out), "--resume", "--precision", "bf16", "--prior-matching", "100", "--grad-clip", "50",
                        "--edge-matching", "2", *flags, *HELD_OUT)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stderr
    training = json.loads((out / "training.json").read_text())
    assert [h["epoch"] for h in training["history"]] == [1, 2]
    assert training["args"]["precision"] == "bf16" and "--precision bf16" in training["commands"][-1]["command"]
    assert training["args"]["prior_matching"] == 100 and "--prior-matching 100" in training["commands"][-1]["command"]
    assert training["args"]["grad_clip"] == 50
    assert "train_mmd" not in training["history"][0] and "train_mmd" in training["history"][1]
    assert training["args"]["edge_matching"] == 2 and "train_edge" in training["history"][1]
    assert all(torch.isfinite(t).all() for t in load_model(out).state_dict().values())
    # a different architecture cannot resume this run
    clash = run_train("--model", "vae", "--dataset", "fashion_mnist", "--data-dir", str(data), "--output-dir",
                      str(out), "--resume", *tiny_flags(epochs="2", latent_dim="3"), *HELD_OUT)
    assert clash.returncode == 2 and "different settings" in clash.stderr


def test_missing_data_is_one_clear_line(tmp_path):
    result = run_train("--data-dir", str(tmp_path / "nowhere"), "--output-dir", str(tmp_path / "o"), *TINY_FLAGS)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(lines) == 1 and "--data-dir" in lines[0], result.stderr


def test_missing_data_error_from_the_library(tmp_path):
    with pytest.raises(DataNotFoundError, match="--data-dir"):
        load_split("mnist", tmp_path, train=False, download=False)


def test_tiny_idx_loads_like_torchvision(tiny_data_dir):
    data = load_split("mnist", tiny_data_dir, train=True)
    assert data.images.shape == (256, 1, 28, 28) and data.images.dtype == torch.float32
    assert 0.0 <= float(data.images.min()) and float(data.images.max()) <= 1.0
    assert data.labels.dtype == torch.int64


def test_help_documents_every_flag_with_defaults():
    result = run_train("--help")
    assert result.returncode == 0
    for flag in ("--model", "--dataset", "--latent-dim", "--epochs", "--batch-size", "--lr", "--seed", "--data-dir",
                 "--output-dir", "--device", "--resume", "--visualize-every", "--push-to-hub"):
        assert flag in result.stdout
    from ae_vae.data import default_data_dir

    help_text = " ".join(result.stdout.split())
    # (argparse may wrap a long path at a hyphen: compared without any whitespace)
    assert "(default: 30)" in help_text and f"(default:{default_data_dir()})" in "".join(result.stdout.split())
    assert "(default: runs/<dataset>-<model>)" in help_text and "<model>) (default" not in help_text


def test_bad_flags_are_rejected_without_traceback(tmp_path):
    for args in (["--model", "gan"], ["--epochs", "0"], ["--dataset", "cifar"], ["--weight-decay", "-0.1"]):
        result = run_train(*args)
        assert result.returncode == 2 and "Traceback" not in result.stderr and "error:" in result.stderr
        if args[0] == "--dataset":  # the names it takes, not argparse's "invalid value"
            assert "choose one of mnist, fashion_mnist" in result.stderr and "invalid" not in result.stderr


def test_holding_out_the_whole_training_set_is_one_clear_line(tiny_data_dir, tmp_path):
    result = run_train("--data-dir", str(tiny_data_dir), "--output-dir", str(tmp_path / "o"), *TINY_FLAGS,
                       "--validation-images", "256")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(lines) == 1 and "--validation-images 256" in lines[0] and "only 256 images" in lines[0]


def test_quick_lightens_the_run_but_not_what_is_given():
    from train import QUICK, parse_args

    quick = parse_args(["--quick", "--prior-samples", "300"])
    assert all(getattr(quick, k) == v for k, v in QUICK.items() if k != "prior_samples")
    assert quick.prior_samples == 300 and quick.epochs == 1 and quick.train_images == 20_000
    assert parse_args([]).train_images == 0 and parse_args([]).epochs == 30


def test_a_quick_run_writes_a_folder_the_app_serves(tmp_path):
    """`--quick` end to end on the tiny data set (with the tiny network): the folder loads as the app loads it."""
    from conftest import write_tiny_dataset

    from ae_vae.app.sources import find_own_models

    data = write_tiny_dataset(tmp_path / "data")
    out = tmp_path / "quick"
    result = run_train("--quick", "--model", "vae", "--dataset", "mnist", "--data-dir", str(data), "--output-dir",
                       str(out), *tiny_flags(epochs="1"), "--train-images", "200")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "overridden" not in result.stderr  # UMAP's n_jobs warning is silenced: the seed is the point
    folder = find_own_models(vae=[out])["mnist-vae"]
    assert folder.model.version and len(folder.maps.labels) == 100 and folder.prior is not None



def test_a_beta_vae_run_writes_its_weights_and_curve(tmp_path):
    """`--model beta-vae` end to end on the tiny data set: the folder loads as a BetaVAE with the range asked for
    and has its graphs, and metrics.json holds the −ELBO at β = 1 and the curve from the range's low end to its
    high end."""
    from conftest import write_tiny_dataset

    from ae_vae import BetaVAE
    from ae_vae.graph_files import check_graphs

    data = write_tiny_dataset(tmp_path / "data")
    out = tmp_path / "beta"
    result = run_train("--model", "beta-vae", "--beta-range", "0.1", "4", "--dataset", "mnist", "--data-dir", str(data),
                       "--output-dir", str(out), *TINY_FLAGS)
    assert result.returncode == 0, result.stderr[-3000:]
    model = load_model(out)
    assert isinstance(model, BetaVAE) and model.beta_range == (0.1, 4.0)
    assert check_graphs(out, model.config).weights_sha256  # its ONNX graphs, β an input of both, from its weights
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["curve"][0]["beta"] == 0.1 and metrics["curve"][-1]["beta"] == 4.0
    assert metrics["at_beta_1"]["neg_elbo"] > 0 and (out / "training.json").is_file()
    from huggingface_hub import ModelCard

    card = ModelCard((out / "README.md").read_text())  # its card: the curve, and model-index results
    assert "β-conditioned VAE" in card.text and "| 4 |" in card.text
    assert {r.metric_type for r in card.data.eval_results} >= {"neg_elbo", "rate_at_smallest_beta"}
    resumed = run_train("--model", "beta-vae", "--beta-range", "0.1", "4", "--dataset", "mnist", "--data-dir",
                        str(data), "--output-dir", str(out), *tiny_flags(epochs="2"), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((out / "training.json").read_text())["history"][-1]["epoch"] == 2
    changed = run_train("--model", "beta-vae", "--beta-range", "0.2", "4", "--dataset", "mnist", "--data-dir",
                        str(data), "--output-dir", str(out), *tiny_flags(epochs="3"), "--resume")
    assert changed.returncode == 2 and "beta_range" in changed.stderr and "Traceback" not in changed.stderr


@pytest.mark.parametrize("flags, message", [(["--beta-range", "2", "1"], "--beta-range"),
                                            (["--beta-range", "0", "1"], "--beta-range"),
                                            (["--model", "beta-vae", "--beta-range", "1e-300", "5"], "float32 holds"),
                                            (["--kl-weight", "0"], "argument --kl-weight: must be a number above 0, got '0'"),
                                            (["--kl-weight", "nan"], "argument --kl-weight: must be a number above 0, got 'nan'"),
                                            (["--model", "beta-vae", "--kl-weight", "2"], "only a vae trains"),
                                            (["--model", "ae", "--kl-weight", "2"], "only a vae trains"),
                                            (["--model", "vae", "--beta-range", "0.1", "3"], "only a beta-vae learns"),
                                            (["--model", "ae", "--beta-range", "0.1", "3"], "only a beta-vae learns")])
def test_bad_beta_flags_are_one_clear_line(flags, message):
    result = run_train(*flags)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("flags, message", [
    (["--lr", "inf"], "argument --lr: must be a number above 0, got 'inf'"),
    (["--lr", "nan"], "argument --lr: must be a number above 0, got 'nan'"),
    (["--weight-decay", "nan"], "must be a number of at least 0, got 'nan'"),
    (["--channels", "8", "0"], "argument --channels: must be a whole number of at least 1, got '0'"),
    (["--hidden-blocks", "-1"], "must be a whole number of at least 0, got '-1'"),
    (["--seed", "-1"], "argument --seed: must be a whole number from 0 to 4294967295, got '-1'"),
    (["--epochs", "2.5"], "argument --epochs: must be a whole number of at least 1, got '2.5'"),
])
def test_a_bad_number_is_one_clear_line(flags, message):
    """Each number is checked as it is parsed (`ae_vae.checks`): one line naming the flag, the rule and the value."""
    result = run_train(*flags)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("model", ["ae", "vae", "beta-vae"])
def test_a_run_whose_loss_stops_being_a_number_stops_there_in_one_line(tmp_path, model):
    """A learning rate far too high: the loss is no longer a number at the second step. The run stops there and
    says so in one line, with what to try; no model is written (nor a checkpoint: no epoch finished)."""
    from conftest import write_tiny_dataset

    data = write_tiny_dataset(tmp_path / "data")
    out = tmp_path / "out"
    result = run_train("--model", model, "--dataset", "mnist", "--data-dir", str(data), "--output-dir", str(out),
                       *TINY_FLAGS, "--lr", "1e30")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "training diverged in epoch 1: the loss became nan at step 2" in result.stderr
    assert "no epoch finished: start again with a lower --lr" in result.stderr
    assert not out.exists()


def test_a_run_that_diverges_after_a_finished_epoch_points_at_its_checkpoint(tmp_path):
    """Where an epoch finished before the loss stopped being a number, the line names that epoch's checkpoint and
    how to go on from it (--grad-clip may change on --resume; the learning rate may not)."""
    import train
    from ae_vae.errors import DivergedError

    args = train.parse_args(["--lr", "0.01"])
    said = train.diverged_message(DivergedError("the loss became nan at step 700 (learning rate 0.01)"), 3, args,
                                  tmp_path, tmp_path / "checkpoints")
    assert said == (f"training diverged in epoch 3: the loss became nan at step 700 (learning rate 0.01). No model was "
                    f"written to {tmp_path}; epoch 2's checkpoint is kept in {tmp_path / 'checkpoints'}: --resume with "
                    f"--grad-clip 1 may get past this step, or start again with a lower --lr (now 0.01)")
    from ae_vae.training.loop import MAY_CHANGE_ON_RESUME

    assert "grad_clip" in MAY_CHANGE_ON_RESUME and "lr" not in MAY_CHANGE_ON_RESUME


def test_a_judge_folder_that_cannot_be_used_is_said_before_training(tmp_path):
    """--judge-dir is read before the first epoch (its measurements come after the last): a folder that is not there,
    or holds no judge, is one line at once."""
    missing = run_train("--judge-dir", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "no such folder ('none' trains without a judge)" in missing.stderr
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{}")
    broken = run_train("--judge-dir", str(tmp_path / "broken"), "--data-dir", str(tmp_path / "no-data"))
    assert broken.returncode == 2 and "--judge-dir: " in broken.stderr and "judge" in broken.stderr
    for result in (missing, broken):
        assert "Traceback" not in result.stderr and "epoch 1" not in result.stderr


def test_a_trained_model_whose_folder_cannot_be_finished_is_one_line_and_keeps_its_checkpoint(tmp_path, monkeypatch,
                                                                                              caplog):
    """Training went through but the model's codes cannot be described (here: the prior's fit refuses them, as it
    does codes that overflowed): the run ends in one line that names the checkpoint it keeps, and the folder's
    earlier files are as they were (the new ones are written aside, and moved in only when all are). Without a
    judge (`--judge-dir none`) the prior is fitted to every training code."""
    from conftest import write_tiny_dataset

    import train
    from ae_vae.errors import PriorError
    from ae_vae.training.loop import latest_checkpoint

    fitted = []

    def refuse(*args, **options):
        fitted.append(options["class_filter"])
        raise PriorError("the prior cannot be fitted to the training codes (largest |z| inf): codes contains NaN")

    monkeypatch.setattr("ae_vae.training.artifacts.fit_prior", refuse)
    data = write_tiny_dataset(tmp_path / "data")
    out = tmp_path / "out"
    out.mkdir()
    earlier = {"model.safetensors": b"an earlier model", "metrics.json": b"{}"}
    for name, content in earlier.items():
        (out / name).write_bytes(content)
    args = train.parse_args(["--model", "vae", "--dataset", "mnist", "--data-dir", str(data), "--output-dir", str(out),
                             *TINY_FLAGS, "--judge-dir", "none"])
    threads = torch.get_num_threads()
    try:
        assert train.main(args) == 2
    finally:
        torch.set_num_threads(threads)
    assert fitted == ["all"]
    assert f"{out} was not finished: the prior cannot be fitted to the training codes" in caplog.text
    assert f"No file of the folder was replaced; the trained weights are checkpointed in {out / 'checkpoints'} " \
           "(epoch 1)" in caplog.text
    assert latest_checkpoint(out / "checkpoints") is not None
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == earlier
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "metrics.json", "model.safetensors"]


def test_a_beta_vae_run_may_push_to_the_hub():
    """The Hub layout has the β folders (`ae_vae.hub.BETA_NAMES`), and push_folder takes one like any folder."""
    from train import parse_args

    assert parse_args(["--model", "beta-vae", "--push-to-hub", "me/x"]).push_to_hub == "me/x"


def test_a_beta_vae_can_start_from_a_vaes_weights(tmp_path):
    """`--init-from`: the run starts from that VAE (its layers loaded, the conditioning at zero); a VAE of another
    shape or data set is one line; a plain VAE starts from it too (weights whole), an AE never does."""
    from conftest import write_tiny_dataset

    from ae_vae import VAE, VAEConfig
    from ae_vae.models.format import save_model_folder

    data = write_tiny_dataset(tmp_path / "data")
    shape = {"latent_dim": 2, "channels": (4, 8), "hidden_blocks": 0}
    save_model_folder(VAE(VAEConfig(**shape, dataset="mnist")), tmp_path / "vae")
    save_model_folder(VAE(VAEConfig(**{**shape, "latent_dim": 3}, dataset="mnist")), tmp_path / "other")
    common = ["--model", "beta-vae", "--dataset", "mnist", "--data-dir", str(data), *TINY_FLAGS]
    result = run_train(*common, "--init-from", str(tmp_path / "vae"), "--output-dir", str(tmp_path / "beta"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "started from the VAE in" in result.stderr
    refused = run_train(*common, "--init-from", str(tmp_path / "other"), "--output-dir", str(tmp_path / "b2"))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "needs a VAE of the same shape" in refused.stderr
    # (a learning rate too small to move a float32 weight: the run keeps what it started from)
    plain = ["--model", "vae", "--dataset", "mnist", "--data-dir", str(data), *TINY_FLAGS, "--lr", "1e-30"]
    same = run_train(*plain, "--init-from", str(tmp_path / "vae"), "--output-dir", str(tmp_path / "v"))
    assert same.returncode == 0 and "started from the VAE in" in same.stderr, same.stderr[-3000:]
    started = load_model(tmp_path / "v")
    original = load_model(tmp_path / "vae")
    assert all(torch.equal(a, original.state_dict()[k]) for k, a in started.state_dict().items())
    other = run_train(*plain, "--init-from", str(tmp_path / "other"), "--output-dir", str(tmp_path / "v2"))
    assert other.returncode == 2 and "needs a VAE of the same shape" in other.stderr
    wrong = run_train("--model", "ae", "--init-from", str(tmp_path / "vae"))
    assert wrong.returncode == 2 and "only a vae or a beta-vae starts from" in wrong.stderr
