"""DEC parameters from the command line and TOML files, and the resolved configuration written back."""

from __future__ import annotations

import argparse
import inspect
import os
import re
from pathlib import Path
from typing import Any

from decluster.estimators.dec import DEC
from decluster.estimators.idec import IDEC
from decluster.estimators.n2d import N2D

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

# Parameters the command line sets in other ways: a given network cannot come from a flag,
# and progress output follows --quiet.
_NOT_FLAGS = ("autoencoder", "verbose")

# Other spellings of a parameter's flag.
_ALIASES = {"architecture": ("--autoencoder",)}

# Parameters without a default that take several integers (``--image-shape 28 28``).
_SEQUENCE_PARAMETERS = ("image_shape",)
# Parameters that take an integer or "auto".
_AUTO_OR_INT_PARAMETERS = ("n_clusters", "layer_epochs", "finetune_epochs")

SCALE_CHOICES = ("auto", "standard", "minmax", "global", "none")
ESTIMATORS = {"dec": DEC, "idec": IDEC, "n2d": N2D}
"""The clustering methods of ``--method``, by name."""
RUN_OPTIONS: dict[str, tuple[str, ...]] = {"scale": SCALE_CHOICES, "method": tuple(ESTIMATORS)}
"""Settings of a run that are not DEC parameters, with their accepted values (the first is the default)."""


def estimator_defaults(estimator: type | None = None) -> dict[str, Any]:
    """Constructor parameters and defaults of ``estimator`` (None: of every method, DEC's first),
    minus those the CLI sets itself."""
    defaults: dict[str, Any] = {}
    for cls in ESTIMATORS.values() if estimator is None else (estimator,):
        for name, parameter in inspect.signature(cls.__init__).parameters.items():
            if name != "self" and name not in _NOT_FLAGS:
                defaults.setdefault(name, parameter.default)
    return defaults


def _default_text(name: str) -> str:
    """``"0.01"``, or per method where they differ (``"dec 0.01, idec 0.001"``), naming the methods
    that have the parameter when not all do (``"0.1; idec only"``)."""
    having = {method: estimator_defaults(cls)[name] for method, cls in ESTIMATORS.items()
              if name in estimator_defaults(cls)}
    values = list(having.values())
    text = str(values[0]) if all(repr(v) == repr(values[0]) for v in values) else ", ".join(
        f"{method} {value}" for method, value in having.items())
    return text if len(having) == len(ESTIMATORS) else f"{text}; {', '.join(having)} only"


def parameter_help() -> dict[str, str]:
    """First sentence of each parameter's description in the methods' docstrings (DEC's first)."""
    helps: dict[str, str] = {}
    for cls in ESTIMATORS.values():
        section = cls.__doc__.split("Parameters\n    ----------\n", 1)[1].split("Attributes\n", 1)[0]
        for match in re.finditer(r"^    (\w+) : [^\n]*\n((?:        [^\n]*\n)+)", section, flags=re.MULTILINE):
            text = " ".join(match.group(2).split()).replace("``", "")
            helps.setdefault(match.group(1), text.split(". ")[0].rstrip(".").replace("%", "%%"))
    return helps


def _auto_or_int(text: str) -> int | str:
    """``"auto"`` or an integer (for ``--n-clusters``, ``--layer-epochs``, ``--finetune-epochs``)."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or an integer, got {text!r}") from None


def add_parameter_flags(parser: argparse.ArgumentParser) -> None:
    """Add one ``--flag`` per DEC parameter; absent flags leave the value unset."""
    group = parser.add_argument_group("method parameters (defaults as in the Python API)")
    helps = parameter_help()
    for name, default in estimator_defaults().items():
        flag = "--" + name.replace("_", "-")
        text = f"{helps.get(name, '')} (default: {_default_text(name)})"
        if isinstance(default, tuple) or name in _SEQUENCE_PARAMETERS:
            group.add_argument(flag, dest=name, type=int, nargs="+", default=argparse.SUPPRESS, help=text)
        elif isinstance(default, bool):
            group.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                               help=text)
        elif default is None:  # random_state, n_components: an integer when given
            group.add_argument(flag, dest=name, type=int, default=argparse.SUPPRESS, help=text)
        elif name in _AUTO_OR_INT_PARAMETERS:
            group.add_argument(flag, dest=name, type=_auto_or_int, default=argparse.SUPPRESS, help=text)
        else:
            flags = (flag, *_ALIASES.get(name, ()))
            group.add_argument(*flags, dest=name, type=type(default), default=argparse.SUPPRESS, help=text)


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """DEC parameters and run options from a TOML file of ``name = value`` lines.

    Parameter names are as in the Python API; the run options are those of ``RUN_OPTIONS``
    (``scale = "standard"``).

    Raises
    ------
    ValueError
        If the file cannot be read or parsed, names an unknown parameter or gives an option a
        value it does not accept.
    """
    path = Path(path)
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"{path}: cannot read the configuration ({error.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a valid TOML file ({error})") from None
    known = [*estimator_defaults(), *RUN_OPTIONS]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{path}: unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(known)}")
    for name, choices in RUN_OPTIONS.items():
        if name in values and values[name] not in choices:
            raise ValueError(f"{path}: {name} must be one of {', '.join(choices)}, got {values[name]!r:.40}")
    return {name: tuple(value) if isinstance(value, list) else value for name, value in values.items()}


def explicit_parameters(namespace: argparse.Namespace) -> dict[str, Any]:
    """The DEC parameters a user set: ``--config`` values, overridden by explicit flags."""
    explicit = read_config(namespace.config) if getattr(namespace, "config", None) else {}
    explicit = {name: value for name, value in explicit.items() if name not in RUN_OPTIONS}
    explicit.update({name: getattr(namespace, name) for name in estimator_defaults() if hasattr(namespace, name)})
    for name in ("hidden_dims", *_SEQUENCE_PARAMETERS):
        if name in explicit:
            explicit[name] = tuple(explicit[name])
    return explicit


def run_options(namespace: argparse.Namespace) -> dict[str, str]:
    """The run options (``scale``): a flag given, else the ``--config`` value, else the default."""
    config = read_config(namespace.config) if getattr(namespace, "config", None) else {}
    options = {}
    for name, choices in RUN_OPTIONS.items():
        flag = getattr(namespace, name, None)
        options[name] = flag if flag is not None else config.get(name, choices[0])
    return options


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_text(parameters: dict[str, Any], options: dict[str, str] | None = None) -> str:
    """The parameters (and run options) as TOML that :func:`read_config` reads back.

    ``None`` values are omitted.
    """
    lines = ["# DEC parameters of this run; rerun with: decluster fit --config config.toml ..."]
    lines += [f"{name} = {_toml_value(value)}" for name, value in parameters.items() if value is not None]
    if options:
        lines += ["# how the command line prepared the data (not a DEC parameter)"]
        lines += [f"{name} = {_toml_value(value)}" for name, value in options.items()]
    return "\n".join(lines) + "\n"
