"""Profiles, environment variables and their precedence; typed errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipework.config import RunConfig, build_settings, resolve
from pipework.errors import ConfigError
from pipework.schedulers.local import LocalSettings


def _files(tmp: Path, home: str = "", local: str = "") -> list[Path]:
    out = []
    if home:
        (tmp / "home.toml").write_text(home)
        out.append(tmp / "home.toml")
    if local:
        (tmp / "local.toml").write_text(local)
        out.append(tmp / "local.toml")
    return out


def test_precedence_default_class_profile_env_argument(tmp_path: Path):
    files = _files(
        tmp_path,
        home='[default]\nforks = 2\nworkdir = "/home-wd"\n[profiles.hpc]\nscheduler = "slurm"\nforks = 16\n',
        local='[profiles.hpc]\nscheduler_opts = { partition = "short" }\n',
    )
    cfg, src = resolve(attrs={"forks": 4}, files=files, env={})
    assert (cfg.forks, cfg.workdir, cfg.scheduler) == (4, "/home-wd", "local")
    cfg, src = resolve(attrs={"forks": 4}, profile="hpc", files=files, env={})
    assert (cfg.forks, cfg.scheduler, cfg.scheduler_opts) == (16, "slurm", {"partition": "short"})
    assert src["forks"].endswith("home.toml [profiles.hpc]")
    cfg, src = resolve(attrs={}, profile="hpc", files=files, env={"PIPEWORK_FORKS": "3"})
    assert cfg.forks == 3 and src["forks"] == "PIPEWORK_FORKS"
    cfg, _ = resolve(
        attrs={}, profile="hpc", overrides={"forks": 1}, files=files, env={"PIPEWORK_FORKS": "3"}
    )
    assert cfg.forks == 1


def test_profile_from_env_and_typed_env_values(tmp_path: Path):
    files = _files(tmp_path, local="[profiles.fast]\ncache = false\n")
    env = {
        "PIPEWORK_PROFILE": "fast",
        "PIPEWORK_SCHEDULER_OPTS": '{"max_jobs": 2}',
        "PIPEWORK_PLUGINS": "-a,-b",
        "PIPEWORK_CACHE": "content",
    }
    cfg, _ = resolve(attrs={}, files=files, env=env)
    assert cfg.cache == "content" and cfg.scheduler_opts == {"max_jobs": 2} and cfg.plugins == ["-a", "-b"]


def test_wrong_type_names_key_source_and_type(tmp_path: Path):
    files = _files(tmp_path, local='[default]\nforks = "many"\n')
    with pytest.raises(
        ConfigError, match=r"forks \(from .*local.toml \[default\]\) must be .*integer.* got 'many'"
    ):
        resolve(attrs={}, files=files, env={})
    with pytest.raises(ConfigError, match=r"forks \(from PIPEWORK_FORKS\) must be"):
        resolve(attrs={}, files=[], env={"PIPEWORK_FORKS": "[1]"})


def test_unknown_key_suggests_the_nearest(tmp_path: Path):
    files = _files(tmp_path, local="[default]\nfork = 2\n")
    with pytest.raises(ConfigError, match="unknown setting 'fork' .* did you mean 'forks'"):
        resolve(attrs={}, files=files, env={})


def test_bad_profile_name_lists_profiles(tmp_path: Path):
    files = _files(tmp_path, local="[profiles.hpc]\nforks = 2\n[profiles.cloud]\nforks = 3\n")
    with pytest.raises(ConfigError, match="no profile named 'hcp'.*did you mean 'hpc'.*profiles: cloud, hpc"):
        resolve(attrs={}, profile="hcp", files=files, env={})


def test_invalid_values(tmp_path: Path):
    with pytest.raises(ConfigError, match="error_strategy is 'stop'"):
        resolve(attrs={"error_strategy": "stop"}, files=[], env={})
    with pytest.raises(ConfigError, match="forks must be a positive int"):
        resolve(attrs={"forks": 0}, files=[], env={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        resolve(attrs={}, files=_files(tmp_path, local="[default\n"), env={})


def test_build_settings_converts_and_rejects():
    assert build_settings(LocalSettings, {"max_jobs": "4"}, owner="local scheduler").max_jobs == 4
    with pytest.raises(
        ConfigError, match="unknown local scheduler option 'max_job' -- did you mean 'max_jobs'"
    ):
        build_settings(LocalSettings, {"max_job": 4}, owner="local scheduler")
    with pytest.raises(ConfigError, match="local scheduler option kill_grace must be a number"):
        build_settings(LocalSettings, {"kill_grace": "soon"}, owner="local scheduler")


def test_defaults():
    cfg = RunConfig()
    assert (cfg.scheduler, cfg.cache, cfg.error_strategy, cfg.forks) == (
        "local",
        True,
        "halt",
        None,
    )


def test_env_from_a_profile_reaches_the_jobs_and_is_restored(tmp_path: Path, monkeypatch):
    import os

    from pipework import Proc

    from .helpers import make_pipeline, run

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".pipework.toml").write_text(
        '[profiles.lab]\nenv = { PW_TEST_ENDPOINT = "http://127.0.0.1:9" }\n'
    )

    class Show(Proc):
        output = "o:file:o.txt"
        script = "echo $PW_TEST_ENDPOINT > {{out.o}}"

    run(make_pipeline(Show), profile="lab")
    assert (tmp_path / "out/Show/o.txt").read_text() == "http://127.0.0.1:9\n"
    assert "PW_TEST_ENDPOINT" not in os.environ
    with pytest.raises(ConfigError, match="env values must be strings"):
        RunConfig(env={"X": 1})  # type: ignore[dict-item]


def test_an_invalid_value_names_its_key_and_where_it_came_from(tmp_path: Path):
    with pytest.raises(ConfigError) as info:
        resolve(attrs={}, files=[], env={"PIPEWORK_FORKS": "0"})
    assert info.value.key == "forks"
    assert str(info.value) == "forks must be a positive int, got 0 (from PIPEWORK_FORKS)"
    assert isinstance(info.value.__cause__, ConfigError) and info.value.__cause__.key == "forks"
    files = _files(tmp_path, local='[default]\nerror_strategy = "stop"\n')
    with pytest.raises(ConfigError) as info:
        resolve(attrs={}, files=files, env={})
    assert info.value.key == "error_strategy"
    assert str(info.value) == (
        f"error_strategy is 'stop' (from {files[0]} [default]) -- error_strategy is one of halt, retry, ignore"
    )
    with pytest.raises(ConfigError) as info:
        resolve(attrs={"resources": {"mem": "lots"}}, files=[], env={})
    assert info.value.key == "resources" and "not a memory amount (from pipeline class) -- " in str(
        info.value
    )


def test_wrong_types_and_unknown_keys_name_their_key(tmp_path: Path):
    files = _files(tmp_path, local='[default]\nnum_retries = "often"\n')
    with pytest.raises(ConfigError) as info:
        resolve(attrs={}, files=files, env={})
    assert info.value.key == "num_retries"
    with pytest.raises(ConfigError) as info:
        resolve(attrs={}, files=[], env={}, overrides={"scheduler_opts": "partition=debug"})
    assert info.value.key == "scheduler_opts" and "must be a table/dict" in str(info.value)
    with pytest.raises(ConfigError) as info:
        resolve(attrs={}, files=_files(tmp_path, home="[default]\nworkdri = 'x'\n"), env={})
    assert info.value.key == "workdri"
    with pytest.raises(ConfigError) as info:
        build_settings(LocalSettings, {"kill_grace": "soon"}, owner="local scheduler")
    assert info.value.key == "kill_grace"
