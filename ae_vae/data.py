"""MNIST / Fashion-MNIST through torchvision, held as one in-memory tensor; the data sets' names and titles.

On 2 cores a DataLoader that builds a PIL image per sample is several times slower than
indexing a float tensor (see `bench/data_loading.py`), and both data sets fit in ~190 MB.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import DataNotFoundError, InputError

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)
# The names and titles are what the app reads; reading the images (torch, torchvision) is training's, so torch is
# imported by the functions that need it.

DATASETS = ("mnist", "fashion_mnist")
CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}
# The classic "2 -> 5" interpolation; for Fashion-MNIST a T-shirt -> sneaker.
INTERPOLATION_PAIRS = {"mnist": (2, 5), "fashion_mnist": (0, 7)}
DATASET_TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
# What each data set's images are of, in the app's sentences ("draw a digit", "less typical than any test digit").
SUBJECTS = {"mnist": "digit", "fashion_mnist": "garment"}
# Where every command looks for the data sets unless told (`--data-dir`): the environment, else ./data.
DATA_DIR_VARIABLE = "AE_VAE_DATA_DIR"


def default_data_dir() -> str:
    """`$AE_VAE_DATA_DIR` when set, else `./data` (torchvision downloads there when it can)."""
    return os.environ.get(DATA_DIR_VARIABLE) or "./data"


@dataclass
class ImageSet:
    """Images (N, 1, 28, 28) float32 in [0, 1], white ink on black, and int64 labels (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, count: int) -> ImageSet:
        return ImageSet(self.images[:count], self.labels[:count])

    def split_off(self, count: int, seed: int = 0) -> tuple[ImageSet, ImageSet]:
        """(rest, held_out): `count` random images held out, e.g. to choose a regularizer without the test split.

        The choice depends only on `seed` and the set, so a resumed run holds out the same images.
        """
        if not 0 <= count < len(self):
            raise ValueError(f"cannot hold out {count} of {len(self)} images")
        import torch

        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))
        rest, held_out = order[count:].sort().values, order[:count].sort().values
        return ImageSet(self.images[rest], self.labels[rest]), ImageSet(self.images[held_out], self.labels[held_out])


def normalize_dataset_name(name: str) -> str:
    """Accept 'mnist', 'MNIST', 'fashion-mnist', 'FashionMNIST', 'fashion_mnist'; anything else is an `InputError`."""
    if not isinstance(name, str):
        raise InputError(f"dataset must be a name ({', '.join(DATASETS)}), got {name!r}")
    key = name.strip().lower().replace("-", "_")
    key = {"fashionmnist": "fashion_mnist", "fashion": "fashion_mnist"}.get(key, key)
    if key not in DATASETS:
        raise InputError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return key


def _torchvision_class(dataset: str):
    from torchvision import datasets  # heavy import (~1 s); the app never reads the data sets

    return {"mnist": datasets.MNIST, "fashion_mnist": datasets.FashionMNIST}[dataset]


def load_split(dataset: str, data_dir: str | os.PathLike, train: bool, download: bool = True) -> ImageSet:
    """Load one split through torchvision's dataset class (the same files `ToTensor()` reads).

    Tries the files on disk first; downloads only if they are absent and `download` is set.
    Raises `DataNotFoundError` with a one-line message naming `--data-dir` otherwise.
    """
    dataset = normalize_dataset_name(dataset)
    cls = _torchvision_class(dataset)
    root = Path(data_dir).expanduser()
    try:
        ds = cls(str(root), train=train, download=False)
    except RuntimeError:
        if not download:
            raise DataNotFoundError(_missing_message(dataset, root)) from None
        logger.info("%s not found under %s; trying to download it", DATASET_TITLES[dataset], root)
        try:
            ds = cls(str(root), train=train, download=True)
        except Exception as exc:  # noqa: BLE001 -- no network, read-only dir, mirror down, bad archive: all mean 'absent'
            reason = f" (download failed: {exc.__class__.__name__})"
            raise DataNotFoundError(_missing_message(dataset, root) + reason) from None
    import torch

    images = ds.data.unsqueeze(1).to(torch.float32).div_(255.0)
    return ImageSet(images.contiguous(), ds.targets.clone().to(torch.int64))


def _missing_message(dataset: str, root: Path) -> str:
    folder = _torchvision_class(dataset).__name__
    return (f"{DATASET_TITLES[dataset]} not found in --data-dir {root} (expected {root / folder / 'raw'}/*-ubyte) "
            f"and it could not be downloaded; pass --data-dir pointing at a folder that holds {folder}/raw")


def load_dataset(dataset: str, data_dir: str | os.PathLike, download: bool = True) -> tuple[ImageSet, ImageSet]:
    """(train, test) for one data set."""
    return load_split(dataset, data_dir, True, download), load_split(dataset, data_dir, False, download)


def iterate_minibatches(images: torch.Tensor, batch_size: int, generator: torch.Generator):
    """Shuffled mini-batches of an in-memory tensor; the last partial batch is kept."""
    import torch

    order = torch.randperm(len(images), generator=generator)
    for start in range(0, len(images), batch_size):
        yield images[order[start:start + batch_size]]


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each image moved by its own random whole-pixel offset in [-max_shift, max_shift] on both axes.

    Augmentation against overfitting: the AEs fit their training images much better than the test images
    (MNIST AE: MSE 0.0015 vs 0.0019), and a shifted digit is still a digit. The test images are centred (MNIST
    by centre of mass, Fashion-MNIST by the item's frame), so shifts of a pixel or two stay within the jitter
    the data already has. Vacated pixels are background (0). `max_shift` 0 returns `images` itself.
    """
    if max_shift <= 0:
        return images
    import torch

    n, _, height, width = images.shape
    offsets = torch.randint(-max_shift, max_shift + 1, (2, n), generator=generator)
    padded = torch.nn.functional.pad(images, (max_shift,) * 4)
    shifted = torch.empty_like(images)
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            chosen = ((offsets[0] == dy) & (offsets[1] == dx)).nonzero().flatten()
            if len(chosen):  # content moves by (dy, dx): read the window offset the other way
                top, left = max_shift - dy, max_shift - dx
                shifted[chosen] = padded[chosen, :, top:top + height, left:left + width]
    return shifted


def pick_class_examples(data: ImageSet, label: int, count: int = 1) -> torch.Tensor:
    """The first `count` images of class `label` (deterministic, used for demos and figures)."""
    idx = (data.labels == label).nonzero().flatten()[:count]
    return data.images[idx]
