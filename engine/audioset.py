"""AudioSet classes and seed 001's prompt templates, for class-conditioned generation with any model.

The 527 AudioSet labels, with their parents in the AudioSet ontology, ship in
``resources/audioset_labels.json`` (source and licence in its header). Seed 001 (Michaels 2023,
"Adapting Latent Diffusion Models from Images to Class-Conditioned Audio Generation") conditions
only through text, with two templates::

    class_prompt("Dog")                       -> "a spectrogram of the sound of Dog"
    mixture_prompt("Dog", "Bark", "Howl")     -> "a mel spectrogram of the sound of multiple
                                                  overlapping Dogs, including Bark and Howl"

and samples at a smaller output size, 64 x 400 (mel rows x time columns), instead of 512 x 512
(:data:`OUTPUT_SIZES`, :func:`output_size_settings`).

Which classes a model knows comes from its model card (:func:`model_classes`): the shipped
starter model lists the classes its training sounds are examples of (``audioset_classes``); a
general model (Riffusion, Stable Diffusion) lists none and is not judged class by class.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LABELS_FILE = Path(__file__).resolve().parents[1] / "resources" / "audioset_labels.json"
NUM_LABELS = 527

CLASS_TEMPLATE = "a spectrogram of the sound of {label}"
MIXTURE_TEMPLATE = "a mel spectrogram of the sound of multiple overlapping {parent}s, including {a} and {b}"

#: Seed 001's output sizes, (height, width) in pixels = (mel rows, time columns). Height is the
#: spectrogram's ``num_frequencies``: 64 means the image has 64 mel bins over the preset's
#: frequency range (a GenerateJob with ``height=64`` uses the preset with num_frequencies=64;
#: a model trained on 512-row images draws 64 rows as a squeezed picture of its usual ones).
#: Width is time: 400 columns are 4.0 s at Riffusion's 10 ms per column.
OUTPUT_SIZES: dict[str, tuple[int, int]] = {"64x400 (seed 001)": (64, 400), "512x512": (512, 512)}
DEFAULT_OUTPUT_SIZE = "64x400 (seed 001)"


class UnknownLabelError(ValueError):
    """A name that is not one of the AudioSet labels (or ontology classes)."""


@dataclass(frozen=True)
class AudioSetLabel:
    """One AudioSet class: its model output ``index`` (0..526), machine id ``mid`` ("/m/0bt9lr"),
    display ``name``, direct ``parents`` in the ontology (names; empty for a root), ``path`` (the
    first-parent chain from the root down to the direct parent) and the ontology's ``description``."""

    index: int
    mid: str
    name: str
    parents: tuple[str, ...]
    path: tuple[str, ...]
    description: str


@functools.lru_cache(maxsize=4)
def load_labels(path: str | Path = LABELS_FILE) -> tuple[AudioSetLabel, ...]:
    """The AudioSet labels in index order, read from ``path`` (the shipped JSON by default).

    Raises FileNotFoundError if the file is missing and ValueError if it is not a label file
    (naming the file and what was wrong).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc}).") from None
    entries = data.get("labels") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: expected an object with a non-empty 'labels' list.")
    labels = []
    for i, entry in enumerate(entries):
        try:
            label = AudioSetLabel(
                index=int(entry["index"]),
                mid=str(entry["mid"]),
                name=str(entry["name"]),
                parents=tuple(entry.get("parents", ())),
                path=tuple(entry.get("path", ())),
                description=str(entry.get("description", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: label entry {i} lacks index/mid/name ({exc!r}).") from None
        if label.index != i:
            raise ValueError(f"{path}: label entry {i} has index {label.index}; expected {i}.")
        labels.append(label)
    return tuple(labels)


def label_names() -> tuple[str, ...]:
    """The 527 display names in AudioSet index order (the order of classifier outputs)."""
    return tuple(label.name for label in load_labels())


@functools.lru_cache(maxsize=1)
def _by_name() -> dict[str, AudioSetLabel]:
    return {label.name.casefold(): label for label in load_labels()}


def get_label(name: str) -> AudioSetLabel:
    """The label called ``name`` (case-insensitive). Raises UnknownLabelError naming close matches."""
    label = _by_name().get(str(name).strip().casefold())
    if label is None:
        close = search_labels(name, limit=5) if str(name).strip() else []
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownLabelError(f"{name!r} is not an AudioSet label.{hint}")
    return label


_WORD_RE = re.compile(r"[\w']+")


def search_labels(query: str, limit: int | None = None) -> list[str]:
    """Label names matching ``query``, best first (for the class browser's search box).

    Every word of the query must start a word of the label's name or of one of its ancestors'
    names (case-insensitive), so "dog" finds "Dog", then its children "Bark", "Howl", ...;
    "male sp" finds "Male speech, man speaking". Ranking: exact name, name prefix, all words in
    the name, words matched through an ancestor; ties keep AudioSet order. An empty query
    returns every label in AudioSet order. ``limit`` caps the list.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"`limit` must be >= 0 or None, got {limit}.")
    words = _WORD_RE.findall(str(query).casefold())
    labels = load_labels()
    if not words:
        names = [label.name for label in labels]
        return names if limit is None else names[:limit]
    text = " ".join(words)
    ranked: list[tuple[int, int, str]] = []
    for label in labels:
        name = label.name.casefold()
        name_words = _WORD_RE.findall(name)
        family_words = name_words + [w for parent in (*label.parents, *label.path) for w in _WORD_RE.findall(parent.casefold())]

        def starts_a_word(word: str, pool: list[str]) -> bool:
            return any(candidate.startswith(word) for candidate in pool)

        if name == text:
            rank = 0
        elif name.startswith(text):
            rank = 1
        elif all(starts_a_word(w, name_words) for w in words):
            rank = 2
        elif all(starts_a_word(w, family_words) for w in words):
            rank = 3
        else:
            continue
        ranked.append((rank, label.index, label.name))
    ranked.sort()
    names = [name for _, _, name in ranked]
    return names if limit is None else names[:limit]


