"""ModelStore: local folders, the hub cache (offline), downloads from a local stand-in hub, policies.

Nothing here reaches the internet: cached models are built in tmp_path with the hub's own
layout, and downloads go to a small HTTP server on 127.0.0.1 that answers like the hub.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import huggingface_hub
import pytest
import torch
from assets.make_tiny_sd import TINY_SD_DIR, make_hub_cache_entry
from safetensors.torch import load_file

from engine.models import (
    DownloadCancelledError,
    GatedModelError,
    ModelError,
    ModelNotDownloadedError,
    ModelNotFoundError,
    ModelStore,
    NotADiffusersModelError,
    OfflineModeError,
    PickleWeightsRefusedError,
    check_weights,
    plan_pipeline_files,
)
from engine.models.store import _DownloadTracker

COMMIT = "a" * 40
OTHER_COMMIT = "b" * 40
HUB_COMMIT = "0123456789abcdef0123456789abcdef01234567"
TINY_FILES = sorted(p.relative_to(TINY_SD_DIR).as_posix() for p in TINY_SD_DIR.rglob("*") if p.is_file())


def tiny_sd_bytes() -> dict[str, bytes]:
    return {name: (TINY_SD_DIR / name).read_bytes() for name in TINY_FILES}


@pytest.fixture
def no_network(monkeypatch):
    """Fail any socket connection or hub API call; returns the list of attempts."""
    attempts: list[object] = []

    def refuse_connect(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError(f"network access attempted in a test: {address}")

    def refuse_hub(*args, **kwargs):
        attempts.append("hub api")
        raise AssertionError("the hub API was called")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse_connect)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse_hub)
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", refuse_hub)
    return attempts


def copy_tiny_sd(destination: Path) -> Path:
    shutil.copytree(TINY_SD_DIR, destination)
    return destination


def picklify(folder: Path, component: str = "unet") -> Path:
    """Replace a component's safetensors weights by the same tensors in a pickle .bin file."""
    safe = next((folder / component).glob("*.safetensors"))
    pickled = safe.with_suffix(".bin")
    torch.save(load_file(safe), pickled)
    safe.unlink()
    return pickled


# ------------------------------------------------------------------------------------ local folders


def test_local_folder_resolves_from_relative_absolute_and_home_paths(monkeypatch, tmp_path, no_network):
    store = ModelStore(tmp_path / "hub", offline=True)
    monkeypatch.chdir(TINY_SD_DIR.parent)
    home = tmp_path / "home"
    copy_tiny_sd(home / "models" / "tiny")
    monkeypatch.setenv("HOME", str(home))

    for reference, expected in (
        ("tiny-sd", TINY_SD_DIR),
        ("./tiny-sd", TINY_SD_DIR),
        (str(TINY_SD_DIR), TINY_SD_DIR),
        (TINY_SD_DIR, TINY_SD_DIR),
        ("~/models/tiny", home / "models" / "tiny"),
    ):
        resolved = store.resolve(reference)
        assert resolved.source == "local"
        assert resolved.revision is None
        assert resolved.path == expected.resolve()
        assert resolved.model_id == str(expected.resolve())
    assert store.is_downloaded(str(TINY_SD_DIR))
    assert no_network == []


def test_bad_references_are_refused_with_what_was_expected(tmp_path, no_network):
    store = ModelStore(tmp_path / "hub", offline=True)
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        store.resolve(str(tmp_path / "no-such-model"))
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        store.resolve("./relative/missing")
    with pytest.raises(ModelNotFoundError, match="valid Hugging Face repo id"):
        store.resolve("not a repo id")
    with pytest.raises(ModelNotFoundError, match="revisions apply only to hub repo ids"):
        store.resolve(str(TINY_SD_DIR), revision="main")
    with pytest.raises(ModelNotFoundError, match="No model given"):
        store.resolve("  ")


