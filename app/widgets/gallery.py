"""The Pictures dock (issue 16): the pictures made from clips, the selected one large with its
recipe, and what a user does with them.

    gallery = install_gallery(window)     # MainWindow does this; window.gallery is it

* Thumbnails of the selected clips' pictures (all pictures when no clip is selected, or with
  "All pictures" ticked); a picture whose clip was deleted says so and stays.
* The selected picture large, with its recipe (model, seed, steps, guidance, prompt and tags).
* **Regenerate** makes the picture again from its recipe and the clip audio the project kept, on
  the engine worker; the new picture joins the gallery and the status bar says whether it is
  identical to the original, pixel for pixel.
* **Save PNG…** writes the picture with its recipe in a PNG text chunk (``specdiff-cli
  regenerate`` remakes it); dragging a thumbnail out drops such a PNG file (file managers,
  image editors, DAWs).
* **Delete** (or the Delete key) removes the selected pictures; every add and delete is one undo
  step of the window's History.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QItemSelectionModel, QMimeData, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDrag, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDockWidget,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.model.persistence import picture_png
from app.model.pictures import Picture, RemovePictures, pictures_of
from app.widgets.dock_action import dock_view_action
from app.widgets.greyed import enable_or_say_why
from app.widgets.qt_edit_panel import show_fraction
from app.widgets.qt_inspector import wrappable

log = logging.getLogger(__name__)

THUMBNAIL_PX = 80
PREVIEW_PX = 256
STATUS_MS = 8000
_ID_ROLE = Qt.ItemDataRole.UserRole
_DELETE_KEYS = (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)


def qimage(image: Any) -> QImage:
    """A PIL image as a QImage (RGB, its own copy of the pixels)."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    data = rgb.tobytes()
    return QImage(data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def picture_drag_mime(picture: Picture) -> QMimeData:
    """Mime data for dragging ``picture`` out: a PNG file with its recipe in a temporary folder,
    as a file URL, and the image itself for applications that take pixels."""
    from app.io_actions import PICTURE_MIME_TYPE, drag_file_path

    path = drag_file_path(picture.name, ".png")
    path.write_bytes(picture_png(picture.image, picture.recipe))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    mime.setData(PICTURE_MIME_TYPE, picture.id.encode())
    mime.setImageData(qimage(picture.image))
    return mime


class PictureList(QListWidget):
    """The thumbnails; dragging one out carries it as a PNG file (``drag_out_failed`` says why not)."""

    drag_out_failed = Signal(str)
    dragged_out = Signal(str, str)  # picture id, the PNG file's path

    def __init__(self, gallery: QtGallery) -> None:
        super().__init__()
        self.gallery = gallery
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(THUMBNAIL_PX, THUMBNAIL_PX))
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setMovement(QListWidget.Movement.Static)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setWordWrap(True)
        self.setUniformItemSizes(True)
        self.setGridSize(QSize(THUMBNAIL_PX + 24, THUMBNAIL_PX + 34))

    def event(self, event: QEvent) -> bool:
        # Delete and Backspace delete pictures here, not the timeline's selected clips (whose
        # Delete action answers the whole window): claim them before shortcuts are looked up.
        if event.type() == QEvent.Type.ShortcutOverride and event.key() in _DELETE_KEYS:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        if event.key() in _DELETE_KEYS:
            self.gallery.delete_selected()
            event.accept()
            return
        super().keyPressEvent(event)

    def drag_mime(self) -> QMimeData | None:
        """The mime data of the current picture (None when there is none or the file could not be written)."""
        picture = self.gallery.current_picture()
        if picture is None:
            return None
        try:
            return picture_drag_mime(picture)
        except Exception as exc:  # noqa: BLE001 - disk full, permissions: say so, lose nothing
            log.warning("could not write %s for dragging: %s", picture.name, exc)
            self.drag_out_failed.emit(f"Could not drag {picture.name} out: {exc}")
            return None

    def startDrag(self, supported: Qt.DropAction) -> None:  # noqa: N802 - Qt API
        mime = self.drag_mime()
        if mime is None:
            return
        picture = self.gallery.current_picture()
        drag = QDrag(self)
        drag.setMimeData(mime)
        drag.setPixmap(QPixmap.fromImage(mime.imageData()).scaled(
            THUMBNAIL_PX, THUMBNAIL_PX, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))
        self.dragged_out.emit(picture.id, mime.urls()[0].toLocalFile())
        drag.exec(Qt.DropAction.CopyAction)