def _clean(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"`{what}` must be a non-empty class name, got {value!r}.")
    return value.strip()


def class_prompt(label: str) -> str:
    """Seed 001's single-class prompt: "a spectrogram of the sound of <label>".

    Any non-empty name works (free text too); the class browser passes AudioSet names.
    Raises ValueError for an empty label.
    """
    return CLASS_TEMPLATE.format(label=_clean(label, "label"))


#: Mass nouns among AudioSet's class names: "overlapping Music", not "overlapping Musics".
_UNCOUNTABLE = {"music", "speech", "noise", "steam", "percussion", "laughter", "fire", "water", "wind", "rain", "silence", "applause", "chatter", "gunfire", "thunder", "traffic"}


def plural_class_name(name: str) -> str:
    """The plural seed 001's mixture template wants ("<parent>s"), readable for AudioSet's names:
    "Dog" -> "Dogs", "Domestic animals, pets" -> "Domestic animals" (the first of a comma list),
    "Bee, wasp, etc." -> "Bees", "Roaring cats (lions, tigers)" -> "Roaring cats", "Brief tone"
    -> "Brief tones", "Music" and "Breathing" unchanged (mass nouns)."""
    head = re.sub(r"\s*\(.*?\)", "", _clean(name, "parent")).split(",")[0].strip() or name.strip()
    last = head.split()[-1].lower()
    if last in _UNCOUNTABLE or last.endswith("ing") or (last.endswith("s") and not last.endswith("ss")):
        return head
    if last.endswith(("ch", "sh", "x", "ss", "z")):
        return head + "es"
    if last.endswith("y") and len(last) > 1 and last[-2] not in "aeiou":
        return head[:-1] + "ies"
    return head + "s"


def mixture_prompt(parent: str, a: str, b: str) -> str:
    """Seed 001's two-class prompt: "a mel spectrogram of the sound of multiple overlapping
    <parent>s, including <a> and <b>" (the parent's plural by :func:`plural_class_name`).
    Raises ValueError for an empty name."""
    plural = plural_class_name(parent)
    return MIXTURE_TEMPLATE.replace("{parent}s", "{parent}").format(parent=plural, a=_clean(a, "a"), b=_clean(b, "b"))


def ancestors(name: str) -> tuple[str, ...]:
    """Every ontology ancestor of label ``name``, nearest first (all parents, breadth-first).

    Ancestors that are themselves labels are followed further up; abstract ontology classes that
    are not labels end the walk there (the shipped file records each label's parents and its
    first-parent path, not the full 632-class graph, so ``path`` supplies the rest).
    """
    label = get_label(name)
    seen: list[str] = []
    frontier = list(label.parents)
    while frontier:
        parent = frontier.pop(0)
        if parent in seen:
            continue
        seen.append(parent)
        known = _by_name().get(parent.casefold())
        if known is not None:
            frontier.extend(known.parents)
    for parent in reversed(label.path):
        if parent not in seen:
            seen.append(parent)
    return tuple(seen)


def mixture_parent(a: str, b: str) -> str:
    """The nearest ontology class that both labels ``a`` and ``b`` descend from (the
    ``<parent>`` of :func:`mixture_prompt`). Raises UnknownLabelError for an unknown label and
    ValueError if they share no ancestor (labels under different roots, e.g. Music and Animal).
    """
    first, second = ancestors(a), ancestors(b)
    for candidate in first:
        if candidate in second:
            return candidate
    raise ValueError(f"{a!r} and {b!r} share no parent class in the AudioSet ontology.")