def test_folder_that_is_not_a_pipeline_is_refused(tmp_path):
    store = ModelStore(tmp_path / "hub", offline=True)
    no_index = copy_tiny_sd(tmp_path / "no-index")
    (no_index / "model_index.json").unlink()
    with pytest.raises(NotADiffusersModelError, match="model_index.json"):
        store.resolve(str(no_index))

    no_unet_weights = copy_tiny_sd(tmp_path / "no-unet-weights")
    (no_unet_weights / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(NotADiffusersModelError, match="unet weights"):
        store.resolve(str(no_unet_weights))

    only_fp16 = copy_tiny_sd(tmp_path / "only-fp16")
    unet = only_fp16 / "unet"
    (unet / "diffusion_pytorch_model.safetensors").rename(unet / "diffusion_pytorch_model.fp16.safetensors")
    with pytest.raises(NotADiffusersModelError, match=r"only variants: diffusion_pytorch_model\.fp16\.safetensors"):
        store.resolve(str(only_fp16))


def test_pickle_only_weights_are_refused_unless_allowed(tmp_path):
    folder = copy_tiny_sd(tmp_path / "pickled")
    pickled = picklify(folder)

    with pytest.raises(PickleWeightsRefusedError) as refused:
        ModelStore(tmp_path / "hub").resolve(str(folder))
    message = str(refused.value)
    assert "unet/diffusion_pytorch_model.bin" in message
    assert "allow_pickle" in message
    with pytest.raises(PickleWeightsRefusedError):
        check_weights(folder)

    resolved = ModelStore(tmp_path / "hub", allow_pickle=True).resolve(str(folder))
    assert resolved.path == folder.resolve()
    assert "unet/" + pickled.name in check_weights(folder, allow_pickle=True)


def test_safetensors_win_over_pickle_when_both_exist(tmp_path):
    folder = copy_tiny_sd(tmp_path / "both")
    torch.save(load_file(folder / "unet" / "diffusion_pytorch_model.safetensors"), folder / "unet" / "diffusion_pytorch_model.bin")
    assert check_weights(folder) == (
        "unet/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.safetensors",
        "text_encoder/model.safetensors",
    )
    assert check_weights(folder, allow_pickle=True) == check_weights(folder)


def test_plan_for_a_real_sd15_repository_listing_fetches_only_what_the_pipeline_loads():
    # The layout of stable-diffusion-v1-5/stable-diffusion-v1-5 on the hub.
    listing = [
        ".gitattributes", "README.md", "model_index.json",
        "v1-5-pruned-emaonly.ckpt", "v1-5-pruned-emaonly.safetensors", "v1-5-pruned.ckpt", "v1-inference.yaml",
        "feature_extractor/preprocessor_config.json",
        "safety_checker/config.json", "safety_checker/model.safetensors", "safety_checker/pytorch_model.bin",
        "safety_checker/model.fp16.safetensors",
        "scheduler/scheduler_config.json",
        "text_encoder/config.json", "text_encoder/model.safetensors", "text_encoder/pytorch_model.bin",
        "text_encoder/model.fp16.safetensors",
        "tokenizer/merges.txt", "tokenizer/special_tokens_map.json", "tokenizer/tokenizer_config.json",
        "tokenizer/vocab.json",
        "unet/config.json", "unet/diffusion_pytorch_model.bin", "unet/diffusion_pytorch_model.safetensors",
        "unet/diffusion_pytorch_model.fp16.safetensors", "unet/diffusion_pytorch_model.non_ema.safetensors",
        "vae/config.json", "vae/diffusion_pytorch_model.bin", "vae/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.fp16.safetensors",
    ]
    plan = plan_pipeline_files(listing)
    assert plan.complete
    assert list(plan.files) == [
        "model_index.json",
        "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
        "vae/config.json", "vae/diffusion_pytorch_model.safetensors",
        "text_encoder/config.json", "text_encoder/model.safetensors",
        "tokenizer/merges.txt", "tokenizer/special_tokens_map.json", "tokenizer/tokenizer_config.json",
        "tokenizer/vocab.json",
        "scheduler/scheduler_config.json",
    ]  # fmt: skip

    pickle_listing = [f for f in listing if not f.endswith(".safetensors")]
    plan = plan_pipeline_files(pickle_listing)
    assert plan.pickle_only == (
        "unet/diffusion_pytorch_model.bin", "vae/diffusion_pytorch_model.bin", "text_encoder/pytorch_model.bin",
    )  # fmt: skip
    assert "unet/diffusion_pytorch_model.bin" in plan_pipeline_files(pickle_listing, allow_pickle=True).files


def test_sharded_safetensors_are_all_fetched():
    listing = [
        "model_index.json", "scheduler/scheduler_config.json", "tokenizer/vocab.json", "tokenizer/merges.txt",
        "text_encoder/config.json", "text_encoder/model.safetensors", "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors", "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors.index.json",
        "unet/diffusion_pytorch_model-00001-of-00002.safetensors",
        "unet/diffusion_pytorch_model-00002-of-00002.safetensors",
    ]  # fmt: skip
    plan = plan_pipeline_files(listing)
    assert plan.complete
    assert {f for f in plan.files if f.startswith("unet/")} == {f for f in listing if f.startswith("unet/")}


# ------------------------------------------------------------------------------------ the hub cache


def test_cached_model_resolves_offline_is_listed_and_deleted(tmp_path, no_network):
    cache = tmp_path / "hub"
    snapshot = make_hub_cache_entry(cache, "org/tiny-sd", TINY_SD_DIR, commit=COMMIT)
    make_hub_cache_entry(cache, "someone/text-model", TINY_SD_DIR / "text_encoder", commit=OTHER_COMMIT)
    (cache / "datasets--org--data" / "snapshots").mkdir(parents=True)
    store = ModelStore(cache, offline=True)

    for revision in (None, "main", COMMIT):
        resolved = store.resolve("org/tiny-sd", revision)
        assert (resolved.model_id, resolved.revision, resolved.source) == ("org/tiny-sd", COMMIT, "hub")
        assert resolved.path == snapshot
    assert store.is_downloaded("org/tiny-sd")

    listed = {m.model_id: m for m in store.list_cached()}
    assert set(listed) == {"org/tiny-sd", "someone/text-model"}  # the dataset is not a model
    tiny = listed["org/tiny-sd"]
    blobs_bytes = sum(p.stat().st_size for p in (cache / "models--org--tiny-sd" / "blobs").iterdir())
    assert tiny.size_bytes == blobs_bytes == sum(len(b) for b in set(tiny_sd_bytes().values()))
    assert tiny.revisions == (COMMIT,)
    assert tiny.refs == ("main",)
    assert tiny.is_pipeline
    assert tiny.path == cache / "models--org--tiny-sd"
    assert tiny.last_modified > 0
    assert not listed["someone/text-model"].is_pipeline

    freed = store.delete("org/tiny-sd")
    assert freed == blobs_bytes
    assert not (cache / "models--org--tiny-sd").exists()
    assert [m.model_id for m in store.list_cached()] == ["someone/text-model"]
    with pytest.raises(ModelNotDownloadedError, match="org/tiny-sd"):
        store.resolve("org/tiny-sd")
    assert no_network == []


def test_delete_one_revision_keeps_the_other(tmp_path, no_network):
    cache = tmp_path / "hub"
    make_hub_cache_entry(cache, "org/tiny-sd", TINY_SD_DIR, commit=COMMIT, ref="main")
    make_hub_cache_entry(cache, "org/tiny-sd", TINY_SD_DIR, commit=OTHER_COMMIT, ref="v2")
    store = ModelStore(cache, offline=True)
    assert store.resolve("org/tiny-sd", "v2").revision == OTHER_COMMIT

    store.delete("org/tiny-sd", revision="main")
    (remaining,) = store.list_cached()
    assert remaining.revisions == (OTHER_COMMIT,)
    assert store.resolve("org/tiny-sd", OTHER_COMMIT).revision == OTHER_COMMIT
    with pytest.raises(ModelNotDownloadedError):
        store.resolve("org/tiny-sd", COMMIT)

    with pytest.raises(ModelNotFoundError, match="Revision 'nope'.*cached: "):
        store.delete("org/tiny-sd", revision="nope")
    with pytest.raises(ModelNotFoundError, match="not in the cache"):
        store.delete("org/never-downloaded")


def test_list_cached_of_a_missing_cache_is_empty(tmp_path):
    assert ModelStore(tmp_path / "no-cache-yet").list_cached() == []


def test_not_cached_offline_names_the_model_and_makes_no_network_call(tmp_path, monkeypatch, no_network):
    store = ModelStore(tmp_path / "hub", offline=True)
    with pytest.raises(ModelNotDownloadedError) as missing:
        store.resolve("riffusion/riffusion-model-v1")
    assert "'riffusion/riffusion-model-v1'" in str(missing.value)
    assert "specdiff-cli models pull riffusion/riffusion-model-v1" in str(missing.value)
    assert missing.value.model_id == "riffusion/riffusion-model-v1"

    with pytest.raises(OfflineModeError, match="Offline mode is on"):
        store.resolve("riffusion/riffusion-model-v1", download=True)
    assert not store.is_downloaded("riffusion/riffusion-model-v1")

    # Lookups are cache-only in online mode too; HF_HUB_OFFLINE alone also blocks downloads.
    online = ModelStore(tmp_path / "hub")
    with pytest.raises(ModelNotDownloadedError):
        online.resolve("riffusion/riffusion-model-v1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineModeError):
        online.resolve("riffusion/riffusion-model-v1", download=True)
    assert no_network == []


def test_incomplete_cached_copy_says_what_is_missing(tmp_path, no_network):
    cache = tmp_path / "hub"
    snapshot = make_hub_cache_entry(cache, "org/tiny-sd", TINY_SD_DIR, commit=COMMIT)
    (snapshot / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    store = ModelStore(cache, offline=True)
    with pytest.raises(ModelNotDownloadedError, match="incomplete.*unet weights"):
        store.resolve("org/tiny-sd")
    assert not store.is_downloaded("org/tiny-sd")


# ------------------------------------------------------------------------------------ downloads


class FakeHub:
    """A local HTTP server answering the hub endpoints snapshot_download uses.

    ``slow_files`` are held back until ``release`` is set; with ``token`` set the file
    downloads of the repo answer 401 "GatedRepo" unless that bearer token is sent.
    """

    def __init__(self, repos: dict[str, dict[str, bytes]], *, token: str | None = None) -> None:
        self.repos = repos
        self.token = token
        self.requests: list[tuple[str, str]] = []
        self.slow_files: set[str] = set()
        self.release = threading.Event()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, body=b"", headers=None, *, head=False):
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def route(self, head):
                path = unquote(urlparse(self.path).path)
                hub.requests.append((self.command, path))
                json_type = {"Content-Type": "application/json"}
                if match := re.match(r"^/api/models/([^/]+/[^/]+)(?:/revision/[^/]+)?$", path):
                    files = hub.repos.get(match.group(1))
                    if files is None:
                        return self.reply(404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"})
                    siblings = [{"rfilename": name, "size": len(data)} for name, data in files.items()]
                    body = {"id": match.group(1), "sha": HUB_COMMIT, "siblings": siblings}
                    return self.reply(200, json.dumps(body).encode(), json_type)
                if match := re.match(r"^/api/models/([^/]+/[^/]+)/tree/[^/]+$", path):
                    tree = [
                        {"type": "file", "path": name, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}
                        for name, data in hub.repos[match.group(1)].items()
                    ]
                    return self.reply(200, json.dumps(tree).encode(), json_type)
                if match := re.match(r"^/([^/]+/[^/]+)/resolve/[^/]+/(.+)$", path):
                    if hub.token and self.headers.get("Authorization") != f"Bearer {hub.token}":
                        return self.reply(401, b"", {"X-Error-Code": "GatedRepo", "X-Error-Message": "gated"})
                    data = hub.repos[match.group(1)][match.group(2)]
                    if not head and match.group(2) in hub.slow_files:
                        hub.release.wait(10)
                    etag = hashlib.sha256(data).hexdigest()
                    return self.reply(200, data, {"X-Repo-Commit": HUB_COMMIT, "ETag": f'"{etag}"'}, head=head)
                return self.reply(404)

            def do_GET(self):
                self.route(head=False)

            def do_HEAD(self):
                self.route(head=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def fetched(self) -> set[str]:
        return {path.split("/resolve/", 1)[1].split("/", 1)[1] for method, path in self.requests if method == "GET" and "/resolve/" in path}

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def make_hub():
    hubs: list[FakeHub] = []

    def make(repos, **kwargs) -> FakeHub:
        hubs.append(FakeHub(repos, **kwargs))
        return hubs[-1]

    yield make
    for hub in hubs:
        hub.close()


def sd_repo_files() -> dict[str, bytes]:
    """tiny-sd as a hub repository, plus files the app must never download."""
    files = tiny_sd_bytes()
    files.update({
        "safety_checker/config.json": b"{}",
        "safety_checker/model.safetensors": b"s" * 5000,
        "v1-5-pruned-emaonly.ckpt": b"c" * 7000,
        "unet/diffusion_pytorch_model.fp16.safetensors": b"h" * 3000,
        "unet/diffusion_pytorch_model.bin": b"p" * 4000,
        "README.md": b"# tiny",
    })  # fmt: skip
    return files


def test_download_fetches_only_the_pipeline_files_and_reports_progress(tmp_path, make_hub):
    hub = make_hub({"org/tiny-sd": sd_repo_files()})
    store = ModelStore(tmp_path / "hub", endpoint=hub.url)
    reports = []

    resolved = store.resolve("org/tiny-sd", download=True, progress=reports.append)

    assert (resolved.model_id, resolved.revision, resolved.source) == ("org/tiny-sd", HUB_COMMIT, "hub")
    assert hub.fetched() == set(TINY_FILES)
    on_disk = sorted(p.relative_to(resolved.path).as_posix() for p in resolved.path.rglob("*") if p.is_file())
    assert on_disk == TINY_FILES
    assert (resolved.path / "unet" / "diffusion_pytorch_model.safetensors").read_bytes() == tiny_sd_bytes()[
        "unet/diffusion_pytorch_model.safetensors"
    ]

    total_bytes = sum(len(b) for b in tiny_sd_bytes().values())
    assert reports, "no progress reported"
    done = [r.bytes_done for r in reports]
    assert done == sorted(done)
    last = reports[-1]
    assert last.bytes_done == last.bytes_total == total_bytes
    assert last.files_done == last.files_total == len(TINY_FILES)
    assert all(r.bytes_total == total_bytes for r in reports)

    # Now cached: found offline, and a second download call makes no request at all.
    assert ModelStore(tmp_path / "hub", offline=True).resolve("org/tiny-sd").path == resolved.path
    before = len(hub.requests)
    assert store.resolve("org/tiny-sd", download=True).path == resolved.path
    assert len(hub.requests) == before


def test_pickle_only_repository_is_refused_before_downloading(tmp_path, make_hub):
    files = tiny_sd_bytes()
    files["unet/diffusion_pytorch_model.bin"] = files.pop("unet/diffusion_pytorch_model.safetensors")
    hub = make_hub({"org/pickled": files})
    with pytest.raises(PickleWeightsRefusedError, match=r"unet/diffusion_pytorch_model\.bin"):
        ModelStore(tmp_path / "hub", endpoint=hub.url).resolve("org/pickled", download=True)
    assert hub.fetched() == set()

    resolved = ModelStore(tmp_path / "hub", endpoint=hub.url, allow_pickle=True).resolve("org/pickled", download=True)
    assert (resolved.path / "unet" / "diffusion_pytorch_model.bin").is_file()


def test_cancel_stops_the_download_and_a_later_download_completes(tmp_path, make_hub):
    hub = make_hub({"org/tiny-sd": sd_repo_files()})
    hub.slow_files = {"unet/diffusion_pytorch_model.safetensors"}
    store = ModelStore(tmp_path / "hub", endpoint=hub.url)
    cancel = threading.Event()

    def cancel_on_first_report(report):
        cancel.set()
        hub.release.set()  # let the held-back file through: its first bytes must hit the cancel

    with pytest.raises(DownloadCancelledError):
        store.resolve("org/tiny-sd", download=True, progress=cancel_on_first_report, cancel_event=cancel)
    with pytest.raises(ModelNotDownloadedError):
        ModelStore(tmp_path / "hub", offline=True).resolve("org/tiny-sd")
    snapshot = tmp_path / "hub" / "models--org--tiny-sd" / "snapshots" / HUB_COMMIT
    assert not (snapshot / "unet" / "diffusion_pytorch_model.safetensors").exists()

    resolved = store.resolve("org/tiny-sd", download=True)
    assert (resolved.path / "unet" / "diffusion_pytorch_model.safetensors").is_file()


def test_cancel_before_start_downloads_nothing(tmp_path, make_hub):
    hub = make_hub({"org/tiny-sd": sd_repo_files()})
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(DownloadCancelledError):
        ModelStore(tmp_path / "hub", endpoint=hub.url).resolve("org/tiny-sd", download=True, cancel_event=cancel)
    assert hub.fetched() == set()


def test_gated_repository_needs_a_token_and_the_token_is_sent(tmp_path, make_hub):
    hub = make_hub({"org/gated": tiny_sd_bytes()}, token="hf_test_token")
    with pytest.raises(GatedModelError, match="access token") as gated:
        ModelStore(tmp_path / "hub", endpoint=hub.url).resolve("org/gated", download=True)
    assert "HF_TOKEN" in str(gated.value)

    store = ModelStore(tmp_path / "hub", endpoint=hub.url, token="hf_test_token")
    assert store.resolve("org/gated", download=True).revision == HUB_COMMIT


def test_unknown_repository_is_not_found(tmp_path, make_hub):
    hub = make_hub({})
    with pytest.raises(ModelNotFoundError, match="'org/missing' was not found"):
        ModelStore(tmp_path / "hub", endpoint=hub.url).resolve("org/missing", download=True)


def test_unreachable_hub_is_a_clear_error(tmp_path):
    with socket.socket() as probe:  # a local port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = ModelStore(tmp_path / "hub", endpoint=f"http://127.0.0.1:{port}")
    with pytest.raises(ModelError, match="Could not download model 'org/tiny-sd'.*internet connection"):
        store.resolve("org/tiny-sd", download=True)


# ------------------------------------------------------------------------------------ progress hook


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def test_progress_hook_aggregates_bytes_and_files_like_snapshot_download():
    clock = FakeClock()
    reports = []
    tracker = _DownloadTracker(reports.append, None, planned_bytes=300, planned_files=3, clock=clock)
    bar = tracker.tqdm_class()
    # The bars huggingface_hub's snapshot_download opens: network bytes, bytes written, files.
    transfer = bar(desc="Downloading bytes", total=0, initial=0, unit="B", unit_scale=True)
    written = bar(desc="Reconstructing (incomplete total...)", total=0, initial=0, unit="B", unit_scale=True)
    files = bar(desc="Fetching 3 files", total=3)
    written.total += 300
    transfer.total += 300

    written.update(100)
    transfer.update(100)
    clock.now_s = 1.0
    written.update(100)
    transfer.update(100)
    files.update(1)

    snapshot = tracker.snapshot()
    assert snapshot.bytes_done == 200  # the network bar is not counted twice
    assert snapshot.bytes_total == 300
    assert (snapshot.files_done, snapshot.files_total) == (1, 3)
    assert snapshot.rate_bytes_per_s == pytest.approx(100.0)
    assert snapshot.eta_s == pytest.approx(1.0)
    # Throttled: the updates at t=0 gave one report, the ones at t=1 s one more.
    assert [r.bytes_done for r in reports] == [100, 200]

    transfer.set_description_str("Download complete")  # the hub renames bars when done
    tracker.finish()
    assert reports[-1].bytes_done == 200


def test_progress_hook_sums_per_file_bars_and_names_the_file():
    tracker = _DownloadTracker(None, None, clock=FakeClock())
    bar = tracker.tqdm_class()
    unet = bar(desc="diffusion_pytorch_model.safetensors", total=1000, unit="B")
    vae = bar(desc="vae.safetensors", total=500, initial=200, unit="B")
    unet.update(300)
    vae.update(100)
    snapshot = tracker.snapshot()
    assert (snapshot.bytes_done, snapshot.bytes_total) == (600, 1500)
    assert snapshot.filename == "vae.safetensors"


def test_progress_hook_raises_when_cancelled():
    cancel = threading.Event()
    tracker = _DownloadTracker(None, cancel)
    written = tracker.tqdm_class()(desc="x", total=10, unit="B")
    written.update(5)
    cancel.set()
    with pytest.raises(DownloadCancelledError):
        written.update(5)


def test_shipped_models_are_named_portably(tmp_path):
    """Recipes name the starter model ``builtin:starter``, never this install's path; an old
    recipe's path of any install's resources/models/starter reads as that name."""
    from engine.models.catalog import STARTER_MODEL_DIR, STARTER_MODEL_ID, builtin_model_dir, portable_model_id

    store = ModelStore(tmp_path / "hub", offline=True)
    for given in (STARTER_MODEL_ID, str(STARTER_MODEL_DIR)):
        resolved = store.resolve(given)
        assert (resolved.model_id, resolved.path) == (STARTER_MODEL_ID, STARTER_MODEL_DIR.resolve())
    assert builtin_model_dir(STARTER_MODEL_ID) == STARTER_MODEL_DIR
    assert portable_model_id("/opt/other-install/resources/models/starter") == STARTER_MODEL_ID
    assert portable_model_id(str(TINY_SD_DIR)) == str(TINY_SD_DIR) and portable_model_id("org/name") == "org/name"
    with pytest.raises(ModelNotFoundError, match="'builtin:nope' is not a model that ships with this version; "
                                                 "shipped: .*builtin:starter"):
        store.resolve("builtin:nope")
