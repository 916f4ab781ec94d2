"""The AudioSet class browser as a sound designer uses it: search, pick one class or two to mix,
read the prompt it will use, and send it (with seed 001's output size) to the prompt panel."""

from __future__ import annotations


import pytest
from PySide6.QtCore import QItemSelectionModel, Qt

from app.widgets.qt_class_browser import NATIVE_SIZE, QtClassBrowser
from engine.audioset import DEFAULT_OUTPUT_SIZE, OUTPUT_SIZES, label_names


def click_row(qtbot, browser, name, modifier=Qt.KeyboardModifier.NoModifier):
    """Click class ``name`` in the list as a user would (Ctrl adds to the selection)."""
    view = browser.list_view
    index = view.model().index(browser.visible_labels().index(name), 0)
    view.scrollTo(index)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, modifier, view.visualRect(index).center())


def test_empty_query_lists_every_class_and_search_ranks_as_you_type(qtbot, browser):
    assert browser.search_edit.placeholderText() == "Search 527 AudioSet classes"
    assert browser.search_edit.isClearButtonEnabled()
    assert browser.visible_labels() == list(label_names()) and len(browser.visible_labels()) == 527
    assert browser.count_label.text() == "527 classes"
    assert browser.prompt() is None and not browser.use_button.isEnabled() and not browser.generate_button.isEnabled()

    browser.search_edit.setFocus()
    qtbot.keyClicks(browser.search_edit, "dog")
    shown = browser.visible_labels()
    assert shown[0] == "Dog" and {"Bark", "Howl"} <= set(shown)
    assert browser.count_label.text() == f"{len(shown)} classes"
    assert browser.list_view.model().rowCount() == len(shown)

    # Typing, deleting and retyping filters from scratch each time (no state left from before).
    for text in ("s", "sp", "spe", "spee", "speech", "a", "m", "", "guitar"):
        browser.set_query(text)
    assert browser.visible_labels()[0] == "Guitar"


def test_no_match_shows_zero_and_a_helpful_message(browser):
    browser.set_query("xyzzy plugh")
    assert browser.visible_labels() == [] and browser.count_label.text() == "0 classes"
    assert browser.list_stack.currentWidget() is browser.empty_label and browser.empty_label.isVisible()
    assert "No AudioSet class matches \u201cxyzzy plugh\u201d" in browser.empty_label.text()
    assert "clear the search" in browser.empty_label.text()
    browser.set_query("")
    assert browser.list_view.isVisible() and browser.count_label.text() == "527 classes"


def test_one_class_previews_its_prompt_and_shows_where_it_sits(qtbot, browser):
    browser.set_query("dog")
    click_row(qtbot, browser, "Dog")
    assert browser.selected_labels() == ["Dog"]
    assert browser.preview_label.text() == "a spectrogram of the sound of Dog" == browser.prompt()
    assert browser.use_button.isEnabled() and browser.generate_button.isEnabled()
    path = browser.path_label.text()
    assert "Animal" in path and "Domestic animals, pets" in path and path.index("Animal") < path.index("Dog")
    assert "domesticated canid" in browser.description_label.text()
    assert browser.children_label.text().startswith("Narrower: ")
    assert list(browser.children_links())[:3] == ["Bark", "Yip", "Howl"]


def test_two_classes_of_one_parent_make_the_mixture_prompt(qtbot, browser):
    browser.set_query("dog")
    click_row(qtbot, browser, "Bark")
    click_row(qtbot, browser, "Howl", Qt.KeyboardModifier.ControlModifier)
    assert browser.selected_labels() == ["Bark", "Howl"]
    expected = "a mel spectrogram of the sound of multiple overlapping Dogs, including Bark and Howl"
    assert browser.preview_label.text() == expected == browser.prompt()
    assert browser.use_button.isEnabled()
    # The selection survives a search that still shows both, and follows it when it does not.
    browser.set_query("do")
    assert browser.selected_labels() == ["Bark", "Howl"] and browser.prompt() == expected
    browser.set_query("howl")
    assert browser.selected_labels() == ["Howl"] and browser.prompt() == "a spectrogram of the sound of Howl"


def test_classes_from_different_roots_cannot_mix(browser):
    browser.select_labels(["Bark", "Guitar"])
    assert browser.prompt() is None
    text = browser.preview_label.text()
    assert "share no parent class" in text and "Animal" in text and "Music" in text
    assert not browser.use_button.isEnabled() and not browser.generate_button.isEnabled()


def test_three_classes_disable_use(qtbot, browser):
    browser.set_query("dog")
    click_row(qtbot, browser, "Bark")
    click_row(qtbot, browser, "Yip", Qt.KeyboardModifier.ControlModifier)
    click_row(qtbot, browser, "Howl", Qt.KeyboardModifier.ControlModifier)
    assert browser.prompt() is None and not browser.use_button.isEnabled()
    assert browser.preview_label.text().startswith("3 classes selected")
    with qtbot.assertNotEmitted(browser.prompt_chosen):
        browser.use_prompt()
    click_row(qtbot, browser, "Yip", Qt.KeyboardModifier.ControlModifier)  # back to two
    assert browser.use_button.isEnabled() and browser.prompt().endswith("including Bark and Howl")


