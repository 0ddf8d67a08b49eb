"""Proves tests/fake_hub.py against the real huggingface_hub client (no monkeypatching)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fake_hub import FakeHub
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

REPO = f"{FakeHub.USER}/tiny-model"


@pytest.fixture
def hub(tmp_path: Path):
    with FakeHub(tmp_path / "hub") as server:
        yield server


@pytest.fixture
def api(hub: FakeHub) -> HfApi:
    return HfApi(endpoint=hub.url, token=hub.token)


@pytest.fixture
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "config.json").write_text('{"hidden_size": 8}')
    (folder / "README.md").write_text("# tiny model\n")
    (folder / "model.safetensors").write_bytes(os.urandom(100_000))
    return folder


@pytest.fixture
def uploaded(api: HfApi, src: Path):
    api.create_repo(REPO, private=False, exist_ok=True)
    return api.upload_folder(repo_id=REPO, folder_path=src, commit_message="first")


def count(hub: FakeHub, method: str, suffix: str) -> int:
    return sum(1 for m, p in hub.requests if m == method and p.endswith(suffix))


def test_create_repo_exist_ok(api: HfApi, hub: FakeHub) -> None:
    url = api.create_repo(REPO, private=False, exist_ok=True)
    assert url.repo_id == REPO
    assert api.create_repo(REPO, exist_ok=True).repo_id == REPO
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_repo(REPO, exist_ok=False)
    assert exc.value.response.status_code == 409
    assert count(hub, "POST", "/api/repos/create") == 3


def test_upload_folder_uses_regular_commit(uploaded, api: HfApi, hub: FakeHub) -> None:
    assert uploaded.oid == hub.head(REPO) and len(uploaded.oid) == 40
    assert count(hub, "POST", f"/api/models/{REPO}/preupload/main") == 1
    assert count(hub, "POST", f"/api/models/{REPO}/commit/main") == 1
    assert sorted(api.list_repo_files(REPO)) == ["README.md", "config.json", "model.safetensors"]
    info = api.model_info(REPO)
    assert info.sha == uploaded.oid and info.private is False


def test_snapshot_download_allow_patterns(uploaded, hub: FakeHub, src: Path, tmp_path: Path) -> None:
    folder = Path(
        snapshot_download(
            REPO,
            allow_patterns=["*.json", "*.safetensors"],
            cache_dir=tmp_path / "cache",
            endpoint=hub.url,
            token=False,
        )
    )
    assert folder.name == uploaded.oid
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    for name in ("config.json", "model.safetensors"):
        assert (folder / name).read_bytes() == (src / name).read_bytes()
    # snapshot_download resolves main once, then lists the tree and fetches files by commit sha.
    assert count(hub, "GET", f"/api/models/{REPO}/revision/main") == 1
    assert count(hub, "GET", f"/api/models/{REPO}/tree/{uploaded.oid}") == 1
    assert count(hub, "GET", f"/{REPO}/resolve/{uploaded.oid}/model.safetensors") == 1
    assert count(hub, "GET", "README.md") == 0


def test_hf_hub_download_second_call_hits_cache(uploaded, hub: FakeHub, src: Path, tmp_path: Path) -> None:
    kwargs = {"cache_dir": tmp_path / "cache", "endpoint": hub.url, "token": False}
    first = hf_hub_download(REPO, "model.safetensors", **kwargs)
    assert Path(first).read_bytes() == (src / "model.safetensors").read_bytes()
    hub.requests.clear()
    second = hf_hub_download(REPO, "model.safetensors", **kwargs)
    assert second == first
    # A branch revision is re-validated with HEAD, but the bytes come from the cache.
    assert hub.requests == [("HEAD", f"/{REPO}/resolve/main/model.safetensors")]


def test_missing_file_raises_entry_not_found(uploaded, hub: FakeHub, tmp_path: Path) -> None:
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(REPO, "pytorch_model.bin", cache_dir=tmp_path / "cache", endpoint=hub.url, token=False)


def test_missing_repo_and_revision(api: HfApi, hub: FakeHub, tmp_path: Path) -> None:
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(f"{FakeHub.USER}/nope", "x", cache_dir=tmp_path / "c", endpoint=hub.url, token=hub.token)
    api.create_repo(REPO)
    with pytest.raises(RevisionNotFoundError):
        api.model_info(REPO, revision="does-not-exist")


def test_wrong_or_missing_token_is_401(hub: FakeHub, src: Path) -> None:
    with pytest.raises(HfHubHTTPError) as exc:
        HfApi(endpoint=hub.url, token="hf_wrong").create_repo(REPO)
    assert exc.value.response.status_code == 401
    assert "Invalid credentials" in str(exc.value)

    HfApi(endpoint=hub.url, token=hub.token).create_repo(REPO)
    with pytest.raises(HfHubHTTPError) as exc:
        HfApi(endpoint=hub.url, token=False).upload_folder(repo_id=REPO, folder_path=src)
    assert exc.value.response.status_code == 401


def test_second_commit_changes_sha(uploaded, api: HfApi, hub: FakeHub, src: Path, tmp_path: Path) -> None:
    (src / "config.json").write_text('{"hidden_size": 16}')
    second = api.upload_folder(repo_id=REPO, folder_path=src, commit_message="second")
    assert second.oid != uploaded.oid
    assert api.model_info(REPO).sha == second.oid
    # Old commit stays addressable by sha.
    kwargs = {"cache_dir": tmp_path / "cache", "endpoint": hub.url, "token": False}
    old = hf_hub_download(REPO, "config.json", revision=uploaded.oid, **kwargs)
    new = hf_hub_download(REPO, "config.json", **kwargs)
    assert Path(old).read_text() == '{"hidden_size": 8}'
    assert Path(new).read_text() == '{"hidden_size": 16}'


def test_private_repo_needs_token(api: HfApi, hub: FakeHub, tmp_path: Path) -> None:
    api.create_repo(REPO, private=True)
    hub.put_file(REPO, "config.json", b"{}")
    with pytest.raises(RepositoryNotFoundError) as exc:
        hf_hub_download(REPO, "config.json", cache_dir=tmp_path / "a", endpoint=hub.url, token=False)
    assert exc.value.response.status_code == 401
    path = hf_hub_download(REPO, "config.json", cache_dir=tmp_path / "b", endpoint=hub.url, token=hub.token)
    assert Path(path).read_bytes() == b"{}"
    assert api.model_info(REPO).private is True


def test_upload_to_branch(uploaded, api: HfApi, hub: FakeHub, src: Path) -> None:
    (src / "extra.txt").write_text("dev only")
    with pytest.raises(RevisionNotFoundError):  # like the Hub: branches are not created implicitly
        api.upload_folder(repo_id=REPO, folder_path=src, revision="dev")
    api.create_branch(REPO, branch="dev")
    dev = api.upload_folder(repo_id=REPO, folder_path=src, revision="dev")
    assert "extra.txt" in api.list_repo_files(REPO, revision="dev")
    assert "extra.txt" not in api.list_repo_files(REPO)
    assert hub.head(REPO, "dev") == dev.oid != hub.head(REPO)


def test_put_file_seeds_truncated_weights(hub: FakeHub, tmp_path: Path) -> None:
    hub.put_file(REPO, "model.safetensors", b"\x08\x00\x00")
    hub.put_file(REPO, "pytorch_model.bin", b"pickle!")
    folder = snapshot_download(REPO, cache_dir=tmp_path / "cache", endpoint=hub.url, token=False)
    assert (Path(folder) / "model.safetensors").read_bytes() == b"\x08\x00\x00"
    assert sorted(os.listdir(folder)) == ["model.safetensors", "pytorch_model.bin"]


def test_subprocess_via_hf_endpoint(uploaded, hub: FakeHub, src: Path, tmp_path: Path) -> None:
    code = f"from huggingface_hub import hf_hub_download; print(hf_hub_download('{REPO}', 'config.json'))"
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN": hub.token, "HF_HOME": str(tmp_path / "hf_home")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30, check=True)
    assert Path(out.stdout.strip()).read_text() == (src / "config.json").read_text()
