"""Pictures from audio in the app (issue 16 part 4), as a user does it: Generate > Picture from
Audio on a clip with the offline starter picture model (3 steps, to stay fast), the Pictures dock
shows them with their recipes, undo and redo take them away and bring them back, Regenerate
remakes the same pixels, Save PNG and dragging out give a PNG that carries the recipe, cancel
and bad input leave the project as it was with a one-line message in the status bar."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt, QUrl
from test_edit_tools import run_and_wait

from app.edit_tools import install_edit_tools
from app.model.commands import AddClip, RemoveClip
from app.model.pictures import AddPictures, Picture, RemovePictures
from app.model.project import Clip, Project, Selection, Track
from engine.pictures.png import read_png_recipe

RATE = 22050


def tone(hz: float, seconds: float = 1.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)[None, :]


def add_clip(window, audio: np.ndarray, name: str, start_s: float = 0.0, select: bool = True) -> Clip:
    clip = Clip(audio=audio, sample_rate_hz=RATE, name=name, start_s=start_s)
    track = window.project.tracks[0].id
    window.undo_stack.push_command(AddClip(window.project, track, clip))
    if select:
        window.project.set_selection(Selection(clip_ids=frozenset({clip.id}), track_id=track))
    return clip


@pytest.fixture
def pictures_window(window, tmp_path):
    tools = install_edit_tools(window, autosave_dir=tmp_path / "autosave", check_recovery=False)
    form = tools.edit_panel.forms["illustrate"]
    form.steps.setValue(3)
    form.variations.setValue(2)
    form.seed.setText("7")
    yield window, tools
    tools.shutdown()


def pixels(picture_or_image) -> np.ndarray:
    image = picture_or_image.image if isinstance(picture_or_image, Picture) else picture_or_image
    return np.asarray(image.convert("RGB"))


def test_picture_from_audio_fills_the_gallery_with_undo_regenerate_save_and_drag_out(qtbot, pictures_window, tmp_path):
    window, tools = pictures_window
    project, gallery = window.project, window.gallery
    generate_menu = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "Generate")
    assert tools.actions["illustrate"] in generate_menu.actions()
    clip = add_clip(window, tone(440), "tone")
    original_audio = clip.audio
    # The Prompt panel's sound model is not the picture model: no caution about it (Riffusion
    # "is not made for pictures from audio", but it does not draw them here).
    window.prompt_panel.set_model("riffusion/riffusion-model-v1")

    run_and_wait(qtbot, tools, lambda: tools.actions["illustrate"].trigger())
    assert getattr(window, "caution_box", None) is None
    assert len(project.pictures) == 2
    first, second = project.pictures
    assert {p.clip_id for p in project.pictures} == {clip.id} and clip.audio is original_audio
    assert [p.recipe.seed for p in project.pictures] == [7, 8]
    assert first.recipe.task == "illustrate" and first.recipe.model_id == "builtin:pictures"
    assert first.image.size == (64, 64) and not np.array_equal(pixels(first), pixels(second))
    assert pixels(first).std() > 1.0  # a picture, not a flat colour
    # The dock shows them, the current one large with its recipe.
    assert gallery.list.count() == 2 and gallery.current_picture() is first
    assert "Seed: 7" in gallery.recipe_view.toPlainText() and "builtin:pictures" in gallery.recipe_view.toPlainText()
    assert not gallery.preview.pixmap().isNull()

    # One undo step takes both away, redo brings the same pictures back.
    window.undo_stack.undo()
    assert project.pictures == [] and gallery.list.count() == 0
    window.undo_stack.redo()
    assert project.pictures == [first, second] and gallery.list.count() == 2

    # Regenerate: the same pixels, added as a new picture (one more undo step).
    gallery.select(first.id)
    with qtbot.waitSignal(gallery.regenerated, timeout=120000) as blocker:
        assert gallery.regenerate()
    again_id, identical = blocker.args
    again = project.picture(again_id)
    assert identical and again is not first and again.clip_id == clip.id
    np.testing.assert_array_equal(pixels(again), pixels(first))
    assert "identical" in window.statusBar().currentMessage()
    window.undo_stack.undo()
    assert len(project.pictures) == 2

    # Save PNG: the file carries the recipe and the exact pixels.
    path = tmp_path / "out.png"
    with qtbot.waitSignal(gallery.saved, timeout=30000):
        gallery.save(first.id, path)
    assert read_png_recipe(path).to_dict() == first.recipe.to_dict()
    np.testing.assert_array_equal(np.asarray(Image.open(path).convert("RGB")), pixels(first))

    # Several selected pictures go into a folder, each under its own name with its recipe.
    from app.io_actions import safe_file_name

    folder = tmp_path / "all"
    folder.mkdir()
    one, two = safe_file_name(first.name), safe_file_name(second.name)
    (folder / f"{one}.png").write_bytes(b"not mine")  # an existing file is never overwritten
    with qtbot.waitSignal(gallery.saved, timeout=30000):
        gallery.save_many([first.id, second.id], folder)
    assert (folder / f"{one}.png").read_bytes() == b"not mine"
    assert read_png_recipe(folder / f"{one} 2.png").seed == 7
    assert read_png_recipe(folder / f"{two}.png").seed == 8

    # Dragging a thumbnail out: a PNG file URL with the recipe, and the image itself.
    gallery.select(second.id)
    mime = gallery.list.drag_mime()
    (url,) = mime.urls()
    dragged = QUrl(url).toLocalFile()
    assert dragged.endswith(".png") and read_png_recipe(dragged).seed == 8
    np.testing.assert_array_equal(np.asarray(Image.open(dragged).convert("RGB")), pixels(second))
    assert not mime.imageData().isNull()
    from app.io_actions import dropped_paths

    assert dropped_paths(mime) == []  # dropped back on the window, our own drag adds nothing

    # Importing a saved picture PNG (File > Import, or a drop) adds it to the Pictures dock, not
    # the timeline; its recipe still regenerates it.
    clips_before = len(project.clips())
    with qtbot.waitSignal(window.import_finished, timeout=60000):
        window.import_files([str(path)])
    imported = project.pictures[-1]
    assert len(project.pictures) == 3 and len(project.clips()) == clips_before
    assert imported.clip_id is None and imported.recipe.to_dict() == first.recipe.to_dict()
    np.testing.assert_array_equal(pixels(imported), pixels(first))
    window.undo_stack.undo()
    assert len(project.pictures) == 2

    # Delete: one undo step; the Delete key in the dock deletes pictures, not the selected clip.
    gallery.select(second.id)
    gallery.list.clearSelection()
    assert gallery.delete_selected() == 1
    assert project.pictures == [first]
    window.undo_stack.undo()
    assert project.pictures == [first, second]
    gallery.select(first.id)
    gallery.list.setFocus()
    qtbot.keyClick(gallery.list, Qt.Key.Key_Delete)
    assert project.pictures == [second] and project.has_clip(clip.id)
    window.undo_stack.undo()
    assert project.pictures == [first, second]


def test_a_time_selection_is_drawn_and_pictures_follow_their_clip(qtbot, pictures_window):
    window, tools = pictures_window
    project, gallery = window.project, window.gallery
    tools.edit_panel.forms["illustrate"].variations.setValue(1)
    quiet_then_loud = np.concatenate([tone(220, 1.0, 0.001), tone(880, 1.0, 0.5)], axis=1)
    clip = add_clip(window, quiet_then_loud, "two halves")
    other = add_clip(window, tone(330), "other", start_s=5.0, select=False)
    track = project.tracks[0].id

    # Only the selected range is heard: the recipe's input is 1 s of audio, not the 2 s clip.
    project.set_selection(Selection(start_s=1.0, end_s=2.0, clip_ids=frozenset({clip.id}), track_id=track))
    run_and_wait(qtbot, tools, lambda: tools.run_edit("illustrate"))
    (picture,) = project.pictures
    assert picture.recipe.inputs["audio"]["shape"] == [1, RATE] and picture.clip_id == clip.id

    # Selecting another clip shows its (no) pictures; selecting the clip again shows them.
    project.set_selection(Selection(clip_ids=frozenset({other.id}), track_id=track))
    assert gallery.list.count() == 0 and "'other'" in gallery.title.text()
    project.set_selection(Selection(clip_ids=frozenset({clip.id}), track_id=track))
    assert gallery.list.count() == 1

    # Deleting the clip keeps its picture (it says its clip is gone); undo attaches it again.
    window.undo_stack.push_command(RemoveClip(project, clip.id))
    assert project.pictures == [picture] and gallery.list.count() == 1
    assert "clip deleted" in gallery.list.item(0).text()
    window.undo_stack.undo()
    assert "clip deleted" not in gallery.list.item(0).text()

    # Double-clicking a picture selects the clip it came from.
    project.set_selection(Selection(clip_ids=frozenset({other.id}), track_id=track))
    gallery.show_all.setChecked(True)
    gallery.select(picture.id)
    assert gallery.select_clip()
    assert project.selection.clip_ids == {clip.id}

    # A regenerate from the stored range gives the same pixels.
    with qtbot.waitSignal(gallery.regenerated, timeout=120000) as blocker:
        gallery.regenerate(picture.id)
    assert blocker.args[1] is True


def test_cancel_stops_the_job_and_changes_nothing(qtbot, pictures_window):
    window, tools = pictures_window
    form = tools.edit_panel.forms["illustrate"]
    form.steps.setValue(500)
    form.variations.setValue(4)
    add_clip(window, tone(440), "tone")
    steps = []
    with qtbot.waitSignal(tools.edit_submitted, timeout=60000) as submitted:
        assert tools.run_edit("illustrate")
    handle = window.client.handle(submitted.args[0])
    handle.progressed.connect(lambda p: steps.append(p.step) if p.stage == "denoise" else None)
    qtbot.waitUntil(lambda: len(steps) >= 2, timeout=120000)
    with qtbot.waitSignal(tools.edit_cancelled, timeout=60000):
        tools.edit_panel.cancel_button.click()
    assert window.project.pictures == [] and window.gallery.list.count() == 0
    assert max(steps) < 500
    assert "cancelled" in window.statusBar().currentMessage()
    assert window.undo_stack.command(window.undo_stack.index() - 1).text().startswith("Add clip")


def test_bad_input_says_so_in_the_status_bar_and_loses_nothing(qtbot, pictures_window):
    window, tools = pictures_window
    project = window.project
    clip = add_clip(window, np.zeros((1, RATE), np.float32), "silence")
    before = window.undo_stack.index()

    # A silent clip: the engine refuses it in one line.
    failures = []
    tools.edit_failed.connect(lambda kind, message: failures.append(message))
    assert tools.run_edit("illustrate")
    qtbot.waitUntil(lambda: bool(failures), timeout=120000)
    assert "silent" in failures[-1] and "silent" in window.statusBar().currentMessage()
    assert project.pictures == [] and window.undo_stack.index() == before

    # A selection too short to hear: refused before any job starts.
    loud = add_clip(window, tone(440), "tone", start_s=3.0)
    track = project.tracks[0].id
    project.set_selection(Selection(start_s=3.2, end_s=3.3, clip_ids=frozenset({loud.id}), track_id=track))
    assert not tools.run_edit("illustrate")
    message = window.statusBar().currentMessage()
    assert "0.10 s long" in message and "at least 0.25 s" in message
    assert project.pictures == [] and clip.audio.shape == (1, RATE)

    # A picture without a recipe cannot be regenerated, and says why.
    recipe = None
    picture = Picture(clip_id=loud.id, image=Image.new("RGB", (8, 8), "red"), recipe=recipe)
    window.undo_stack.push_command(AddPictures(project, [picture]))
    assert not window.gallery.regenerate(picture.id)
    assert "no recipe" in window.statusBar().currentMessage()


def test_zero_shot_pictures_from_an_image_model_with_the_users_words(qtbot, pictures_window):
    from assets.make_tiny_ast import TINY_AST_DIR
    from assets.make_tiny_sd import TINY_SD_DIR

    from app.engine_client import ModelEntry, ModelListing

    window, tools = pictures_window
    form = tools.edit_panel.forms["illustrate"]
    assert not form.prompt.isEnabled()  # words and style are for image models only
    # Downloaded image models that draw pictures are listed; others and missing ones are not.
    listing = ModelListing((
        ModelEntry("stable-diffusion-v1-5/stable-diffusion-v1-5", "SD 1.5", "catalog", True, tasks=("illustrate",)),
        ModelEntry("CompVis/stable-diffusion-v1-4", "SD 1.4", "catalog", False, tasks=("illustrate",)),
        ModelEntry("riffusion/riffusion-model-v1", "Riffusion", "catalog", True, tasks=("generate",)),
    ), "builtin:starter")
    window.client.models_listed.emit(listing)
    assert [form.model.itemData(i) for i in range(form.model.count())] == [
        "builtin:pictures", "stable-diffusion-v1-5/stable-diffusion-v1-5"]

    form.model.setEditText(str(TINY_SD_DIR))
    assert form.prompt.isEnabled()
    form.prompt.setText("a lighthouse")
    form.style.setText("oil painting")
    form.tagger.setText(str(TINY_AST_DIR))
    form.size.setValue(64)
    form.steps.setValue(2)
    form.variations.setValue(1)
    add_clip(window, tone(440, 2.0), "tone")
    run_and_wait(qtbot, tools, lambda: tools.run_edit("illustrate"))
    (picture,) = window.project.pictures
    facts = picture.recipe.facts
    assert facts["path"] == "zero-shot" and picture.image.size == (64, 64)
    assert facts["prompt"].startswith("a lighthouse") and facts["prompt"].endswith("oil painting")
    assert "Tags: " in window.gallery.recipe_view.toPlainText()
    assert "Prompt: a lighthouse" in window.gallery.recipe_view.toPlainText()
    with qtbot.waitSignal(window.gallery.regenerated, timeout=120000) as blocker:
        assert window.gallery.regenerate(picture.id)
    assert blocker.args[1] is True


def test_the_minimum_length_is_the_picture_models():
    from app.tasks.illustrate import MIN_PICTURE_S
    from engine.pictures.model import MIN_DURATION_S

    assert MIN_PICTURE_S == MIN_DURATION_S


# -- the document model (Qt-free) -----------------------------------------------------------------


def test_picture_commands_undo_in_place_and_check_their_input():
    project = Project(tracks=[Track(name="T")])
    added = []
    project.events.picture_added.connect(added.append)
    a, b, c = (Picture(name=n, clip_id="x", image=Image.new("RGB", (4, 4), n)) for n in ("red", "green", "blue"))
    AddPictures(project, [a, b, c]).redo()
    assert project.pictures == [a, b, c] and added == [a, b, c]
    remove = RemovePictures(project, [b.id, a.id])
    remove.redo()
    assert project.pictures == [c]
    remove.undo()
    assert project.pictures == [a, b, c]
    with pytest.raises(KeyError):
        RemovePictures(project, ["nope"])
    with pytest.raises(ValueError, match="already in the project"):
        AddPictures(project, [a])
    with pytest.raises(ValueError, match="PIL image"):
        Picture(image=np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="pixels"):
        Picture(image=Image.new("RGB", (5000, 5000)))


# -- pictures in the project file ---------------------------------------------------------------


def test_pictures_survive_save_and_reopen_attached_to_their_clip_and_still_regenerate(qtbot, pictures_window, tmp_path):
    window, tools = pictures_window
    clip = add_clip(window, tone(660), "bell")
    run_and_wait(qtbot, tools, lambda: tools.run_edit("illustrate"))
    made = [(p.id, p.name, p.recipe.to_dict(), pixels(p)) for p in window.project.pictures]
    path = str(tmp_path / "pictures.sdproj")
    with qtbot.waitSignal(window.project_saved, timeout=60000):
        window._save_to(path)

    window.new_project()
    assert window.project.pictures == [] and window.gallery.list.count() == 0
    with qtbot.waitSignal(window.project_loaded, timeout=60000):
        window.open_project(path)
    project = window.project
    assert [(p.id, p.name, p.recipe.to_dict()) for p in project.pictures] == [m[:3] for m in made]
    for picture, (*_, original) in zip(project.pictures, made):
        np.testing.assert_array_equal(pixels(picture), original)
        assert picture.clip_id == clip.id and project.find_clip(clip.id)[1].name == "bell"
    window.project.set_selection(Selection(clip_ids=frozenset({clip.id}), track_id=project.tracks[0].id))
    assert window.gallery.list.count() == 2
    # The clip audio they came from was saved with them: Regenerate still gives the same pixels.
    with qtbot.waitSignal(window.gallery.regenerated, timeout=120000) as blocker:
        assert window.gallery.regenerate(project.pictures[1].id)
    assert blocker.args[1] is True


def _project_with_picture(tmp_path, size=(64, 64)):
    from app.model.persistence import ProjectSnapshot

    project = Project(tracks=[Track(name="T")])
    clip = Clip(audio=tone(440), sample_rate_hz=RATE, name="c")
    project.tracks[0].clips.append(clip)
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (*size[::-1], 3), dtype=np.uint8))
    project.add_picture(Picture(name="p", clip_id=clip.id, image=image))
    snapshot = ProjectSnapshot.capture(project)
    return project, snapshot, image


def test_project_files_check_their_pictures(tmp_path):
    import json
    import zipfile

    from app.model.persistence import FileLimits, ProjectFileError
    from app.model.project_files import load_project_file

    project, snapshot, image = _project_with_picture(tmp_path)
    path = tmp_path / "p.sdproj"
    snapshot.write(path)
    with zipfile.ZipFile(path) as zf:
        assert "pictures/0000.png" in zf.namelist()
    loaded = load_project_file(path)
    (picture,) = loaded.project.pictures
    np.testing.assert_array_equal(pixels(picture), np.asarray(image))
    assert picture.clip_id == project.clips()[0].id and loaded.warnings == []

    # A picture over the pixel cap is left out with a warning; the project still opens.
    loaded = load_project_file(path, FileLimits(picture_pixels=64 * 63))
    assert loaded.project.pictures == [] and "pixels" in loaded.warnings[0] and len(loaded.project.clips()) == 1

    def with_manifest(change) -> str:
        manifest = json.loads(json.dumps(snapshot.manifest))
        change(manifest)
        bad = tmp_path / "bad.sdproj"
        type(snapshot)(manifest, snapshot.arrays, snapshot.rates, snapshot.images, snapshot.pictures).write(bad)
        with pytest.raises(ProjectFileError) as error:
            load_project_file(bad)
        return str(error.value)

    assert "pictures[0].image must name a member under pictures/" in with_manifest(
        lambda m: m["pictures"][0].update(image="../../etc/passwd"))
    assert "pictures[0].image names" in with_manifest(lambda m: m["pictures"][0].update(image="pictures/9999.png"))
    assert "pictures[0].name must be a string" in with_manifest(lambda m: m["pictures"][0].update(name={"x": 1}))
    assert "pictures[1].id" in with_manifest(lambda m: m["pictures"].append(dict(m["pictures"][0])))
    assert "pictures[0].recipe" in with_manifest(lambda m: m["pictures"][0].update(recipe={"x": "y" * 300_000}))
    assert "pictures must be a list" in with_manifest(lambda m: m.update(pictures={"a": 1}))
    with pytest.raises(ProjectFileError, match="holds 2 entries; at most 1"):
        manifest = json.loads(json.dumps(snapshot.manifest))
        manifest["pictures"].append(dict(manifest["pictures"][0], id="other"))
        type(snapshot)(manifest, snapshot.arrays, snapshot.rates, snapshot.images, snapshot.pictures).write(path)
        load_project_file(path, FileLimits(pictures=1))


def test_a_local_sd_folder_the_store_lists_is_offered_used_with_its_tagger_and_preselected_for_training(
        qtbot, pictures_window):
    """A diffusers SD folder added in the Model Manager (its listing entry names no tasks) is one of
    the Picture tab's image models and the wizard's SD bases; the Tagger field is enabled only for
    it (the starter picture model hears the sound itself: greyed, saying why); Train a picture
    model… opened on it preselects it as the base, whose audio adapter settings then show."""
    from assets.make_tiny_sd import TINY_SD_DIR, TINY_SD_INPAINT_DIR

    window, tools = pictures_window
    form = tools.edit_panel.forms["illustrate"]
    assert not form.tagger.isEnabled() and "Greyed: a picture model hears the sound itself" in form.tagger.toolTip()
    for folder in (TINY_SD_DIR, TINY_SD_INPAINT_DIR):  # an inpainting pipeline draws no pictures from a prompt
        window.settings.add_local_model_folder(str(folder))
    with qtbot.waitSignal(window.client.models_listed, timeout=60000):
        window.refresh_models()  # as the Model Manager does after adding a folder
    listed = [form.model.itemData(i) for i in range(form.model.count())]
    assert str(TINY_SD_DIR) in listed and str(TINY_SD_INPAINT_DIR) not in listed
    assert form.model.itemText(listed.index(str(TINY_SD_DIR))) == "tiny-sd (zero-shot)"

    form.model.setCurrentIndex(listed.index(str(TINY_SD_DIR)))  # zero-shot: the clip's tags make the prompt
    assert form.tagger.isEnabled() and "Greyed" not in form.tagger.toolTip() and form.prompt.isEnabled()
    form.tagger.setText("my/tagger")
    assert form.params()["tagger"] == "my/tagger" and form.params()["model"] == str(TINY_SD_DIR)
    from test_ux_messages import _type_into

    window.activateWindow()
    _type_into(qtbot, form.size, "100")  # SD draws multiples of 8: used at the nearest, and said
    assert form.size.value() == 104 and form.params()["width"] == 104
    assert window.statusBar().currentMessage() == "Size: 100 px is not a multiple of 8; using 104 px"

    form.train.click()  # the wizard starts on the tab's SD model: an audio adapter for it
    wizard = form.wizard
    pairs = wizard.pairs_page
    assert pairs.model_id() == str(TINY_SD_DIR) and pairs.model_combo.currentText() == "tiny-sd (audio adapter)"
    assert pairs.is_adapter() and pairs.adapter_box.isVisible()
    wizard.hide()
    form.model.setCurrentIndex(0)  # the starter chosen in the tab since: the wizard follows it when opened again
    assert not form.tagger.isEnabled() and form.params()["tagger"] == ""
    form.train.click()
    assert form.wizard is wizard and pairs.model_id() == "builtin:pictures" and not pairs.adapter_box.isVisible()
