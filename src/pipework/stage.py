"""Staging: how a job whose files are on a bucket runs on local paths.

The engine renders such a job's script against local paths under a stage directory and writes a
manifest, ``job.stage.json``, to the job directory. The scheduler then runs::

    python -m pipework.stage run <job dir>          # the job dir may be gs://, s3://, az:// or local

which fetches the wrapper and script (cloud job dir), downloads the cloud inputs, runs the unchanged job
wrapper, uploads the declared outputs of a successful script, then stdout, stderr, ``job.usage`` and
finally ``job.rc`` (so a reader never sees an rc before the outputs are in place), and removes what it
staged. Users never call a cloud CLI in their scripts. A failed upload fails the job, with the reason in
its stderr.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import paths
from .errors import StorageError

__all__ = ["MANIFEST", "Manifest", "local_input", "note", "run", "stage_root"]

MANIFEST = "job.stage.json"
#: Inputs of one job downloaded at a time.
PARALLEL_DOWNLOADS = 8
#: What a staged job's wrapper leaves beside its outputs, uploaded (when not empty) before ``job.rc``:
#: its streams and what it measured (``job.usage``, read into the run store).
_META = ("job.stdout", "job.stderr", "job.usage")


def stage_root() -> str:
    """Where jobs are staged: ``$PIPEWORK_STAGE_DIR``, else ``<tmp>/pipework-stage``.

    The engine renders paths under it on the driver, so it must name the same place on every machine
    that runs jobs (a local disk path that exists on each node).
    """
    return os.environ.get("PIPEWORK_STAGE_DIR") or os.path.join(tempfile.gettempdir(), "pipework-stage")


def local_input(url: str, stage_dir: str) -> str:
    """The local path a cloud input is staged at: ``<stage dir>/in/<scheme>/<bucket>/<key>``."""
    scheme, bucket, key = paths.split_url(url)
    return os.path.join(stage_dir, "in", scheme, bucket, key)


@dataclass
class Manifest:
    """What to stage for one job.

    Attributes:
        stage_dir: The local directory the wrapper runs in.
        inputs: ``[cloud URL, local path]`` pairs to download before the script.
        outputs: ``[local path, cloud URL]`` pairs to upload after a successful script.
    """

    stage_dir: str
    inputs: list[list[str]] = field(default_factory=list)
    outputs: list[list[str]] = field(default_factory=list)

    def to_json(self) -> str:
        """The manifest as JSON text."""
        return json.dumps({"stage_dir": self.stage_dir, "inputs": self.inputs, "outputs": self.outputs})

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Read a manifest."""
        data = json.loads(text)
        return cls(stage_dir=data["stage_dir"], inputs=data["inputs"], outputs=data["outputs"])


def note(stage_dir: str, message: str) -> None:
    """Add a ``pipework: <message>`` line to the staged job's stderr (uploaded with it)."""
    os.makedirs(stage_dir, exist_ok=True)
    with open(os.path.join(stage_dir, "job.stderr"), "a") as fh:
        fh.write(f"pipework: {message}\n")


def run(jobdir: str) -> int:
    """Stage a job in, run its wrapper, stage it out; return its return code."""
    manifest = Manifest.from_json(paths.read_text(paths.join(jobdir, MANIFEST)))
    rc = stage_in(jobdir, manifest)
    if rc == 0:
        rc = _run_wrapper(os.path.join(manifest.stage_dir, "job.wrapper"), manifest.stage_dir)
    return stage_out(jobdir, manifest, rc)