def test_use_and_generate_emit_the_prompt_and_chosen_size(qtbot, browser):
    assert browser.output_size() == DEFAULT_OUTPUT_SIZE
    combo = browser.size_combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["Model's native size", *OUTPUT_SIZES]
    assert "64 mel rows" in combo.toolTip() and "400" in combo.toolTip() and "10 ms" in combo.toolTip()
    browser.select_labels(["dog"])
    with qtbot.waitSignal(browser.prompt_chosen, timeout=1000) as used:
        qtbot.mouseClick(browser.use_button, Qt.MouseButton.LeftButton)
    assert used.args == ["a spectrogram of the sound of Dog", DEFAULT_OUTPUT_SIZE]

    combo.setCurrentIndex(0)
    assert browser.output_size() == NATIVE_SIZE == "native"
    with qtbot.waitSignal(browser.generate_chosen, timeout=1000) as generated:
        qtbot.mouseClick(browser.generate_button, Qt.MouseButton.LeftButton)
    assert generated.args == ["a spectrogram of the sound of Dog", "native"]
    browser.set_output_size("512x512")
    with pytest.raises(ValueError):
        browser.set_output_size("1024x1024")
    assert browser.output_size() == "512x512"
    browser.list_view.setFocus()
    with qtbot.waitSignal(browser.prompt_chosen, timeout=1000) as entered:
        qtbot.keyClick(browser.list_view, Qt.Key.Key_Return)
    assert entered.args == ["a spectrogram of the sound of Dog", "512x512"]


def test_double_click_uses_that_class_alone(qtbot, browser):
    browser.set_query("dog")
    browser.select_labels(["Bark", "Howl"])
    view = browser.list_view
    index = view.model().index(browser.visible_labels().index("Yip"), 0)
    center = view.visualRect(index).center()
    with qtbot.waitSignal(browser.prompt_chosen, timeout=1000) as used:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=center)
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=center)
    assert used.args == ["a spectrogram of the sound of Yip", DEFAULT_OUTPUT_SIZE]
    assert browser.selected_labels() == ["Yip"]


def test_narrower_and_broader_links_select_that_class(qtbot, browser):
    browser.set_query("dog")
    click_row(qtbot, browser, "Dog")
    href = browser.children_links()["Bark"]
    assert f'href="{href}"' in browser.children_label.text()
    browser.children_label.linkActivated.emit(href)
    assert browser.selected_labels() == ["Bark"] and browser.prompt() == "a spectrogram of the sound of Bark"
    assert "<b>Bark</b>" in browser.path_label.text()
    assert browser.list_view.selectionModel().isSelected(browser.list_view.currentIndex())
    # A broader class that the search hides: the search is cleared so it can be shown.
    browser.set_query("bark")
    browser.select_labels(["Bark"])
    browser.path_label.linkActivated.emit("label:Animal")
    assert browser.selected_labels() == ["Animal"] and browser.search_edit.text() == ""


def test_links_stay_readable_on_the_dark_theme(qtbot, browser):
    from app.widgets.qt_class_browser import LINK_COLORS

    browser.select_labels(["Dog"])
    browser.setStyleSheet("QWidget { background: #1f2125; color: #d8dade; }")
    qtbot.waitUntil(lambda: LINK_COLORS[True] in browser.children_label.text(), timeout=1000)
    browser.setStyleSheet("QWidget { background: white; color: black; }")
    qtbot.waitUntil(lambda: LINK_COLORS[False] in browser.path_label.text(), timeout=1000)


def test_return_in_search_picks_the_top_result(qtbot, browser):
    browser.search_edit.setFocus()
    qtbot.keyClicks(browser.search_edit, "howl")
    qtbot.keyClick(browser.search_edit, Qt.Key.Key_Return)
    assert browser.selected_labels() == ["Howl"] and browser.list_view.hasFocus()


def test_state_round_trips_and_bad_values_are_ignored(qtbot, browser):
    browser.set_query("dog")
    browser.select_labels(["Bark", "Howl"])
    browser.set_output_size("native")
    state = browser.state()
    assert state == {"query": "dog", "output_size": "native", "selected": ["Bark", "Howl"], "known_only": False}

    other = QtClassBrowser()
    qtbot.addWidget(other)
    other.restore_state(state)
    assert other.state() == state and other.visible_labels() == browser.visible_labels()
    assert other.prompt() == browser.prompt()

    other.restore_state({"query": 7, "output_size": "huge", "selected": ["Not a class", 3, "Yip"]})
    assert other.state() == {"query": "dog", "output_size": "native", "selected": ["Yip"], "known_only": False}
    other.restore_state({})
    other.restore_state(None)  # type: ignore[arg-type]
    assert other.output_size() == "native"


def test_clicking_clears_and_reselects_through_the_view(qtbot, browser):
    """The selection model is the truth: a programmatic clear empties the preview."""
    browser.select_labels(["Dog"])
    browser.list_view.selectionModel().clearSelection()
    assert browser.selected_labels() == [] and browser.prompt() is None
    assert "Select a class" in browser.preview_label.text()
    browser.list_view.selectionModel().select(
        browser.list_view.model().index(browser.visible_labels().index("Dog"), 0),
        QItemSelectionModel.SelectionFlag.Select,
    )
    assert browser.prompt() == "a spectrogram of the sound of Dog"
