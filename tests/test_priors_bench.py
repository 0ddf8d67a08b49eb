"""bench/priors.py, the figures behind docs/priors.md: each of its modes runs on a shipped model and the real test
split with few samples and prints its table (a bench the library's API moved under fails here, not in a reader's
hands)."""

from __future__ import annotations

import json

import pytest
from conftest import REAL_DATA_DIR, real_data_available

from bench.priors import main, parse_args

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("mode, heading", [
    ([], "| model | FD N(0, I) | FD one Gaussian | FD mixture |"),
    (["--sweep", "components", "--components", "0", "2", "--covariances", "diag"], "| model | covariance | components |"),
    (["--sweep", "unconditional", "--components", "2"], "| model | class-free mixture |"),
    (["--sweep", "classes", "--class-components", "1", "--filters", "all", "reconstructions:0.9"],
     "| model | class filter |"),
    (["--sweep", "diagnose", "--class-components", "1"], "| model | judged as asked | by noise radius quintile"),
])
def test_every_mode_of_the_priors_bench_prints_its_table(mode, heading, tmp_path, capsys):
    if not real_data_available("mnist"):
        pytest.skip(f"MNIST is not under {REAL_DATA_DIR}")
    args = parse_args(["--data-dir", str(REAL_DATA_DIR), "--models", "mnist-vae", "--samples", "200",
                       "--train-images", "3000", "--out-dir", str(tmp_path), *mode])
    assert main(args) == 0
    table = capsys.readouterr().out
    assert table.startswith(heading) and "| mnist-vae |" in table
    written = json.loads(next(tmp_path.glob("priors*.json")).read_text())
    assert written["rows"] and all(row["model"] == "mnist-vae" for row in written["rows"])
