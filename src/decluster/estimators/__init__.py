"""The public estimators, thin classes over one base: :class:`~decluster.DEC`,
:class:`~decluster.IDEC` and :class:`~decluster.N2D` (``base.py`` declares and checks the
parameters they share; ``persistence.py`` saves and loads each of them), listed by name in the
table of ``methods.py``, which is imported here so that saving always knows the table."""

from decluster.estimators import methods as _methods  # noqa: F401 (hands the table to persistence)
