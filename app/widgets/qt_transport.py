"""QtTransport: play/pause/stop, play selection, loop, time display and output device chooser.

Drives an :class:`engine.audio.playback.Player` with the project's mix, streamed
(:class:`app.model.mix.MixStream`: chunks rendered on a helper thread just ahead of what plays,
re-planned when the project changes), so a long project never sits in memory whole. The audio
callback copies from those chunks; a ``QTimer`` every
``PLAYHEAD_TIMER_MS`` reads ``Player.position_s`` and moves the project's playhead, which every
view follows. Seeking anywhere (a click on the timeline) moves the project's playhead, and the
transport moves the player there. Without PortAudio or an output device, the buttons are disabled
and a message says why; everything else keeps working.
"""

from __future__ import annotations

import re

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt, Signal

from app.model.mix import MixPlan, MixStream, track_peaks
from app.model.project import Project
from app.plot_items.axes import format_time
from app.widgets.elided_label import ElidedLabel
from app.widgets.flow_layout import FlowLayout
from app.widgets.qt_meter import QtPeakMeter, window_peaks
from engine.audio.playback import PlaybackError, Player

PLAYHEAD_TIMER_MS = 30
#: The meters show the peak over this much audio before the playhead.
METER_WINDOW_S = 0.05
#: Delay before re-rendering the mix after an edit during playback (edits come in bursts).
REMIX_DELAY_MS = 60


#: How the player's reasons end ("No audio output device was found; playback is disabled").
_DISABLED_TAIL = "; playback is disabled"


def playback_off_message(reason: str) -> str:
    """The player's reason with the consequence first, so that a label cut short still says it:
    'Playback disabled: no audio output device was found'."""
    if reason.endswith(_DISABLED_TAIL):
        cause = reason[: -len(_DISABLED_TAIL)]
        if cause.split(" ", 1)[0].istitle():  # "No audio…" reads "no audio…"; "PortAudio" stays
            cause = cause[0].lower() + cause[1:]
        return f"Playback disabled: {cause}"
    return reason


def split_fix(message: str) -> tuple[str, str]:
    """A message and the fix in its closing brackets, apart: ('Playback disabled: PortAudio is not
    installed', 'apt-get install libportaudio2'); ``(message, "")`` when it names none."""
    match = re.fullmatch(r"(.+?) \(([^()]+)\)", message.strip())
    return (match.group(1), match.group(2)) if match else (message, "")


