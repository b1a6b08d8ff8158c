"""DEC parameters from the command line and TOML files, and the resolved configuration written back."""

from __future__ import annotations

import argparse
import inspect
import os
import re
from pathlib import Path
from typing import Any

from decluster.estimators.auto import AutoCluster, Recipe
from decluster.estimators.dec import DEC
from decluster.estimators.idec import IDEC
from decluster.estimators.n2d import N2D
from decluster.io.files import read_regular_file

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
ESTIMATORS = {"auto": AutoCluster, "dec": DEC, "idec": IDEC, "n2d": N2D}
"""The clustering methods of ``--method``, by name (the first is the default)."""
RUN_OPTIONS: dict[str, tuple[str, ...]] = {"scale": SCALE_CHOICES, "method": tuple(ESTIMATORS)}
"""Settings of a run that are not DEC parameters, with their accepted values (the first is the default)."""
PATH_OPTIONS = ("autoencoder_from",)
"""Settings of a run that name a file or folder (``autoencoder_from = "run/model"``)."""

MAX_CONFIG_BYTES = 1 << 20
"""Largest configuration file read (1 MiB); one of decluster's is under a kilobyte."""
MAX_CONFIG_LIST = 100
"""Most entries of a list in a configuration file (``hidden_dims``, ``image_shape``...)."""


def estimator_defaults(estimator: type | None = None) -> dict[str, Any]:
    """Constructor parameters and defaults of ``estimator`` (None: of every method, ``auto``'s
    first), minus those the CLI sets itself."""
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
    """First sentence of each parameter's description in the methods' docstrings (``auto``'s first)."""
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
        kind = _expected_kind(name)
        if kind == "ints":
            group.add_argument(flag, dest=name, type=int, nargs="+", default=argparse.SUPPRESS, help=text)
        elif kind == "bool":
            group.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                               help=text)
        elif kind == "auto_or_int":
            group.add_argument(flag, dest=name, type=_auto_or_int, default=argparse.SUPPRESS, help=text)
        else:  # random_state, n_components (default None): an integer when given
            flags = (flag, *_ALIASES.get(name, ()))
            group.add_argument(*flags, dest=name, type=int if default is None else type(default),
                               default=argparse.SUPPRESS, help=text)


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """DEC parameters and run options from a TOML file of ``name = value`` lines.

    Parameter names are as in the Python API; the run options are those of ``RUN_OPTIONS``
    (``scale = "standard"``) and ``PATH_OPTIONS`` (``autoencoder_from = "run/model"``). The file
    must be a regular file of at most :data:`MAX_CONFIG_BYTES` bytes, its lists at most
    :data:`MAX_CONFIG_LIST` long; each value is checked as the Python API checks it.

    Raises
    ------
    ValueError
        Naming the file (and the field): it cannot be read or parsed, is too large, names an
        unknown parameter or gives a field a value it does not accept.
    """
    path = Path(path)
    try:
        text = read_regular_file(os.path.realpath(path), limit=MAX_CONFIG_BYTES).decode("utf-8")
        values = tomllib.loads(text)
    except ValueError as error:
        if isinstance(error, (tomllib.TOMLDecodeError, UnicodeDecodeError)):
            raise ValueError(f"{path}: not a valid TOML file ({' '.join(str(error).split())})") from None
        raise ValueError(f"{error} (--config)") from None
    known = [*estimator_defaults(), *RUN_OPTIONS, *PATH_OPTIONS]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{path}: unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(known)}")
    return {name: _checked_config_value(path, name, value) for name, value in values.items()}