def stage_in(jobdir: str, manifest: Manifest, *, files: dict[str, str] | None = None) -> int:
    """Make the stage dir, fetch the wrapper and script (or write the given ``files``) and the inputs.

    Returns:
        0, or 1 when an input could not be downloaded (the reason is in the job's stderr).
    """
    sd = manifest.stage_dir
    if paths.is_cloud(jobdir):
        paths.rmtree(sd)
        os.makedirs(os.path.join(sd, "output"), exist_ok=True)
        for name in ("job.script", "job.wrapper"):
            if files and name in files:
                with open(os.path.join(sd, name), "w") as fh:
                    fh.write(files[name])
            else:
                paths.download(paths.join(jobdir, name), os.path.join(sd, name))
    try:
        if len(manifest.inputs) > 1:
            # many small inputs (a fan-in): latency-bound, so several requests at a time
            with concurrent.futures.ThreadPoolExecutor(min(PARALLEL_DOWNLOADS, len(manifest.inputs))) as pool:
                # one context copy per task: the run's storage settings (pipework.paths.environment)
                futures = [
                    pool.submit(contextvars.copy_context().run, paths.download, url, local)
                    for url, local in manifest.inputs
                ]
                for future in futures:
                    future.result()
        else:
            for url, local in manifest.inputs:
                paths.download(url, local)
    except StorageError as exc:
        note(sd, f"staging the inputs failed: {exc}")
        return 1
    return 0


def stage_out(jobdir: str, manifest: Manifest, rc: int, *, uploaded: list[str] | None = None) -> int:
    """Upload a successful job's outputs, then its stdout, stderr, job.usage and (last) job.rc; clean the
    stage dir.

    An empty stdout or stderr is not uploaded (readers take a missing one as empty): most jobs write
    their results to files, and each object costs a request.

    Args:
        jobdir: The job directory (a cloud URL, or local for a local workdir with cloud inputs).
        manifest: What to stage.
        rc: The script's return code.
        uploaded: If given, the URLs of the outputs uploaded are appended to it.

    Returns:
        The job's final return code (1 when an upload failed).
    """
    sd = manifest.stage_dir
    remote = paths.is_cloud(jobdir)
    if rc == 0:
        try:
            for local, url in manifest.outputs:
                if os.path.exists(local):  # a missing output is reported by the engine, by name
                    paths.upload(local, url)
                    if uploaded is not None:
                        uploaded.append(url)
        except StorageError as exc:
            note(sd, f"uploading the outputs failed: {exc}")
            rc = 1
    if remote:
        for name in _META:
            local = os.path.join(sd, name)
            if os.path.exists(local) and os.path.getsize(local) > 0:
                paths.upload(local, paths.join(jobdir, name))
        paths.write_text(paths.join(jobdir, "job.rc"), f"{rc}\n")  # last: the job is done
        paths.rmtree(sd)
    else:
        paths.atomic_write_text(os.path.join(sd, "job.rc"), f"{rc}\n")
        paths.rmtree(os.path.join(sd, "in"))
    _clear_client_caches(manifest)
    return rc


def _run_wrapper(wrapper: str, stage_dir: str) -> int:
    """Run the job wrapper; SIGTERM/SIGINT reach it as a member of the job's process group, and this
    process waits for it so that ``job.rc`` is still uploaded."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: None)
    proc = subprocess.Popen(["bash", wrapper], cwd=stage_dir, stdin=subprocess.DEVNULL)
    code = proc.wait()
    try:
        with open(os.path.join(stage_dir, "job.rc")) as fh:
            text = fh.read()
        return int(text) if text.endswith("\n") else code
    except (OSError, ValueError):
        return code if code >= 0 else 128 - code


def _clear_client_caches(manifest: Manifest) -> None:
    """Empty cloudpathlib's local file cache (``CLOUDPATHLIB_LOCAL_CACHE_DIR``) after each job."""
    for url, _ in manifest.inputs[:1] + [[u, ""] for _, u in manifest.outputs[:1]]:
        # a cache that cannot be cleared costs disk, not correctness
        with contextlib.suppress(Exception):
            paths.cloud(url).client.clear_cache()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pipework.stage run <job dir>``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "run":
        print("usage: python -m pipework.stage run <job dir>", file=sys.stderr)
        return 2
    try:
        return run(args[1])
    except StorageError as exc:
        print(f"pipework.stage: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
