"""The training room: the loop and its checkpoints (`loop`), every `metrics.json` number (`evaluation`), what a run
writes beside its weights (`artifacts`), the model cards (`cards`), a run's figures (`figures`) and the judge's
training (`judge`)."""

from .artifacts import finalize_run, refit_prior, store_points
from .evaluation import evaluate_model, sample_quality
from .loop import Schedule, TrainState, evaluate_terms, train_epoch

__all__ = ["Schedule", "TrainState", "evaluate_model", "evaluate_terms", "finalize_run", "refit_prior",
           "sample_quality", "store_points", "train_epoch"]
