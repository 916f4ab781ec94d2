"""The dark theme as the user sees it: spin box arrows, check boxes and links are drawn where
the eye can find them (the styled boxes used to hide their arrows and empty check boxes in the
background colour, and links were Qt's #0000ff on #1f2125)."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtGui import QColor, QImage  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QCheckBox,
    QLabel,
    QSpinBox,
    QStyle,
    QStyleOptionButton,
    QStyleOptionSpinBox,
    QVBoxLayout,
    QWidget,
)


BACKGROUND = QColor("#1f2125")


def _luminance(colour: QColor) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF()) + 0.0722 * channel(colour.blueF())


def _contrast(a: QColor, b: QColor) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _best_contrast(image: QImage, rect, against: QColor) -> float:
    return max(_contrast(image.pixelColor(x, y), against)
               for x in range(max(rect.left(), 0), min(rect.right() + 1, image.width()))
               for y in range(max(rect.top(), 0), min(rect.bottom() + 1, image.height())))


@pytest.fixture
def themed(qtbot, themed_app):
    return _panel(qtbot)


def _panel(qtbot):
    panel = QWidget()
    layout = QVBoxLayout(panel)
    spin = QSpinBox(value=20)
    box = QCheckBox("Live preview while denoising")
    link = QLabel('For other sounds, <a href="manager">download a real model</a>.')
    for widget in (spin, box, link):
        layout.addWidget(widget)
    qtbot.addWidget(panel)
    panel.resize(300, 140)
    panel.show()
    qtbot.waitExposed(panel)
    return panel, spin, box, link


def test_spin_box_arrows_stand_out_from_their_buttons(themed):
    _panel, spin, _box, _link = themed
    image = spin.grab().toImage()
    option = QStyleOptionSpinBox()
    spin.initStyleOption(option)
    for control in (QStyle.SubControl.SC_SpinBoxUp, QStyle.SubControl.SC_SpinBoxDown):
        rect = spin.style().subControlRect(QStyle.ComplexControl.CC_SpinBox, option, control, spin)
        assert rect.width() >= 10 and rect.height() >= 6, rect
        button = image.pixelColor(rect.left() + 2, rect.top() + 1)  # the button's own background
        assert _best_contrast(image, rect, button) >= 3.0, control  # an arrow is drawn on it


def test_an_empty_check_box_is_visible(themed):
    _panel, _spin, box, _link = themed
    assert not box.isChecked()
    image = box.grab().toImage()
    option = QStyleOptionButton()
    box.initStyleOption(option)
    rect = box.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, box)
    assert rect.width() >= 10, rect
    assert _best_contrast(image, rect, BACKGROUND) >= 3.0  # its frame, not background on background


def test_links_are_readable_on_the_dark_background(themed):
    _panel, _spin, _box, link = themed
    image = link.grab().toImage()
    plain = link.fontMetrics().horizontalAdvance("For other sounds, ")
    words = link.rect().adjusted(plain + 2, 0, 0, 0)
    # The link's pixels: bluer than they are red (the label's other text is grey).
    blue = [image.pixelColor(x, y) for x in range(words.left(), min(words.right(), image.width()))
            for y in range(image.height())
            if image.pixelColor(x, y).blue() - image.pixelColor(x, y).red() > 40]
    assert blue, "no link-coloured pixels"
    assert max(_contrast(c, BACKGROUND) for c in blue) >= 4.5  # WCAG AA for body text


def test_the_file_dialogs_icon_buttons_show_their_icons(themed, qtbot):
    """Open, Save, Import and Export use Qt's file dialog; its back / parent folder / new folder /
    view buttons were blank squares in the theme (their padding left the icon no room)."""
    from PySide6.QtWidgets import QFileDialog, QToolButton

    dialog = QFileDialog(None, "Save project")
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    buttons = {b.objectName(): b for b in dialog.findChildren(QToolButton)}
    for name in ("backButton", "toParentButton", "newFolderButton", "detailModeButton"):
        button = buttons[name]
        image = button.grab().toImage()
        inside = button.rect().adjusted(3, 3, -3, -3)
        colours = {image.pixelColor(x, y).rgb() for x in range(inside.left(), inside.right() + 1)
                   for y in range(inside.top(), inside.bottom() + 1)}
        assert len(colours) >= 6, name  # an icon's shades, not one flat fill


def test_an_unticked_toggle_in_a_menu_shows_its_box(themed, qtbot):
    """Edit > Results on a New Track (and Snap, off) looked like a plain command in the theme: an
    unticked menu toggle drew nothing where its tick goes."""
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QMenu

    menu = QMenu()
    qtbot.addWidget(menu)
    toggle = menu.addAction("Results on a New Track")
    toggle.setCheckable(True)
    plain = menu.addAction("Plain command")
    menu.popup(QPoint(100, 100))
    qtbot.waitUntil(menu.isVisible)
    image = menu.grab().toImage()
    background = QColor("#25282d")

    def tick_column(action):
        row = menu.actionGeometry(action)
        return row.adjusted(0, 0, -(row.width() - 24), 0)  # where the tick goes

    assert _best_contrast(image, tick_column(toggle), background) >= 3.0
    assert _best_contrast(image, tick_column(plain), background) < 1.2  # a plain command shows no box


def test_a_scroll_bars_groove_is_a_quiet_dark_strip(themed, qtbot):
    """The timeline's lane scroll bar (and every other) was a bright checkered stripe beside the
    spectrograms: with the page styled, Qt hatched the groove."""
    from PySide6.QtWidgets import QScrollArea

    area = QScrollArea()
    qtbot.addWidget(area)
    area.setWidget(QLabel("a line\n" * 200))
    area.resize(200, 200)
    area.show()
    qtbot.waitExposed(area)
    bar = area.verticalScrollBar()
    image = bar.grab().toImage()
    groove = [image.pixelColor(x, y) for x in range(image.width()) for y in range(image.height() // 2, image.height())]
    assert len({c.rgb() for c in groove}) <= 2  # one flat fill, no hatch
    assert max(_contrast(c, BACKGROUND) for c in groove) < 1.5  # dark like the panels around it


def test_a_toggle_that_is_on_looks_on(qtbot, make_window, themed_app):
    """A muted track's M, Snap on and the mask tool in use looked exactly like their off states in
    the theme (the styled buttons drew one background for both)."""
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    from PySide6.QtCore import Qt

    header = window.timeline.lanes()[0].header
    mute, solo = header.mute_button, header.solo_button
    qtbot.mouseClick(mute, Qt.MouseButton.LeftButton)
    assert window.project.tracks[0].mute and not solo.isChecked()
    on, off = _fill(mute), _fill(solo)
    assert _contrast(on, off) >= 1.4, (on.name(), off.name())  # on stands out from off

    brush = window.edit_tools.mask_tools.tool_buttons["brush"]
    eraser = window.edit_tools.mask_tools.tool_buttons["eraser"]
    brush.click()
    assert brush.isChecked() and not eraser.isChecked()
    assert _contrast(_fill(brush), _fill(eraser)) >= 1.4


def _fill(button) -> QColor:
    """The button's background: the commonest colour inside its frame."""
    from collections import Counter

    image = button.grab().toImage()
    inside = button.rect().adjusted(3, 3, -3, -3)
    counts = Counter(image.pixelColor(x, y).rgb() for x in range(inside.left(), inside.right() + 1)
                     for y in range(inside.top(), inside.bottom() + 1))
    return QColor.fromRgb(counts.most_common(1)[0][0])


