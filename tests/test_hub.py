"""ae_vae.hub against tests/fake_hub.py with the real huggingface_hub client (no monkeypatching)."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, synthetic_digits, write_tiny_beta_folder, write_tiny_dataset
from fake_hub import FakeHub
from huggingface_hub import HfApi, snapshot_download

from ae_vae import (
    VAE,
    AutoEncoder,
    AutoEncoderConfig,
    BetaFolder,
    ModelFolder,
    VAEConfig,
    WeightsError,
    load_beta_folder,
    load_model,
)
from ae_vae.app.sources import beta_folders, load_explorer, resolve_model_folders
from ae_vae.errors import HubError, UnsafeRepoError
from ae_vae.fileio import atomic_write_json, download_model_file
from ae_vae.graph_files import file_sha256
from ae_vae.hub import (
    BETA_NAMES,
    MODEL_NAMES,
    NO_TOKEN_MESSAGE,
    pull_models,
    push_all,
    push_folder,
)
from ae_vae.latent.maps import LatentMaps, fit_pca, save_maps
from ae_vae.latent.priors import GaussianMixturePrior, weights_fingerprint
from ae_vae.models.format import save_model_folder
from ae_vae.models.graphs import export_graphs
from ae_vae.training.cards import portable_command

USER = FakeHub.USER
CHILD_ENV_DROP = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_OIDC_RESOURCE", "HF_HUB_OFFLINE",
                  "HF_ENDPOINT", "HF_HOME", "HF_HUB_CACHE")


def child_env(tmp: Path, **extra: str) -> dict[str, str]:
    """Environment for a subprocess: its own HF_HOME, no inherited token, light on CPU."""
    env = {k: v for k, v in os.environ.items() if k not in CHILD_ENV_DROP}
    env.update(HF_HOME=str(tmp / "hf_home"), HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_XET="1",
               HF_HUB_DISABLE_PROGRESS_BARS="1", OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1",
               PYTHONPATH=str(ROOT), **extra)
    return env


def probe() -> torch.Tensor:
    return torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))


@torch.no_grad()
def outputs(model) -> tuple[torch.Tensor, torch.Tensor]:
    z = model.embed(probe())
    return z, model.decode(z)


def same_model(a: Path, b: Path) -> bool:
    """Identical outputs from two weights folders (loaded in this process, so bit-exact)."""
    ma, mb = load_model(a), load_model(b)
    return type(ma) is type(mb) and all(torch.equal(x, y) for x, y in zip(outputs(ma), outputs(mb)))


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with FakeHub(tmp_path_factory.mktemp("hub")) as server:
        yield server


def tiny_maps(model) -> LatentMaps:
    """Real latents, PCA and fitted Gaussian of 40 synthetic images; UMAP coordinates stand in as the PCA ones
    (fitting UMAP here would only add a numba warm-up: these tests are about transport, not maps)."""
    digits, _ = synthetic_digits(40, seed=0)  # blobs, so the examples read as drawings, not as noise
    images = torch.from_numpy(digits).float()[:, None] / 255.0
    labels = torch.arange(40) % 10
    with torch.no_grad():
        latents = model.embed(images).numpy()
    mean, components, ratio = fit_pca(latents)
    pca = (latents - mean) @ components.T
    return LatentMaps(latents=latents, labels=labels.numpy(), pca=pca, umap=pca.copy(), pca_mean=mean,
                      pca_components=components, pca_explained_variance_ratio=ratio,
                      train_latent_mean=latents.mean(0), train_latent_cov=np.cov(latents, rowvar=False),
                      example_images=(images[:, 0].numpy() * 255).astype(np.uint8), example_labels=labels.numpy())


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory) -> Path:
    """The four app folders, tiny, with the clutter a real run leaves (checkpoints/, stray files)."""
    root = tmp_path_factory.mktemp("weights")
    for seed, name in enumerate(MODEL_NAMES):
        dataset, kind = name.rsplit("-", 1)
        shape = {"latent_dim": 2, "channels": (2, 4), "hidden_blocks": 0, "dataset": dataset}
        torch.manual_seed(seed)
        model = AutoEncoder(AutoEncoderConfig(**shape)) if kind == "ae" else VAE(VAEConfig(**shape))
        save_model_folder(model, root / name)
        export_graphs(root / name)
        maps = tiny_maps(model)
        save_maps(maps, root / name / "embeddings.safetensors")
        GaussianMixturePrior.fit(maps.latents, maps.labels, test_codes=maps.latents, n_components=2,
                                 class_components=1, covariance_type="diag",
                                 fingerprint=weights_fingerprint(model)).save_pretrained(root / name)
        atomic_write_json(root / name / "metrics.json", {"mse_per_pixel": 0.05, "test_images": 128})
        save_model_folder(model, root / name / "checkpoints" / "epoch_001")
        (root / name / "notes.txt").write_text("not for the Hub")
    return root


@pytest.fixture(scope="module")
def published(hub: FakeHub, weights_dir: Path) -> str:
    """A multi-model repo pushed with push_all (one commit)."""
    repo = f"{USER}/app-weights"
    push_all(weights_dir, repo, token=hub.token, endpoint=hub.url)
    return repo


@pytest.fixture(scope="module")
def beta_weights_dir(tmp_path_factory, weights_dir: Path) -> Path:
    """The four app folders and both β-conditioned VAEs' folders, as a `weights/` holding all of them would."""
    root = tmp_path_factory.mktemp("beta-weights")
    shutil.copytree(weights_dir, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("checkpoints", "*.txt"))
    for seed, name in enumerate(BETA_NAMES):
        write_tiny_beta_folder(root / name, name.removesuffix("-beta-vae"), seed)
    return root


