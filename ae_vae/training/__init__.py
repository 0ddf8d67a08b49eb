"""The training room: the loop and its checkpoints (`loop`), every `metrics.json` number (`evaluation`), what a run
writes beside its weights (`artifacts`), a trained model's prior (`priors`), the model cards (`cards`), a run's
figures (`figures`) and the judge's training (`judge`).

All of it but `cards` needs torch (`requirements-train.txt`); names are imported when first used (`ae_vae.lazy`), so
the Hub's push can render a card where only the app's requirements are installed.
"""

from ..lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("finalize_run", "refit_prior", "store_points", "compute_maps"), ".artifacts"),
    **dict.fromkeys(("evaluate_model", "sample_quality"), ".evaluation"),
    **dict.fromkeys(("Schedule", "TrainState", "evaluate_terms", "train_epoch"), ".loop"),
    **dict.fromkeys(("fit_prior", "judged_correct"), ".priors"),
}
__all__ = ["Schedule", "TrainState", "compute_maps", "evaluate_model", "evaluate_terms", "finalize_run",
           "fit_prior", "judged_correct", "refit_prior", "sample_quality", "store_points", "train_epoch"]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
