"""The model manager lists, adds, deletes and downloads models as a user would see it.

Models come from a fake Hugging Face cache in tmp_path holding the tiny test model (the real
hub layout: blobs, snapshots with symlinks, refs/main); nothing reaches the network.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.dialogs.model_manager import ModelManagerDialog
from app.engine_client import list_models

REPO_ID = "local-test/tiny-sd"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def make_fake_hub_cache(cache_dir: Path, model_folder: Path, repo_id: str = REPO_ID) -> Path:
    """Lay ``model_folder`` out as the hub cache does: blobs by hash, a snapshot of symlinks."""
    repo_dir = cache_dir / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / COMMIT
    (repo_dir / "blobs").mkdir(parents=True)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(COMMIT)
    for file in sorted(model_folder.rglob("*")):
        if not file.is_file():
            continue
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        blob = repo_dir / "blobs" / digest
        if not blob.exists():
            shutil.copyfile(file, blob)
        link = snapshot / file.relative_to(model_folder)
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, link.parent), link)
    return repo_dir


@pytest.fixture
def hub_with_tiny_model(engine_settings, tiny_model):
    return make_fake_hub_cache(Path(engine_settings.cache_dir), Path(tiny_model))


@pytest.fixture
def manager(qtbot, client, settings, hub_with_tiny_model):
    dialog = ModelManagerDialog(client, settings)
    dialog.confirm_delete = False
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(client.models_listed, timeout=30000):
        dialog.refresh()
    yield dialog
    client.wait_for_tasks()


def table_rows(dialog) -> dict[str, list[str]]:
    rows = {}
    for row in range(dialog.table.rowCount()):
        model_id = dialog.table.item(row, 0).data(Qt.ItemDataRole.UserRole)
        rows[model_id] = [dialog.table.item(row, col).text() for col in range(dialog.table.columnCount())]
    return rows


def test_cached_model_is_listed_with_its_size(manager, hub_with_tiny_model, tiny_model):
    rows = table_rows(manager)
    assert REPO_ID in rows
    name, source, status, size, _ = rows[REPO_ID]
    assert source == "Hub cache" and status == "Downloaded"
    on_disk = sum(f.stat().st_size for f in Path(tiny_model).rglob("*") if f.is_file())
    assert size.endswith(("MB", "KB")) and float(size.split()[0]) == pytest.approx(on_disk / 1e6, rel=0.05)
    # The catalog is listed too, with approximate download sizes, not downloaded.
    assert rows["riffusion/riffusion-model-v1"][2] == "Not downloaded"
    assert rows["riffusion/riffusion-model-v1"][3].startswith("~")


def test_add_local_folder_and_make_it_default(manager, client, settings, tiny_model, qtbot):
    assert not manager.add_local_folder(str(Path(tiny_model).parent))  # no model_index.json there
    assert "model_index.json" in manager.message.text()
    with qtbot.waitSignal(client.models_listed, timeout=30000):
        assert manager.add_local_folder(tiny_model)
    rows = table_rows(manager)
    assert rows[tiny_model][1] == "Local folder" and rows[tiny_model][2] == "Downloaded"
    assert manager.select(tiny_model)
    assert manager.default_button.isEnabled()
    qtbot.mouseClick(manager.default_button, Qt.MouseButton.LeftButton)
    assert settings.default_model == tiny_model
    assert table_rows(manager)[tiny_model][4] == "★"
    # Removing a local folder forgets it but never deletes the files.
    with qtbot.waitSignal(client.models_listed, timeout=30000):
        qtbot.mouseClick(manager.delete_button, Qt.MouseButton.LeftButton)
    assert tiny_model not in table_rows(manager)
    assert (Path(tiny_model) / "model_index.json").is_file()


def test_delete_cached_model_frees_the_disk(manager, client, hub_with_tiny_model, qtbot):
    assert manager.select(REPO_ID)
    assert manager.delete_button.isEnabled()
    with qtbot.waitSignal(client.model_deleted, timeout=30000) as deleted:
        qtbot.mouseClick(manager.delete_button, Qt.MouseButton.LeftButton)
    assert deleted.args[0] == REPO_ID and deleted.args[1] > 1_000_000
    with qtbot.waitSignal(client.models_listed, timeout=30000):
        pass
    assert REPO_ID not in table_rows(manager)
    assert not (hub_with_tiny_model / "snapshots" / COMMIT).exists()


def test_download_in_offline_mode_is_refused_with_a_reason(manager, client, qtbot):
    assert client.settings.offline
    manager.repo_edit.setText("someone/some-model")
    qtbot.mouseClick(manager.repo_button, Qt.MouseButton.LeftButton)
    assert "Offline mode" in manager.message.text()
    assert not client.is_busy
    assert manager.select("riffusion/riffusion-model-v1")
    assert not manager.download_button.isEnabled()
    # The greyed button says why on hover (it said nothing: the user could not tell what to do).
    assert manager.download_button.toolTip() == "Offline mode is on: untick it below to download"
    manager.table.selectRow(0)  # the shipped starter model
    assert manager.download_button.toolTip() == "Already downloaded"
    manager.table.clearSelection()
    assert manager.download_button.toolTip() == "Select a model in the list to download it"


def test_download_job_failure_reaches_the_dialog(manager, client, qtbot):
    """A download that fails (here: the engine is offline, so the store refuses without any
    network call) ends with the store's message in the dialog and a free queue."""
    with qtbot.waitSignal(client.job_failed, timeout=60000) as failed:
        # Bypass the dialog's own offline check to see the engine's message.
        from engine.api import DownloadModelJob

        manager.track_download(client.submit(DownloadModelJob(model="someone/not-cached")))
    assert "Offline mode is on" in failed.args[1]
    assert "Offline mode is on" in manager.message.text()
    assert not manager.downloads and not client.is_busy


