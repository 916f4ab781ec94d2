"""Training a starter model whose UNet draws the prompt's pitch and beat as hint maps
(:mod:`engine.models.hint_unet`).

The joint stage shows the UNet the *true* hints of each training pair (what the caption names,
with the sound's own first beat); a last stage teaches the UNet's caption reader to read the
same facts from the finished text encoder's states, in the wordings of training with filler
words dropped at random, so that sampling draws them from the prompt alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from engine.models.hint_unet import FACT_FIELDS, READ_FIELDS
from engine.specs import Progress
from engine.training.captions import NUMERIC_FACTS

_PITCH, _RATE, _SWEEP_START, _SWEEP_END, _TEMPO = (NUMERIC_FACTS.index(n) for n in ("pitch", "rate", "sweep_start", "sweep_end", "tempo"))


def pair_facts(caption_facts: Any, onsets: Any) -> Any:
    """The hint facts (B, len(FACT_FIELDS)) of B (caption, sound) pairs: ``caption_facts``
    (B, len(NUMERIC_FACTS)) what each caption names (NaN elsewhere), ``onsets`` (B,) each sound's
    first beat or event in seconds (NaN where its events are not periodic).

    A pitch names a flat contour; a sweep's two ends a sloped one. A tempo (a beat every 60/BPM s)
    or a rate (an event every 1/rate s) names a pulse train where the sound's events are periodic
    and their first is known."""
    import torch

    facts = torch.as_tensor(caption_facts, dtype=torch.float32)
    onsets = torch.as_tensor(onsets, dtype=torch.float32)
    out = torch.zeros(facts.shape[0], len(FACT_FIELDS))
    pitch = facts[:, _PITCH]
    has_pitch = torch.isfinite(pitch)
    has_sweep = torch.isfinite(facts[:, _SWEEP_START]) & torch.isfinite(facts[:, _SWEEP_END])
    out[:, 0] = (has_pitch | has_sweep).float()
    out[:, 1] = torch.where(has_pitch, pitch, torch.nan_to_num(facts[:, _SWEEP_START]))
    out[:, 2] = torch.where(has_pitch, pitch, torch.nan_to_num(facts[:, _SWEEP_END]))
    tempo, rate = facts[:, _TEMPO], facts[:, _RATE]
    # log2 period: 60 / (120 * 2^tempo) s for a tempo, 1 / 2^rate s for a rate.
    period = torch.where(torch.isfinite(tempo), -1.0 - tempo, -rate)
    has_pulse = torch.isfinite(period) & torch.isfinite(onsets)
    out[:, 3] = has_pulse.float()
    out[:, 4] = torch.where(has_pulse, period, torch.zeros_like(period))
    out[:, 5] = torch.nan_to_num(onsets)
    return out


def chosen_captions(dataset: Any, idx: Any, picks: Any) -> Any:
    """The caption index for each sound ``idx`` of ``dataset``, one of its captions picked by
    ``picks`` (uniform in [0, 1)), as the joint stage draws them."""
    import torch

    return torch.tensor(
        [dataset.caption_index[i][int(picks[j] * len(dataset.caption_index[i]))] for j, i in enumerate(idx.tolist())]
    )


def facts_for(dataset: Any, idx: Any, chosen: Any, dropped: Any = None) -> Any:
    """:func:`pair_facts` of ``dataset``'s sounds ``idx`` with captions ``chosen``; the pairs
    whose caption was ``dropped`` (the unconditional ones) name nothing."""
    facts = pair_facts(dataset.caption_facts[chosen.numpy()], dataset.onsets[idx.numpy()])
    if dropped is not None:
        facts[dropped] = 0.0
    return facts


def reader_loss(reading: Any, facts: Any) -> Any:
    """Binary cross-entropy on the two named flags, plus the squared error (octaves^2, or log2
    seconds^2 for the period) of the values a pair names."""
    import torch

    named = facts[:, [0, 3]]
    loss = torch.nn.functional.binary_cross_entropy_with_logits(reading[:, [0, 3]], named)
    values = reading[:, [1, 2, 4]]
    targets = facts[:, [1, 2, 4]]
    weight = named[:, [0, 0, 1]]
    return loss + ((values - targets).pow(2) * weight).sum() / weight.sum().clamp(min=1)


def train_reader(
    unet: Any,
    text_encoder: Any,
    caption_ids: Any,
    empty_ids: Any,
    dataset: Any,
    steps: int,
    generator: Any,
    droppable: Any = None,
    word_dropout: float = 0.0,
    batch: int = 256,
    caption_dropout: float = 0.1,
) -> Iterator[Progress]:
    """Fit ``unet.caption_reader`` alone to the frozen ``text_encoder``'s states: ``steps`` AdamW
    steps on random pairs of ``dataset`` (a share ``caption_dropout`` of them with the empty
    caption, which names nothing), filler words dropped with ``word_dropout``."""
    import torch

    from engine.training.train_starter import _lr_at, _smoothed, drop_words

    reader = unet.caption_reader
    optimizer = torch.optim.AdamW(reader.parameters(), lr=2e-3, weight_decay=1e-2)
    text_encoder.eval()
    reader.train()
    ema = None
    flags = right = 0.0
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, steps, min(100, steps // 10 + 1), 2e-3)
        idx = torch.randint(0, len(dataset.images), (batch,), generator=generator)
        chosen = chosen_captions(dataset, idx, torch.rand(batch, generator=generator))
        dropped = torch.rand(batch, generator=generator) < caption_dropout
        ids = torch.where(dropped[:, None], empty_ids[None], caption_ids[chosen])
        if word_dropout > 0 and droppable is not None:
            ids = drop_words(ids, droppable, word_dropout, text_encoder.config.pad_token_id, generator)
        with torch.no_grad():
            states = text_encoder(ids).last_hidden_state
        facts = facts_for(dataset, idx, chosen, dropped)
        reading = reader(states)
        loss = reader_loss(reading, facts)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        ema = _smoothed(ema, float(loss.detach()), keep=0.95)
        agree = ((reading[:, [0, 3]] > 0).float() == facts[:, [0, 3]]).float().mean()
        flags, right = flags + 1, right + float(agree)
        if step % 50 == 0 or step == steps - 1:
            yield Progress("train-reader", step + 1, steps, f"caption reader {ema:.4f}, named flags right {right / flags:.1%}")
            flags = right = 0.0
    reader.eval()


__all__ = ["FACT_FIELDS", "chosen_captions", "READ_FIELDS", "facts_for", "pair_facts", "reader_loss", "train_reader"]
