"""Deprecated: the named data sets and file readers are in :mod:`decluster.data.datasets`."""

from decluster._moved import warn_moved
from decluster.data.datasets import (
    DatasetError,
    DatasetInfo,
    available_datasets,
    data_home,
    load_dataset,
    load_features,
)

warn_moved("decluster.datasets", "decluster.data.datasets")

__all__ = ["DatasetError", "DatasetInfo", "available_datasets", "data_home", "load_dataset", "load_features"]
