"""A stand-in for the Hugging Face Hub on loopback, so that publishing is tested with the real `huggingface_hub` client
and nothing leaves the machine.

It implements just enough of the Hub's HTTP API for what `push_to_hub` and `from_pretrained` do: create a model
repository, validate a model card's metadata, the commit flow (preupload, LFS batch and upload, NDJSON commit), and
file downloads (`HEAD`/`GET` on resolve URLs with the headers the client checks). Files it classes as large go through
LFS, as weights do on the Hub. Xet storage is not implemented: clients run with `HF_HUB_DISABLE_XET=1` and fall back
to LFS. Writes need the bearer token the server was given, as on the Hub.

    with StandInHub(token="hf_test") as hub:
        ...  # HF_ENDPOINT=hub.url
        hub.files("user/model")  # {path: bytes} at the head of main
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import yaml


# Upload modes the Hub picks: LFS for weights and other large files, a regular git blob otherwise.
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".h5", ".msgpack", ".onnx")
LFS_MIN_SIZE = 10 * 1024 * 1024
DEFAULT_NAMESPACE = "user"

REPO = r"(?P<repo>[^/]+/[^/]+)"


def git_blob_oid(content: bytes) -> str:
    """The git object id of a blob, which the Hub gives regular files as their ETag."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class StoredFile:
    content: bytes
    lfs: bool

    @property
    def oid(self) -> str:
        """What the Hub compares and serves as ETag: sha256 for LFS files, the git blob id otherwise."""
        return hashlib.sha256(self.content).hexdigest() if self.lfs else git_blob_oid(self.content)


@dataclass
class Commit:
    oid: str
    message: str
    files: dict[str, StoredFile]


@dataclass
class Repository:
    commits: list[Commit] = field(default_factory=list)

    @property
    def head(self) -> Commit:
        return self.commits[-1]

    def at(self, revision: str) -> Commit | None:
        if revision == "main":
            return self.head
        return next((commit for commit in self.commits if commit.oid == revision), None)


class HubError(Exception):
    """An error answer: HTTP status, the Hub's `X-Error-Code` (which the client maps to its exceptions), message."""

    def __init__(self, status: HTTPStatus, message: str, code: str | None = None, **details) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.details = status, message, code, details


