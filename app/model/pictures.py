"""Pictures made from clips (issue 16): the project's gallery and its undoable edits. Qt-free.

A :class:`Picture` is an image the ``illustrate`` task made from a clip (or a time range of it),
with the recipe that makes it again and the id of the clip it came from. The project keeps them
in ``project.pictures`` (the gallery dock shows them; a ``.sdproj`` stores each as a PNG that
carries its recipe). A picture stays attached to its clip by id: deleting the clip keeps the
picture (undoing the delete brings the clip back with its pictures still attached), and the
gallery says when its clip is gone.

    push(AddPictures(project, [Picture(clip_id=clip.id, image=img, recipe=recipe)]))
    push(RemovePictures(project, [picture.id]))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.model.commands import Command
from app.model.project import MAX_NAME_CHARS, Project, _text, new_id
from engine.specs import Recipe

#: A picture's width x height at most (zero-shot pictures are at most 1024 x 1024).
MAX_PICTURE_PIXELS = 4096 * 4096
#: Pictures a project may hold.
MAX_PICTURES = 10_000


@dataclass(eq=False, kw_only=True)
class Picture:
    """An image made from a clip. ``image`` is a PIL image (RGB, treated as immutable like the
    clips' arrays); ``recipe`` makes it again (None for one whose recipe could not be read);
    ``clip_id`` is the clip it came from (it may be gone from the project). Raises ValueError
    on bad values."""

    id: str = field(default_factory=new_id)
    name: str = "Picture"
    clip_id: str | None = None
    image: Any
    recipe: Recipe | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        from PIL import Image

        _text("picture", "id", self.id)
        _text("picture", "name", self.name, limit=MAX_NAME_CHARS)
        _text(f"picture {self.name!r}", "clip_id", self.clip_id, optional=True)
        if not isinstance(self.image, Image.Image):
            raise ValueError(f"picture {self.name!r}: `image` must be a PIL image, got {type(self.image).__name__}.")
        width, height = self.image.size
        if not 1 <= width * height <= MAX_PICTURE_PIXELS:
            raise ValueError(f"picture {self.name!r}: {width} x {height} pixels; at most {MAX_PICTURE_PIXELS} are allowed.")
        if self.recipe is not None and not isinstance(self.recipe, Recipe):
            raise ValueError(f"picture {self.name!r}: `recipe` must be an engine.specs.Recipe or None.")

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size

    def summary(self) -> str:
        """What the gallery shows under the picture: model, seed, steps, guidance, prompt, size."""
        width, height = self.image.size
        recipe = self.recipe
        if recipe is None:
            return f"{width} x {height} px; no recipe (it cannot be regenerated)."
        params, facts = recipe.params, recipe.facts
        lines = [f"Model: {recipe.model_id}", f"Seed: {recipe.seed}"]
        steps = params.get("num_inference_steps")
        guidance = facts.get("guidance", params.get("guidance_scale"))
        lines.append(f"Steps: {steps}" + (f", guidance {guidance:g}" if isinstance(guidance, (int, float)) else ""))
        prompt = facts.get("prompt")
        if prompt:
            lines.append(f"Prompt: {prompt}")
        tags = facts.get("tags")
        if isinstance(tags, list) and tags:
            lines.append("Tags: " + ", ".join(_tag_text(t) for t in tags[:8]))
        audio = recipe.inputs.get("audio", {})
        shape, rate = audio.get("shape"), audio.get("sample_rate_hz")
        if isinstance(shape, list) and len(shape) == 2 and isinstance(rate, int) and rate > 0:
            lines.append(f"From {shape[1] / rate:.2f} s of audio ({shape[0]} ch, {rate} Hz)")
        lines.append(f"{width} x {height} px, {recipe.device}, {recipe.dtype}, engine {recipe.engine_version}")
        return "\n".join(lines)


def _tag_text(tag: Any) -> str:
    if isinstance(tag, (list, tuple)) and len(tag) == 2 and isinstance(tag[1], (int, float)):
        return f"{tag[0]} ({tag[1]:.2f})"
    return str(tag)


def read_picture(path: Any) -> Picture | None:
    """The picture a PNG file written by Specdiff Studio holds (Save PNG, a drag out,
    ``specdiff-cli illustrate``): its pixels and recipe, attached to no clip. None for a PNG
    whose recipe chunk is missing or not an ``illustrate`` recipe (a spectrogram image, say).
    Raises ValueError for an image too large or unreadable."""
    from pathlib import Path

    from engine.audio.limits import load_image
    from engine.pictures.png import RECIPE_CHUNK, read_png_recipe

    image = load_image(path, f"'{Path(path).name}'")  # size checked before decoding
    if not getattr(image, "text", image.info).get(RECIPE_CHUNK):
        return None
    try:
        recipe = read_png_recipe(path)
    except ValueError:  # a recipe this version cannot read: not a picture of ours after all
        return None
    if recipe.task != "illustrate":
        return None
    return Picture(name=Path(path).stem[:MAX_NAME_CHARS], image=image.convert("RGB"), recipe=recipe)


def pictures_of(project: Project, clip_ids: set[str] | frozenset[str]) -> list[Picture]:
    """The project's pictures made from any of ``clip_ids``, in the order they were made."""
    return [p for p in project.pictures if p.clip_id in clip_ids]


class AddPictures(Command):
    """Add pictures to the project's gallery (a job's variations: one undo step)."""

    def __init__(self, project: Project, pictures: list[Picture], *, text: str | None = None) -> None:
        super().__init__(project, text or ("Add picture" if len(pictures) == 1 else f"Add {len(pictures)} pictures"))
        if not pictures:
            raise ValueError("AddPictures needs at least one picture.")
        present = {p.id for p in project.pictures}
        for picture in pictures:
            if not isinstance(picture, Picture):
                raise ValueError(f"expected a Picture, got {type(picture).__name__}")
            if picture.id in present:
                raise ValueError(f"picture {picture.id!r} is already in the project")
        if len(project.pictures) + len(pictures) > MAX_PICTURES:
            raise ValueError(f"a project holds at most {MAX_PICTURES} pictures; delete some first.")
        self.pictures = list(pictures)

    def _redo(self) -> None:
        for picture in self.pictures:
            self.project.add_picture(picture)

    def _undo(self) -> None:
        for picture in reversed(self.pictures):
            self.project.remove_picture(picture.id)


class RemovePictures(Command):
    """Delete pictures from the gallery; undo puts each back at its place."""

    def __init__(self, project: Project, picture_ids: list[str], *, text: str | None = None) -> None:
        ids = list(dict.fromkeys(picture_ids))
        if not ids:
            raise ValueError("RemovePictures needs at least one picture id.")
        for picture_id in ids:
            project.picture(picture_id)  # KeyError now for an unknown id, not at redo
        super().__init__(project, text or ("Delete picture" if len(ids) == 1 else f"Delete {len(ids)} pictures"))
        self.ids = ids
        self.removed: list[tuple[int, Picture]] = []

    def _redo(self) -> None:
        self.removed = [self.project.remove_picture(picture_id) for picture_id in self.ids]

    def _undo(self) -> None:
        for index, picture in reversed(self.removed):
            self.project.add_picture(picture, index)
        self.removed = []
