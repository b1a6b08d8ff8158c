"""Generated bad inputs: the API raises its documented exceptions, the command line prints one line.

Every case here is invalid by construction. The API must answer with ``ValueError`` (including
``DatasetError`` and ``CheckpointError``) or ``TypeError``; the command line with a single
``decluster ...: error: ...`` line on standard error, a non-zero exit and no output files.
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from decluster import DEC
from decluster.data.files import load_features, load_labels
from cli_helpers import run_cli

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy warns on NaN input first
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])
DOCUMENTED = (ValueError, TypeError)

ints_below = lambda bound: st.integers(min_value=-10**12, max_value=bound - 1)  # noqa: E731
not_numbers = st.one_of(st.text(max_size=5), st.none(), st.lists(st.integers(), max_size=2), st.booleans())
not_ints = st.one_of(not_numbers, st.floats(allow_nan=True))
BAD_PARAMETERS = {
    "n_clusters": st.one_of(ints_below(1), not_ints, st.integers(min_value=1000, max_value=10**9)),
    "embedding_dim": st.one_of(ints_below(1), not_ints),
    "n_init": st.one_of(ints_below(1), not_ints),
    "update_interval": st.one_of(ints_below(1), not_ints),
    "max_iter": st.one_of(ints_below(1), not_ints),
    "batch_size": st.one_of(ints_below(1), not_ints),
    "pretrain_batch_size": st.one_of(ints_below(1), not_ints),
    "layer_epochs": st.one_of(ints_below(0), not_ints),
    "finetune_epochs": st.one_of(ints_below(0), not_ints),
    "tol": st.one_of(st.floats(min_value=1, exclude_min=True), st.floats(max_value=0, exclude_max=True),
                     st.just(float("nan")), not_numbers),
    "alpha": st.one_of(st.floats(max_value=0), st.sampled_from([float("inf"), float("nan")]), not_numbers),
    "lr": st.one_of(st.floats(max_value=0), st.sampled_from([float("inf"), float("nan")]), not_numbers),
    "pretrain_lr": st.one_of(st.floats(max_value=0), st.sampled_from([float("inf"), float("nan")]), not_numbers),
    "momentum": st.one_of(st.floats(min_value=1, exclude_min=True), st.floats(max_value=0, exclude_max=True),
                          not_numbers),
    "dropout": st.one_of(st.floats(min_value=1), st.floats(max_value=0, exclude_max=True), not_numbers),
    "hidden_dims": st.one_of(st.lists(ints_below(1), min_size=1, max_size=3), st.text(max_size=3), st.integers()),
    "pretrain": st.text(max_size=8).filter(lambda s: s not in ("layerwise", "end-to-end")),
    "pretrain_optimizer": st.text(max_size=5).filter(lambda s: s not in ("adam", "sgd")),
    "pretrain_lr_schedule": st.text(max_size=5).filter(lambda s: s not in ("constant", "step", "cosine")),
    "device": st.one_of(st.text(min_size=1, max_size=6).filter(lambda s: s not in ("cpu", "auto")),
                        st.sampled_from(["cuda:7", "mps", "meta:x"])),
    "precision": st.one_of(st.text(max_size=8).filter(lambda s: s not in ("auto", "float32", "bfloat16")),
                           st.none(), st.integers()),
    "autoencoder": st.one_of(st.integers(), st.text(max_size=3)),
}
SMALL_X = np.random.default_rng(0).random((30, 6), dtype=np.float32)
SMALL_FAST = dict(n_clusters=3, hidden_dims=(8,), embedding_dim=2, layer_epochs=1, finetune_epochs=1, n_init=1,
                  max_iter=2, update_interval=1, device="cpu", random_state=0)


@FUZZ
@given(st.sampled_from(sorted(BAD_PARAMETERS)).flatmap(lambda name: st.tuples(st.just(name), BAD_PARAMETERS[name])))
def test_bad_parameters_raise_documented_errors(case):
    name, value = case
    with pytest.raises(DOCUMENTED):
        DEC(**{**SMALL_FAST, name: value}).fit(SMALL_X)


bad_arrays = st.one_of(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8),
               elements=st.sampled_from([np.nan, np.inf, -np.inf, 1.0])).filter(lambda a: not np.isfinite(a).all()),
    hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=1, max_side=8) | hnp.array_shapes(min_dims=3,
                                                                                                    max_dims=4)),
    hnp.arrays(np.complex64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=3)),
    hnp.arrays(np.dtype("<U3"), hnp.array_shapes(min_dims=2, max_dims=2, min_side=3),
               elements=st.text(alphabet="abc-", min_size=1, max_size=3)),
    st.builds(lambda n: np.zeros((n, 4)), st.integers(min_value=0, max_value=2)),  # fewer rows than clusters
    st.lists(st.lists(st.floats(allow_nan=False), min_size=1, max_size=4), min_size=3, max_size=5).filter(
        lambda rows: len({len(r) for r in rows}) > 1),  # ragged
)


@FUZZ
@given(bad_arrays)
def test_bad_training_data_raises_documented_errors(X):
    with pytest.raises(DOCUMENTED):
        DEC(**SMALL_FAST).fit(X)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    model = DEC(**SMALL_FAST).fit(SMALL_X)
    folder = tmp_path_factory.mktemp("tiny") / "model"
    model.save(folder)
    return model, folder


@FUZZ
@given(st.one_of(bad_arrays, hnp.arrays(np.float32, st.tuples(st.integers(1, 5), st.integers(1, 12).filter(
    lambda d: d != 6)))))
def test_bad_inputs_to_a_fitted_model(tiny_model, X):
    model, _ = tiny_model
    for method in (model.predict, model.predict_proba, model.transform, model.score):
        with pytest.raises(DOCUMENTED):
            method(X)


@FUZZ
@given(st.sampled_from(["config.json", "weights"]), st.binary(max_size=300))
def test_random_bytes_in_a_model_folder(tiny_model, which, payload):
    _, folder = tiny_model
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "model"
        shutil.copytree(folder, copy)
        target = copy / "config.json" if which == "config.json" else next(copy.glob("weights-*"))
        target.write_bytes(payload)
        with pytest.raises(ValueError):
            DEC.load(copy)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_as_a_checkpoint(payload):
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "config.json").write_bytes(payload)
        with pytest.raises(ValueError):
            DEC(**SMALL_FAST).fit(SMALL_X, checkpoint_dir=scratch, resume=True)


csv_cells = st.one_of(st.floats(allow_nan=False, allow_infinity=False).map(repr), st.text(alphabet="ab ,\"\t\n", max_size=4),
                      st.sampled_from(["nan", "inf", "", "1e999", "0x1"]))
ragged_csv = st.lists(st.lists(csv_cells, min_size=1, max_size=4), min_size=1, max_size=6).map(
    lambda rows: "\n".join(",".join(row) for row in rows))


def _valid_features(X, finite: bool = True) -> bool:
    """A non-empty 2-D numeric table (finite too, if asked: DEC.fit, not the loader, checks that)."""
    return X.ndim == 2 and X.size > 0 and np.issubdtype(X.dtype, np.number) and (
        not finite or bool(np.isfinite(X).all()))


@FUZZ
@given(st.sampled_from([".npy", ".csv", ".tsv", ".npz"]), st.one_of(st.binary(max_size=400), ragged_csv.map(str.encode)))
def test_random_files_as_features_or_labels(suffix, payload):
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"data{suffix}"
        path.write_bytes(payload)
        try:
            X, _ = load_features(path)
        except ValueError:
            pass
        else:  # a text payload can happen to be a valid table; then it must be a clean one
            assert _valid_features(np.asarray(X), finite=False)
        try:
            labels = load_labels(path)
        except ValueError:
            pass
        else:
            assert labels.ndim == 1 and labels.dtype == np.int64


def assert_one_line_error(status, stderr: str) -> None:
    assert status in (1, 2), stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1 and errors[0].startswith("decluster"), stderr


def _parses_as_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


FLAG_VALUES = {
    "--batch-size": st.one_of(st.integers(max_value=0).map(str), st.text(max_size=4).filter(
        lambda text: not _parses_as_int(text) or int(text) < 1)),
    "--tol": st.one_of(st.floats(min_value=1.01, max_value=1e9).map(str), st.sampled_from(["-1", "nan", "x"])),
    "--n-clusters": st.one_of(st.integers(max_value=0).map(str), st.just("1e3"), st.just("100000")),
    "--dropout": st.sampled_from(["1", "1.5", "-0.1", "inf"]),
    "--hidden-dims": st.sampled_from(["0", "-5", "x"]),
    "--pretrain": st.text(min_size=1, max_size=6, alphabet="xyz"),
    "--device": st.sampled_from(["cuda:3", "nonsense", "mps"]),
    "--max-iter": st.integers(max_value=0).map(str),
    "--checkpoint-interval": st.sampled_from(["-1", "x", "nan"]),
}


@FUZZ
@given(st.sampled_from(sorted(FLAG_VALUES)).flatmap(lambda flag: st.tuples(st.just(flag), FLAG_VALUES[flag])))
def test_cli_bad_flags(case):
    flag, value = case
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "out"
        status, _, stderr = run_cli(["fit", "--method", "dec", "--out", str(out), "--quiet", "--no-plots", flag, value])
        assert_one_line_error(status, stderr)
        assert not out.exists()


@FUZZ
@given(st.sampled_from([".npy", ".csv", ".tsv", ".npz"]), st.one_of(st.binary(max_size=400), ragged_csv.map(str.encode)))
def test_cli_random_data_files(suffix, payload):
    with tempfile.TemporaryDirectory() as scratch:
        data, out = Path(scratch) / f"data{suffix}", Path(scratch) / "out"
        data.write_bytes(payload)
        try:
            X, _ = load_features(data)
        except ValueError:
            pass
        else:
            if _valid_features(np.asarray(X)) and len(X) >= 10:
                return  # a valid table: training on it is not this test's business
        status, _, stderr = run_cli(["fit", "--method", "dec", "--data", str(data), "--out", str(out), "--quiet", "--no-plots"])
        assert_one_line_error(status, stderr)
        assert not out.exists()


@FUZZ
@given(st.sampled_from(["predict", "plot"]), st.sampled_from(["config.json", "weights"]), st.binary(max_size=200))
def test_cli_corrupt_models(tiny_model, command, which, payload):
    _, folder = tiny_model
    with tempfile.TemporaryDirectory() as scratch:
        copy, out, data = Path(scratch) / "model", Path(scratch) / "out", Path(scratch) / "x.npy"
        shutil.copytree(folder, copy)
        np.save(data, SMALL_X)
        target = copy / "config.json" if which == "config.json" else next(copy.glob("weights-*"))
        target.write_bytes(payload)
        status, _, stderr = run_cli([command, "--model", str(copy), "--data", str(data), "--out", str(out)])
        assert_one_line_error(status, stderr)
        assert not out.exists()


@FUZZ
@given(st.one_of(st.binary(max_size=200), ragged_csv.map(str.encode)), st.sampled_from([".csv", ".npy"]))
def test_cli_evaluate_random_label_files(payload, suffix):
    with tempfile.TemporaryDirectory() as scratch:
        labels, truth = Path(scratch) / f"labels{suffix}", Path(scratch) / "truth.csv"
        labels.write_bytes(payload)
        truth.write_text("label\n" + "\n".join(["0", "1"] * 7))
        status, _, stderr = run_cli(["evaluate", "--labels", str(labels), "--truth", str(truth)])
        if status == 0:  # the payload happened to be 14 valid labels
            return
        assert_one_line_error(status, stderr)


@pytest.mark.parametrize("args", [
    ["fit", "--method", "dec", "--data", "{bad}", "--quiet"],
    ["fit", "--method", "dec", "--batch-size", "-4", "--quiet"],
    ["fit", "--method", "dec", "--tol", "2", "--quiet"],
    ["predict", "--model", "{bad}", "--dataset", "digits"],
    ["fit", "--method", "dec", "--unknown-flag"],
])
def test_cli_subprocess_errors_are_one_line(tmp_path, args):
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"\x93NUMPY garbage")
    out = tmp_path / "out"
    argv = [a.replace("{bad}", str(bad)) for a in args] + (["--out", str(out)] if args[0] == "fit" else [])
    result = subprocess.run([str(Path(sys.executable).parent / "decluster"), *argv], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert_one_line_error(result.returncode, result.stderr)
    assert not out.exists() and not (tmp_path / "decluster-output").exists()

