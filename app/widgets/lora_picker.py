"""The LoRA picker of the prompt panel: a view of ``GenerationSettings.loras``.

Each applied LoRA is a row (its name, a weight, a remove button); "Add LoRA" lists the library
(the user's LoRA folder and the hub cache, scanned off the GUI thread when the menu first opens)
and "From file…". Every generation and edit takes its LoRAs from the settings
(:meth:`GenerationSettings.edit_kwargs`), so they land in every job's spec and recipe. A LoRA
trained for another base model than the chosen one is marked and explained under the rows.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.model.generation import GenerationSettings
from app.widgets.spin_boxes import DoubleSpinBox
from engine.training.lora_library import (
    LoraEntry,
    LoraLibraryError,
    add_to_library,
    describe_lora,
    library_dir,
    scan_library,
)

__all__ = ["QtLoraPicker"]

#: Weights a LoRA row offers (the engine accepts -4..4).
WEIGHT_RANGE = (-4.0, 4.0)
WARNING_MARK = "\u26a0 "


class _Relay(QObject):
    """Carries a scan's result from its thread to the GUI thread (a queued signal)."""

    done = Signal(object)


class QtLoraPicker(QWidget):
    """Rows of applied LoRAs with weights, bound to ``settings.loras`` (and ``settings.model`` for
    the base-model warnings). ``entries`` is the last library scan; ``cache_dir`` the hub cache to
    scan (None: the standard one); ``folders`` the library folders (None: :func:`library_dir`).

    ``library_scanned(entries)`` after each scan.
    """

    library_scanned = Signal(object)

    def __init__(self, settings: GenerationSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.entries: list[LoraEntry] = []
        self.problems: list[tuple[str, str]] = []
        self.cache_dir: str | None = None
        self.folders: list[str] | None = None
        self._described: dict[str, LoraEntry | None] = {}
        self._scan: threading.Thread | None = None
        self._scanned = False
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_scan_done, Qt.ConnectionType.QueuedConnection)

        self.rows = QVBoxLayout()
        self.rows.setContentsMargins(0, 0, 0, 0)
        self.rows.setSpacing(2)
        self.add_button = QToolButton()
        self.add_button.setText("Add LoRA")
        self.add_button.setToolTip("Apply a LoRA from your library, the hub cache or a file")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu = QMenu(self.add_button)
        self.menu.aboutToShow.connect(self._on_menu_about_to_show)
        self.add_button.setMenu(self.menu)
        self.none_label = QLabel("None")
        self.none_label.setObjectName("hintLabel")
        self.warning_label = QLabel()
        self.warning_label.setObjectName("errorLabel")
        self.warning_label.setWordWrap(True)
        self.warning_label.hide()
        self.trigger_label = QLabel()
        self.trigger_label.setObjectName("hintLabel")
        self.trigger_label.setWordWrap(True)
        self.trigger_label.hide()
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.none_label, 1)
        head.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.rows)
        layout.addLayout(head)
        layout.addWidget(self.warning_label)
        layout.addWidget(self.trigger_label)
        self._row_widgets: list[QWidget] = []
        self._fill_menu()
        settings.events.changed.connect(self._on_settings_changed)
        self._show_rows()

    # -- the library -----------------------------------------------------------------------------

    def refresh(self) -> threading.Thread:
        """Scan the library folder and the hub cache on a ``specdiff-loras`` thread; the menu and
        :attr:`entries` update when it ends (``library_scanned``)."""
        if self._scan is not None and self._scan.is_alive():
            return self._scan
        folders = list(self.folders) if self.folders is not None else None
        cache_dir = self.cache_dir

        def work() -> None:
            try:
                result = scan_library(folders, cache_dir)
            except OSError as error:  # an unreadable cache folder: the library still works
                result = ([], [(str(cache_dir or ""), str(error))])
            self._relay.done.emit(result)

        self._scan = threading.Thread(target=work, name="specdiff-loras", daemon=True)
        self._scan.start()
        return self._scan

    def wait_for_scan(self, timeout_s: float = 10.0) -> None:
        if self._scan is not None:
            self._scan.join(timeout_s)

    def _on_scan_done(self, result: tuple[list[LoraEntry], list[tuple[str, str]]]) -> None:
        self.entries, self.problems = list(result[0]), list(result[1])
        self._scanned = True
        for entry in self.entries:
            self._described[entry.ref] = entry
        self._fill_menu()
        self._show_rows()
        self.library_scanned.emit(self.entries)

    def _on_menu_about_to_show(self) -> None:
        if not self._scanned:
            self.refresh()

    def _fill_menu(self) -> None:
        self.menu.clear()
        applied = {ref for ref, _w in self.settings.loras}
        if not self._scanned:
            self.menu.addAction("Looking for LoRAs…").setEnabled(False)
        elif not self.entries:
            self.menu.addAction("No LoRAs in your library yet (Tools > Train a LoRA…)").setEnabled(False)
        source = None
        for entry in self.entries:
            if entry.source != source and source is not None:
                self.menu.addSeparator()
            source = entry.source
            fits = entry.fits(self.settings.model)
            text = (WARNING_MARK if fits is False else "") + entry.name
            if entry.source == "hub":
                text += "  (hub cache)"
            action = self.menu.addAction(text)
            action.setToolTip(entry.describe() + ("\n" + entry.warning(self.settings.model) if fits is False else ""))
            action.setEnabled(entry.ref not in applied)
            action.triggered.connect(lambda _checked=False, ref=entry.ref: self.add(ref))
        self.menu.setToolTipsVisible(True)
        self.menu.addSeparator()
        self.menu.addAction("From file…").triggered.connect(self._choose_file)
        self.menu.addAction("Copy a file into the library…").triggered.connect(self._import_file)
        self.menu.addAction("Open the library folder").triggered.connect(self._open_library)
        self.menu.addAction("Refresh the list").triggered.connect(lambda: self.refresh())
        for path, why in self.problems[:5]:
            self.menu.addAction(f"Skipped {Path(path).name}: {why}").setEnabled(False)

    def _choose_file(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Apply a LoRA", str(library_dir()), "LoRA (*.safetensors)")
        if path:
            self.add(path)

    def _import_file(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Copy a LoRA into the library", "", "LoRA (*.safetensors)")
        if path:
            self.import_file(path)

    def import_file(self, path: str) -> LoraEntry | None:
        """Copy the LoRA at ``path`` into the library (a new name if one is taken), apply it and
        list it; None (and the warning line says why) when it is not a LoRA."""
        folder = self.folders[0] if self.folders else None
        try:
            entry = add_to_library(path, folder)
        except (LoraLibraryError, OSError) as error:
            self._show_warning(str(error).splitlines()[0])
            return None
        self._described[entry.ref] = entry
        self.add(entry.ref)
        self.refresh()
        return entry

    def _open_library(self) -> None:
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        folder = Path(self.folders[0]) if self.folders else library_dir()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def describe(self, ref: str) -> LoraEntry | None:
        """The library's entry for ``ref``, else its header read now (a small read), None when the
        file cannot be read (the row then says so)."""
        if ref not in self._described:
            try:
                self._described[ref] = describe_lora(ref, self.cache_dir)  # a file, or a LoRA in the hub cache
            except LoraLibraryError:
                self._described[ref] = None
        return self._described[ref]

    # -- the applied LoRAs -------------------------------------------------------------------------

    def add(self, ref: str, weight: float = 1.0) -> bool:
        """Apply the LoRA ``ref`` (a file path or library entry) at ``weight``; False when it is
        applied already or cannot be read (the warning line says why)."""
        if any(r == ref for r, _w in self.settings.loras):
            return False
        if self.describe(ref) is None and Path(ref).suffix == ".safetensors":
            self._show_warning(f"'{Path(ref).name}' is not a LoRA this app can read.")
            return False
        self.settings.set(loras=(*self.settings.loras, (ref, float(weight))))
        return True

    def remove(self, ref: str) -> None:
        self.settings.set(loras=tuple((r, w) for r, w in self.settings.loras if r != ref))

    def set_weight(self, ref: str, weight: float) -> None:
        self.settings.set(loras=tuple((r, float(weight) if r == ref else w) for r, w in self.settings.loras))

    def _on_settings_changed(self, name: str, _value: Any) -> None:
        if name == "prompt":
            self._show_trigger_hint()
        if name in ("loras", "model"):
            self._show_rows()
            if name == "model" or self._scanned:
                self._fill_menu()

    def _show_rows(self) -> None:
        loras = self.settings.loras
        shown = [(w.property("lora_ref"), w.findChild(QDoubleSpinBox)) for w in self._row_widgets]
        if [ref for ref, _spin in shown] == [ref for ref, _w in loras]:
            for (_ref, spin), (_r, weight) in zip(shown, loras):
                if abs(spin.value() - weight) > 1e-9:
                    spin.blockSignals(True)
                    spin.setValue(weight)
                    spin.blockSignals(False)
        else:
            for widget in self._row_widgets:
                self.rows.removeWidget(widget)
                widget.deleteLater()
            self._row_widgets = [self._make_row(ref, weight) for ref, weight in loras]
            for widget in self._row_widgets:
                self.rows.addWidget(widget)
        self.none_label.setVisible(not loras)
        warnings = []
        for widget in self._row_widgets:
            ref = widget.property("lora_ref")
            entry = self.describe(ref)
            label = widget.findChild(QLabel)
            name = entry.name if entry is not None else Path(ref).name
            warning = entry.warning(self.settings.model) if entry is not None else ""
            label.setText((WARNING_MARK if warning else "") + name)
            label.setToolTip(f"{ref}\n{entry.describe()}" if entry is not None else ref)
            if warning:
                warnings.append(warning)
        self._show_warning(" ".join(warnings))
        self._show_trigger_hint()

    def _show_trigger_hint(self) -> None:
        """'Add <word> to the prompt' for an applied LoRA whose trigger words the prompt lacks."""
        prompt = self.settings.prompt.lower()
        missing = []
        for ref, _weight in self.settings.loras:
            entry = self.describe(ref)
            if entry is not None and entry.trigger_words and not any(w.lower() in prompt for w in entry.trigger_words):
                missing.append(entry.trigger_words[0])
        text = f"Put {', '.join(repr(w) for w in missing)} in the prompt to call up what the LoRA learned." if missing else ""
        self.trigger_label.setText(text)
        self.trigger_label.setVisible(bool(text))

    def _show_warning(self, text: str) -> None:
        self.warning_label.setText(text)
        self.warning_label.setVisible(bool(text))

    def _make_row(self, ref: str, weight: float) -> QWidget:
        row = QWidget()
        row.setProperty("lora_ref", ref)
        label = QLabel()
        label.setMinimumWidth(40)
        spin = DoubleSpinBox()
        spin.setRange(*WEIGHT_RANGE)
        spin.setSingleStep(0.05)
        spin.setDecimals(2)
        spin.setValue(weight)
        spin.setToolTip("Weight: 1 as trained, 0 off, negative pushes away from it")
        spin.valueChanged.connect(lambda value, r=ref: self.set_weight(r, value))
        remove = QToolButton()
        remove.setText("\u2715")
        remove.setToolTip("Remove this LoRA")
        remove.clicked.connect(lambda _checked=False, r=ref: self.remove(r))
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(label, 1)
        layout.addWidget(spin)
        layout.addWidget(remove)
        return row

    def row_refs(self) -> list[str]:
        """The refs of the rows shown, in order."""
        return [w.property("lora_ref") for w in self._row_widgets]