def test_offline_toggle_restarts_the_engine(qtbot, make_window, hub_with_tiny_model, monkeypatch):
    from engine.models.store import ModelStore

    monkeypatch.setattr(ModelStore, "hub_reachable", lambda self, timeout_s=3.0: True)  # no real network
    window = make_window()
    window.open_model_manager()
    manager = window.model_manager
    assert window.client.settings.offline
    with qtbot.waitSignal(window.client.engine_restarted, timeout=30000) as restarted:
        manager.offline_check.setChecked(False)
    assert restarted.args[0].offline is False
    assert window.client.settings.offline is False
    qtbot.waitUntil(lambda: window.status.offline_label.text() == "Online", timeout=10000)  # the hub answered
    assert window.settings.engine_settings().offline is False
    manager.close()


def test_list_models_without_qt_sees_cache_and_folders(client, hub_with_tiny_model, tiny_model):
    listing = list_models(client.store, [tiny_model, "/does/not/exist"])
    by_id = {e.model_id: e for e in listing.entries}
    assert by_id[REPO_ID].downloaded and by_id[REPO_ID].source == "cached"
    assert by_id[tiny_model].source == "local" and by_id[tiny_model].downloaded
    assert not by_id["/does/not/exist"].downloaded
    assert listing.default_model  # the catalog's choice when nothing is set


def test_the_bundled_starters_are_listed_first_the_default_on_top_and_cannot_be_deleted(manager):
    from engine.models.catalog import STARTER2_MODEL_DIR, STARTER2_MODEL_ID, STARTER_MODEL_DIR, STARTER_MODEL_ID

    ids = [manager.table.item(row, 0).data(Qt.ItemDataRole.UserRole) for row in range(2)]
    assert ids == [STARTER2_MODEL_ID, STARTER_MODEL_ID]  # starter model 2, the offline default, on top
    rows = table_rows(manager)
    assert "Starter model 2 (instruments, drums, effects; preview)" in rows[STARTER2_MODEL_ID][0]
    assert "Starter model (synthetic sounds only)" in rows[STARTER_MODEL_ID][0]
    for row, folder in enumerate((STARTER2_MODEL_DIR, STARTER_MODEL_DIR)):
        assert "Shipped with the app" in rows[ids[row]]
        manager.table.selectRow(row)
        assert not manager.delete_button.isEnabled()
        manager.delete(manager.selected_entry())  # even when asked directly, nothing is deleted
        assert (folder / "model_index.json").is_file()
