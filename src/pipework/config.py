"""Run configuration: defaults, profiles (the "stack"), environment variables and overrides.

Profiles live in ``~/.pipework.toml`` and ``./.pipework.toml`` (the later file wins)::

    [default]
    forks = 4

    [profiles.hpc]
    scheduler = "slurm"
    scheduler_opts = { partition = "short" }

From lowest to highest precedence: built-in defaults, the ``[default]`` tables, the Pipeline class
attributes, the selected ``[profiles.NAME]`` tables, ``PIPEWORK_<KEY>`` environment variables, and the
keyword arguments of ``Pipeline(...)`` (the CLI's options). One loader walks the fields of
:class:`RunConfig` (and of each scheduler's ``Settings``), so files, variables and ``profile show``
agree on every key and type.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
import os
import sys
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .locations import check_dir_location, check_location
from .resources import Resources
from .spec import check_cache, check_forks, check_strategy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "CONFIG_FILENAME",
    "RunConfig",
    "build_settings",
    "config_files",
    "load_profiles",
    "resolve",
]

CONFIG_FILENAME = ".pipework.toml"
ENV_PREFIX = "PIPEWORK_"


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """The settings of one run; every field can come from a profile or ``PIPEWORK_<KEY>``.

    Attributes:
        workdir: Where job directories live (local path or cloud URL).
        outdir: Where exported outputs go (default ``./<pipeline name>-output``).
        scheduler: Scheduler name (``local``, ``slurm``, ``sge``, ``gbatch`` or a plugin's).
        scheduler_opts: Options of that scheduler.
        forks: Jobs of one process running at once (None: the scheduler's default).
        cache: True (size+mtime), False, or "content" (hash input files).
        error_strategy: "halt", "retry" or "ignore".
        num_retries: Retries per job with the "retry" strategy.
        resources: Portable resources per job (cpus, mem, time, gpus).
        container: Container image for every job.
        plugins: Plugin names to disable (``-name``) or extra plugin modules to load.
        store: Run store: a path of a SQLite file.
        env: Environment variables set for the run and its jobs: how a profile configures the cloud
            SDKs (``AWS_PROFILE``, ``AWS_ENDPOINT_URL``, ``GOOGLE_APPLICATION_CREDENTIALS``,
            ``AZURE_STORAGE_CONNECTION_STRING``, ...).
    """

    workdir: str = field(default="./.pipework", metadata=_help("job directories (path or cloud URL)"))
    outdir: str | None = field(default=None, metadata=_help("export directory (path or cloud URL)"))
    scheduler: str = field(default="local", metadata=_help("local, slurm, sge, gbatch or a plugin"))
    scheduler_opts: dict[str, Any] = field(default_factory=dict, metadata=_help("scheduler options"))
    forks: int | None = field(default=None, metadata=_help("jobs of one process running at once"))
    cache: bool | str = field(default=True, metadata=_help('true, false or "content"'))
    error_strategy: str = field(default="halt", metadata=_help("halt, retry or ignore"))
    num_retries: int = field(default=3, metadata=_help("retries per job with error_strategy retry"))
    resources: dict[str, Any] = field(default_factory=dict, metadata=_help("cpus, mem, time, gpus"))
    container: str | None = field(default=None, metadata=_help("container image for every job"))
    plugins: list[Any] = field(
        default_factory=list, metadata=_help("plugin objects or module names; '-name' disables one")
    )
    store: str | None = field(default=None, metadata=_help("run store: SQLite path or SQLAlchemy URL"))
    env: dict[str, str] = field(
        default_factory=dict,
        metadata=_help("environment for the run and its jobs, e.g. the cloud SDKs' AWS_ENDPOINT_URL"),
    )

    def __post_init__(self) -> None:
        check_location(self.workdir, key="workdir")
        if self.outdir is not None:
            check_location(self.outdir, key="outdir")
        with _key("forks"):
            check_forks(self.forks, where="forks")
        with _key("cache"):
            check_cache(self.cache, where="cache")
        with _key("error_strategy"):
            check_strategy(self.error_strategy, where="error_strategy")
        if self.num_retries < 0:
            raise ConfigError(f"num_retries must be >= 0, got {self.num_retries}", key="num_retries")
        with _key("resources"):
            Resources.parse(self.resources)
        bad = [k for k, v in self.env.items() if not isinstance(v, str)]
        if bad:
            raise ConfigError(f"env values must be strings; {bad[0]} is {self.env[bad[0]]!r}", key="env")

    @classmethod
    def field_names(cls) -> list[str]:
        """The names of all configuration keys."""
        return [f.name for f in dataclasses.fields(cls)]


@contextlib.contextmanager
def _key(key: str) -> Iterator[None]:
    """Name the configuration key of a ConfigError raised by a check that does not know it."""
    try:
        yield
    except ConfigError as exc:
        if exc.key is not None:
            raise
        raise ConfigError(exc.message, key=key, proc=exc.proc, job=exc.job, hint=exc.hint) from exc


def config_files(cwd: Path | None = None) -> list[Path]:
    """The profile files read, lowest precedence first: ``~/.pipework.toml``, ``./.pipework.toml``."""
    found = [Path.home() / CONFIG_FILENAME, (cwd or Path.cwd()) / CONFIG_FILENAME]
    unique: list[Path] = []
    for path in found:
        if path.is_file() and path.resolve() not in [u.resolve() for u in unique]:
            unique.append(path)
    return unique


def load_profiles(files: Sequence[Path]) -> dict[str, list[tuple[Path, dict[str, Any]]]]:
    """Read profile files into ``{profile name: [(file, table), ...]}``; ``"default"`` is ``[default]``.

    Raises:
        ConfigError: For a file that is not valid TOML or has tables of the wrong shape.
    """
    profiles: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    for path in files:
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"{path} cannot be read: {exc.strerror}") from exc
        unknown = set(data) - {"default", "profiles"}
        if unknown:
            raise ConfigError(
                f"{path} has unknown top-level table(s) {sorted(unknown)}",
                hint="use [default] and [profiles.NAME]",
            )
        if "default" in data:
            profiles.setdefault("default", []).append((path, _table(data["default"], path, "default")))
        if not isinstance(data.get("profiles", {}), dict):
            raise ConfigError(
                f"{path}: profiles must be tables", hint="write each one as [profiles.NAME] with its settings"
            )
        for name, table in (data.get("profiles") or {}).items():
            profiles.setdefault(name, []).append((path, _table(table, path, f"profiles.{name}")))
    return profiles


def _table(value: object, path: Path, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(
            f"{path}: [{where}] is {value!r}, not a table of settings",
            hint=f"write it as [{where}] followed by lines like forks = 4",
        )
    return value


def resolve(
    *,
    attrs: Mapping[str, Any],
    profile: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    files: Sequence[Path] | None = None,
) -> tuple[RunConfig, dict[str, str]]:
    """Combine every source into one :class:`RunConfig`.

    Args:
        attrs: The Pipeline class attributes that are set (not None).
        profile: The profile to apply (also read from ``PIPEWORK_PROFILE``).
        overrides: Keyword arguments of ``Pipeline(...)``/CLI options, highest precedence.
        env: The environment (default ``os.environ``).
        files: The profile files (default :func:`config_files`).

    Returns:
        The config and, for each key that is not a default, where its value came from.

    Raises:
        ConfigError: For an unknown profile, key or a value of the wrong type, naming its source.
    """
    env = os.environ if env is None else env
    files = config_files() if files is None else files
    profiles = load_profiles(files)
    profile = profile or env.get(ENV_PREFIX + "PROFILE") or None
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    def apply(table: Mapping[str, Any], source: str) -> None:
        for key, value in table.items():
            values[key] = _convert(key, value, source)
            sources[key] = source

    for path, table in profiles.get("default", []):
        apply(table, f"{path} [default]")
    apply({k: v for k, v in attrs.items() if v is not None}, "pipeline class")
    if profile and profile != "default":
        if profile not in profiles:
            names = sorted(n for n in profiles if n != "default")
            close = difflib.get_close_matches(profile, names, n=1)
            raise ConfigError(
                f"no profile named {profile!r} in {', '.join(map(str, files)) or 'any config file'}",
                hint=(f"did you mean {close[0]!r}? " if close else "")
                + (
                    f"profiles: {', '.join(names)}"
                    if names
                    else f"add [profiles.{profile}] to ./{CONFIG_FILENAME}"
                ),
            )
        for path, table in profiles[profile]:
            apply(table, f"{path} [profiles.{profile}]")
    for key in RunConfig.field_names():
        name = ENV_PREFIX + key.upper()
        if name in env:
            values[key] = _convert(key, _parse_env(key, env[name], name), name)
            sources[key] = name
    apply({k: v for k, v in (overrides or {}).items() if v is not None}, "argument")
    try:
        config = RunConfig(**values)
        if config.outdir is not None:
            check_dir_location(config.outdir, key="outdir")
    except ConfigError as exc:
        if exc.key is None or exc.key not in sources:
            raise
        raise exc.within(source=sources[exc.key]) from exc
    return config, sources


def _hints() -> dict[str, Any]:
    return typing.get_type_hints(RunConfig)


def _convert(key: str, value: Any, source: str) -> Any:
    hints = _hints()
    if key not in hints:
        close = difflib.get_close_matches(key, list(hints), n=1)
        raise ConfigError(
            f"unknown setting {key!r} in {source}",
            key=key,
            hint=(f"did you mean {close[0]!r}? " if close else "") + f"settings: {', '.join(hints)}",
        )
    return coerce(value, hints[key], where=f"{key} (from {source})", key=key)


def _parse_env(key: str, text: str, name: str) -> Any:
    """Environment variables are text: parse JSON/TOML-looking values, keep plain words as strings."""
    stripped = text.strip()
    if stripped[:1] in "[{" or stripped in ("true", "false", "null") or _is_number(stripped):
        try:
            return json.loads(stripped)
        except ValueError as exc:
            raise ConfigError(f"{name}={text!r} is not valid JSON: {exc}") from exc
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def coerce(value: Any, hint: Any, *, where: str, key: str | None = None) -> Any:
    """Check and convert a value to a type annotation (str, int, float, bool, list, dict, Optional, unions).

    Args:
        value: The value as given (from TOML, an environment variable, or Python).
        hint: The type annotation to convert to.
        where: The setting and its source, for the message (``"forks (from PIPEWORK_FORKS)"``).
        key: The configuration key, set on the error as :attr:`ConfigError.key`.

    Returns:
        The converted value.

    Raises:
        ConfigError: Naming ``where``, the expected type and the value.
    """
    origin = typing.get_origin(hint)
    converted: Any = _BAD
    if origin in (typing.Union, types.UnionType):
        converted = _coerce_union(value, hint, where=where, key=key)
    elif hint is Any:
        return value
    elif hint in _SCALARS:
        converted = _SCALARS[hint](value)
    elif origin in (list, tuple, Sequence) or hint in (list, tuple):
        return _coerce_list(value, hint, where=where, key=key)
    elif origin in (dict, Mapping) or hint is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"{where} must be a table/dict, got {value!r}",
                key=key,
                hint=f"in TOML write {key or 'it'} = {{ name = value }}; in Python a dict",
            )
        return dict(value)
    elif value.__class__ is hint or (isinstance(hint, type) and isinstance(value, hint)):
        return value
    if converted is _BAD:
        raise ConfigError(f"{where} must be {_type_name(hint)}, got {value!r}", key=key)
    return converted


#: What a converter returns for a value it cannot convert (None is a valid result).
_BAD: Any = object()
_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")


def _coerce_union(value: Any, hint: Any, *, where: str, key: str | None) -> Any:
    args = typing.get_args(hint)
    if value is None and type(None) in args:
        return None
    for arg in args:
        if arg is not type(None):
            with contextlib.suppress(ConfigError):
                return coerce(value, arg, where=where, key=key)
    return _BAD


def _coerce_list(value: Any, hint: Any, *, where: str, key: str | None) -> list[Any] | tuple[Any, ...]:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{where} must be a list, got {value!r}", key=key)
    inner = args[0] if args else Any
    items = [coerce(v, inner, where=where, key=key) for v in value]
    return tuple(items) if origin is tuple or hint is tuple else items


def _to_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
        return value.lower() in _TRUE
    return _BAD


def _to_int(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return _BAD


def _to_float(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and _is_number(value):
        return float(value)
    return _BAD


def _to_str(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, Path):
        return str(value)
    return _BAD


_SCALARS: dict[Any, Callable[[Any], Any]] = {bool: _to_bool, int: _to_int, float: _to_float, str: _to_str}


_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        named = " or ".join(_type_name(a) for a in args if a is not type(None))
        return named + (" (or unset)" if type(None) in args else "")
    origin = typing.get_origin(hint) or hint
    if origin in (list, tuple):
        return "a list"
    if origin in (dict, Mapping):
        return "a table"
    return _TYPE_NAMES.get(hint, getattr(hint, "__name__", str(hint)))


def build_settings(cls: type[Any], opts: Mapping[str, Any] | None, *, owner: str) -> Any:
    """Build a settings dataclass from ``scheduler_opts``-style options, converting by field type.

    Raises:
        ConfigError: For an unknown key (naming the nearest valid one) or a value of the wrong type.
    """
    opts = dict(opts or {})
    if not dataclasses.is_dataclass(cls):
        raise ConfigError(f"{owner} settings class {cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    values: dict[str, Any] = {}
    for key, value in opts.items():
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            raise ConfigError(
                f"unknown {owner} option {key!r}",
                key=key,
                hint=(f"did you mean {close[0]!r}? " if close else "")
                + (f"options: {', '.join(names)}" if names else f"{owner} takes no options"),
            )
        values[key] = coerce(value, hints[key], where=f"{owner} option {key}", key=key)
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid {owner} options: {exc}") from exc


def build_scheduler_settings(cls: Any, opts: Mapping[str, Any], *, proc: str | None = None) -> Any:
    """A scheduler's ``Settings`` from effective options, checked by the scheduler.

    Raises:
        ConfigError: For an unknown option or a wrong value, naming the process (if any) and the option.
    """
    try:
        settings = build_settings(cls.Settings, opts, owner=f"{cls.name} scheduler")
        cls.check_settings(settings)
    except ConfigError as exc:
        raise exc.within(proc=proc) from exc
    return settings
