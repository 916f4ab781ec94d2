"""The window on a small laptop screen: it narrows to 960 px (it stopped at 1108 px: the timeline's
view row and the Prompt dock's seed row each held their width), the rows wrap instead, and the
dock tabs keep their whole titles."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QTabBar

from engine.audio.playback import Player
from tests.engine.test_playback import FakeBackend

SMALL_LAPTOP_WIDTH = 960


def _settle(qtbot, window, width: int, height: int) -> None:
    window.resize(width, height)
    qtbot.waitUntil(lambda: window.width() == max(width, window.minimumSizeHint().width()))
    for _ in range(3):
        QApplication.processEvents()


def _seed_label(panel):
    return next(label for label in panel.findChildren(QLabel) if label.text() == "Seed")


def _right_edge_in(widget, ancestor) -> int:
    return widget.mapTo(ancestor, widget.rect().topRight()).x()


def _top_in(widget, ancestor) -> int:
    return widget.mapTo(ancestor, widget.rect().topLeft()).y()


def test_the_window_narrows_to_a_small_laptop_width_with_every_control_in_view(qtbot, make_window, themed_app):
    window = make_window(player=Player(backend=FakeBackend(devices=[])))  # no audio output
    window.show()
    qtbot.waitExposed(window)
    assert window.minimumSizeHint().width() <= SMALL_LAPTOP_WIDTH  # was 1108 px
    _settle(qtbot, window, SMALL_LAPTOP_WIDTH, 720)
    assert window.width() <= SMALL_LAPTOP_WIDTH

    timeline = window.timeline  # the view row wraps: every control inside the timeline
    for control in (timeline.mode_combo, timeline.box_tool_button, timeline.snap_button,
                    timeline.colormap_combo, timeline.range_spin):
        assert control.isVisible() and _right_edge_in(control, timeline) < timeline.width()
    assert _top_in(timeline.range_spin, timeline) >= _top_in(timeline.mode_combo, timeline) + timeline.mode_combo.height()

    panel = window.prompt_panel  # the seed row goes under its label, whole
    viewport = window.prompt_scroll.viewport()
    for control in (panel.seed_edit, panel.seed_lock, panel.seed_dice, panel.steps_spin):
        assert control.isVisible() and _right_edge_in(control, viewport) < viewport.width()
    dock = window.prompt_dock
    assert panel.generate_button.isVisible() and _right_edge_in(panel.generate_button, dock) < dock.width()
    assert _top_in(panel.seed_edit, panel) > _top_in(_seed_label(panel), panel)

    message = window.transport.message_label  # the transport bar still says why nothing plays
    assert message.elided_text().startswith("Playback disabled: no")  # it was "Playb…"
    assert message.toolTip() == "Playback disabled: no audio output device was found"  # whole on hover


def test_with_an_audio_output_the_meter_and_device_box_wrap_instead_of_widening_the_window(
        qtbot, make_window, themed_app):
    """With an output device the transport bar alone held the window at 1042 px."""
    window = make_window(player=Player(backend=FakeBackend()))
    window.show()
    qtbot.waitExposed(window)
    assert window.minimumSizeHint().width() <= SMALL_LAPTOP_WIDTH
    _settle(qtbot, window, SMALL_LAPTOP_WIDTH, 720)
    transport = window.transport
    for control in (transport.play_button, transport.time_label, transport.meter, transport.device_combo):
        assert control.isVisible() and _right_edge_in(control, transport) < transport.width()
    _settle(qtbot, window, 1400, 860)  # with room: one row
    assert abs(_top_in(transport.device_combo, transport) - _top_in(transport.play_button, transport)) < 8


def test_dock_tabs_show_whole_titles_at_the_narrowest_width(qtbot, make_window, themed_app):
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    _settle(qtbot, window, 600, 720)  # as narrow as it goes
    bars = [bar for bar in window.findChildren(QTabBar) if bar.parent() is window and bar.isVisible()]
    titles = {bar.tabText(i) for bar in bars for i in range(bar.count())}
    assert {"Prompt", "Sound Classes", "Edit", "Inspector", "History", "Pictures"} <= titles
    for bar in bars:
        whole = _whole_title_widths(window, bar)
        for i in range(bar.count()):
            title = bar.tabText(i)
            assert bar.tabRect(i).width() >= whole[i], title  # not "Inspec…"
            assert bar.tabRect(i).right() <= bar.width()
            assert bar.tabToolTip(i) == title  # hovering names it in any case


def _whole_title_widths(window, bar) -> list[int]:
    """How wide each of ``bar``'s tabs is when nothing limits it (a tab bar of the window's,
    styled as the dock tabs are, with the same titles and room enough)."""
    probe = QTabBar(window)
    probe.setShape(bar.shape())
    probe.setElideMode(Qt.TextElideMode.ElideNone)
    probe.setExpanding(False)
    for i in range(bar.count()):
        probe.addTab(bar.tabText(i))
    probe.resize(2000, bar.height())
    widths = [probe.tabRect(i).width() for i in range(probe.count())]
    probe.deleteLater()
    return widths


def test_with_room_the_rows_stay_on_one_line(qtbot, make_window, themed_app):
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    _settle(qtbot, window, 1400, 860)
    window.resizeDocks([window.prompt_dock], [350], Qt.Orientation.Horizontal)  # the dock's width at 1400 px
    qtbot.waitUntil(lambda: window.prompt_dock.width() >= 345)
    timeline, panel = window.timeline, window.prompt_panel
    assert abs(_top_in(timeline.range_spin, timeline) - _top_in(timeline.mode_combo, timeline)) < 8  # one row
    seed_label = _seed_label(panel)
    assert abs(_top_in(panel.seed_edit, panel) - _top_in(seed_label, panel)) < seed_label.height()



def test_on_a_1280_px_screen_the_prompt_dock_keeps_its_rows_beside_their_labels(qtbot, make_window, themed_app,
                                                                                monkeypatch):
    """The first window on a 1280 px wide screen (simulated: the offscreen screen is smaller)."""
    from PySide6.QtCore import QSize

    monkeypatch.setattr("app.main_window.default_window_size", lambda available: QSize(1280, 800))
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    assert window.width() == 1280
    panel = window.prompt_panel
    seed_label = _seed_label(panel)
    assert abs(_top_in(panel.seed_edit, panel) - _top_in(seed_label, panel)) < seed_label.height()
    assert window.timeline.width() >= 560  # the timeline keeps most of the room


def _edit_dock_at(qtbot, make_window, width: int, height: int):
    """A window of ``width`` x ``height`` with its Edit dock in front: (window, the edit panel)."""
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    _settle(qtbot, window, width, height)
    window.edit_tools.edit_dock.raise_()
    panel = window.edit_tools.edit_panel
    qtbot.waitUntil(panel.isVisible)
    for _ in range(3):
        QApplication.processEvents()
    return window, panel


def test_every_edit_task_is_in_sight_and_named_in_the_narrowest_edit_dock(qtbot, make_window, themed_app):
    """The Edit dock's eight task tabs needed scroll arrows at every window width (the dock is
    about 250 px wide): Vary, Upsample, Vocoder, Interpolate and Picture were out of sight. The
    task buttons wrap onto rows instead, each title whole."""
    window, panel = _edit_dock_at(qtbot, make_window, 860, 720)
    assert not panel.tabs.tabBar().isVisible()  # no scrolling tab bar
    titles = [button.text() for button in panel.task_buttons.values()]
    assert titles == [panel.tabs.tabText(i) for i in range(panel.tabs.count())]
    assert {"Inpaint", "Extend / Continue", "Loop", "Vary", "Upsample", "Vocoder", "Interpolate", "Picture"} <= set(titles)
    for task in panel.tasks.values():  # every task of the toolbar and menu is named by a button
        assert any(task.title in title.split(" / ") for title in titles), task.title
    for button in panel.task_buttons.values():
        assert button.isVisible(), button.text()
        assert 0 <= button.mapTo(panel, button.rect().topLeft()).x()
        assert _right_edge_in(button, panel) < panel.width(), button.text()
        assert button.width() >= button.fontMetrics().horizontalAdvance(button.text()), button.text()  # whole
        assert button.toolTip()  # what the task does
    rows = {_top_in(button, panel) for button in panel.task_buttons.values()}
    assert 1 < len(rows) <= 3  # wrapped, not one long row
    assert window.height() <= 720  # the taller dock does not hold the window taller (pages scroll)

    vary = panel.task_buttons["vary"]  # a task that was behind the arrows
    qtbot.mouseClick(vary, Qt.MouseButton.LeftButton)
    assert vary.isChecked() and panel.current_task() == "vary"
    assert panel.buttons["vary"].isVisible()  # its page, with its button, is in front
    assert not panel.buttons["inpaint"].isVisible()
    assert sum(button.isChecked() for button in panel.task_buttons.values()) == 1

    panel.show_task("continue")  # a task on another's page: that page
    assert panel.current_task() == "extend" and panel.task_buttons["extend"].isChecked()
    assert panel.buttons["continue"].isVisible()


def test_at_1024_x_700_each_edit_tasks_run_buttons_show_whole_without_scrolling(qtbot, make_window, themed_app):
    """The settings all edits share took 170 px under the task's page at 1024 x 700: Extend's own
    button was cut in half under a scroll bar and Continue was out of sight. They fold into a
    line that says their values, and unfold on a click."""
    _window, panel = _edit_dock_at(qtbot, make_window, 1024, 700)
    assert not panel.shared_fields.isVisible()
    assert panel.shared_summary.text() == "2.56 s window, preset mel bins, 32 resynthesis"
    assert panel.shared_summary.toolTip() == panel.shared_summary.text()  # whole on hover, when cut
    for task in ("inpaint", "extend", "continue", "loop", "vary"):
        panel.show_task(task)
        for _ in range(3):
            QApplication.processEvents()
        button = panel.buttons[task]
        viewport = panel.tabs.currentWidget().viewport()
        top, bottom = _top_in(button, viewport), _top_in(button, viewport) + button.height()
        assert button.isVisible() and 0 <= top and bottom <= viewport.height(), (task, top, bottom, viewport.height())
    qtbot.mouseClick(panel.shared_toggle, Qt.MouseButton.LeftButton)  # unfolded: the fields, to change
    assert panel.shared_fields.isVisible() and panel.height_spin.isVisible() and not panel.shared_summary.isVisible()
    panel.iterations_spin.setValue(64)
    qtbot.mouseClick(panel.shared_toggle, Qt.MouseButton.LeftButton)
    assert not panel.shared_fields.isVisible() and "64 resynthesis" in panel.shared_summary.text()


def test_the_playback_message_takes_a_row_of_its_own_where_it_is_then_whole(qtbot, make_window, themed_app):
    """At 950 px the transport bar cut 'Playback disabled: no audio output device was found' to
    'Playback disabled: n…' (to 'Playb…' at 860 px): it now goes under the controls, whole, and
    beside them when there is room."""
    window = make_window(player=Player(backend=FakeBackend(devices=[])))
    window.show()
    qtbot.waitExposed(window)
    transport = window.transport
    message = transport.message_label
    whole = "Playback disabled: no audio output device was found"
    for width in (950, 860):
        _settle(qtbot, window, width, 720)
        assert message.isVisible() and message.elided_text() == whole, width
        assert _top_in(message, transport) >= _top_in(transport.play_button, transport) + transport.play_button.height()
        assert _right_edge_in(message, transport) < transport.width()
    _settle(qtbot, window, 1400, 860)  # with room: beside the controls, the bar one row high
    assert message.elided_text() == whole
    assert abs(_top_in(message, transport) - _top_in(transport.play_button, transport)) < transport.play_button.height()


def test_without_portaudio_the_message_is_whole_at_860_px_and_its_fix_a_click_away(
        qtbot, make_window, themed_app, monkeypatch):
    """At 860 px the transport bar cut 'Playback disabled: PortAudio is not installed (apt-get
    install libportaudio2)' to '... (apt-get in…': the cause now shows whole, and a "How to fix"
    link beside it shows the command to run, selectable."""
    import sys

    from tests.engine.test_playback import _PortAudioMissing

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_PortAudioMissing(), *sys.meta_path])
    window = make_window(player=Player())
    window.show()
    qtbot.waitExposed(window)
    transport = window.transport
    assert not transport.available
    message, link = transport.message_label, transport.fix_link
    for width in (860, 1024, 1440):
        _settle(qtbot, window, width, 700)
        assert message.elided_text() == "Playback disabled: PortAudio is not installed", width
        assert link.isVisible() and _right_edge_in(link, transport) < transport.width(), width
        assert link.mapTo(transport, link.rect().topLeft()).x() > _right_edge_in(message, transport)
    link.linkActivated.emit("fix")
    box = transport.fix_box
    qtbot.waitUntil(box.isVisible)
    assert "PortAudio is not installed" in box.text() and "apt-get install libportaudio2" in box.informativeText()
    box.close()


def test_a_playback_errors_cause_is_readable_at_1280_px(qtbot, make_window, themed_app):
    """With an output device the meter and the device box left the message about 50 px until the
    window was 1100 px wide: an error read 'Could…'."""
    from app.model.commands import AddClip
    from app.model.project import Clip

    backend = FakeBackend()

    def unavailable(**_kwargs):
        raise RuntimeError("Error opening OutputStream: Device unavailable [PaErrorCode -9985]")

    backend.OutputStream = unavailable
    window = make_window(player=Player(backend=backend))
    window.show()
    qtbot.waitExposed(window)
    track = window.project.tracks[0]
    clip = Clip(name="tone", audio=np.zeros((1, 22050), np.float32), sample_rate_hz=22050, start_s=0.0)
    window.undo_stack.push_command(AddClip(window.project, track.id, clip))
    _settle(qtbot, window, 1280, 800)
    transport = window.transport
    transport.play()
    message = transport.message_label
    assert message.isVisible() and "Device unavailable [PaErrorCode -9985]" in message.text()
    QApplication.processEvents()
    assert "Device unavailable" in message.elided_text()  # the cause can be read, on a row of its own
    assert _right_edge_in(message, transport) < transport.width()
    assert transport.device_combo.isVisible()  # the controls stay

    _settle(qtbot, window, 860, 720)  # cut only where no row holds it, and then by the end
    assert message.elided_text().startswith("Could not open the audio output")
    assert message.toolTip() == message.text()


def _toolbar_row(bar, window) -> int:
    return bar.mapTo(window, bar.rect().topLeft()).y()


def test_the_mask_tools_take_a_toolbar_row_of_their_own_when_the_toolbars_do_not_fit(qtbot, make_window, themed_app):
    """Below about 1900 px the mask toolbar sat beside the edit toolbar with all of its tools
    behind a "more" button whose chevron was drawn dark on dark: at 1280 px Freq Band, Size,
    Hardness, Feather, Invert and Clear seemed absent, at 860 px every mask tool."""
    from PySide6.QtWidgets import QToolButton

    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    tools = window.edit_tools
    edit_bar, mask_bar = tools.edit_toolbar, tools.mask_toolbar
    mask = tools.mask_tools
    controls = [*mask.tool_buttons.values(), mask.size_spin, mask.hardness_spin, mask.feather_spin,
                mask.invert_button, mask.clear_button]

    _settle(qtbot, window, 1280, 800)
    qtbot.waitUntil(lambda: _toolbar_row(mask_bar, window) > _toolbar_row(edit_bar, window))  # a row below
    for control in controls:
        assert control.isVisible() and _right_edge_in(control, window) < window.width()
    for action in edit_bar.actions():  # the edit tools keep their row whole
        widget = edit_bar.widgetForAction(action)
        assert action.isSeparator() or (widget.isVisible() and _right_edge_in(widget, window) < window.width())

    _settle(qtbot, window, 1920, 1000)  # room for both: one row again
    qtbot.waitUntil(lambda: _toolbar_row(mask_bar, window) == _toolbar_row(edit_bar, window))
    assert all(control.isVisible() for control in controls)

    _settle(qtbot, window, 860, 720)  # the tools in sight, the brush settings behind a visible "more"
    qtbot.waitUntil(lambda: _toolbar_row(mask_bar, window) > _toolbar_row(edit_bar, window))
    for button in mask.tool_buttons.values():
        assert button.isVisible() and _right_edge_in(button, window) < window.width(), button.text()
    more = mask_bar.findChild(QToolButton, "qt_toolbar_ext_button")
    assert more.isVisible()
    image = more.grab().toImage()
    inside = more.rect().adjusted(2, 4, -2, -4)
    lightest = max(image.pixelColor(x, y).lightness() for x in range(inside.left(), inside.right() + 1)
                   for y in range(inside.top(), inside.bottom() + 1))
    assert lightest >= 150  # a light chevron on the dark button (it was at most about 90)


def test_a_clip_with_a_long_name_does_not_hold_the_window_wide(qtbot, make_window, themed_app):
    """Importing 'a_long_recording_name_of_a_field_sound.wav' held the window at 958 px: the
    Pictures dock's title ("Pictures of 'a_long_…'") could not wrap a name without spaces."""
    from app.model.commands import AddClip
    from app.model.project import Clip, Selection

    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    narrowest = window.minimumSizeHint().width()
    name = "a_long_recording_name_of_a_field_sound"
    track = window.project.tracks[0]
    clip = Clip(name=name, audio=np.zeros((2, 44100), np.float32), sample_rate_hz=44100, start_s=0.0)
    window.undo_stack.push_command(AddClip(window.project, track.id, clip))
    window.project.set_selection(Selection(clip_ids=frozenset({clip.id}), track_id=track.id))
    qtbot.waitUntil(lambda: window.inspector.clip is clip)
    _settle(qtbot, window, 860, 720)
    assert window.minimumSizeHint().width() <= max(narrowest, 860)
    assert window.width() <= 862
    for dock, label in ((window.inspector_dock, window.inspector.title), (window.gallery.parent(), window.gallery.title)):
        dock.raise_()
        qtbot.waitUntil(label.isVisible)
        QApplication.processEvents()
        assert name in label.text().replace("\u200b", "")
        assert label.height() >= label.heightForWidth(label.width()) - 1, label.text()  # every line shows


def test_a_mask_setting_overflows_with_its_label(qtbot, make_window, themed_app):
    """At 860 px "Feather" stayed on the mask toolbar while its box went behind the "more"
    button: a label for nothing."""
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    _settle(qtbot, window, 860, 720)
    mask = window.edit_tools.mask_tools
    bar = window.edit_tools.mask_toolbar
    qtbot.waitUntil(lambda: not all(box.isVisible() for box in (mask.size_spin, mask.hardness_spin, mask.feather_spin)))
    for box in (mask.size_spin, mask.hardness_spin, mask.feather_spin):
        label = next(child for child in bar.findChildren(QLabel) if child.buddy() is box)
        assert label.isVisible() == box.isVisible(), label.text()
        if box.isVisible():
            assert _right_edge_in(box, window) < window.width()


def test_track_headers_go_compact_on_a_narrow_timeline_and_still_work(qtbot, make_window, themed_app):
    """At an 860 px window the track header took 192 of the timeline's 358 px: a lane showed
    about 100 px of sound. Narrow, the gain field goes under M and S, without arrows."""
    window = make_window(player=Player(backend=FakeBackend(devices=[])))
    window.show()
    qtbot.waitExposed(window)
    timeline = window.timeline
    timeline.set_view_mode("waveform")  # the lowest lane (96 px): every row must still fit
    _settle(qtbot, window, 860, 700)
    header = timeline.lanes()[0].header
    qtbot.waitUntil(lambda: header.width() <= 100)
    lane_plot = timeline.lanes()[0].plot
    assert lane_plot.width() >= timeline.width() - header.width() - 30  # the rest is sound
    gain = header.gain_spin
    assert gain.mapTo(header, gain.rect().topLeft()).y() > header.mute_button.mapTo(header, header.mute_button.rect().bottomLeft()).y()
    meter = header.meter
    assert meter.mapTo(header, meter.rect().bottomLeft()).y() <= header.height()  # nothing cut off below
    gain.setValue(-60.0)  # the longest value is whole in the field
    edit = gain.lineEdit()
    assert edit.fontMetrics().horizontalAdvance(edit.text()) <= edit.width() and edit.text() == "-60.0 dB"
    gain.setValue(-6.0)  # and it still sets the track's gain (one undo step)
    assert window.project.tracks[0].gain_db == -6.0
    window.undo_stack.undo()
    assert window.project.tracks[0].gain_db == 0.0 and gain.value() == 0.0
    ruler_gap = timeline.ruler.mapTo(timeline, timeline.ruler.rect().topLeft()).x()
    assert ruler_gap == header.width()  # the ruler starts where the lanes do
    window.add_track()  # a new track's header is compact too
    qtbot.waitUntil(lambda: len(timeline.lanes()) == 2)
    assert timeline.lanes()[1].header.width() == header.width()

    _settle(qtbot, window, 1600, 900)  # room again: M, S and the gain with its arrows on one row
    qtbot.waitUntil(lambda: header.width() >= 150)
    assert abs(gain.mapTo(header, gain.rect().topLeft()).y() - header.mute_button.mapTo(header, header.mute_button.rect().topLeft()).y()) < 8
    assert timeline.ruler.mapTo(timeline, timeline.ruler.rect().topLeft()).x() == header.width()


def _shows_whole(edit) -> bool:
    from app.widgets.placeholders import placeholder_room_px

    return edit.fontMetrics().horizontalAdvance(edit.placeholderText()) <= placeholder_room_px(edit)


def test_placeholders_show_whole_at_860_px_and_say_more_with_room(qtbot, make_window, themed_app):
    """At 860 and 1024 px the prompt's placeholder ended in the middle of its third example
    ("'a rock beat at"), the class search read "Search 527 Audio…" and the Picture page's
    words field "Your words, blended with …"."""
    from PySide6.QtCore import QRect

    window = make_window(player=Player(backend=FakeBackend(devices=[])))
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.prompt_panel.model_combo.count() > 0, timeout=30000)
    prompt = window.prompt_panel.prompt_edit
    search = window.class_browser.search_edit
    words = window.edit_tools.edit_panel.forms["illustrate"].prompt

    def prompt_is_whole() -> bool:
        room = prompt.viewport().rect().adjusted(4, 4, -4, -4)
        needed = prompt.fontMetrics().boundingRect(QRect(0, 0, room.width(), 100_000), Qt.TextFlag.TextWordWrap,
                                                   prompt.placeholderText())
        return needed.height() <= room.height() and prompt.placeholderText().endswith("'")

    for width in (860, 1024):
        _settle(qtbot, window, width, 700)
        window.classes_dock.raise_()
        qtbot.waitUntil(search.isVisible)
        assert _shows_whole(search), (width, search.placeholderText())
        window.edit_tools.edit_panel.show_task("illustrate")
        window.edit_tools.edit_dock.raise_()
        qtbot.waitUntil(words.isVisible)
        assert _shows_whole(words), (width, words.placeholderText())
        window.prompt_dock.raise_()
        qtbot.waitUntil(prompt.isVisible)
        assert prompt.placeholderText().startswith("Describe the sound, e.g. 'a grand piano playing middle C'")
        assert prompt_is_whole(), (width, prompt.placeholderText())
    _settle(qtbot, window, 1600, 900)  # with room, the longer wordings come back
    window.resizeDocks([window.prompt_dock], [420], Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: prompt.placeholderText().count("\u00b7") == 2)
    assert prompt_is_whole()
    window.classes_dock.raise_()
    qtbot.waitUntil(search.isVisible)
    assert search.placeholderText() == "Search 527 AudioSet classes"