@pytest.fixture(scope="module")
def published_beta(hub: FakeHub, beta_weights_dir: Path) -> str:
    """A multi-model repo with the four and both β folders, pushed with push_all (one commit)."""
    repo = f"{USER}/app-weights-with-beta"
    push_all(beta_weights_dir, repo, token=hub.token, endpoint=hub.url)
    return repo


def beta_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "β-conditioned VAE" in r.getMessage()]


@pytest.fixture
def closed_url() -> str:
    """A 127.0.0.1 port nobody listens on: connection refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def silent_url():
    """A socket that accepts connections (kernel backlog) but never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


# ------------------------------------------------------------------------------------ train.py round trip


@pytest.fixture(scope="module")
def trained(hub: FakeHub, tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """One tiny `train.py --push-to-hub` run (UMAP's first numba compile makes it the slow part)."""
    tmp = tmp_path_factory.mktemp("train")
    data = write_tiny_dataset(tmp / "data", "MNIST")
    out = tmp / "run"
    cmd = [sys.executable, str(ROOT / "train.py"), "--model", "vae", "--dataset", "mnist", "--data-dir", str(data),
           "--output-dir", str(out), "--epochs", "1", "--latent-dim", "2", "--channels", "4", "8",
           "--hidden-blocks", "0", "--iwae-samples", "5", "--iwae-images", "20", "--embedding-points", "100",
           "--batch-size", "64", "--threads", "1", "--device", "cpu", "--push-to-hub", f"{USER}/tiny-vae"]
    env = child_env(tmp, HF_ENDPOINT=hub.url, HF_TOKEN=hub.token)
    proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, check=False, timeout=300)
    return tmp, out, proc