class QtGallery(QWidget):
    """The Pictures dock's widget over the window's project, undo stack and engine client.

    Signals: ``message(str)`` (for the status bar), ``regenerated(new picture id, identical)``,
    ``regenerate_failed(str)``, ``saved(str path)``.
    """

    message = Signal(str)
    regenerated = Signal(str, bool)
    regenerate_failed = Signal(str)
    saved = Signal(str)

    def __init__(self, project: Any, undo_stack: Any, client: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.undo_stack = undo_stack
        self.client = client
        self._regenerating: dict[str, Any] = {}  # original picture id -> job handle (or None while preparing)

        self.title = QLabel()
        self.title.setWordWrap(True)
        # A clip name without spaces ("a_long_recording_name.wav") held the dock, and so the
        # window, wide: it wraps at its separators and never sets the dock's width.
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.show_all = QCheckBox("All pictures", toolTip="Show every picture, not only the selected clip's")
        self.show_all.toggled.connect(lambda *_: self.refresh())
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.show_all)

        self.list = PictureList(self)
        self.list.setMinimumHeight(THUMBNAIL_PX // 2)  # small minimums: the dock shares a column
        self.list.currentItemChanged.connect(lambda *_: self._show_current())
        self.list.itemDoubleClicked.connect(lambda *_: self.select_clip())
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.itemSelectionChanged.connect(self._update_buttons)

        self.preview = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(48, 48)
        self.preview.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.recipe_view = QPlainTextEdit(readOnly=True)
        self.recipe_view.setMinimumHeight(40)
        self.recipe_view.setMaximumHeight(130)
        self.recipe_view.setPlaceholderText("Make pictures with Generate > Picture from Audio.")

        self.regenerate_button = QPushButton("Regenerate", toolTip="Make the picture again from its recipe "
                                             "(bit-identical on the same device) and add it")
        self.save_button = QPushButton("Save PNG…", toolTip="Save the picture as a PNG that carries its recipe")
        self.delete_button = QPushButton("Delete", toolTip="Delete the selected pictures (undo brings them back)")
        self.regenerate_button.clicked.connect(lambda: self.regenerate())
        self.save_button.clicked.connect(self.save_dialog)
        self.delete_button.clicked.connect(lambda: self.delete_selected())
        buttons = QGridLayout()  # two rows: the dock shares a narrow column with the Inspector
        buttons.addWidget(self.regenerate_button, 0, 0)
        buttons.addWidget(self.save_button, 0, 1)
        buttons.addWidget(self.delete_button, 1, 0)

        self.progress = QProgressBar(textVisible=False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_regenerate)
        running = QHBoxLayout()
        running.addWidget(self.progress, 1)
        running.addWidget(self.cancel_button)
        self.status = QLabel()
        self.status.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.preview, 2)
        layout.addWidget(self.recipe_view)
        layout.addLayout(buttons)
        layout.addLayout(running)
        layout.addWidget(self.status)

        self._shown_for: frozenset[str] | None = None
        events = project.events
        for event in (events.picture_added, events.picture_removed, events.project_reset):
            event.connect(self._on_project_changed)
        events.clip_added.connect(lambda _track, clip: self._on_clip_event(clip))
        events.clip_removed.connect(lambda _track, clip: self._on_clip_event(clip))
        events.clip_changed.connect(self._on_clip_event)
        events.selection_changed.connect(self._on_selection_changed)
        self._set_running(False)
        self.refresh()

    # -- what is shown ----------------------------------------------------------------------------

    def shown_pictures(self) -> list[Picture]:
        """The pictures the list shows: the selected clips', or all of them."""
        selected = self.project.selection.clip_ids
        if self.show_all.isChecked() or not selected:
            return list(self.project.pictures)
        return pictures_of(self.project, selected)

    def _clip_name(self, clip_id: str | None) -> str | None:
        if clip_id is None or not self.project.has_clip(clip_id):
            return None
        return self.project.find_clip(clip_id)[1].name

    def refresh(self) -> None:
        """Rebuild the thumbnails from the project, keeping the selection where it can."""
        selected = {item.data(_ID_ROLE) for item in self.list.selectedItems()}
        current = self.list.currentItem().data(_ID_ROLE) if self.list.currentItem() is not None else None
        pictures = self.shown_pictures()
        clip_ids = self._shown_for = self.project.selection.clip_ids
        if self.show_all.isChecked() or not clip_ids:
            self.title.setText(f"All pictures ({len(pictures)})")
        else:
            names = [c.name for c in self.project.selected_clips()]
            label = repr(names[0]) if len(names) == 1 else f"{len(names)} clips"
            self.title.setText(wrappable(f"Pictures of {label} ({len(pictures)})"))
        self.list.blockSignals(True)
        try:
            self.list.clear()
            for picture in pictures:
                item = QListWidgetItem(QIcon(QPixmap.fromImage(qimage(picture.image))), self._label(picture))
                item.setData(_ID_ROLE, picture.id)
                clip = self._clip_name(picture.clip_id)
                item.setToolTip(f"{picture.name}\n" + (f"From clip {clip!r}" if clip else "Its clip was deleted"))
                self.list.addItem(item)
                if picture.id in selected:
                    item.setSelected(True)
                if picture.id == current:
                    self.list.setCurrentItem(item, QItemSelectionModel.SelectionFlag.NoUpdate)
        finally:
            self.list.blockSignals(False)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(self.list.count() - 1)
        self._show_current()

    def _label(self, picture: Picture) -> str:
        seed = picture.recipe.seed if picture.recipe is not None else None
        text = f"seed {seed}" if seed is not None else picture.name[:20]
        return text if self._clip_name(picture.clip_id) is not None or picture.clip_id is None else f"{text} (clip deleted)"

    def _on_project_changed(self, *_: Any) -> None:
        self.refresh()

    def _on_clip_event(self, clip: Any) -> None:
        # A clip with pictures came, went or was renamed (moving clips costs the gallery nothing).
        if any(p.clip_id == clip.id for p in self.project.pictures):
            self.refresh()

    def _on_selection_changed(self, selection: Any) -> None:
        if selection.clip_ids != self._shown_for:
            self.refresh()

    def current_picture(self) -> Picture | None:
        item = self.list.currentItem()
        if item is None:
            return None
        try:
            return self.project.picture(item.data(_ID_ROLE))
        except KeyError:
            return None

    def selected_ids(self) -> list[str]:
        return [item.data(_ID_ROLE) for item in self.list.selectedItems()]

    def select(self, picture_id: str) -> bool:
        """Make ``picture_id`` the current picture (showing all pictures if it is not shown)."""
        for _ in range(2):
            for row in range(self.list.count()):
                if self.list.item(row).data(_ID_ROLE) == picture_id:
                    self.list.setCurrentRow(row)
                    return True
            if self.show_all.isChecked():
                return False
            self.show_all.setChecked(True)
        return False

    def reveal(self, picture_ids: list[str]) -> None:
        """Show newly made pictures: the dock raised, the first one current."""
        dock = self.parentWidget()
        if isinstance(dock, QDockWidget):
            dock.show()
            dock.raise_()
        if picture_ids:
            self.select(picture_ids[0])

    def _show_current(self) -> None:
        picture = self.current_picture()
        if picture is None:
            self.preview.clear()
            self.preview.setText("No picture")
            self.recipe_view.setPlainText("")
        else:
            self._show_preview(picture)
            clip = self._clip_name(picture.clip_id)
            origin = f"From clip {clip!r}" if clip else "Its clip was deleted from the project"
            self.recipe_view.setPlainText(f"{picture.name}\n{origin}\n{picture.summary()}")
        self._update_buttons()

    def _show_preview(self, picture: Picture) -> None:
        side = max(64, min(self.preview.width(), self.preview.height(), 1024))
        pixmap = QPixmap.fromImage(qimage(picture.image))
        # Small pictures (the starter's 64 px diagrams) grow as crisp pixels, large ones smoothly.
        small = max(picture.image.size) <= 128
        mode = Qt.TransformationMode.FastTransformation if small else Qt.TransformationMode.SmoothTransformation
        self.preview.setPixmap(pixmap.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, mode))

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        picture = self.current_picture()
        if picture is not None:
            self._show_preview(picture)

    def _update_buttons(self) -> None:
        picture = self.current_picture()
        none = "Select a picture in the list first"
        enable_or_say_why(self.save_button, None if picture is not None else none)
        enable_or_say_why(self.delete_button, None if self.list.selectedItems() or picture is not None else none)
        if picture is None:
            why_not = none
        elif picture.recipe is None:
            why_not = "This picture's recipe could not be read, so it cannot be made again"
        elif picture.id in self._regenerating:
            why_not = "Being made again: see the Jobs dock"
        else:
            why_not = None
        enable_or_say_why(self.regenerate_button, why_not)

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.message.emit(text)

    def select_clip(self, picture_id: str | None = None) -> bool:
        """Select the clip a picture came from on the timeline (double-click a thumbnail); False
        (and a message) when that clip is gone."""
        picture = self.current_picture() if picture_id is None else self.project.picture(picture_id)
        if picture is None:
            return False
        if picture.clip_id is None or not self.project.has_clip(picture.clip_id):
            self._say(f"The clip {picture.name!r} was made from is not in the project.")
            return False
        from app.model.project import Selection

        track, clip = self.project.find_clip(picture.clip_id)
        self.project.set_selection(Selection(clip_ids=frozenset({clip.id}), track_id=track.id))
        self.select(picture.id)
        return True

    def _context_menu(self, point: Any) -> None:
        from PySide6.QtWidgets import QMenu

        if self.current_picture() is None:
            return
        menu = QMenu(self)
        for text, slot, enabled in (
            ("Regenerate", self.regenerate, self.regenerate_button.isEnabled()),
            ("Save PNG…", self.save_dialog, True),
            ("Select Its Clip", self.select_clip, True),
            ("Delete", self.delete_selected, True),
        ):
            action = menu.addAction(text)
            action.setEnabled(enabled)
            action.triggered.connect(lambda *_, slot=slot: slot())
        menu.popup(self.list.viewport().mapToGlobal(point))
        self.context_menu = menu

    # -- delete, save ------------------------------------------------------------------------------

    def delete_selected(self) -> int:
        """Delete the selected pictures (or the current one) in one undo step; returns how many."""
        ids = self.selected_ids() or ([p.id] if (p := self.current_picture()) is not None else [])
        if not ids:
            return 0
        self.undo_stack.push_command(RemovePictures(self.project, ids))
        self._say(f"Deleted {len(ids)} picture{'s' if len(ids) > 1 else ''} (Edit > Undo brings them back).")
        return len(ids)

    def save_dialog(self) -> None:
        """Save PNG…: the current picture to a file, or several selected ones into a folder."""
        from app.io_actions import safe_file_name

        ids = self.selected_ids()
        if len(ids) > 1:
            folder = QFileDialog.getExistingDirectory(self, f"Save {len(ids)} Pictures Into", str(Path.home()))
            if folder:
                self.save_many(ids, folder)
            return
        picture = self.current_picture()
        if picture is None:
            return
        start = str(Path.home() / f"{safe_file_name(picture.name)}.png")
        path, _ = QFileDialog.getSaveFileName(self, "Save Picture", start, "PNG images (*.png)")
        if path:
            self.save(picture.id, path if path.lower().endswith(".png") else path + ".png")

    def save(self, picture_id: str, path: str | Path) -> None:
        """Write the picture as a PNG carrying its recipe, off the GUI thread; ``saved(path)`` or
        a message follows."""
        self._write([(self.project.picture(picture_id), Path(path))], str(path))

    def save_many(self, picture_ids: list[str], folder: str | Path) -> None:
        """Write pictures into ``folder`` as PNGs carrying their recipes, named after the pictures
        (never over an existing file), off the GUI thread; ``saved(folder)`` or a message follows."""
        self._write([(self.project.picture(i), None) for i in picture_ids], str(folder))

    def _write(self, items: list[tuple[Picture, Path | None]], where: str) -> None:
        def work() -> list[str]:
            from app.io_actions import safe_file_name
            from engine.audio.io import atomic_output_path

            written = []
            for picture, path in items:
                if path is None:  # into the folder, under a name no file has yet
                    stem, n = safe_file_name(picture.name), 1
                    path = Path(where) / f"{stem}.png"
                    while path.exists():
                        n += 1
                        path = Path(where) / f"{stem} {n}.png"
                data = picture_png(picture.image, picture.recipe)
                with atomic_output_path(path) as tmp:  # a failed write never leaves half a file
                    tmp.write_bytes(data)
                written.append(str(path))
            return written

        def done(written: list[str]) -> None:
            self._say(f"Saved {written[0]}." if len(written) == 1 else f"Saved {len(written)} pictures in {where}.")
            self.saved.emit(where)

        self.client.run_in_thread("save-picture", work, done, lambda exc: self._say(f"Could not save: {exc}"))

    # -- regenerate --------------------------------------------------------------------------------

    def regenerate(self, picture_id: str | None = None) -> bool:
        """Make a picture again from its recipe on the engine worker; False (and a message) when it
        cannot start. The new picture is added as one undo step; ``regenerated`` says whether it
        is identical to the original."""
        picture = self.current_picture() if picture_id is None else self.project.picture(picture_id)
        if picture is None:
            return False
        if picture.recipe is None:
            return self._cannot("this picture has no recipe.")
        inputs = self.project.inputs_for(picture.recipe)
        if inputs is None:
            return self._cannot("the clip audio it was made from is not kept in the project.")
        if picture.id in self._regenerating:
            return self._cannot("it is being regenerated already.")
        recipe = picture.recipe

        def build() -> Any:
            from engine.api import spec_from_recipe

            return spec_from_recipe(recipe, inputs)

        self._regenerating[picture.id] = None
        self._set_running(True)
        self._say(f"Regenerating {picture.name}…")
        self.client.run_in_thread("prepare-regenerate-picture", build, lambda spec: self._submit(picture, spec),
                                  lambda exc: self._regenerate_failed(picture, str(exc) or type(exc).__name__))
        return True

    def _cannot(self, reason: str) -> bool:
        text = f"Cannot regenerate: {reason}"
        self._say(text)
        self.regenerate_failed.emit(text)
        return False

    def _submit(self, picture: Picture, spec: Any) -> None:
        if picture.id not in self._regenerating:  # cancelled while the spec was built
            self._finish(picture, "Regenerate cancelled; nothing changed.")
            return
        try:
            handle = self.client.submit(spec)
        except (RuntimeError, ValueError) as exc:
            self._regenerate_failed(picture, str(exc))
            return
        self._regenerating[picture.id] = handle
        handle.progressed.connect(lambda p: show_fraction(self.progress, p.fraction if p.stage == "denoise" else None))
        handle.finished.connect(lambda results: self._regenerate_landed(picture, results))
        handle.failed.connect(lambda message, _kind: self._regenerate_failed(picture, message))
        handle.cancelled.connect(lambda: self._finish(picture, "Regenerate cancelled; nothing changed."))

    def _regenerate_landed(self, picture: Picture, results: Any) -> None:
        import numpy as np

        from app.model.pictures import AddPictures

        self._finish(picture, "")
        images = [image for result in results or () for image in (getattr(result, "pictures", None) or ())]
        if not images:
            self._regenerate_failed(picture, "the engine returned no picture.")
            return
        image = images[0].convert("RGB")
        identical = image.size == picture.image.size and np.array_equal(np.asarray(image),
                                                                        np.asarray(picture.image.convert("RGB")))
        again = Picture(name=f"{picture.name} (again)"[:200], clip_id=picture.clip_id, image=image,
                        recipe=results[0].recipe)
        self.undo_stack.push_command(AddPictures(self.project, [again], text=f"Regenerate {picture.name}"))
        self.select(again.id)
        if identical:
            self._say("Regenerated: identical to the original, pixel for pixel.")
        else:
            diff = np.abs(np.asarray(image, np.int16) - np.asarray(picture.image.convert("RGB"), np.int16)) \
                if image.size == picture.image.size else None
            worst = f" (largest difference {int(diff.max())} of 255)" if diff is not None else ""
            self._say(f"Regenerated, but it differs from the original{worst}: another device or version?")
        self.regenerated.emit(again.id, identical)

    def _regenerate_failed(self, picture: Picture, message: str) -> None:
        self._finish(picture, "")
        self._cannot(message)

    def _finish(self, picture: Picture, text: str) -> None:
        self._regenerating.pop(picture.id, None)
        self._set_running(bool(self._regenerating))
        if text:
            self._say(text)
        self._update_buttons()

    def cancel_regenerate(self) -> None:
        """Cancel every regeneration (the gallery stays as it is)."""
        for picture_id, handle in list(self._regenerating.items()):
            if handle is None:
                self._regenerating.pop(picture_id)  # still preparing: _submit sees it gone
            else:
                handle.cancel()
        self._set_running(bool(self._regenerating))

    def _set_running(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        if running:
            self.progress.setRange(0, 0)


def install_gallery(window: Any) -> QtGallery:
    """Add the Pictures dock to ``window`` (a MainWindow): ``window.gallery`` and
    ``window.gallery_dock``; its messages go to the status bar, its toggle to the View menu, and
    the Picture tab's model list follows the models the store has."""
    existing = getattr(window, "gallery", None)
    if isinstance(existing, QtGallery):
        return existing
    gallery = QtGallery(window.project, window.undo_stack, window.client)
    dock = QDockWidget("Pictures", window)
    dock.setObjectName("picturesDock")
    dock.setWidget(gallery)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    inspector = getattr(window, "inspector_dock", None)
    if inspector is not None:
        window.tabifyDockWidget(inspector, dock)
        inspector.raise_()
    window.gallery, window.gallery_dock = gallery, dock
    show = getattr(window, "show_message", None)
    if callable(show):
        gallery.message.connect(lambda text: show(text, STATUS_MS))
        gallery.list.drag_out_failed.connect(lambda text: show(text, STATUS_MS))
    for action in window.menuBar().actions():
        if action.menu() is not None and action.text().replace("&", "") == "View":
            action.menu().addAction(dock_view_action(dock))
            break
    tools = getattr(window, "edit_tools", None)
    form = tools.edit_panel.forms.get("illustrate") if tools is not None else None
    if form is not None and hasattr(form, "set_models"):
        window.client.models_listed.connect(form.set_models)
        if getattr(window, "model_listing", None) is not None:
            form.set_models(window.model_listing)
    return gallery
