"""The judge classifier: shapes, the folder round trip, its errors, the Fréchet distance, the training command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ae_vae.cli import main
from ae_vae.data import load_split, random_shift
from ae_vae.errors import DivergedError, JudgeError
from ae_vae.models.judge import FEATURE_DIM, Judge, JudgeCard, load_judge, save_judge
from ae_vae.training.cards import render_judge_card
from ae_vae.training.evaluation import frechet_distance, unconditional_quality
from ae_vae.training.judge import train_judge


def random_images(count: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(count, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def judge() -> Judge:
    torch.manual_seed(0)
    return Judge().eval()


@pytest.mark.parametrize("count", [1, 7, 2501])
def test_shapes(judge, count):
    images = random_images(count)
    features = judge.features(images)
    assert features.shape == (count, FEATURE_DIM) and features.dtype == np.float64
    probs = judge.predict_proba(images)
    assert probs.shape == (count, 10)
    torch.testing.assert_close(probs.sum(1), torch.ones(count))
    assert torch.equal(judge.predict(images), probs.argmax(1))


def test_round_trip_keeps_predictions_and_card(judge, tmp_path):
    card = JudgeCard(dataset="mnist", test_accuracy=0.5, epochs=1, seed=0)
    save_judge(judge, tmp_path, card)
    loaded, loaded_card = load_judge(tmp_path)
    images = random_images(20)
    assert np.array_equal(loaded.features(images), judge.features(images))
    assert loaded_card == card


def test_card_carries_a_model_index_with_the_test_accuracy():
    card = render_judge_card(JudgeCard(dataset="mnist", test_accuracy=0.9915, epochs=3, seed=0))
    header = card.split("---")[1]
    assert "model-index:" in header and "value: 0.9915" in header and "type: accuracy" in header
    assert "python -m ae_vae train-judge --dataset mnist" in card and "shared" not in card


@pytest.mark.parametrize("damage", ["missing_model", "garbage", "wrong_tensors", "missing_config", "not_a_judge"])
def test_bad_folder_is_named(judge, tmp_path, damage):
    save_judge(judge, tmp_path, JudgeCard(dataset="mnist", test_accuracy=0.5, epochs=1, seed=0))
    model_file, config_file = tmp_path / "model.safetensors", tmp_path / "config.json"
    if damage == "missing_model":
        model_file.unlink()
    elif damage == "garbage":
        model_file.write_bytes(b"garbage")
    elif damage == "wrong_tensors":
        from safetensors.torch import save_file
        save_file({"head.weight": torch.zeros(10, 3)}, str(model_file))
    elif damage == "missing_config":
        config_file.unlink()
    else:
        config_file.write_text(json.dumps({"model_type": "vae"}))
    named = config_file if damage in ("missing_config", "not_a_judge") else model_file
    with pytest.raises(JudgeError, match=str(named)):
        load_judge(tmp_path)


def test_frechet_distance_of_a_shift_is_its_squared_length():
    a = np.random.default_rng(0).normal(size=(2000, 5))
    shift = np.array([3.0, 0, -1, 0, 0.5])
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    assert frechet_distance(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-6)
    assert frechet_distance(a, 2 * a) > 1


def test_frechet_distance_agrees_with_the_sqrtm_formula_and_survives_dead_features():
    from scipy import linalg
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6)), rng.normal(size=(400, 6)) + 1
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = (((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(cov_a + cov_b - 2 * linalg.sqrtm(cov_a @ cov_b).real))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    dead = np.zeros((500, 3))  # ReLU units that never fire: singular covariances
    assert np.isfinite(frechet_distance(np.hstack([a, dead]), np.hstack([a + 1, dead[:500]])))


def test_training_command_writes_a_judge_that_learns(tiny_data_dir, tmp_path, capsys):
    out = tmp_path / "judge-mnist"
    assert main(["train-judge", "--dataset", "mnist", "--data-dir", str(tiny_data_dir), "--output", str(out), "--epochs", "2",
                 "--max-shift", "1"]) == 0
    judge, card = load_judge(out)
    test = load_split("mnist", tiny_data_dir, train=False, download=False)
    assert card.dataset == "mnist" and card.epochs == 2 and card.max_shift == 1
    assert card.test_accuracy == pytest.approx(float((judge.predict(test.images) == test.labels).float().mean()),
                                               abs=1e-4)
    assert card.test_accuracy > 0.5, "the synthetic classes are blobs at different places: easy to learn"
    assert "test accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("max_shift", [0, 1, 3])
def test_random_shift_translates_each_image_within_the_bound(max_shift):
    images = torch.zeros(200, 1, 28, 28)
    images[:, 0, 14, 14] = 1  # one lit pixel in the middle: its new place is the shift
    shifted = random_shift(images, max_shift, torch.Generator().manual_seed(0))
    assert shifted.shape == images.shape and torch.equal(shifted.sum((1, 2, 3)), images.sum((1, 2, 3)))
    where = shifted[:, 0].flatten(1).argmax(1)
    dy, dx = where // 28 - 14, where % 28 - 14
    assert dy.abs().max() == max_shift and dx.abs().max() == max_shift


def test_training_is_seeded(tiny_data_dir):
    train = load_split("mnist", tiny_data_dir, train=True, download=False).subset(64)
    first, second = train_judge(train, epochs=1, seed=3), train_judge(train, epochs=1, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True))


def test_unknown_dataset_is_a_clear_error(tmp_path, capsys):
    assert main(["train-judge", "--dataset", "cifar", "--output", str(tmp_path)]) == 2
    assert "unknown dataset" in capsys.readouterr().err


def test_samples_that_are_not_numbers_are_one_clear_error(judge):
    """A model decoding to NaN (trained out of range): its sample quality is refused in words, not as numpy's
    "Eigenvalues did not converge"."""
    images = random_images(50)
    images[3, 0, 5, 5] = float("nan")
    with pytest.raises(DivergedError, match="not numbers"):
        unconditional_quality(judge, images, judge.features(random_images(50, seed=1)))
