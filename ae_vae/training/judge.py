"""Training the shipped judge classifier (`ae_vae.models.judge`): the recipe, its test accuracy, its folder."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data import ImageSet, random_shift
from ..fileio import atomic_write_text
from ..models.judge import Judge, JudgeCard, save_judge
from .cards import render_judge_card

logger = logging.getLogger(__name__)


def train_judge(train: ImageSet, epochs: int = 3, seed: int = 0, batch_size: int = 128, lr: float = 1e-3,
                max_shift: int = 0) -> Judge:
    """Adam with a cosine decay to zero over all steps, shuffled mini-batches, seeded (same inputs, same weights).

    `max_shift` > 0 adds random translations of up to that many pixels, a classic MNIST augmentation.
    """
    torch.manual_seed(seed)
    judge = Judge()
    optimizer = torch.optim.Adam(judge.parameters(), lr=lr)
    steps = epochs * -(-len(train) // batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / steps)))
    generator = torch.Generator().manual_seed(seed)
    judge.train()
    for epoch in range(epochs):
        order = torch.randperm(len(train), generator=generator)
        total = 0.0
        for start in range(0, len(train), batch_size):
            idx = order[start:start + batch_size]
            images = random_shift(train.images[idx], max_shift, generator)
            loss = F.cross_entropy(judge(images), train.labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += float(loss.detach()) * len(idx)
        logger.info("judge epoch %d/%d: train cross-entropy %.4f", epoch + 1, epochs, total / len(train))
    return judge.eval()


def accuracy(judge: Judge, data: ImageSet) -> float:
    return float((judge.predict(data.images) == data.labels).float().mean())


def train_judge_folder(dataset: str, train: ImageSet, test: ImageSet, folder: str | os.PathLike, epochs: int = 3,
                       seed: int = 0, max_shift: int = 0) -> JudgeCard:
    """Train a judge, measure it on the test split and write its folder: weights, `config.json`, model card."""
    judge = train_judge(train, epochs=epochs, seed=seed, max_shift=max_shift)
    card = JudgeCard(dataset=dataset, test_accuracy=round(accuracy(judge, test), 4), epochs=epochs, seed=seed,
                     max_shift=max_shift)
    save_judge(judge, folder, card)
    atomic_write_text(Path(folder) / "README.md", render_judge_card(card))
    return card
