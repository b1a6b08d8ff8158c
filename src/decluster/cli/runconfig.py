"""Method parameters from the command line and TOML files, and the resolved configuration written
back: the flags and keys of every method of :data:`~decluster.estimators.methods.METHODS`."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any

from decluster.estimators.auto import Recipe
from decluster.estimators.base import constructor_defaults
from decluster.estimators.methods import METHODS
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
PATH_OPTIONS = ("autoencoder_from",)
"""Settings of a run that name a file or folder (``autoencoder_from = "run/model"``)."""

MAX_CONFIG_BYTES = 1 << 20
"""Largest configuration file read (1 MiB); one of decluster's is under a kilobyte."""
MAX_CONFIG_LIST = 100
"""Most entries of a list in a configuration file (``hidden_dims``, ``image_shape``...)."""


def run_option_choices() -> dict[str, tuple[str, ...]]:
    """Settings of a run that are not method parameters, with their accepted values (the first
    is the default): ``scale``, and ``method``, one of :data:`~decluster.estimators.methods.METHODS`."""
    return {"scale": SCALE_CHOICES, "method": tuple(METHODS)}


def estimator_defaults(estimator: type | None = None) -> dict[str, Any]:
    """Constructor parameters and defaults of ``estimator`` (None: of every method of
    :data:`~decluster.estimators.methods.METHODS`, ``auto``'s first), minus those the CLI sets
    itself."""
    defaults: dict[str, Any] = {}
    for cls in METHODS.values() if estimator is None else (estimator,):
        for name, default in constructor_defaults(cls).items():
            if name not in _NOT_FLAGS:
                defaults.setdefault(name, default)
    return defaults


def _default_text(name: str) -> str:
    """``"0.01"``, or per method where they differ (``"dec 0.01, idec 0.001"``), naming the methods
    that have the parameter when not all do (``"0.1; idec only"``)."""
    having = {method: estimator_defaults(cls)[name] for method, cls in METHODS.items()
              if name in estimator_defaults(cls)}
    values = list(having.values())
    text = str(values[0]) if all(repr(v) == repr(values[0]) for v in values) else ", ".join(
        f"{method} {value}" for method, value in having.items())
    return text if len(having) == len(METHODS) else f"{text}; {', '.join(having)} only"


def parameter_help() -> dict[str, str]:
    """First sentence of each parameter's description in the methods' docstrings (``auto``'s first)."""
    helps: dict[str, str] = {}
    for cls in METHODS.values():
        section = (cls.__doc__ or "").partition("Parameters\n    ----------\n")[2].split("Attributes\n", 1)[0]
        for match in re.finditer(r"^    (\w+) : [^\n]*\n((?:        [^\n]*\n)+)", section, flags=re.MULTILINE):
            text = " ".join(match.group(2).split()).replace("``", "")
            helps.setdefault(match.group(1), text.split(". ")[0].rstrip(".").replace("%", "%%"))
    return helps


def method_help() -> str:
    """The help of ``--method``: the methods of :data:`~decluster.estimators.methods.METHODS`."""
    default, *others = METHODS
    classes = ", ".join(METHODS[name].__name__ for name in others)
    return (f"the clustering method: {default} (the default: chosen from the data, see the log), or "
            f"{', '.join(others)} (the Python API's {classes}; the user guide's 'Choosing a method' compares "
            "them)")


def _auto_or_int(text: str) -> int | str:
    """``"auto"`` or an integer (for ``--n-clusters``, ``--layer-epochs``, ``--finetune-epochs``)."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or an integer, got {text!r}") from None


def add_parameter_flags(parser: argparse.ArgumentParser) -> None:
    """Add one ``--flag`` per parameter of any method; absent flags leave the value unset."""
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
    """Method parameters and run options from a TOML file of ``name = value`` lines.

    Parameter names are as in the Python API; the run options are those of :func:`run_option_choices`
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
    known = [*estimator_defaults(), *run_option_choices(), *PATH_OPTIONS]
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
    choices = run_option_choices()
    if name in choices:
        if value not in choices[name]:
            raise ValueError(f"{path}: {name} must be one of {', '.join(choices[name])}, got {value!r:.40}")
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
    check = next(cls._parameter_checks[name] for cls in METHODS.values() if name in cls._parameter_checks)
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
    """The method parameters a user set: ``--config`` values, overridden by explicit flags."""
    explicit = read_config(namespace.config) if getattr(namespace, "config", None) else {}
    not_parameters = (*run_option_choices(), *PATH_OPTIONS)
    explicit = {name: value for name, value in explicit.items() if name not in not_parameters}
    explicit.update({name: getattr(namespace, name) for name in estimator_defaults() if hasattr(namespace, name)})
    for name in ("hidden_dims", *_SEQUENCE_PARAMETERS):
        if name in explicit:
            explicit[name] = tuple(explicit[name])
    return explicit


def run_options(namespace: argparse.Namespace) -> dict[str, str]:
    """The run options (``scale``): a flag given, else the ``--config`` value, else the default."""
    config = read_config(namespace.config) if getattr(namespace, "config", None) else {}
    options = {}
    for name, choices in run_option_choices().items():
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
