"""Feature scaling for the command line, its storage in a model folder, and the Python Pipeline."""

import json
import math

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from decluster import DEC
from decluster.data.preprocessing import FeatureScaling, InputSpec, fit_scaling
from decluster.estimators.persistence import save_model

# Column 0: mean 1, standard deviation 1, range [0, 2]; column 1: mean 4, deviation 2, range
# [2, 6]; column 2 is constant, so its factor is 1 and it maps to 0 (or to 5 - 5 = 0).
HAND = np.array([[0.0, 2.0, 5.0], [2.0, 6.0, 5.0]], dtype=np.float32)


def test_standard_constants_by_hand():
    scaling = fit_scaling(HAND, "standard")
    assert scaling.offset.tolist() == [1.0, 4.0, 5.0] and scaling.factor.tolist() == [1.0, 2.0, 1.0]
    assert scaling.apply(HAND).tolist() == [[-1.0, -1.0, 0.0], [1.0, 1.0, 0.0]]
    assert scaling.offset.dtype == scaling.factor.dtype == scaling.apply(HAND).dtype == np.float32


def test_minmax_constants_by_hand():
    scaling = fit_scaling(HAND, "minmax")
    assert scaling.offset.tolist() == [0.0, 2.0, 5.0] and scaling.factor.tolist() == [2.0, 4.0, 1.0]
    assert scaling.apply(HAND).tolist() == [[0.0, 0.0, 0.0], [1.0, 1.0, 0.0]]


def test_none_is_the_identity_and_returns_the_data_itself():
    scaling = fit_scaling(HAND, "none")
    assert scaling.offset.tolist() == [0.0] * 3 and scaling.factor.tolist() == [1.0] * 3
    assert scaling.apply(HAND) is HAND


@pytest.mark.parametrize("kind, reference", [("standard", StandardScaler), ("minmax", MinMaxScaler)])
def test_agrees_with_scikit_learn(kind, reference):
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(200, 5)) * [1, 10, 100, 1000, 0.01] + [0, 5, -50, 3000, 1]).astype(np.float32)
    expected = reference().fit_transform(X.astype(np.float64))
    np.testing.assert_allclose(fit_scaling(X, kind).apply(X), expected, rtol=1e-5, atol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="robust"):
        fit_scaling(HAND, "robust")
    with pytest.raises(ValueError, match="non-empty 2-D"):
        fit_scaling(HAND[:0], "standard")
    scaling = fit_scaling(HAND, "standard")
    with pytest.raises(ValueError, match="3 features"):
        scaling.apply(HAND[:, :2])
    tiny = FeatureScaling("standard", np.zeros(1), np.full(1, 1e-30))
    with pytest.raises(ValueError, match="overflows float32"):
        tiny.apply(np.full((1, 1), 1e10, dtype=np.float32))


def test_constants_are_read_only():
    scaling = fit_scaling(HAND, "standard")
    with pytest.raises(ValueError):
        scaling.offset[0] = 7.0


def test_json_round_trip_is_exact():
    X = np.random.default_rng(1).normal(size=(50, 4)).astype(np.float32) * 1000
    scaling = fit_scaling(X, "standard")
    spec = InputSpec(scaling, "label", True)
    again = InputSpec.from_json(json.loads(json.dumps(spec.to_json())), "input", 4)
    assert again.label_column == "label" and again.header is True and again.scaling.kind == "standard"
    np.testing.assert_array_equal(again.scaling.offset, scaling.offset)
    np.testing.assert_array_equal(again.scaling.factor, scaling.factor)
    np.testing.assert_array_equal(again.scaling.apply(X), scaling.apply(X))


def _scaling_json(**changes):
    return {"kind": "standard", "offset": [1.0, 2.0], "factor": [0.5, 3.0], **changes}


@pytest.mark.parametrize("changes, message", [
    ({"offset": [math.nan, 2.0]}, "offset"),
    ({"offset": [1.0, math.inf]}, "offset"),
    ({"offset": [1.0, 1e39]}, "not finite in float32"),
    ({"offset": [1.0]}, "2 entries"),
    ({"factor": [0.5, 3.0, 1.0]}, "2 entries"),
    ({"factor": [0.0, 3.0]}, "factor\\[0\\] = 0.0 is zero"),
    ({"factor": [1e-45, 3.0]}, "too small"),
    ({"factor": ["1", 3.0]}, "factor\\[0\\] must be a finite number"),
    ({"kind": "robust"}, "kind must be one of"),
    ({"kind": "none"}, "offsets 0 and factors 1"),
    ({"kind": 3}, "kind must be a string"),
])
def test_bad_scaling_json_is_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        FeatureScaling.from_json(_scaling_json(**changes), "input.scaling", 2)


@pytest.mark.parametrize("field, value, message", [
    ("header", "yes", "header"), ("header", 1, "header"), ("label_column", True, "label_column"),
    ("label_column", 1.5, "label_column"), ("label_column", "", "label_column"),
    ("label_column", ["a"], "label_column"),
])
def test_bad_input_json_is_refused(field, value, message):
    value_json = {"scaling": _scaling_json(), "label_column": None, "header": "auto", field: value}
    with pytest.raises(ValueError, match=message):
        InputSpec.from_json(value_json, "input", 2)