class QtTransport(QtWidgets.QWidget):
    """Transport controls for ``project`` playing through ``player`` (a new Player if None).

    Signals:
        playback_failed(str message): the output stream could not be opened or started.
        output_device_changed(object device_id): the user chose an output device (None = default).
        track_levels_measured(dict): each track's peak per channel at the playhead (for the
            track headers' meters), on the meter timer; an empty dict when playback stops.
    """

    playback_failed = Signal(str)
    output_device_changed = Signal(object)
    #: Every meter tick while playing: {track_id: [left, right] peak}; {} when playback stops.
    track_levels_measured = Signal(object)

    def __init__(self, project: Project, player: Player | None = None, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.player = player if player is not None else Player()
        self._mix_dirty = True
        self._mix_channels = 2
        self._mix = None  # what the player plays (the master meter reads it on the GUI timer)
        self._setting_playhead = False
        self.available, self.unavailable_reason = self.player.available()

        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(PLAYHEAD_TIMER_MS)
        self.timer.timeout.connect(self._on_timer_timeout)
        self._remix_timer = QtCore.QTimer(self, singleShot=True, interval=REMIX_DELAY_MS)
        self._remix_timer.timeout.connect(self._reload_while_playing)

        self._build_ui()
        self._connect_project()
        self._update_buttons()
        self._update_time_label(self.project.playhead_s)

    # ================================================================= UI

    def _build_ui(self) -> None:
        style = self.style()

        def action(text: str, icon, shortcut: str | None, slot, checkable: bool = False) -> QtGui.QAction:
            act = QtGui.QAction(style.standardIcon(icon), text, self)
            if shortcut:
                act.setShortcut(QtGui.QKeySequence(shortcut))
                act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            act.setCheckable(checkable)
            act.setToolTip(f"{text} ({shortcut})" if shortcut else text)
            (act.toggled if checkable else act.triggered).connect(slot)
            self.addAction(act)
            return act

        sp = QtWidgets.QStyle.StandardPixmap
        self.play_action = action("Play / Pause", sp.SP_MediaPlay, "Space", self.toggle_play)
        self.stop_action = action("Stop", sp.SP_MediaStop, None, self.stop)
        self.play_selection_action = action("Play Selection", sp.SP_MediaSeekForward, "Shift+Space", self.play_selection)
        self.loop_action = action("Loop", sp.SP_BrowserReload, "L", self._on_loop_toggled, checkable=True)
        # The playhead to either end (a new clip lands at the playhead): with or without audio.
        self.go_to_start_action = action("Go to Start", sp.SP_MediaSkipBackward, "Home", lambda: self.seek(0.0))
        self.go_to_end_action = action("Go to End", sp.SP_MediaSkipForward, "End",
                                       lambda: self.seek(self.project.duration_s))

        # Greyed, Space and Shift+Space did nothing at all: while playback is off these take their
        # keys and say why (playback_failed: the window's status bar).
        self._playback_off_shortcuts = []
        for act in (self.play_action, self.play_selection_action):
            shortcut = QtGui.QShortcut(act.shortcut(), self, context=Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(lambda: self.playback_failed.emit(playback_off_message(self.unavailable_reason)))
            self._playback_off_shortcuts.append(shortcut)

        buttons = []
        for act in (self.play_action, self.stop_action, self.play_selection_action, self.loop_action):
            button = QtWidgets.QToolButton()
            button.setDefaultAction(act)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            buttons.append(button)
        self.play_button, self.stop_button, self.play_selection_button, self.loop_button = buttons

        self.time_label = QtWidgets.QLabel()
        self.time_label.setMinimumWidth(150)
        font = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
        self.time_label.setFont(font)

        self.meter = QtPeakMeter(2)
        self.meter.setObjectName("masterMeter")
        self.meter.setFixedWidth(90)

        self.device_combo = QtWidgets.QComboBox()
        self.device_combo.setToolTip("Audio output device (the list shows each device's whole name)")
        self.device_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        # Device names run long ("HDA Intel PCH: ALC3232 Analog (hw:0,0) (ALSA)"): the combo
        # keeps a modest width and its list shows them whole.
        self.device_combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.device_combo.setMinimumContentsLength(11)
        self._fill_devices()
        self.device_combo.currentIndexChanged.connect(self._on_device_combo_changed)

        self.message_label = ElidedLabel()
        self.message_label.setObjectName("transportMessage")
        self.message_label.setStyleSheet("color: #d08a2c;")
        # A message that names its fix ("... (apt-get install libportaudio2)") shows it short, with
        # a link to the fix: whole, the PortAudio one was cut mid-command at an 860 px window.
        self.fix_link = QtWidgets.QLabel("<a href='fix'>How to fix</a>")
        self.fix_link.setObjectName("transportFixLink")
        self.fix_link.setTextFormat(Qt.TextFormat.RichText)
        self.fix_link.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.fix_link.linkActivated.connect(lambda _link: self.show_fix())
        self.fix_link.hide()
        self.fix_box: QtWidgets.QMessageBox | None = None
        self._message = ""
        self.message_group = QtWidgets.QWidget()
        message_row = QtWidgets.QHBoxLayout(self.message_group)
        message_row.setContentsMargins(0, 0, 0, 0)
        message_row.setSpacing(8)
        self.message_label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Fixed)
        message_row.addWidget(self.message_label)  # the link just after the text, however wide the bar
        message_row.addWidget(self.fix_link)
        message_row.addStretch(1)

        # In a narrow window the meter and the output device go to a second row instead of
        # setting the window's minimum width (with an audio device it stopped at 1042 px).
        def group(*widgets: QtWidgets.QWidget) -> QtWidgets.QWidget:
            box = QtWidgets.QWidget()
            row = QtWidgets.QHBoxLayout(box)
            row.setContentsMargins(0, 0, 0, 0)
            for widget in widgets:
                row.addWidget(widget)
            return box

        # The message goes beside the controls when it fits there whole, else on a row of its
        # own under them (in a 950 px window it was cut to "Playback disabled: n…", and an
        # error with a device to "Could…"); one too long for any row is cut beside them
        # (costing the timeline no row), whole in its tooltip.
        flow = FlowLayout(self, spacing=6)
        flow.setContentsMargins(4, 2, 4, 2)
        flow.addWidget(group(*buttons, self.time_label))
        self.output_group = group(self.meter, self.device_combo)
        flow.addWidget(self.output_group)
        flow.addWidget(self.message_group)
        flow.fill_row(self.message_group)
        self._show_message("" if self.available else playback_off_message(self.unavailable_reason))

    def _fill_devices(self) -> None:
        self.device_combo.blockSignals(True)
        self.device_combo.clear()
        self.device_combo.addItem("System default", None)
        for device in self.player.output_devices():
            label = f"{device.name} ({device.host_api})" if device.host_api else device.name
            self.device_combo.addItem(label, device.id)
        index = self.device_combo.findData(self.player.device_id)
        self.device_combo.setCurrentIndex(max(0, index))
        self.device_combo.blockSignals(False)

    def _show_message(self, text: str) -> None:
        """Show ``text`` in the bar (none: hide it); a fix in its closing brackets goes behind
        the "How to fix" link, the whole text in the tooltip."""
        self._message = text
        short, fix = split_fix(text)
        self.message_label.setText(short)
        self.message_label.setToolTip(text)
        self.fix_link.setVisible(bool(fix))
        self.fix_link.setToolTip(f"{text}\nClick for the steps")
        self.message_group.setVisible(bool(text))
        self.message_label.setVisible(bool(text))

    def message(self) -> str:
        """The whole message the bar shows (short, with its fix behind the link), or ""."""
        return self._message

    def show_fix(self) -> QtWidgets.QMessageBox | None:
        """Say how to fix what the message names (the "How to fix" link): its cause, the
        command to run, selectable to copy. Not modal to the app: it opens and returns."""
        short, fix = split_fix(self._message)
        if not fix:
            return None
        if self.fix_box is None:
            self.fix_box = QtWidgets.QMessageBox(self.window())
            self.fix_box.setWindowTitle("Playback")
            self.fix_box.setIcon(QtWidgets.QMessageBox.Icon.Information)
            self.fix_box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fix_box.setText(f"{short}. Everything but playback works as usual.")
        self.fix_box.setInformativeText(f"To fix it, run this, then restart Specdiff Studio:\n\n{fix}")
        self.fix_box.show()
        return self.fix_box

    def _update_buttons(self) -> None:
        for act in (self.play_action, self.stop_action, self.play_selection_action, self.loop_action):
            act.setEnabled(self.available)
            # A greyed button or menu item says why when hovered (the tooltip, the status bar).
            tip = act.property("availableTip") or act.toolTip()
            act.setProperty("availableTip", tip)
            act.setToolTip(tip if self.available else f"{tip}: {playback_off_message(self.unavailable_reason)}")
            act.setStatusTip("" if self.available else playback_off_message(self.unavailable_reason))
        for shortcut in self._playback_off_shortcuts:
            shortcut.setEnabled(not self.available)
        self.device_combo.setEnabled(self.available)
        # Without an output there is nothing to choose or meter: the message takes their room
        # (in a 960 px window it was cut to "Playb…").
        self.output_group.setVisible(self.available)
        sp = QtWidgets.QStyle.StandardPixmap
        icon = sp.SP_MediaPause if self.player.playing else sp.SP_MediaPlay
        self.play_action.setIcon(self.style().standardIcon(icon))
        if not self.available:
            self.setToolTip(self.unavailable_reason)

    def _update_time_label(self, position_s: float) -> None:
        total = self.project.duration_s
        self.time_label.setText(f"{format_time(position_s, 0.001)} / {format_time(total, 0.001)}")

    # ================================================================= project

    def _connect_project(self) -> None:
        events = self.project.events
        dirty = (
            events.clip_added,
            events.clip_removed,
            events.clip_changed,
            events.track_added,
            events.track_removed,
            events.track_changed,
            events.project_reset,
        )
        pairs = [(event, self._on_project_changed) for event in dirty]
        pairs.append((events.playhead_moved, self._on_project_playhead_moved))
        pairs.append((events.selection_changed, self._on_project_selection_changed))
        for event, handler in pairs:
            event.connect(handler)
        self._event_pairs = pairs
        self.destroyed.connect(lambda *_: [event.disconnect(h) for event, h in pairs])

    def shutdown(self) -> None:
        """Stop playback, release the output stream and stop listening to the project."""
        self.timer.stop()
        self._remix_timer.stop()
        self.player.close()
        self._close_mix()
        for event, handler in self._event_pairs:
            event.disconnect(handler)
        self._event_pairs = []

    def _on_project_changed(self, *args) -> None:
        self._mix_dirty = True
        self._update_time_label(self.project.playhead_s)
        if self.player.playing:
            self._remix_timer.start()

    def _on_project_playhead_moved(self, seconds: float) -> None:
        if self._setting_playhead:
            return
        self._update_time_label(seconds)
        if self.player.playing and seconds < self.player.duration_s:
            self.player.seek(seconds)

    def _on_project_selection_changed(self, selection) -> None:
        if self.player.playing and self.loop_action.isChecked():
            self.player.set_loop(self._loop_region())

    # ================================================================= mix

    def _ensure_mix(self) -> bool:
        """Render and load the mix if the project changed; False when there is nothing to play."""
        if not self._mix_dirty and self.player.duration_s > 0:
            return True
        duration = self.project.duration_s
        if duration <= 0:
            return False
        # Streamed: the mix is rendered in chunks just ahead of what plays (a project of hours
        # never sits in memory whole); capturing the plan here is cheap.
        stream = MixStream(MixPlan(self.project, 0.0, duration, channels=self._mix_channels))
        self.player.load_source(stream, self.project.sample_rate_hz)
        self._close_mix()
        self._mix = stream
        self._mix_dirty = False
        return stream.frames > 0

    def _close_mix(self) -> None:
        if self._mix is not None:
            self._mix.close()
            self._mix = None

    def _reload_while_playing(self) -> None:
        if not self.player.playing:
            return
        position = self.player.position_s
        loop = self.player.loop
        if not self._ensure_mix():
            self.stop()
            return
        if loop is not None:
            loop = self._loop_region()
        self._start(min(position, self.player.duration_s), loop=loop)

    def _loop_region(self) -> tuple[float, float] | None:
        """The loop: the time selection if there is one, else the whole project."""
        sel = self.project.selection
        end = self.player.duration_s
        if sel.has_time_range and sel.start_s < end:
            return sel.start_s, min(sel.end_s, end)
        return (0.0, end) if end > 0 else None

    # ================================================================= transport

    def _start(self, start_s: float, loop=None, end_s: float | None = None) -> None:
        try:
            self.player.play(start_s=start_s, loop=loop, end_s=end_s)
        except PlaybackError as exc:
            self._show_message(str(exc))
            self.playback_failed.emit(str(exc))
            self._update_buttons()
            return
        self._show_message("")
        self.timer.start()
        self._update_buttons()

    def toggle_play(self) -> None:
        """Space: pause when playing, else play from the playhead."""
        if self.player.playing:
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        """Play from the playhead (from the start when it is at the end), looping if Loop is on."""
        if not self.available or not self._ensure_mix():
            return
        start = self.project.playhead_s
        if start >= self.player.duration_s:
            start = 0.0
        loop = self._loop_region() if self.loop_action.isChecked() else None
        if loop is not None and not loop[0] <= start < loop[1]:
            start = loop[0]
        self._start(start, loop=loop)

    def play_selection(self) -> None:
        """Play the selected time range once (or loop it when Loop is on); without a time
        selection, the same as :meth:`play`."""
        sel = self.project.selection
        if not sel.has_time_range:
            self.play()
            return
        if not self.available or not self._ensure_mix():
            return
        start = min(sel.start_s, self.player.duration_s)
        end = min(sel.end_s, self.player.duration_s)
        if end <= start:
            return
        if self.loop_action.isChecked():
            self._start(start, loop=(start, end))
        else:
            self._start(start, end_s=end)

    def pause(self) -> None:
        """Stop where we are; the playhead stays."""
        self.player.pause()
        self._on_timer_timeout()
        self._update_buttons()

    def stop(self) -> None:
        """Stop and put the playhead back where playback started."""
        was_loaded = self.player.duration_s > 0
        self.player.stop()
        self.timer.stop()
        self._clear_meters()
        if was_loaded:
            self._move_playhead(self.player.position_s)
        self._update_buttons()

    def seek(self, seconds: float) -> None:
        """Move the playhead (and the playing position) to ``seconds``."""
        self.project.set_playhead(max(0.0, float(seconds)))

    def _on_loop_toggled(self, on: bool) -> None:
        if self.player.playing:
            self.player.set_loop(self._loop_region() if on else None)

    def _move_playhead(self, seconds: float) -> None:
        self._setting_playhead = True
        try:
            self.project.set_playhead(seconds)
        finally:
            self._setting_playhead = False
        self._update_time_label(seconds)

    def _on_timer_timeout(self) -> None:
        """Every PLAYHEAD_TIMER_MS while playing: the playhead and the master meter follow the
        player (the meter reads the mix buffer here, never in the audio callback)."""
        if self.player.duration_s > 0:
            position = self.player.position_s
            self._move_playhead(position)
            if self.player.playing:
                self._update_meter(position)
        if not self.player.playing:
            self.timer.stop()
            self._clear_meters()
            self._update_buttons()

    def _update_meter(self, position_s: float) -> None:
        if self._mix is None:
            return
        rate = self.project.sample_rate_hz
        end = int(round(position_s * rate))
        self.meter.set_levels(window_peaks(self._mix, end - int(round(METER_WINDOW_S * rate)), end))
        start_s = max(0.0, position_s - METER_WINDOW_S)
        self.track_levels_measured.emit(track_peaks(self.project, start_s, max(position_s, start_s + 1 / rate)))

    def _clear_meters(self) -> None:
        self.meter.clear_levels()
        self.track_levels_measured.emit({})

    # ================================================================= devices

    def _on_device_combo_changed(self, index: int) -> None:
        device_id = self.device_combo.itemData(index)
        try:
            self.player.set_device(device_id)
        except (ValueError, PlaybackError) as exc:
            self._show_message(str(exc))
            return
        self._mix_dirty = True  # the channel count may differ on the new device
        self.output_device_changed.emit(device_id)

    def set_output_device(self, device_id: int | None) -> bool:
        """Choose the output device (e.g. restored from settings); False if it is not present."""
        index = self.device_combo.findData(device_id)
        if index < 0:
            return False
        self.device_combo.setCurrentIndex(index)
        return True