class StandInHub:
    """An in-memory Hub served on `127.0.0.1` by a threaded HTTP server; a context manager that starts and stops it.

    Args:
        token (`str`, *optional*): bearer token that writes must carry; `None` accepts writes without one.
    """

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.repositories: dict[str, Repository] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StandInHub:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        """The content of every file of `repo_id` at `revision`."""
        commit = self._repository(repo_id).at(revision)
        return {path: stored.content for path, stored in commit.files.items()}

    def lfs_paths(self, repo_id: str) -> set[str]:
        """The files of `repo_id` stored through LFS."""
        return {path for path, stored in self._repository(repo_id).head.files.items() if stored.lfs}

    # ------------------------------------------------------------------ API

    def create_repo(self, payload: dict) -> dict:
        if payload.get("type", "model") != "model":
            raise HubError(HTTPStatus.BAD_REQUEST, "This stand-in Hub only hosts model repositories.")
        repo_id = f"{payload.get('organization') or DEFAULT_NAMESPACE}/{payload['name']}"
        with self.lock:
            if repo_id in self.repositories:
                # The Hub answers a conflict with the repository's address too; `exist_ok=True` clients read it.
                raise HubError(HTTPStatus.CONFLICT, "You already created this model repo", url=f"{self.url}/{repo_id}")
            repository = Repository()
            files = {".gitattributes": StoredFile(b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n", False)}
            repository.commits.append(Commit(_commit_oid(repo_id, "initial commit", 0), "initial commit", files))
            self.repositories[repo_id] = repository
        return {"url": f"{self.url}/{repo_id}", "name": repo_id}

    def validate_yaml(self, payload: dict) -> dict:
        content = payload.get("content", "")
        match = re.match(r"^---\n(.*?)\n---\n", content, re.DOTALL)
        if match is None:
            return {"errors": [], "warnings": [{"message": "empty or missing yaml metadata in repo card"}]}
        try:
            metadata = yaml.safe_load(match.group(1))
        except yaml.YAMLError as error:
            raise HubError(HTTPStatus.BAD_REQUEST, "Invalid YAML", errors=[{"message": str(error)}]) from error
        if not isinstance(metadata, dict):
            raise HubError(HTTPStatus.BAD_REQUEST, "Invalid YAML", errors=[{"message": "metadata is not a mapping"}])
        return {"errors": [], "warnings": []}

    def preupload(self, repo_id: str, revision: str, payload: dict) -> dict:
        head = self._commit(repo_id, revision)
        answers = []
        for item in payload["files"]:
            path, size = item["path"], item["size"]
            lfs = path.endswith(LFS_SUFFIXES) or size >= LFS_MIN_SIZE
            existing = head.files.get(path)
            answers.append(
                {
                    "path": path,
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": False,
                    "oid": existing.oid if existing is not None and existing.lfs == lfs else None,
                }
            )
        return {"files": answers, "commitOid": head.oid}

    def lfs_batch(self, repo_id: str, payload: dict) -> dict:
        self._repository(repo_id)
        if payload.get("operation") != "upload" or "basic" not in payload.get("transfers", ["basic"]):
            raise HubError(HTTPStatus.BAD_REQUEST, "Only basic LFS uploads are supported.")
        objects = []
        for item in payload["objects"]:
            answer = {"oid": item["oid"], "size": item["size"]}
            if item["oid"] not in self.lfs_objects:
                answer["actions"] = {"upload": {"href": f"{self.url}/lfs-upload/{item['oid']}", "header": {}}}
            objects.append(answer)
        return {"transfer": "basic", "objects": objects}

    def lfs_upload(self, oid: str, content: bytes) -> None:
        if hashlib.sha256(content).hexdigest() != oid:
            raise HubError(HTTPStatus.BAD_REQUEST, f"Uploaded content does not hash to {oid}.")
        with self.lock:
            self.lfs_objects[oid] = content

    def commit(self, repo_id: str, revision: str, body: bytes, create_pr: bool) -> dict:
        if create_pr:
            raise HubError(HTTPStatus.BAD_REQUEST, "This stand-in Hub does not open pull requests.")
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(HTTPStatus.BAD_REQUEST, "A commit starts with its header line.")
        with self.lock:
            repository = self._repository(repo_id)
            if revision != "main":
                raise HubError(HTTPStatus.NOT_FOUND, f"Invalid rev id: {revision}", code="RevisionNotFound")
            files = dict(repository.head.files)
            for line in lines[1:]:
                key, value = line["key"], line["value"]
                if key == "file":
                    files[value["path"]] = StoredFile(base64.b64decode(value["content"]), lfs=False)
                elif key == "lfsFile":
                    content = self.lfs_objects.get(value["oid"])
                    if content is None or len(content) != value["size"]:
                        raise HubError(HTTPStatus.BAD_REQUEST, f"LFS object of {value['path']} was not uploaded.")
                    files[value["path"]] = StoredFile(content, lfs=True)
                elif key == "deletedFile":
                    if files.pop(value["path"], None) is None:
                        raise HubError(HTTPStatus.NOT_FOUND, "A file with this name doesn't exist", "EntryNotFound")
                else:
                    raise HubError(HTTPStatus.BAD_REQUEST, f"Unsupported commit operation {key!r}.")
            message = lines[0]["value"]["summary"]
            oid = _commit_oid(repo_id, message, len(repository.commits))
            repository.commits.append(Commit(oid, message, files))
        return {"commitUrl": f"{self.url}/{repo_id}/commit/{oid}", "commitOid": oid, "pullRequestUrl": None}

    def repo_info(self, repo_id: str, revision: str) -> dict:
        commit = self._commit(repo_id, revision)
        siblings = [{"rfilename": path} for path in sorted(commit.files)]
        return {"id": repo_id, "modelId": repo_id, "sha": commit.oid, "private": False, "siblings": siblings}

    def tree(self, repo_id: str, revision: str, folder: str) -> list[dict]:
        """The files and folders right under `folder` ("" for the top), as the Hub lists a repository's tree."""
        commit = self._commit(repo_id, revision)
        prefix = f"{folder.strip('/')}/" if folder.strip("/") else ""
        entries = {}
        for path, stored in commit.files.items():
            if not path.startswith(prefix):
                continue
            name, _, rest = path[len(prefix) :].partition("/")
            if rest:
                entries[prefix + name] = {"type": "directory", "oid": commit.oid, "size": 0, "path": prefix + name}
            else:
                entries[path] = {"type": "file", "oid": stored.oid, "size": len(stored.content), "path": path}
        if prefix and not entries:
            raise HubError(HTTPStatus.NOT_FOUND, f"{folder} does not exist on {revision}", code="EntryNotFound")
        return sorted(entries.values(), key=lambda entry: entry["path"])

    def resolve(self, repo_id: str, revision: str, path: str) -> tuple[StoredFile, str]:
        commit = self._commit(repo_id, revision)
        if path not in commit.files:
            raise HubError(HTTPStatus.NOT_FOUND, "Entry not found", code="EntryNotFound")
        return commit.files[path], commit.oid

    def _repository(self, repo_id: str) -> Repository:
        if repo_id not in self.repositories:
            raise HubError(HTTPStatus.NOT_FOUND, "Repository not found", code="RepoNotFound")
        return self.repositories[repo_id]

    def _commit(self, repo_id: str, revision: str) -> Commit:
        commit = self._repository(repo_id).at(revision)
        if commit is None:
            raise HubError(HTTPStatus.NOT_FOUND, f"Invalid rev id: {revision}", code="RevisionNotFound")
        return commit


def _commit_oid(repo_id: str, message: str, index: int) -> str:
    return hashlib.sha1(f"{repo_id}\0{index}\0{message}".encode()).hexdigest()


def _handler_class(hub: StandInHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args) -> None:  # the test output stays quiet
            pass

        def do_HEAD(self) -> None:
            self._dispatch()

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def do_PUT(self) -> None:
            self._dispatch()

        def _dispatch(self) -> None:
            url = urlsplit(self.path)
            path = unquote(url.path)
            hub.requests.append(f"{self.command} {path}")
            body = self._read_body()
            try:
                self._route(self.command, path, url.query, body)
            except HubError as error:
                self._send_json({"error": error.message, **error.details}, error.status, error.code)

        def _route(self, method: str, path: str, query: str, body: bytes) -> None:
            write = method in ("POST", "PUT") and path != "/api/validate-yaml"
            if write and not path.startswith("/lfs-upload/") and hub.token is not None:
                if self.headers.get("Authorization") != f"Bearer {hub.token}":
                    raise HubError(HTTPStatus.UNAUTHORIZED, "Invalid credentials in Authorization header")
            if method == "POST" and path == "/api/repos/create":
                return self._send_json(hub.create_repo(json.loads(body)))
            if method == "POST" and path == "/api/validate-yaml":
                return self._send_json(hub.validate_yaml(json.loads(body)))
            if method == "POST" and (match := re.fullmatch(rf"/api/models/{REPO}/preupload/(?P<rev>[^/]+)", path)):
                return self._send_json(hub.preupload(match["repo"], match["rev"], json.loads(body)))
            if method == "POST" and (match := re.fullmatch(rf"/{REPO}\.git/info/lfs/objects/batch", path)):
                return self._send_json(hub.lfs_batch(match["repo"], json.loads(body)))
            if method == "PUT" and (match := re.fullmatch(r"/lfs-upload/(?P<oid>[0-9a-f]{64})", path)):
                hub.lfs_upload(match["oid"], body)
                return self._send_json({})
            if method == "POST" and (match := re.fullmatch(rf"/api/models/{REPO}/commit/(?P<rev>[^/]+)", path)):
                return self._send_json(hub.commit(match["repo"], match["rev"], body, "create_pr=1" in query))
            if method == "GET" and (match := re.fullmatch(rf"/api/models/{REPO}(?:/revision/(?P<rev>[^/]+))?", path)):
                return self._send_json(hub.repo_info(match["repo"], match["rev"] or "main"))
            if method == "GET" and (
                match := re.fullmatch(rf"/api/models/{REPO}/tree/(?P<rev>[^/]+)(?:/(?P<folder>.*))?", path)
            ):
                return self._send_json(hub.tree(match["repo"], match["rev"], match["folder"] or ""))
            if method in ("GET", "HEAD") and (
                match := re.fullmatch(rf"/{REPO}/resolve/(?P<rev>[^/]+)/(?P<file>.+)", path)
            ):
                stored, commit_oid = hub.resolve(match["repo"], match["rev"], match["file"])
                return self._send_file(stored, commit_oid)
            raise HubError(HTTPStatus.NOT_FOUND, f"The stand-in Hub does not serve {method} {path}.")

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _send_json(
            self, payload: dict | list, status: HTTPStatus = HTTPStatus.OK, error_code: str | None = None
        ) -> None:
            content = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if error_code is not None:
                self.send_header("X-Error-Code", error_code)
                self.send_header("X-Error-Message", payload.get("error", ""))
            self._finish(content)

        def _send_file(self, stored: StoredFile, commit_oid: str) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("X-Repo-Commit", commit_oid)
            self.send_header("ETag", f'"{stored.oid}"')
            if stored.lfs:
                self.send_header("X-Linked-Etag", f'"{stored.oid}"')
                self.send_header("X-Linked-Size", str(len(stored.content)))
            self._finish(stored.content)

        def _finish(self, content: bytes) -> None:
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

    return Handler