def children(parent: str) -> list[str]:
    """Labels whose direct parent is ``parent`` (a label or an abstract ontology class), in AudioSet order."""
    key = _clean(parent, "parent").casefold()
    return [label.name for label in load_labels() if any(p.casefold() == key for p in label.parents)]


def output_size_settings(name: str, params: Any) -> dict[str, float | int]:
    """GenerateJob fields for output size ``name`` under spectrogram ``params``.

    Returns ``{"height": rows, "duration_s": seconds}``: ``height`` becomes the job's
    ``num_frequencies`` and ``duration_s`` gives exactly the size's width in columns at the
    preset's ``step_size_ms``. Raises ValueError for a name not in :data:`OUTPUT_SIZES`.
    """
    if name not in OUTPUT_SIZES:
        raise ValueError(f"unknown output size {name!r}; expected one of {', '.join(OUTPUT_SIZES)}.")
    from engine.audio.params import duration_for_width

    height, width = OUTPUT_SIZES[name]
    return {"height": height, "duration_s": float(duration_for_width(params, width))}


@dataclass(frozen=True)
class ModelClasses:
    """The AudioSet classes a model says it knows, from its model card.

    ``known`` holds the canonical names of the classes its card lists (``audioset_classes``;
    names that are not AudioSet labels are dropped), or is None for a *general* model: one whose
    card lists none, or that has no card (Riffusion, Stable Diffusion, any repo or folder), about
    which nothing is claimed class by class. A starter model (``"starter": true``) whose card
    lists none knows none: it was trained on its own captions only. ``title`` names the model
    for people; ``suggestion`` is a real model to use instead (a catalog title, Riffusion's)
    and ``suggestion_id`` its repo id, or "" for both.
    """

    model: str
    title: str
    known: frozenset[str] | None
    suggestion: str = ""
    suggestion_id: str = ""

    @property
    def general(self) -> bool:
        return self.known is None

    def knows(self, name: str) -> bool | None:
        """Whether the model knows class ``name`` (any case); None for a general model.
        Raises UnknownLabelError for a name that is not an AudioSet label."""
        canonical = get_label(name).name
        return None if self.known is None else canonical in self.known

    def unknown(self, names: Iterable[str]) -> list[str]:
        """The classes among ``names`` the model does not know (canonical names, in order);
        none for a general model."""
        if self.known is None:
            return []
        out = []
        for name in names:
            canonical = get_label(name).name
            if canonical not in self.known and canonical not in out:
                out.append(canonical)
        return out

    def caution(self, names: Iterable[str]) -> str | None:
        """What to tell the user before generating seed 001's prompt for ``names`` with this
        model: which of them it was not trained on and which real model to use instead; None
        when it knows them all (or is a general model)."""
        missing = self.unknown(names)
        if not missing:
            return None
        quoted = " or ".join(f"\u201c{name}\u201d" for name in missing)
        count = len(self.known or ())
        knows = (f"it knows {count} of the {len(load_labels())} AudioSet classes, marked \u2713 in Sound Classes"
                 if count else "it knows none of the AudioSet classes")
        instead = (f" For {quoted}, use a general model such as {self.suggestion} (Model Manager)."
                   if self.suggestion else " For that sound, use a general model (Model Manager).")
        return f"{self.title} was not trained on {quoted} ({knows}): it will make something else.{instead}"


def model_classes(model: str) -> ModelClasses:
    """Which AudioSet classes ``model`` (a repo id, a model folder or ``builtin:<name>``) knows,
    read from its model card (``starter.json``: ``audioset_classes``) without loading it; see
    :class:`ModelClasses`. Never touches the network; a malformed card counts as no card."""
    from engine.models.catalog import DEFAULT_GENERATE_MODEL, find_entry, model_hints  # torch-free

    text = str(model).strip()
    hints = model_hints(text) if text else None
    entry = find_entry(text) if text else None
    title = hints.title if hints is not None else (entry.title if entry is not None else (Path(text).name or text))
    suggested = find_entry(DEFAULT_GENERATE_MODEL)
    if suggested is None or suggested is entry:
        suggested = None
    known: frozenset[str] | None = None
    if hints is not None and hints.audioset_classes is not None:
        by_name = _by_name()
        known = frozenset(by_name[n.strip().casefold()].name for n in hints.audioset_classes
                          if n.strip().casefold() in by_name)
    elif hints is not None and hints.starter:
        known = frozenset()
    return ModelClasses(model=text, title=title, known=known, suggestion=suggested.title if suggested else "",
                        suggestion_id=suggested.model_id if suggested else "")
