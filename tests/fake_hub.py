"""A small, stdlib-only, Hugging Face Hub-compatible HTTP server for tests.

It implements the subset of the Hub HTTP API that ``huggingface_hub`` 2.4 uses for
``create_repo``, ``upload_folder``/``create_commit``, ``create_branch``,
``hf_hub_download``, ``snapshot_download``, ``model_info``/``repo_info`` and
``list_repo_files``/``list_repo_tree``.

Design notes:

* Every file is a *regular* git blob: ``preupload`` answers ``uploadMode: "regular"``, so
  the client sends file contents inline (base64) in the NDJSON ``commit`` payload and
  never touches LFS or Xet, whatever ``HF_HUB_DISABLE_XET`` says. ``resolve`` never
  sends ``X-Xet-Hash`` / ``X-Linked-*`` headers, so downloads are plain HTTP GETs.
* Blob bytes are content-addressed on disk under ``<root>/blobs/<git-sha1>``; repo
  metadata (branches, commits, file tables) lives in memory for the life of the
  FakeHub instance.
* Repo ids are always ``namespace/name`` (``create_repo("name")`` lands in ``USER``).
* Errors mimic the real Hub's ``X-Error-Code`` / ``X-Error-Message`` headers, which is
  what the client maps to ``RepositoryNotFoundError``, ``RevisionNotFoundError`` and
  ``RemoteEntryNotFoundError`` (a subclass of ``EntryNotFoundError``).

Usage::

    with FakeHub(tmp_path / "hub") as hub:
        api = HfApi(endpoint=hub.url, token=hub.token)
        ...
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

# URL segment -> repo type, for both the API (/api/models/...) and file (/datasets/...) routes.
_API_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_FILE_PREFIXES = {"datasets": "dataset", "spaces": "space"}

_INVALID_CREDENTIALS = "Invalid credentials in Authorization header"
_CHUNK = 1024 * 1024


def git_blob_sha1(data: bytes) -> str:
    """Git blob id of ``data``; the client compares it with preupload's ``oid`` to skip unchanged files."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    # The client's parse_datetime expects '%Y-%m-%dT%H:%M:%S.%fZ'.
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class _Commit:
    sha: str
    parent: str | None
    message: str
    date: str
    files: dict[str, tuple[str, int]]  # path -> (blob oid, size)


@dataclass
class _Repo:
    repo_type: str
    repo_id: str
    private: bool
    created_at: str
    branches: dict[str, str] = field(default_factory=dict)  # branch -> head commit sha
    commits: dict[str, _Commit] = field(default_factory=dict)

    def resolve(self, revision: str) -> _Commit | None:
        sha = self.branches.get(revision, revision)
        return self.commits.get(sha)