@pytest.mark.slow
def test_train_a_beta_vae_and_push_it(hub: FakeHub, tmp_path: Path) -> None:
    """`train.py --model beta-vae --push-to-hub`: the run's folder goes up whole at the repo root, its card for
    that repo, and the pushed folder loads as the app loads a β folder."""
    data = write_tiny_dataset(tmp_path / "data", "MNIST")
    out = tmp_path / "run"
    repo = f"{USER}/tiny-beta-run"
    cmd = [sys.executable, str(ROOT / "train.py"), "--model", "beta-vae", "--beta-range", "0.1", "4", "--dataset",
           "mnist", "--data-dir", str(data), "--output-dir", str(out), "--judge-dir", "none", "--epochs", "1",
           "--latent-dim", "2", "--channels", "4", "8", "--hidden-blocks", "0", "--batch-size", "64", "--threads", "1",
           "--device", "cpu", "--push-to-hub", repo]
    proc = subprocess.run(cmd, cwd=tmp_path, env=child_env(tmp_path, HF_ENDPOINT=hub.url, HF_TOKEN=hub.token),
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = set(HfApi(endpoint=hub.url, token=hub.token).list_repo_files(repo))
    assert set(BETA_FILES) | {"training.json"} <= files and not [f for f in files if "checkpoints" in f], files
    assert f'BetaVAE.from_pretrained("{repo}")' in (out / "README.md").read_text()
    pulled = Path(snapshot_download(repo, cache_dir=tmp_path / "cache", endpoint=hub.url, token=False))
    assert load_beta_folder(pulled).name == "mnist-beta-vae"


@pytest.mark.parametrize(("recorded", "shown"), [
    ("python train.py --model ae --data-dir /home/me/data --epochs 3", "python train.py --model ae --epochs 3"),
    ("python train.py --judge-dir=/x --output_dir 'my runs/a' --resume", "python train.py --resume"),
    ("python train.py --model vae", "python train.py --model vae"),
    ("python train.py --note 'unbalanced", "python train.py --note 'unbalanced"),
])
def test_card_command_leaves_out_machine_paths(recorded: str, shown: str) -> None:
    assert portable_command(recorded) == shown


@pytest.mark.slow
def test_train_push_then_from_pretrained_is_identical(trained, hub: FakeHub) -> None:
    tmp, out, proc = trained
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = set(HfApi(endpoint=hub.url, token=hub.token).list_repo_files(f"{USER}/tiny-vae"))
    assert {"model.safetensors", "config.json", "metrics.json", "embeddings.safetensors", "README.md"} <= files
    assert not [f for f in files if f.startswith("checkpoints/")], files
    card = (out / "README.md").read_text()
    assert f'VAE.from_pretrained("{USER}/tiny-vae")' in card
    # The card's training command is portable: the trainer's own folders are left out, and said so.
    assert "--model vae --dataset mnist --epochs 1" in card and str(tmp) not in card and "add `--data-dir`" in card

    # from_pretrained takes no endpoint: HF_ENDPOINT is read at import time, so load in a child.
    code = """if True:
        import json, sys, torch
        from ae_vae import VAE, load_model
        hub_model = VAE.from_pretrained(sys.argv[1])
        local = load_model(sys.argv[2])
        x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            a, b = hub_model.encode(x).mean, local.encode(x).mean
            same = torch.equal(a, b) and torch.equal(hub_model.decode(a), local.decode(b))
        weights = all(torch.equal(v, local.state_dict()[k]) for k, v in hub_model.state_dict().items())
        print(json.dumps({"same_outputs": same, "same_weights": weights, "cls": type(hub_model).__name__}))
    """
    env = child_env(tmp, HF_ENDPOINT=hub.url, HF_TOKEN=hub.token)
    child = subprocess.run([sys.executable, "-c", code, f"{USER}/tiny-vae", str(out)], env=env,
                           capture_output=True, text=True, check=False, timeout=120)
    assert child.returncode == 0, child.stderr[-3000:]
    assert json.loads(child.stdout.strip().splitlines()[-1]) == {"same_outputs": True, "same_weights": True,
                                                                 "cls": "VAE"}


# ------------------------------------------------------------------------------------ push & pull


@pytest.mark.slow
def test_push_four_folders_then_pull_and_resolve(hub: FakeHub, weights_dir: Path, tmp_path: Path) -> None:
    repo = f"{USER}/four-by-path"
    urls = [push_folder(weights_dir / name, repo, path_in_repo=name, token=hub.token, endpoint=hub.url)
            for name in MODEL_NAMES]
    assert len(set(urls)) == 4 and all(u.startswith(f"{hub.url}/{repo}/commit/") for u in urls)
    files = HfApi(endpoint=hub.url, token=hub.token).list_repo_files(repo)
    assert sorted(files) == sorted(f"{n}/{f}" for n in MODEL_NAMES
                                   for f in ("config.json", "model.safetensors", "metrics.json", "README.md",
                                             "embeddings.safetensors", "prior.safetensors", "encoder.onnx",
                                             "decoder.onnx"))
    # The sub-folder card points at the app's weights/<name> layout (from_pretrained cannot read sub-folders).
    assert 'from_pretrained("weights/mnist-vae")' in (weights_dir / "mnist-vae" / "README.md").read_text()

    folders = pull_models(repo, cache_dir=tmp_path / "cache", endpoint=hub.url, token=False)
    assert list(folders) == list(MODEL_NAMES)
    for name, folder in folders.items():
        assert folder.path.name == name and same_model(folder.path, weights_dir / name)
        assert not (folder.path / "notes.txt").exists()

    source = resolve_model_folders(repo, weights_dir, cache_dir=tmp_path / "cache2", endpoint=hub.url, token=False)
    assert source.origin == "hub", source.notice
    assert repo in source.notice and set(source.folders) == set(MODEL_NAMES)
    assert all(same_model(source.folders[n].path, weights_dir / n) for n in MODEL_NAMES)


def test_app_loader_pulls_and_handlers_match_local(hub: FakeHub, published: str, weights_dir: Path,
                                                   tmp_path: Path) -> None:
    """The app's own loader, from the Hub into a fresh cache, gives the same outputs as the local folders."""

    pulled = load_explorer(published, weights_dir, cache_dir=tmp_path / "fresh-cache", endpoint=hub.url, token=False)
    local = load_explorer(None, weights_dir)
    assert published in pulled.source_notice and "bundled" in local.source_notice
    for dataset in ("mnist", "fashion_mnist"):
        image = local.models(dataset).example_images[0]
        a, b = pulled.reconstruct(image, dataset), local.reconstruct(image, dataset)
        assert np.array_equal(a.ae, b.ae) and np.array_equal(a.vae, b.vae)
        assert np.array_equal(a.vae_samples, b.vae_samples)
        assert all(np.array_equal(x, y) for x, y in zip(pulled.sample(dataset, 9, 1), local.sample(dataset, 9, 1)))
        # the fitted prior travelled with the weights and passed its fingerprint check
        mixture = (dataset, 9, 1, 1.0, "mixture", 3)
        assert all(np.array_equal(x, y) for x, y in zip(pulled.sample(*mixture), local.sample(*mixture)))


def test_the_onnx_graphs_travel_with_the_weights(hub: FakeHub, weights_dir: Path, tmp_path: Path) -> None:
    """A folder's encoder.onnx and decoder.onnx go up with push-all and come down with the pull, checked against the
    weights they record; a repo whose folder lacks them, or whose graphs are of other weights, is refused by the
    pull (the app then falls back to the cache or the bundled weights)."""
    source = tmp_path / "weights"
    shutil.copytree(weights_dir, source, ignore=shutil.ignore_patterns("checkpoints"))
    repo = f"{USER}/with-graphs"
    push_all(source, repo, token=hub.token, endpoint=hub.url)
    pulled = pull_models(repo, cache_dir=tmp_path / "cache", endpoint=hub.url, token=False)
    for name in ("encoder.onnx", "decoder.onnx"):
        assert (pulled["mnist-vae"].path / name).read_bytes() == (source / "mnist-vae" / name).read_bytes()
    assert pulled["mnist-vae"].model.version == file_sha256(source / "mnist-vae" / "model.safetensors")[:16]
    (source / "mnist-ae" / "decoder.onnx").unlink()
    push_all(source, f"{USER}/without-graphs", token=hub.token, endpoint=hub.url)
    with pytest.raises(HubError, match="has no mnist-ae/decoder.onnx"):
        pull_models(f"{USER}/without-graphs", cache_dir=tmp_path / "cache", endpoint=hub.url, token=False)
    shutil.copy(source / "fashion_mnist-ae" / "decoder.onnx", source / "mnist-ae" / "decoder.onnx")
    push_all(source, f"{USER}/stale-graphs", token=hub.token, endpoint=hub.url)
    with pytest.raises(WeightsError, match="exported from other weights"):
        pull_models(f"{USER}/stale-graphs", cache_dir=tmp_path / "cache", endpoint=hub.url, token=False)


def test_neighbour_shards_travel_with_the_weights(hub: FakeHub, weights_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """Neighbour points stored as row shards (as the bundled folders' are) go up with push-all and come down with the
    pull, every shard, and load as the points that went up."""
    import numpy as np

    from ae_vae.latent import maps as maps_module

    source = tmp_path / "weights"
    shutil.copytree(weights_dir, source, ignore=shutil.ignore_patterns("checkpoints"))
    maps = maps_module.load_maps(source / "mnist-ae")
    maps.neighbour_latents, maps.neighbour_labels = maps.latents[::-1].copy(), maps.labels[::-1].copy()
    maps.neighbour_images = np.random.default_rng(0).integers(0, 256, (len(maps.labels), 28, 28), dtype=np.uint8)
    monkeypatch.setattr(maps_module, "NEIGHBOUR_SHARD_BYTES", sum(np.asarray(getattr(maps, name)).nbytes for name in
                                                               maps_module.NEIGHBOUR_TENSORS) // 2)
    maps_module.save_neighbours(maps, source / "mnist-ae")
    shards = sorted(path.name for path in (source / "mnist-ae").glob("neighbours*"))
    assert len(shards) == 2 and "neighbours.safetensors" not in shards
    repo = f"{USER}/with-shards"
    push_all(source, repo, token=hub.token, endpoint=hub.url)
    pulled = pull_models(repo, cache_dir=tmp_path / "cache", endpoint=hub.url, token=False)["mnist-ae"].path
    assert sorted(path.name for path in pulled.glob("neighbours*")) == shards
    loaded = maps_module.load_maps(pulled)
    for name in maps_module.NEIGHBOUR_TENSORS:
        assert np.array_equal(np.asarray(getattr(loaded, name)), np.asarray(getattr(maps, name)))


def test_push_all_is_one_commit(hub: FakeHub, published: str) -> None:
    commits = [p for m, p in hub.requests if m == "POST" and p == f"/api/models/{published}/commit/main"]
    assert len(commits) == 1
    files = HfApi(endpoint=hub.url, token=hub.token).list_repo_files(published)
    assert len(files) == 4 * 8 and not [f for f in files if "checkpoints" in f or f.endswith(".txt")]


# ------------------------------------------------------------------------------------ the β-conditioned VAEs

BETA_FILES = ("config.json", "model.safetensors", "metrics.json", "encoder.onnx", "decoder.onnx", "README.md")


def test_push_all_carries_the_beta_folders_and_the_pull_loads_them(hub: FakeHub, published_beta: str,
                                                                   beta_weights_dir: Path, tmp_path: Path,
                                                                   caplog) -> None:
    """push-all takes the β folders that are there into the same single commit; the pull brings them down beside
    the four, as `BetaFolder`s with their curve and graphs, and so do the cached copy and the app's source."""
    commits = [p for m, p in hub.requests if m == "POST" and p == f"/api/models/{published_beta}/commit/main"]
    assert len(commits) == 1
    files = set(HfApi(endpoint=hub.url, token=hub.token).list_repo_files(published_beta))
    assert {f for f in files if f.split("/")[0] in BETA_NAMES} == {f"{n}/{f}" for n in BETA_NAMES for f in BETA_FILES}
    assert len(files) == 4 * 8 + 2 * len(BETA_FILES)
    assert 'BetaVAE.from_pretrained("weights/mnist-beta-vae")' in (beta_weights_dir / "mnist-beta-vae" /
                                                                   "README.md").read_text()

    caplog.set_level("WARNING")
    cache = tmp_path / "cache"
    for local_files_only in (False, True):
        folders = pull_models(published_beta, cache_dir=cache, endpoint=hub.url, token=False,
                              local_files_only=local_files_only)
        assert list(folders) == [*MODEL_NAMES, *BETA_NAMES]
        assert all(isinstance(folders[n], ModelFolder) for n in MODEL_NAMES)
        for name in BETA_NAMES:
            pulled, local = folders[name], beta_weights_dir / name
            assert isinstance(pulled, BetaFolder) and pulled.name == name and pulled.path.name == name
            assert pulled.curve == json.loads((local / "metrics.json").read_text())["curve"]
            assert all((pulled.path / f).read_bytes() == (local / f).read_bytes() for f in BETA_FILES)
            codes = pulled.model.embed(probe().numpy(), 0.5)
            assert pulled.model.decode(codes, 0.5).shape == (6, 1, 28, 28)
    assert not beta_warnings(caplog)

    source = resolve_model_folders(published_beta, beta_weights_dir, cache_dir=tmp_path / "cache2", endpoint=hub.url,
                                   token=False)
    assert source.origin == "hub" and set(source.folders) == {*MODEL_NAMES, *BETA_NAMES}
    assert {d: f.path.name for d, f in beta_folders(source.folders).items()} == {
        "mnist": "mnist-beta-vae", "fashion_mnist": "fashion_mnist-beta-vae"}
    assert pull_models(published_beta, optional=(), cache_dir=cache, endpoint=hub.url, token=False,
                       local_files_only=True).keys() == set(MODEL_NAMES)
    # A cache left by a pull of the four alone (an app from before the β folders) still serves the four.
    pull_models(published_beta, optional=(), cache_dir=tmp_path / "old-cache", endpoint=hub.url, token=False)
    assert list(pull_models(published_beta, cache_dir=tmp_path / "old-cache", token=False,
                            local_files_only=True)) == list(MODEL_NAMES)


def test_a_repo_without_beta_folders_serves_the_four(hub: FakeHub, published: str, weights_dir: Path,
                                                     tmp_path: Path, caplog) -> None:
    """The β folders are optional: a repo of the four alone pulls as before, from the Hub and from the cache,
    with nothing to warn about."""
    caplog.set_level("WARNING")
    for local_files_only in (False, True):
        folders = pull_models(published, cache_dir=tmp_path / "cache", endpoint=hub.url, token=False,
                              local_files_only=local_files_only)
        assert list(folders) == list(MODEL_NAMES)
    source = resolve_model_folders(published, weights_dir, cache_dir=tmp_path / "cache", endpoint=hub.url,
                                   token=False)
    assert source.origin == "hub" and beta_folders(source.folders) == {}
    assert not beta_warnings(caplog)


def no_curve(metrics: bytes) -> bytes:
    return json.dumps({k: v for k, v in json.loads(metrics).items() if k != "curve"}).encode()


@pytest.mark.parametrize("damage, file, reason", [
    ("delete", "decoder.onnx", "it has no decoder.onnx"),
    ("delete", "metrics.json", "it has no metrics.json"),
    ("no curve", "metrics.json", "no usable rate–distortion curve from β = 0.1 to 4"),
    ("truncate", "model.safetensors", "model.safetensors: not a readable safetensors file"),
    ("stale graphs", "encoder.onnx", "exported from other weights")])
def test_a_broken_beta_folder_is_left_out_and_the_four_are_served(hub: FakeHub, beta_weights_dir: Path,
                                                                  tmp_path: Path, caplog, damage: str, file: str,
                                                                  reason: str) -> None:
    """A β folder the app cannot serve costs only itself: the pull (and the app's source) serve the four and the
    other β folder, from the Hub and not from a fallback, and a warning names the folder and why."""
    repo = f"{USER}/broken-beta-{damage.replace(' ', '-')}-{file.replace('.', '-')}"
    push_all(beta_weights_dir, repo, token=hub.token, endpoint=hub.url)
    path = f"fashion_mnist-beta-vae/{file}"
    good = (beta_weights_dir / path).read_bytes()
    if damage == "delete":
        HfApi(endpoint=hub.url, token=hub.token).delete_file(path, repo)
    else:
        other = (beta_weights_dir / "mnist-beta-vae" / file).read_bytes()
        hub.put_file(repo, path, {"no curve": no_curve, "truncate": lambda b: b[: len(b) // 2],
                                  "stale graphs": lambda _: other}[damage](good))
    caplog.set_level("WARNING")
    served = [*MODEL_NAMES, "mnist-beta-vae"]
    assert list(pull_models(repo, cache_dir=tmp_path / "cache", endpoint=hub.url, token=False)) == served
    (warning,) = beta_warnings(caplog)
    assert "fashion_mnist-beta-vae" in warning and repo in warning and reason in warning, warning
    assert "\n" not in warning
    assert list(pull_models(repo, cache_dir=tmp_path / "cache", endpoint=hub.url, token=False,
                            local_files_only=True)) == served
    source = resolve_model_folders(repo, beta_weights_dir, cache_dir=tmp_path / "cache2", endpoint=hub.url,
                                   token=False)
    assert source.origin == "hub" and list(source.folders) == served, source.notice


def test_a_pickle_in_a_beta_folder_refuses_the_repo(hub: FakeHub, beta_weights_dir: Path, tmp_path: Path) -> None:
    """The pickle rule has no optional part: a repo carrying one anywhere is not one we published."""
    repo = f"{USER}/beta-with-pickle"
    push_all(beta_weights_dir, repo, token=hub.token, endpoint=hub.url)
    hub.put_file(repo, "mnist-beta-vae/optimizer.pt", b"x")
    with pytest.raises(UnsafeRepoError, match=r"pickle file mnist-beta-vae/optimizer\.pt"):
        pull_models(repo, cache_dir=tmp_path / "cache", endpoint=hub.url, token=False)


@pytest.mark.parametrize("damage, message", [("pickle", r"pickle file optimizer\.pt"),
                                             ("truncated weights", r"not pushing .*model\.safetensors")])
def test_push_all_refuses_a_beta_folder_it_cannot_vouch_for(hub: FakeHub, beta_weights_dir: Path, tmp_path: Path,
                                                            damage: str, message: str) -> None:
    """A β folder that is there is checked like the four: pushing is deliberate, so a bad one stops the push."""
    source = tmp_path / "weights"
    shutil.copytree(beta_weights_dir, source)
    folder = source / "mnist-beta-vae"
    if damage == "pickle":
        (folder / "optimizer.pt").write_bytes(b"x")
    else:
        weights = (folder / "model.safetensors").read_bytes()
        (folder / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    repo = f"{USER}/never-beta-{damage.replace(' ', '-')}"
    with pytest.raises(HubError, match=message):
        push_all(source, repo, token=hub.token, endpoint=hub.url)
    assert not [p for m, p in hub.requests if m == "POST" and p == f"/api/models/{repo}/commit/main"]


def test_a_beta_folder_pushed_alone_is_a_from_pretrained_repo(hub: FakeHub, beta_weights_dir: Path,
                                                              tmp_path: Path) -> None:
    """What `train.py --model beta-vae --push-to-hub` does at the end: push_folder at the repo root, the card
    re-rendered for that repo."""
    folder = tmp_path / "run"
    shutil.copytree(beta_weights_dir / "mnist-beta-vae", folder)
    repo = f"{USER}/tiny-beta-vae"
    push_folder(folder, repo, token=hub.token, endpoint=hub.url)
    assert set(HfApi(endpoint=hub.url, token=hub.token).list_repo_files(repo)) == set(BETA_FILES)
    assert f'BetaVAE.from_pretrained("{repo}")' in (folder / "README.md").read_text()


@pytest.mark.parametrize("case", ["four only", "both", "one broken", "one misnamed"])
def test_the_bundled_weights_carry_the_beta_folders_they_have(weights_dir: Path, beta_weights_dir: Path,
                                                             tmp_path: Path, caplog, case: str) -> None:
    """No Hub repo: the bundled folder's β folders are served beside the four; a broken or misnamed one is left
    out with a warning, and the four are served all the same."""
    bundled, served, reason = beta_weights_dir, [*MODEL_NAMES, *BETA_NAMES], None
    if case == "four only":
        bundled, served = weights_dir, list(MODEL_NAMES)
    elif case in ("one broken", "one misnamed"):
        bundled = tmp_path / "weights"
        shutil.copytree(beta_weights_dir, bundled)
        served = [*MODEL_NAMES, "mnist-beta-vae"]
        if case == "one broken":
            (bundled / "fashion_mnist-beta-vae" / "decoder.onnx").unlink()
            reason = "fashion_mnist-beta-vae: no decoder.onnx"
        else:
            shutil.rmtree(bundled / "fashion_mnist-beta-vae")
            shutil.copytree(bundled / "mnist-beta-vae", bundled / "fashion_mnist-beta-vae")
            reason = "describes mnist-beta-vae, not fashion_mnist-beta-vae"
    caplog.set_level("WARNING")
    source = resolve_model_folders(None, bundled)
    assert source.origin == "bundled" and list(source.folders) == served
    assert source.notice == f"Using the bundled weights in {bundled.name}/ (no Hub repo configured)"
    assert sorted(beta_folders(source.folders)) == sorted(n.removesuffix("-beta-vae") for n in served[4:])
    warnings = beta_warnings(caplog)
    assert (warnings == []) if reason is None else (len(warnings) == 1 and reason in warnings[0]
                                                    and "the bundled weights in weights/" in warnings[0]), warnings


def test_no_hub_repo_uses_bundled(weights_dir: Path) -> None:
    source = resolve_model_folders(None, weights_dir)
    assert source.origin == "bundled"
    assert source.notice == f"Using the bundled weights in {weights_dir.name}/ (no Hub repo configured)"
    with pytest.raises(WeightsError, match="bundled weights are unusable"):
        resolve_model_folders(None, weights_dir / "missing")


# ------------------------------------------------------------------------------------ Hub down


def _resolve_timed(repo: str, bundled: Path, **kwargs):
    start = time.monotonic()
    source = resolve_model_folders(repo, bundled, token=False, **kwargs)
    return source, time.monotonic() - start


def test_refused_port_falls_back_to_cache_then_bundled(hub, published, weights_dir, closed_url, tmp_path) -> None:
    cache = tmp_path / "cache"
    pull_models(published, cache_dir=cache, endpoint=hub.url, token=False)
    source, seconds = _resolve_timed(published, weights_dir, cache_dir=cache, endpoint=closed_url)
    assert source.origin == "hub-cache" and seconds < 5.5, (source, seconds)
    assert "cannot reach the Hub" in source.notice and "cached copy" in source.notice
    assert all(same_model(source.folders[n].path, weights_dir / n) for n in MODEL_NAMES)

    source, seconds = _resolve_timed(published, weights_dir, cache_dir=tmp_path / "empty", endpoint=closed_url)
    assert source.origin == "bundled" and seconds < 5.5, (source, seconds)
    assert {n: f.path for n, f in source.folders.items()} == {n: weights_dir / n for n in MODEL_NAMES}
    assert "cannot reach the Hub" in source.notice and "bundled weights" in source.notice


@pytest.mark.slow
def test_silent_hub_meets_the_deadline(hub, published, weights_dir, silent_url, tmp_path) -> None:
    cache = tmp_path / "cache"
    pull_models(published, cache_dir=cache, endpoint=hub.url, token=False)
    source, seconds = _resolve_timed(published, weights_dir, cache_dir=cache, endpoint=silent_url)  # default 5 s
    assert source.origin == "hub-cache" and 4.5 < seconds < 6.5, (source, seconds)
    assert f"Hub repo {published} did not answer within 5 s; using the cached copy" in source.notice

    source, seconds = _resolve_timed(published, weights_dir, cache_dir=tmp_path / "empty", endpoint=silent_url,
                                     timeout=1.0)
    assert source.origin == "bundled" and seconds < 2.5, (source, seconds)
    assert "did not answer within 1 s" in source.notice


# ------------------------------------------------------------------------------------ unsafe / broken repos


def test_repo_with_pickle_is_refused(hub: FakeHub, weights_dir: Path, tmp_path: Path) -> None:
    repo = f"{USER}/with-pickle"
    push_all(weights_dir, repo, token=hub.token, endpoint=hub.url)
    cache = tmp_path / "cache"
    pull_models(repo, cache_dir=cache, endpoint=hub.url, token=False)  # a clean copy, cached
    hub.put_file(repo, "mnist-ae/pytorch_model.bin", b"\x80\x04not really a pickle")

    with pytest.raises(HubError, match=r"pickle file mnist-ae/pytorch_model\.bin"):
        pull_models(repo, cache_dir=tmp_path / "fresh", endpoint=hub.url, token=False)
    assert not (tmp_path / "fresh").exists() or not list((tmp_path / "fresh").rglob("*.bin"))

    source = resolve_model_folders(repo, weights_dir, cache_dir=cache, endpoint=hub.url, token=False)
    assert source.origin == "hub-cache" and "pytorch_model.bin" in source.notice, source.notice
    source = resolve_model_folders(repo, weights_dir, cache_dir=tmp_path / "fresh", endpoint=hub.url, token=False)
    assert source.origin == "bundled" and "pytorch_model.bin" in source.notice, source.notice

    # from_pretrained's download path refuses too; the error is both a HubError and a WeightsError.
    single = f"{USER}/single-with-pickle"
    push_folder(weights_dir / "mnist-vae", single, token=hub.token, endpoint=hub.url)
    hub.put_file(single, "optimizer.pt", b"x")
    with pytest.raises(WeightsError, match=r"pickle file optimizer\.pt") as exc:
        download_model_file(single, "model.safetensors", cache_dir=tmp_path / "c3", endpoint=hub.url, token=False)
    assert isinstance(exc.value, HubError)


def test_pushing_a_folder_with_pickle_is_refused(hub: FakeHub, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    save_model_folder(VAE(VAEConfig(latent_dim=2, channels=(2, 4), hidden_blocks=0)), folder)
    (folder / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(HubError, match=r"pickle file pytorch_model\.bin"):
        push_folder(folder, f"{USER}/never", token=hub.token, endpoint=hub.url)


def test_truncated_weights_name_the_file(hub: FakeHub, published: str, weights_dir: Path, tmp_path: Path) -> None:
    repo = f"{USER}/truncated"
    push_all(weights_dir, repo, token=hub.token, endpoint=hub.url)
    good = (weights_dir / "mnist-vae" / "model.safetensors").read_bytes()
    hub.put_file(repo, "mnist-vae/model.safetensors", good[: len(good) // 2])
    with pytest.raises(WeightsError, match=r"mnist-vae/model\.safetensors: not a readable safetensors file"):
        pull_models(repo, cache_dir=tmp_path / "cache", endpoint=hub.url, token=False)
    source = resolve_model_folders(repo, weights_dir, cache_dir=tmp_path / "cache", endpoint=hub.url, token=False)
    assert source.origin == "bundled" and "mnist-vae/model.safetensors" in source.notice, source.notice


@pytest.mark.parametrize("file, damage", [
    ("mnist-ae/embeddings.safetensors", "truncated"), ("fashion_mnist-vae/embeddings.safetensors", "garbage"),
    ("mnist-vae/neighbours.safetensors", "garbage")])
def test_a_broken_maps_file_falls_back_to_the_bundled_weights(hub: FakeHub, weights_dir: Path, tmp_path: Path,
                                                             file: str, damage: str) -> None:
    """Without its maps the app cannot start: the pull checks them (and the neighbour points) like the weights,
    so a broken snapshot is refused at once, the bundled weights serve, and the notice names the file."""
    repo = f"{USER}/broken-maps-{damage}-{file.split('/')[0]}"
    push_all(weights_dir, repo, token=hub.token, endpoint=hub.url)
    if damage == "truncated":
        good = (weights_dir / file).read_bytes()
        hub.put_file(repo, file, good[: len(good) // 2])
    else:
        hub.put_file(repo, file, b"not safetensors at all")
    with pytest.raises(WeightsError, match=file.replace(".", r"\.")):
        pull_models(repo, cache_dir=tmp_path / "cache", endpoint=hub.url, token=False)
    explorer = load_explorer(repo, weights_dir, cache_dir=tmp_path / "cache", endpoint=hub.url, token=False)
    assert "bundled weights" in explorer.source_notice and file in explorer.source_notice, explorer.source_notice
    image = explorer.models("mnist").example_images[0]
    assert explorer.reconstruct(image, "mnist").ae.shape == (28, 28)  # the app works on the bundled weights


# ------------------------------------------------------------------------------------ tokens & CLI


def test_wrong_token_and_unreachable_push(hub: FakeHub, weights_dir: Path, closed_url: str) -> None:
    folder = weights_dir / "mnist-ae"
    with pytest.raises(HubError) as exc:
        push_folder(folder, f"{USER}/x", token="hf_wrong", endpoint=hub.url)
    assert "token was rejected" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(HubError) as exc:
        push_folder(folder, f"{USER}/x", token=hub.token, endpoint=closed_url)
    assert "cannot reach the Hub" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(HubError, match="user/name"):
        push_folder(folder, "no-namespace", token=hub.token, endpoint=hub.url)


@pytest.mark.parametrize("token, expected", [(None, f"error: {NO_TOKEN_MESSAGE}"),
                                             ("hf_wrong", ("error: push to Hub repo test-user/cli failed: the "
                                                           "Hugging Face token was rejected by"))])
def test_cli_token_errors_are_one_line(hub: FakeHub, weights_dir: Path, tmp_path: Path, token, expected) -> None:
    env = child_env(tmp_path, HF_ENDPOINT=hub.url, **({"HF_TOKEN": token} if token else {}))
    proc = subprocess.run([sys.executable, "-m", "ae_vae", "push", str(weights_dir / "mnist-ae"),
                           f"{USER}/cli"], env=env, capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith(expected), proc.stderr


def test_train_without_token_fails_before_training(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), "--data-dir", str(tmp_path / "no-data"),
                           "--output-dir", str(out), "--push-to-hub", f"{USER}/never", "--threads", "1"],
                          env=child_env(tmp_path), capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert f"--push-to-hub: {NO_TOKEN_MESSAGE}" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
