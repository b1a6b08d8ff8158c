"""Data: named data sets and users' files (``datasets.py``), feature scaling
(``preprocessing.py``) and seeded mini-batch walks (``batching.py``)."""
