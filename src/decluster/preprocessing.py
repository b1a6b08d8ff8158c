"""Deprecated: feature scaling and input specifications are in :mod:`decluster.data.preprocessing`."""

from decluster._moved import warn_moved
from decluster.data.preprocessing import FeatureScaling, InputSpec, choose_scaling, fit_scaling

warn_moved("decluster.preprocessing", "decluster.data.preprocessing")

__all__ = ["FeatureScaling", "InputSpec", "choose_scaling", "fit_scaling"]
