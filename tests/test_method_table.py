"""A method is one file and one row of the table of methods: a toy method defined here and added to
``METHODS`` gets its ``--method`` choice, its flag, its ``--config`` key, its saved kind and its
loader; and IDEC, which takes DEC's parameters as ``**dec_parameters``, keeps scikit-learn's API."""

from typing import Any, ClassVar

import numpy as np
import pytest
from sklearn.base import clone

from decluster import DEC, IDEC
from decluster.cli.commands import build_parser, load_model, main
from decluster.cli.runconfig import (
    estimator_defaults,
    explicit_parameters,
    read_config,
    run_options,
)
from decluster.estimators.base import constructor_defaults
from decluster.estimators.methods import METHODS, method_of_kind, model_kinds
from decluster.estimators.validation import Real
from decluster.io.model_folder import folder_kind

TINY = ["--quiet", "--no-plots", "--hidden-dims", "16", "--embedding-dim", "4", "--layer-epochs", "1",
        "--finetune-epochs", "1", "--max-iter", "5", "--n-init", "1", "--n-clusters", "3", "--random-state", "0",
        "--device", "cpu"]


class Toy(DEC):
    """A toy method: DEC with one parameter more.

    Parameters
    ----------
    n_clusters : int or "auto", default=10
        Number of clusters k.
    toy_param : float, default=0.5
        A parameter only the toy method has.
    **dec_parameters
        Every other parameter is DEC's.
    """

    _parameter_checks: ClassVar[dict[str, Any]] = {**DEC._parameter_checks, "toy_param": Real(0)}

    def __init__(self, n_clusters=10, *, toy_param: float = 0.5, **dec_parameters):
        super().__init__(n_clusters, **dec_parameters)
        self.toy_param = toy_param


@pytest.fixture
def toy_method(monkeypatch):
    monkeypatch.setitem(METHODS, "toy", Toy)


def _fit_help() -> str:
    return " ".join(build_parser()._subparsers._group_actions[0].choices["fit"].format_help().split())


def test_the_command_line_derives_from_the_table(toy_method, capsys):
    args = build_parser().parse_args(["fit", "--method", "toy", "--toy-param", "0.25", "--out", "o"])
    assert run_options(args)["method"] == "toy" and explicit_parameters(args) == {"toy_param": 0.25}
    assert estimator_defaults(Toy)["toy_param"] == 0.5 and estimator_defaults(Toy)["momentum"] == 0.9
    help_text = _fit_help()
    assert "{auto,dec,idec,n2d,merge-idec,toy}" in help_text
    assert "--toy-param TOY_PARAM A parameter only the toy method has (default: 0.5; toy only)" in help_text
    assert main(["fit", "--method", "dec", "--toy-param", "0.25", "--out", "o"]) == 1
    assert "--toy-param does not apply to --method dec" in capsys.readouterr().err
    assert "Toy" in model_kinds() and method_of_kind("Toy") is Toy and method_of_kind("AutoCluster") is None


def test_a_toy_method_fits_saves_and_loads_through_the_command_line(toy_method, digits, tmp_path):
    data = tmp_path / "rows.npy"
    np.save(data, digits[0][:60])
    out = tmp_path / "run"
    assert main(["fit", "--method", "toy", "--toy-param", "0.25", "--data", str(data), "--out", str(out), *TINY]) == 0
    model = load_model(out / "model")
    assert type(model) is Toy and model.toy_param == 0.25 and model.n_clusters_ == 3
    assert set(model.predict(digits[0][:60])) <= {0, 1, 2}
    config = read_config(out / "config.toml")
    assert config["method"] == "toy" and config["toy_param"] == 0.25
    args = build_parser().parse_args(["fit", "--config", str(out / "config.toml"), "--out", str(tmp_path / "again")])
    assert run_options(args)["method"] == "toy" and explicit_parameters(args)["toy_param"] == 0.25
    DEC(3, hidden_dims=(16,), embedding_dim=4, layer_epochs=1, finetune_epochs=1, max_iter=5, n_init=1,
        device="cpu").fit(digits[0][:60]).save(out / "model")  # the kinds of the table replace one another
    assert folder_kind(out / "model") == "DEC"


def test_idec_takes_every_dec_parameter_by_inheritance():
    params = IDEC().get_params()
    assert set(DEC().get_params()) | {"gamma", "clustering_optimizer"} == set(params)
    dec_defaults, idec_defaults = constructor_defaults(DEC), constructor_defaults(IDEC)
    assert idec_defaults == {**dec_defaults, "lr": 1e-3, "gamma": 0.1, "clustering_optimizer": "adam"}
    copy = clone(IDEC(gamma=0.2, n_init=3))
    assert copy.gamma == 0.2 and copy.n_init == 3 and copy.lr == 1e-3
    assert copy.set_params(alpha=2.0).alpha == 2.0 and repr(copy) == "IDEC(alpha=2.0, gamma=0.2, n_init=3)"
    with pytest.raises(TypeError, match="no_such_parameter"):
        IDEC(no_such_parameter=1)
