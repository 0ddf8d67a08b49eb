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
from conftest import ROOT, synthetic_digits, write_tiny_dataset
from fake_hub import FakeHub
from huggingface_hub import HfApi

from ae_vae import (
    VAE,
    AutoEncoder,
    AutoEncoderConfig,
    VAEConfig,
    WeightsError,
    load_model,
)
from ae_vae.app.sources import load_explorer, resolve_model_folders
from ae_vae.errors import HubError
from ae_vae.fileio import atomic_write_json, download_model_file
from ae_vae.graph_files import file_sha256
from ae_vae.hub import (
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