def test_input_json_needs_exactly_its_fields():
    with pytest.raises(ValueError, match="fields"):
        InputSpec.from_json({"scaling": _scaling_json(), "header": "auto"}, "input", 2)


# ----------------------------------------------------------------- in the model folder
@pytest.fixture(scope="module")
def saved_with_input(fitted_dec, digits_small, tmp_path_factory):
    X, _ = digits_small
    spec = InputSpec(fit_scaling(X, "minmax"), 64, False)
    folder = tmp_path_factory.mktemp("scaled") / "model"
    save_model(fitted_dec, folder, input_spec=spec)
    return folder, spec


def test_saved_input_round_trip(saved_with_input, fitted_dec, tmp_path):
    folder, spec = saved_with_input
    loaded = DEC.load(folder, device="cpu")
    assert loaded.input_spec_.label_column == 64 and loaded.input_spec_.header is False
    np.testing.assert_array_equal(loaded.input_spec_.scaling.factor, spec.scaling.factor)
    fitted_dec.save(tmp_path / "plain")
    assert DEC.load(tmp_path / "plain", device="cpu").input_spec_ is None


def test_save_refuses_a_scaling_of_another_width(fitted_dec, tmp_path):
    with pytest.raises(ValueError, match="3 features"):
        save_model(fitted_dec, tmp_path / "model", input_spec=InputSpec(fit_scaling(HAND, "standard")))


@pytest.mark.parametrize("edit, message", [
    (lambda s: s["offset"].__setitem__(3, math.nan), "config.json: not valid JSON"),  # the strict parser
    (lambda s: s["offset"].__setitem__(3, 1e300), "config.json: invalid model .*offset\\[3\\]"),
    (lambda s: s["offset"].pop(), "config.json: invalid model .*64 entries"),
    (lambda s: s["factor"].__setitem__(0, 0.0), "config.json: invalid model .*factor\\[0\\] = 0.0 is zero"),
])
def test_bad_saved_scaling_is_refused_naming_config_json(saved_with_input, tmp_path, edit, message):
    folder, _ = saved_with_input
    copy = tmp_path / "model"
    copy.mkdir()
    for path in folder.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    config = json.loads((copy / "config.json").read_text())
    edit(config["input"]["scaling"])
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=message):
        DEC.load(copy, device="cpu")


# ----------------------------------------------------------------- Python users
def test_standard_scaler_pipeline_fits_and_predicts(make_dec, digits_small):
    X, y = digits_small
    raw = X * np.linspace(1, 1000, X.shape[1], dtype=np.float32)  # mixed units
    pipeline = Pipeline([("scale", StandardScaler()), ("dec", make_dec(n_clusters=10))])
    labels = pipeline.fit_predict(raw)
    assert labels.shape == (len(raw),) and set(labels) <= set(range(10))
    np.testing.assert_array_equal(pipeline.predict(raw), pipeline.named_steps["dec"].labels_)
    assert pipeline.named_steps["dec"].n_features_in_ == X.shape[1]


def test_auto_scaling_standardizes_mixed_units_and_divides_one_unit_data_by_one_factor():
    from sklearn.datasets import load_digits, load_wine

    from decluster.data.preprocessing import choose_scaling

    mixed = np.array([[1.0, 1000.0, 0.5], [2.0, 3000.0, 0.7], [3.0, 2000.0, 0.6]])  # ranges 2, 2000, 0.2
    assert choose_scaling(mixed) == "standard"  # 2000 > 100 * median(2)
    assert choose_scaling(np.array([[0.0, 0.0, 5.0], [1.0, 150.0, 5.0]])) == "global"  # 150 < 100 * median(1, 150)
    assert choose_scaling(np.zeros((3, 2))) == "global"
    assert choose_scaling(load_wine(return_X_y=True)[0]) == "standard"
    assert choose_scaling(load_digits(return_X_y=True)[0]) == "global"


def test_global_scaling_divides_every_feature_by_the_largest_absolute_value():
    X = np.array([[0.0, -6.0, 2.0], [3.0, 1.5, 0.0]], dtype=np.float32)
    scaling = fit_scaling(X, "global")
    np.testing.assert_array_equal(scaling.factor, [6.0, 6.0, 6.0])
    np.testing.assert_array_equal(scaling.offset, [0.0, 0.0, 0.0])
    np.testing.assert_allclose(scaling.apply(X), [[0.0, -1.0, 1 / 3], [0.5, 0.25, 0.0]])
    # the unit of the data does not matter: pixels 0..255 and the same pixels / 255 scale alike
    pixels = np.array([[0, 128, 255], [64, 0, 32]], dtype=np.float32)
    np.testing.assert_allclose(fit_scaling(pixels, "global").apply(pixels),
                               fit_scaling(pixels / 255, "global").apply(pixels / 255), rtol=1e-6)
    assert fit_scaling(np.zeros((2, 2), dtype=np.float32), "global").factor.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="one factor"):
        FeatureScaling("global", np.zeros(2), np.array([1.0, 2.0]))