def test_the_selected_tracks_header_stands_out(qtbot, make_window, themed_app):
    """In the theme the selected track's header (where generations and imports land) was drawn
    like every other: the header's palette highlight was painted over by the style sheet."""
    from app.model.project import Selection

    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    window.add_track()
    qtbot.waitUntil(lambda: len(window.timeline.lanes()) == 2)
    first, second = (lane.header for lane in window.timeline.lanes())
    for chosen, other in ((second, first), (first, second)):
        window.project.set_selection(Selection(track_id=chosen.track_id))
        assert _contrast(_fill(chosen), _fill(other)) >= 1.2, (_fill(chosen).name(), _fill(other).name())
        assert _fill(chosen).blue() > _fill(other).blue()  # the theme's selection blue


def test_a_progress_bars_percentage_sits_in_its_middle(qtbot, themed_app):
    """The LoRA and picture wizards' bars wrote '100%' in the top-left corner, half off the bar."""
    from PySide6.QtWidgets import QProgressBar

    bar = QProgressBar(value=0)
    qtbot.addWidget(bar)
    bar.resize(400, 24)
    bar.show()
    qtbot.waitExposed(bar)
    image = bar.grab().toImage()
    background = QColor("#15171a")
    inked = [x for x in range(image.width()) for y in range(3, image.height() - 3)
             if _contrast(image.pixelColor(x, y), background) > 3.0]
    assert inked, "no text drawn"
    middle = (min(inked) + max(inked)) / 2
    assert abs(middle - image.width() / 2) < 20, (min(inked), max(inked))


def test_a_button_that_opens_a_list_has_room_for_its_arrow(qtbot, themed_app):
    """Examples and Add LoRA drew their list arrow over their last letter ('Example⌄')."""
    from PySide6.QtWidgets import QMenu, QToolButton

    plain, listing = QToolButton(text="Examples"), QToolButton(text="Examples")
    listing.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    listing.setMenu(QMenu(listing))
    for button in (plain, listing):
        qtbot.addWidget(button)
        button.show()
    qtbot.waitExposed(listing)
    assert listing.sizeHint().width() >= plain.sizeHint().width() + 10  # the arrow's own room beside the text