class HubError(Exception):
    """Raised inside handlers; turned into a Hub-style error response."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers = headers or {}


class FakeHub:
    """In-process fake of the Hugging Face Hub HTTP API (see module docstring)."""

    USER = "test-user"

    def __init__(self, root: Path, token: str = "hf_test_token") -> None:
        self.root = Path(root)
        self.token = token
        self.url = ""
        self.requests: list[tuple[str, str]] = []
        self._blobs = self.root / "blobs"
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._commit_counter = 0
        # Salt so two FakeHub instances never hand out the same sha for different content
        # (a shared HF cache would otherwise serve stale files).
        self._salt = uuid.uuid4().hex
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeHub:
        self._blobs.mkdir(parents=True, exist_ok=True)
        handler = type("_BoundHandler", (_Handler,), {"hub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="fake-hub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        # The client keeps pooled keep-alive connections open: close them so handler threads exit.
        with self._lock:
            for conn in list(self._connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ test helpers

    def put_file(self, repo_id: str, path: str, data: bytes) -> None:
        """Commit ``data`` at ``path`` on ``main`` of a model repo, creating a public repo if needed.

        Bypasses the HTTP API, e.g. to plant a ``.bin`` file or a truncated ``model.safetensors``.
        """
        with self._lock:
            repo = self._repos.get(("model", repo_id)) or self._create_repo("model", repo_id, private=False)
            self._commit(repo, "main", f"Seed {path}", {path: data}, deletions=[])

    def head(self, repo_id: str, revision: str = "main", repo_type: str = "model") -> str:
        """Commit sha that ``revision`` currently points to."""
        with self._lock:
            commit = self._repos[(repo_type, repo_id)].resolve(revision)
            if commit is None:
                raise KeyError(revision)
            return commit.sha

    # ------------------------------------------------------------------ storage

    def _new_sha(self) -> str:
        self._commit_counter += 1
        return hashlib.sha1(f"{self._salt}-{self._commit_counter}".encode()).hexdigest()

    def _create_repo(self, repo_type: str, repo_id: str, private: bool) -> _Repo:
        repo = _Repo(repo_type=repo_type, repo_id=repo_id, private=private, created_at=_now())
        # The real Hub starts every repo with an initial commit; ours is empty (no .gitattributes)
        # so that file listings only contain what tests uploaded.
        initial = _Commit(self._new_sha(), None, "initial commit", _now(), {})
        repo.commits[initial.sha] = initial
        repo.branches["main"] = initial.sha
        self._repos[(repo_type, repo_id)] = repo
        return repo

    def _store_blob(self, data: bytes) -> str:
        oid = git_blob_sha1(data)
        target = self._blobs / oid
        if not target.exists():
            tmp = target.with_name(f"{oid}.{threading.get_ident()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
        return oid

    def _commit(
        self, repo: _Repo, branch: str, message: str, additions: dict[str, bytes], deletions: list[str]
    ) -> _Commit:
        """Create a commit on ``branch`` (caller holds the lock). Deletions ending in '/' remove folders."""
        parent = repo.resolve(branch)
        assert parent is not None
        files = dict(parent.files)
        for path in deletions:
            if path.endswith("/"):
                for existing in [p for p in files if p.startswith(path)]:
                    del files[existing]
            elif files.pop(path, None) is None:
                raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
        for path, data in additions.items():
            files[path] = (self._store_blob(data), len(data))
        commit = _Commit(self._new_sha(), parent.sha, message, _now(), files)
        repo.commits[commit.sha] = commit
        repo.branches[branch] = commit.sha
        return commit

    # ------------------------------------------------------------------ response helpers

    def _repo_url(self, repo: _Repo) -> str:
        prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
        return f"{self.url}/{prefix}{repo.repo_id}"

    def _get_repo(self, repo_type: str, repo_id: str, authed: bool) -> _Repo:
        repo = self._repos.get((repo_type, repo_id))
        if repo is None or (repo.private and not authed):
            # Like the Hub: 401 when anonymous (private and missing look the same), 404 otherwise.
            raise HubError(401 if not authed else 404, "Repository not found", "RepoNotFound")
        return repo

    @staticmethod
    def _get_commit(repo: _Repo, revision: str) -> _Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit

    @staticmethod
    def _get_branch(repo: _Repo, branch: str) -> _Commit:
        # Commits and preuploads only target existing branches (no implicit branch creation).
        if branch not in repo.branches:
            raise HubError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
        return repo.commits[repo.branches[branch]]

    @staticmethod
    def _tree_entries(commit: _Commit, prefix: str, recursive: bool) -> list[dict[str, Any]]:
        prefix = prefix.strip("/")
        base = f"{prefix}/" if prefix else ""
        files: list[dict[str, Any]] = []
        folders: dict[str, None] = {}
        for path, (oid, size) in sorted(commit.files.items()):
            if not path.startswith(base):
                continue
            rest = path[len(base) :].split("/")
            # Every intermediate folder below the prefix (only the first level when not recursive).
            for depth in range(1, len(rest) if recursive else min(2, len(rest))):
                folders[base + "/".join(rest[:depth])] = None
            if recursive or len(rest) == 1:
                files.append({"type": "file", "oid": oid, "size": size, "path": path})
        if prefix and not files and not folders:
            raise HubError(404, f"{prefix} does not exist on this revision", "EntryNotFound")
        dirs = [
            {
                "type": "directory",
                "oid": hashlib.sha1(f"tree:{commit.sha}:{p}".encode()).hexdigest(),
                "size": 0,
                "path": p,
            }
            for p in folders
        ]
        return dirs + files

    def _repo_info(self, repo: _Repo, commit: _Commit, blobs: bool) -> dict[str, Any]:
        siblings = []
        for path, (oid, size) in sorted(commit.files.items()):
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:
                sibling.update(size=size, blobId=oid)
            siblings.append(sibling)
        info: dict[str, Any] = {
            "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit.sha,
            "lastModified": commit.date,
            "createdAt": repo.created_at,
            "private": repo.private,
            "disabled": False,
            "gated": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": siblings,
        }
        if repo.repo_type == "model":
            info["modelId"] = repo.repo_id
        return info

    # ------------------------------------------------------------------ routing

    def handle(
        self, method: str, raw_path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], bytes | tuple[Path, int, int]]:
        """Route one request. Returns (status, headers, body-bytes or (blob path, start, length))."""
        authorization = headers.get("Authorization", "")
        token = authorization[len("Bearer ") :].strip() if authorization.startswith("Bearer ") else None
        if authorization and token != self.token:
            # The Hub rejects a bad token on every route, even public reads.
            raise HubError(401, _INVALID_CREDENTIALS)
        authed = token is not None

        def require_auth() -> None:
            if not authed:
                raise HubError(401, "Authentication required: pass a token (Authorization: Bearer <token>)")

        seg = [unquote(s) for s in raw_path.strip("/").split("/")]
        with self._lock:
            # ---- /api/... routes
            if seg[:1] == ["api"]:
                if seg[1:] == ["repos", "create"] and method == "POST":
                    require_auth()
                    return self._route_create(json.loads(body or b"{}"))
                if seg[1:] == ["repos", "delete"] and method == "DELETE":
                    require_auth()
                    payload = json.loads(body or b"{}")
                    repo_id = f"{payload.get('organization') or self.USER}/{payload['name']}"
                    repo = self._get_repo(payload.get("type") or "model", repo_id, authed)
                    del self._repos[(repo.repo_type, repo.repo_id)]
                    return _json(200, {})
                if seg[1:] == ["whoami-v2"] and method == "GET":
                    require_auth()
                    return _json(
                        200,
                        {
                            "type": "user",
                            "name": self.USER,
                            "fullname": "Test User",
                            "orgs": [],
                            "auth": {"type": "access_token", "accessToken": {"role": "write"}},
                        },
                    )
                if seg[1:] == ["validate-yaml"] and method == "POST":
                    return _json(200, {"errors": [], "warnings": []})
                if len(seg) >= 4 and seg[1] in _API_TYPES:
                    repo = self._get_repo(_API_TYPES[seg[1]], f"{seg[2]}/{seg[3]}", authed)
                    return self._route_repo_api(method, repo, seg[4:], query, body, require_auth)
            # ---- /[datasets|spaces/]{ns}/{name}/resolve/{revision}/{path}
            elif method in ("GET", "HEAD"):
                repo_type = "model"
                if seg and seg[0] in _FILE_PREFIXES:
                    repo_type, seg = _FILE_PREFIXES[seg[0]], seg[1:]
                if len(seg) >= 5 and seg[2] == "resolve":
                    repo = self._get_repo(repo_type, f"{seg[0]}/{seg[1]}", authed)
                    commit = self._get_commit(repo, seg[3])
                    return self._route_resolve(commit, "/".join(seg[4:]), headers.get("Range"))
        raise HubError(404, f"FakeHub: no route for {method} {raw_path}")

    def _route_create(self, payload: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        repo_type = payload.get("type") or "model"
        if repo_type not in _API_TYPES.values():
            raise HubError(400, f"Invalid repo type: {repo_type}")
        repo_id = f"{payload.get('organization') or self.USER}/{payload['name']}"
        existing = self._repos.get((repo_type, repo_id))
        if existing is not None:
            # create_repo(exist_ok=True) swallows exactly this 409.
            return _json(409, {"error": f"You already created this {repo_type} repo", "url": self._repo_url(existing)})
        repo = self._create_repo(repo_type, repo_id, private=payload.get("visibility") == "private")
        return _json(200, {"url": self._repo_url(repo), "name": repo_id, "id": repo_id})

    def _route_repo_api(
        self, method: str, repo: _Repo, rest: list[str], query: dict[str, list[str]], body: bytes, require_auth: Any
    ) -> tuple[int, dict[str, str], bytes]:
        action = rest[0] if rest else ""
        if method == "GET" and (not rest or action == "revision"):
            commit = self._get_commit(repo, rest[1] if len(rest) > 1 else "main")
            blobs = query.get("blobs", [""])[0].lower() in ("1", "true")
            return _json(200, self._repo_info(repo, commit, blobs))
        if method == "GET" and action == "tree" and len(rest) >= 2:
            commit = self._get_commit(repo, rest[1])
            recursive = query.get("recursive", [""])[0].lower() in ("1", "true")
            return _json(200, self._tree_entries(commit, "/".join(rest[2:]), recursive))
        if method == "GET" and action == "refs":
            branches = [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": sha} for b, sha in repo.branches.items()]
            return _json(200, {"branches": branches, "converts": [], "tags": [], "pullRequests": []})
        if method == "POST" and action == "paths-info" and len(rest) == 2:
            commit = self._get_commit(repo, rest[1])
            wanted = parse_qs(body.decode()).get("paths", [])
            entries = self._tree_entries(commit, "", recursive=True)
            return _json(200, [e for e in entries if e["path"] in wanted])

        # Everything below writes.
        require_auth()
        if "create_pr" in query:
            raise HubError(400, "FakeHub does not support pull requests (create_pr)")
        if method == "POST" and action == "preupload" and len(rest) == 2:
            head = self._get_branch(repo, rest[1])
            files = []
            for f in json.loads(body)["files"]:
                entry = {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                if f["path"] in head.files:
                    entry["oid"] = head.files[f["path"]][0]
                files.append(entry)
            return _json(200, {"files": files, "commitOid": head.sha})
        if method == "POST" and action == "commit" and len(rest) == 2:
            return self._route_commit(repo, rest[1], body)
        if action == "branch" and len(rest) == 2:
            branch = rest[1]
            if method == "POST":
                if branch in repo.branches:
                    raise HubError(409, f"Reference already exists: refs/heads/{branch}")
                start = json.loads(body or b"{}").get("startingPoint") or "main"
                repo.branches[branch] = self._get_commit(repo, start).sha
                return _json(200, {})
            if method == "DELETE":
                self._get_branch(repo, branch)
                del repo.branches[branch]
                return _json(200, {})
        raise HubError(404, f"FakeHub: no route for {method} {'/'.join(rest)}")

    def _route_commit(self, repo: _Repo, branch: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        head = self._get_branch(repo, branch)
        message, additions, deletions = "", {}, []
        for line in body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                message = value.get("summary", "")
                parent = value.get("parentCommit")
                if parent is not None and parent != head.sha:
                    raise HubError(412, "A commit has happened since. Please refresh and try again.")
            elif key == "file":
                content = value["content"]
                additions[value["path"]] = (
                    base64.b64decode(content) if value.get("encoding") == "base64" else content.encode()
                )
            elif key == "deletedFile":
                deletions.append(value["path"])
            elif key == "deletedFolder":
                deletions.append(value["path"].rstrip("/") + "/")
            else:  # lfsFile & co: never requested since preupload always answers "regular"
                raise HubError(400, f"FakeHub only supports regular (inline) files, got '{key}'")
        commit = self._commit(repo, branch, message, additions, deletions)
        return _json(
            200,
            {
                "success": True,
                "commitOid": commit.sha,
                "commitUrl": f"{self._repo_url(repo)}/commit/{commit.sha}",
                "hookOutput": "",
                "pullRequestUrl": None,
            },
        )

    def _route_resolve(
        self, commit: _Commit, path: str, range_header: str | None
    ) -> tuple[int, dict[str, str], tuple[Path, int, int]]:
        if path not in commit.files:
            # X-Repo-Commit lets the client cache the non-existence (.no_exist) like with the real Hub.
            raise HubError(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": commit.sha})
        oid, size = commit.files[path]
        headers = {
            "X-Repo-Commit": commit.sha,
            "ETag": f'"{oid}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        status, start, length = 200, 0, size
        if range_header:  # used by the client to resume interrupted downloads
            try:
                unit, spec = range_header.split("=", 1)
                first, _, last = spec.split(",")[0].strip().partition("-")
                start = int(first)
                end = min(int(last), size - 1) if last else size - 1
                if unit != "bytes" or start > end:
                    raise ValueError
            except ValueError:
                raise HubError(416, "Range not satisfiable", headers={"Content-Range": f"bytes */{size}"}) from None
            status, length = 206, end - start + 1
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return status, headers, (self._blobs / oid, start, length)


def _json(status: int, payload: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub  # bound per server in FakeHub.start()
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects

    def setup(self) -> None:
        super().setup()
        with self.hub._lock:
            self.hub._connections.add(self.connection)

    def finish(self) -> None:
        with self.hub._lock:
            self.hub._connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _dispatch(self) -> None:
        method = self.command
        url = urlsplit(self.path)
        body = self._read_body() if method in ("POST", "PUT", "DELETE") else b""
        with self.hub._lock:
            self.hub.requests.append((method, unquote(url.path)))
        try:
            status, headers, payload = self.hub.handle(method, url.path, parse_qs(url.query), self.headers, body)
        except HubError as err:
            status, headers, payload = _json(err.status, {"error": err.message})
            headers.update(err.headers)
            headers["X-Error-Message"] = err.message
            if err.code:
                headers["X-Error-Code"] = err.code
        except Exception as exc:  # noqa: BLE001 - a bug in the fake or a malformed request
            # Not a 5xx: the client would retry those with backoff; 400 fails fast and shows the message.
            status, headers, payload = _json(400, {"error": f"FakeHub error: {exc!r}"})

        length = len(payload) if isinstance(payload, bytes) else payload[2]
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if method == "HEAD":
            return
        if isinstance(payload, bytes):
            self.wfile.write(payload)
            return
        blob, start, remaining = payload
        with open(blob, "rb") as f:
            f.seek(start)
            while remaining > 0:
                chunk = f.read(min(_CHUNK, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _dispatch
