"""Plugins: pluggy hooks that observe a run, and the per-run plugin manager.

Hooks are called with keyword arguments only and observe; they never decide what the engine does
(output checks, signatures and export are not hooks). Each fires O(jobs) times at most, never per poll.
Plugins register under the entry-point group ``pipework``::

    [project.entry-points.pipework]
    notify = "my_package.notify"        # a module or object with @hookimpl functions

A plugin that fails to import or raises is reported once and disabled for the run; it never breaks it.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import Any

import pluggy

__all__ = ["ENTRY_POINT_GROUP", "PluginManager", "hookimpl", "hookspec"]

ENTRY_POINT_GROUP = "pipework"
PROJECT = "pipework"

hookspec = pluggy.HookspecMarker(PROJECT)
#: Decorate plugin functions with this: ``@hookimpl def on_job_done(*, proc, index, state, rc): ...``
hookimpl = pluggy.HookimplMarker(PROJECT)


class HookSpecs:
    """The hooks a plugin can implement. All arguments are keyword-only."""

    @hookspec
    def on_run_start(self, *, pipeline: str, procs: list[str], workdir: str, outdir: str) -> None:
        """A run starts, after its configuration is resolved and its DAG is validated."""

    @hookspec
    def on_proc_start(self, *, proc: str, njobs: int) -> None:
        """A process starts: its input channel is built and it has ``njobs`` jobs."""

    @hookspec
    def on_job_submitted(self, *, proc: str, index: int, jid: str | None) -> None:
        """A job was handed to its scheduler (once per attempt)."""

    @hookspec
    def on_job_done(self, *, proc: str, index: int, state: str, rc: int | None) -> None:
        """A job reached a final state (``done``, ``failed``, ``killed``, ``lost``)."""

    @hookspec
    def on_proc_done(self, *, proc: str, counts: dict[str, int]) -> None:
        """A process finished; ``counts`` maps final states to numbers of jobs."""

    @hookspec
    def on_run_done(self, *, pipeline: str, ok: bool, seconds: float) -> None:
        """A run ended, successfully or not."""

    @hookspec
    def on_cli(self, *, cli: Any) -> None:
        """Add commands to the ``pipework`` CLI (``cli`` is its click group)."""


@functools.lru_cache(maxsize=256)
def _params(func: Callable[..., Any]) -> tuple[str, ...]:
    """Parameter names of a hook function, keyword-only ones included (pluggy sees only positional)."""
    return tuple(
        name
        for name, param in inspect.signature(func).parameters.items()
        if name != "self" and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)
    )


_SPECS: dict[str, frozenset[str]] = {
    name: frozenset(_params(func)) for name, func in vars(HookSpecs).items() if not name.startswith("_")
}


def discover() -> dict[str, str]:
    """Installed plugins: name -> ``module[:object]`` from the ``pipework`` entry-point group."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


class PluginManager:
    """The plugins of one run.

    Args:
        disabled: Plugin names not to load (``plugins = ["-name"]``).
        extra: Modules or objects to register besides the entry points (e.g. ``plugins = ["mymod"]``).
        warn: Called once with a message when a plugin fails to load or raises.
    """

    def __init__(
        self,
        *,
        disabled: Iterable[str] = (),
        extra: Iterable[Any] = (),
        warn: Callable[[str], None] = print,
    ) -> None:
        self._pm = pluggy.PluginManager(PROJECT)
        self._pm.add_hookspecs(HookSpecs)
        self._warn = warn
        self.names: list[str] = []
        skip = set(disabled)
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in skip:
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                warn(f"plugin {ep.name!r} ({ep.value}) failed to load and is skipped: {exc}")
                continue
            self.register(plugin, ep.name)
        for item in extra:
            plugin = importlib.import_module(item) if isinstance(item, str) else item
            self.register(plugin, item if isinstance(item, str) else getattr(item, "__name__", None))

    def register(self, plugin: Any, name: str | None = None) -> None:
        """Register a plugin, checking its hooks against the specs (reported and skipped if invalid).

        Every hook function must be named after a spec and take only (a subset of) its arguments.
        """
        label = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        for attr in dir(plugin):
            func = getattr(plugin, attr, None)
            if not callable(func) or self._pm.parse_hookimpl_opts(plugin, attr) is None:
                continue
            if attr not in _SPECS:
                self._warn(f"plugin {label!r} is invalid and is skipped: no hook named {attr!r}")
                return
            extra = set(_params(func)) - _SPECS[attr]
            if extra:
                self._warn(
                    f"plugin {label!r} is invalid and is skipped: {attr}() takes {sorted(extra)}, "
                    f"which the hook does not give (it gives {sorted(_SPECS[attr])})"
                )
                return
        try:
            self._pm.register(plugin, name=label)
        except Exception as exc:
            self._warn(f"plugin {label!r} is invalid and is skipped: {exc}")
            return
        self.names.append(label)

    async def call(self, hook: str, **kwargs: Any) -> None:
        """Call a hook on every plugin; a plugin that raises is reported once and unregistered."""
        caller = getattr(self._pm.hook, hook)
        for impl in caller.get_hookimpls():
            try:
                args = {k: kwargs[k] for k in _params(impl.function)}
                result = impl.function(**args)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                self._warn(
                    f"plugin {impl.plugin_name!r} raised in {hook}: {type(exc).__name__}: {exc}; "
                    "it is disabled for this run"
                )
                self._pm.unregister(name=impl.plugin_name)
                if impl.plugin_name in self.names:
                    self.names.remove(impl.plugin_name)

    def has_hooks(self, hook: str | None = None) -> bool:
        """True when any plugin is registered (with ``hook``: when one implements that hook); the
        engine skips hook calls otherwise, which matters for the per-job hooks."""
        if not self.names:
            return False
        return hook is None or bool(getattr(self._pm.hook, hook).get_hookimpls())
