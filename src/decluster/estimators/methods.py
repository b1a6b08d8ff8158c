"""The clustering methods, by the name the command line gives them: one table, :data:`METHODS`.

Adding a method means writing its file (an estimator over
:class:`~decluster.estimators.base.DeepClusteringEstimator`, often a subclass of
:class:`~decluster.DEC` that takes DEC's parameters as ``**kwargs``: its parameters and their
``_parameter_checks``, a numpydoc docstring, ``fit``, and, if it saves more than DEC or N2D,
``_saved_state``, ``_restored_state`` and ``_restored_networks``) and adding one row here. The
rest derives from the table: the command line's ``--method`` choices, its parameter flags and
``--config`` keys, the kinds of model that may replace one another in a model folder, and the
class that loads a folder.
"""

from __future__ import annotations

from decluster.estimators import persistence
from decluster.estimators.auto import AutoCluster
from decluster.estimators.base import DeepClusteringEstimator
from decluster.estimators.dec import DEC
from decluster.estimators.idec import IDEC
from decluster.estimators.merge_idec import MergeIDEC
from decluster.estimators.n2d import N2D

METHODS: dict[str, type] = {"auto": AutoCluster, "dec": DEC, "idec": IDEC, "n2d": N2D, "merge-idec": MergeIDEC}
"""The estimator class of each method, by its name on the command line; the first is the default."""


def model_methods() -> dict[str, type]:
    """The rows of :data:`METHODS` whose estimator saves a model of its own: all but ``auto``,
    which saves the method it kept."""
    return {name: cls for name, cls in METHODS.items() if issubclass(cls, DeepClusteringEstimator)}


def model_kinds() -> tuple[str, ...]:
    """The kinds of saved model that may replace one another in a model folder: the class names
    of :func:`model_methods`."""
    return tuple(cls.__name__ for cls in model_methods().values())


def method_of_kind(kind: str | None) -> type | None:
    """The class of :func:`model_methods` that loads a model folder of ``kind``, or None."""
    return next((cls for cls in model_methods().values() if cls.__name__ == kind), None)


persistence.use_model_kinds(model_kinds)
