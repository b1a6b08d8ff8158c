"""Deprecated: the named data sets are in :mod:`decluster.data.datasets`, the readers of users'
files in :mod:`decluster.data.files`."""

from decluster._moved import warn_moved
from decluster.data.datasets import (
    DatasetError,
    DatasetInfo,
    available_datasets,
    data_home,
    load_dataset,
)
from decluster.data.files import load_features

warn_moved("decluster.datasets", "decluster.data.datasets")

__all__ = ["DatasetError", "DatasetInfo", "available_datasets", "data_home", "load_dataset", "load_features"]