def _checked_config_value(path: Path, name: str, value: Any) -> Any:
    """A configuration value of the kind its flag takes, and accepted by the methods' own checks.

    Raises
    ------
    ValueError
        ``"<path>: <name> ..."``, saying what the field takes.
    """
    if name in RUN_OPTIONS:
        if value not in RUN_OPTIONS[name]:
            raise ValueError(f"{path}: {name} must be one of {', '.join(RUN_OPTIONS[name])}, got {value!r:.40}")
        return value
    if name in PATH_OPTIONS:
        if not isinstance(value, str) or not value:
            raise ValueError(f"{path}: {name} must be the path of a model folder, as a string, got {value!r:.40}")
        return value
    if isinstance(value, list):
        if len(value) > MAX_CONFIG_LIST:
            raise ValueError(f"{path}: {name} holds {len(value)} values, more than the {MAX_CONFIG_LIST} accepted")
        value = tuple(value)
    expected = _expected_kind(name)
    if expected is not None and not _is_kind(value, expected):
        raise ValueError(f"{path}: {name} must be {_KIND_TEXT[expected]}, got {value!r:.60}")
    check = next(cls._parameter_checks[name] for cls in ESTIMATORS.values() if name in cls._parameter_checks)
    try:
        check(value, name)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: {' '.join(str(error).split())}") from None
    return value


_KIND_TEXT = {"ints": "a list of integers, e.g. [500, 500, 2000]", "int": "an integer", "bool": "true or false",
              "auto_or_int": '"auto" or an integer', "float": "a number", "str": "a string"}


def _expected_kind(name: str) -> str | None:
    """What the flag of parameter ``name`` takes, and so its configuration value, as a key of
    ``_KIND_TEXT`` (None: anything)."""
    default = estimator_defaults()[name]
    if isinstance(default, tuple) or name in _SEQUENCE_PARAMETERS:
        return "ints"
    if isinstance(default, bool):
        return "bool"
    if default is None:
        return "int"
    if name in _AUTO_OR_INT_PARAMETERS:
        return "auto_or_int"
    return {int: "int", float: "float", str: "str"}.get(type(default))


def _is_kind(value: Any, kind: str) -> bool:
    is_int = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731
    return {"ints": lambda v: isinstance(v, tuple) and all(is_int(item) for item in v),
            "int": is_int, "bool": lambda v: isinstance(v, bool),
            "auto_or_int": lambda v: v == "auto" or is_int(v),
            "float": lambda v: isinstance(v, float) or is_int(v), "str": lambda v: isinstance(v, str)}[kind](value)


def explicit_parameters(namespace: argparse.Namespace) -> dict[str, Any]:
    """The DEC parameters a user set: ``--config`` values, overridden by explicit flags."""
    explicit = read_config(namespace.config) if getattr(namespace, "config", None) else {}
    explicit = {name: value for name, value in explicit.items() if name not in (*RUN_OPTIONS, *PATH_OPTIONS)}
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


def autoencoder_source(namespace: argparse.Namespace) -> Path | None:
    """The model folder whose autoencoder the run reuses: ``--autoencoder-from``, else the
    ``--config`` value, else None."""
    if getattr(namespace, "autoencoder_from", None) is not None:
        return namespace.autoencoder_from
    config = read_config(namespace.config) if getattr(namespace, "config", None) else {}
    return Path(config["autoencoder_from"]) if "autoencoder_from" in config else None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_text(parameters: dict[str, Any], options: dict[str, Any] | None = None,
                recipe: Recipe | None = None) -> str:
    """The parameters (and run options) as TOML that :func:`read_config` reads back.

    ``None`` values are omitted. The ``recipe`` that ``method = "auto"`` chose is written as
    comments, every setting of each stage: ``auto`` chooses it again from the same data.
    """
    lines = ["# parameters of this run; rerun with: decluster fit --config config.toml ..."]
    lines += [f"{name} = {_toml_value(value)}" for name, value in parameters.items() if value is not None]
    if options:
        lines += ["# how the command line prepared the data (not a method parameter)"]
        lines += [f"{name} = {_toml_value(value)}" for name, value in options.items()]
    if recipe is not None:
        lines += [f"# {recipe.describe()}"]
        for stage in recipe.stages:
            lines += [f"# {stage.method}: " + ", ".join(f"{name} = {_toml_value(value)}"
                                                         for name, value in stage.params.items() if value is not None)]
    return "\n".join(lines) + "\n"
