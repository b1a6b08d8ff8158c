"""DataFrames and Arrow tables in Python: ``fit`` keeps their column names as ``feature_names_in_``
(scikit-learn's convention) and ``predict`` checks them."""

import warnings

import numpy as np
import pyarrow as pa
import pytest

from decluster import DEC, AutoCluster

NAMES = [f"pixel_{j}" for j in range(64)]
TINY = dict(n_clusters=3, hidden_dims=(16,), embedding_dim=4, layer_epochs=1, finetune_epochs=1, max_iter=5,
            random_state=0, device="cpu")


def _pandas(X):
    pd = pytest.importorskip("pandas")
    return pd.DataFrame(X, columns=NAMES)


def _polars(X):
    pl = pytest.importorskip("polars")
    return pl.DataFrame(X, schema=NAMES)


def _arrow(X):
    return pa.table({name: X[:, j] for j, name in enumerate(NAMES)})


@pytest.mark.parametrize("make", [_pandas, _polars, _arrow], ids=["pandas", "polars", "pyarrow"])
def test_fit_keeps_the_column_names_and_predict_checks_them(make, digits_small):
    X = digits_small[0][:150]
    frame = make(X)
    model = DEC(**TINY).fit(frame)
    assert list(model.feature_names_in_) == NAMES and model.n_features_in_ == 64
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels = model.predict(frame)
    assert np.array_equal(labels, model.labels_) and np.array_equal(labels, model.predict(X.copy()))
    reordered = frame[NAMES[::-1]] if hasattr(frame, "iloc") else frame.select(NAMES[::-1])
    with pytest.raises(ValueError, match="feature names should match"):  # as scikit-learn refuses them
        model.predict(reordered)
    array_model = DEC(**TINY).fit(X)
    assert not hasattr(array_model, "feature_names_in_")


def test_auto_keeps_the_names_of_the_estimator_it_kept(digits_small, monkeypatch):
    from decluster.estimators import auto

    quick = auto.Recipe("dec", "a short DEC, for the test", (auto.Stage("dec", TINY),))
    monkeypatch.setattr(auto, "choose_recipe", lambda n_samples, n_features, params: quick)
    model = AutoCluster(n_clusters=3, random_state=0, device="cpu").fit(_arrow(digits_small[0][:150]))
    assert list(model.feature_names_in_) == NAMES == list(model.estimator_.feature_names_in_)
