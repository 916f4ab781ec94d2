"""Re-vocode: the selected clip made again from its spectrogram by another vocoder, in one undo step.

A clip that carries its spectrogram image (every generated or edited clip) is vocoded from that
image - the picture the model drew; any other clip is analysed with the spectrogram preset first.
Undo and redo compare the two vocoders (A/B).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox

from app.tasks import AppTask, Plan, TaskForm
from app.tasks._common import plan_for


class Form(TaskForm):
    def __init__(self) -> None:
        from engine.api import VOCODERS

        self.vocoder = QComboBox(toolTip="The vocoder that makes the clip's audio from its spectrogram")
        for entry in VOCODERS:
            self.vocoder.addItem(entry.title, entry.name)
        self.vocoder.setCurrentIndex(min(1, self.vocoder.count() - 1))  # the first neural one
        self.rows = [("Vocoder", self.vocoder)]

    def params(self) -> dict[str, Any]:
        return {"vocoder": self.vocoder.currentData()}


def _png_bytes(image: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", exif=image.getexif())  # the EXIF holds the spectrogram parameters
    return buffer.getvalue()


def plan(tools: Any, params: dict[str, Any]) -> Plan:
    from engine.api import task

    clip = tools.target_clip()
    image, audio, rate = clip.image, clip.audio, clip.sample_rate_hz
    recorded = (clip.recipe.params.get("spectrogram_preset") if clip.recipe is not None else None)
    settings = getattr(tools.window, "generation", None)
    preset = recorded if isinstance(recorded, str) else settings.preset if settings is not None else "riffusion"
    spec_class = task("vocode").spec

    def build() -> Any:
        if image is not None:
            return spec_class(image=_png_bytes(image), vocoder=params["vocoder"])
        return spec_class(audio=audio, sample_rate_hz=rate, vocoder=params["vocoder"], spectrogram_preset=preset)

    def land(job_id: int, results: list[Any]) -> list[str]:
        result = results[0]
        if image is not None:  # keep the spectrogram the clip was made from with it
            from dataclasses import replace

            result = replace(result, image=image)
        return tools.landing.replace(tools.clip(clip.id), result, f"Re-vocode ({params['vocoder']})", keep_trim=True)

    return plan_for("vocode", clip, build, land)


TASK = AppTask(
    name="vocode",
    title="Vocoder",
    action_text="Re-&vocode Clip",
    button="Re-vocode",
    help="Make the selected clip's audio again from its spectrogram with another vocoder (undo compares them).",
    engine_task="vocode",
    make_form=Form,
    plan=plan,
    order=45,
)
