"""Pictures as PNG files that carry their recipe (a PNG text chunk), torch-free.

    save_png(image, "out.png", recipe)      # iTXt chunk "specdiff-recipe" = recipe JSON
    recipe = read_png_recipe("out.png")     # -> engine.recipes.Recipe
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

#: The PNG text chunk keyword that holds the recipe JSON.
RECIPE_CHUNK = "specdiff-recipe"


def save_png(image: Any, path: str | Path, recipe: Any) -> Path:
    """Write ``image`` (PIL or uint8 (H, W, 3)) to ``path`` as PNG with ``recipe`` in a text chunk."""
    from engine.audio.io import atomic_output_path

    path = Path(path)
    data = png_bytes(image, recipe)
    with atomic_output_path(path) as tmp:  # a failed write never leaves half a file in its place
        tmp.write_bytes(data)
    return path


def png_bytes(image: Any, recipe: Any) -> bytes:
    """The PNG file of ``image`` with its recipe, as bytes (drag and drop, project storage)."""
    from PIL import Image, PngImagePlugin

    if not isinstance(image, Image.Image):
        image = Image.fromarray(image)
    info = PngImagePlugin.PngInfo()
    info.add_itxt(RECIPE_CHUNK, recipe.to_json())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def read_png_recipe(path: str | Path) -> Any:
    """The recipe a PNG written by :func:`save_png` carries. Raises ValueError if it has none."""
    from PIL import Image

    from engine.recipes import Recipe

    try:
        with Image.open(path) as image:
            text = getattr(image, "text", {}).get(RECIPE_CHUNK)
    except OSError as error:
        raise ValueError(f"'{path}' is not a readable PNG: {error}") from None
    if not text:
        raise ValueError(f"'{path}' carries no recipe (no '{RECIPE_CHUNK}' text chunk).")
    return Recipe.from_json(text)
