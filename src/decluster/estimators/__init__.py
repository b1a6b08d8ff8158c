"""The public estimators, thin classes over one base: :class:`~decluster.DEC`,
:class:`~decluster.IDEC` and :class:`~decluster.N2D` (``base.py`` declares and checks the
parameters they share; ``persistence.py`` saves and loads each of them)."""
