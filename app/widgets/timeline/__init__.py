"""The pieces of :class:`app.widgets.qt_timeline.QtTimeline`, one seam per module.

``lanes`` (a track's row: view box, plot, overlays), ``track_header`` (name, mute, solo, gain),
``visuals`` (envelope pyramids and display spectrograms per audio array, computed off the GUI
thread), ``viewport`` (visible range, zoom, scroll), ``snapping`` (clip edges, playhead, grid),
``gestures`` (mouse on lanes, ruler, overview and clips), ``edit_actions`` (split, duplicate,
delete, track properties, the keyboard actions). ``app/widgets/qt_timeline.py`` puts them together.
"""
