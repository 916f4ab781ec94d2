"""Build the tiny random-weight AudioSet tagger in tests/assets/tiny-ast/ (no download).

A transformers ``ASTForAudioClassification`` with the real model's structure (patch embedding
over a log-mel filterbank, transformer layers, a 527-way AudioSet head labelled with
resources/audioset_labels.json) but 2 layers of width 32 and 128 frames, plus the
``ASTFeatureExtractor`` config that turns 16 kHz audio into its input. Weights are seeded, so
the output is deterministic. ``python tests/assets/make_tiny_ast.py`` regenerates it.
"""

from __future__ import annotations

from pathlib import Path

import torch

TINY_AST_DIR = Path(__file__).resolve().parent / "tiny-ast"


def make_tiny_ast(folder: Path = TINY_AST_DIR) -> Path:
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    from engine.audioset import label_names

    labels = label_names()
    config = ASTConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, num_mel_bins=64,
        max_length=128, id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)},
    )  # fmt: skip
    torch.manual_seed(0)
    model = ASTForAudioClassification(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    ASTFeatureExtractor(num_mel_bins=64, max_length=128, sampling_rate=16000).save_pretrained(folder)
    return folder


if __name__ == "__main__":
    print(make_tiny_ast())
