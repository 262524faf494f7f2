"""Cloud workdirs, outdirs and inputs on gs://, s3:// and az://, against the emulators of
tests/services/storage.sh (fake-gcs-server, moto, Azurite). Nothing here reaches the internet."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.cloud

CLOUDS = ["gs", "s3", "az"]

PIPELINE = """
from pipework import Channel, Pipeline, Proc

class Echo(Proc):
    input = "word"
    input_data = [f"w{{i}}" for i in range({n})]
    output = "f:file:{{{{in.word}}}}.txt"
    script = "echo {{{{in.word}}}} > {{{{out.f}}}}"

class Upper(Proc):
    requires = Echo
    input = "f:file"
    output = "g:file:{{{{in.f | stem}}}}.upper"
    script = "tr a-z A-Z < {{{{in.f}}}} > {{{{out.g}}}}"

class Join(Proc):
    requires = Upper
    input = "gs:files"
    input_data = lambda ch: [[ch.column("g")]]
    output = "all:file:all.txt"
    script = "cat {{{{in.gs | quote}}}} > {{{{out.all}}}}"

class P(Pipeline):
    starts = Echo
    workdir = "{workdir}"
    outdir = "{outdir}"

if __name__ == "__main__":
    P.main()
"""


def make_bucket(scheme: str) -> str:
    name = f"pw-{uuid.uuid4().hex[:10]}"
    if scheme == "s3":
        import boto3

        boto3.client("s3").create_bucket(Bucket=name)
    elif scheme == "gs":
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        client = storage.Client(
            client_options={"api_endpoint": os.environ["STORAGE_EMULATOR_HOST"]},
            credentials=AnonymousCredentials(),
            project="test",
        )
        client.create_bucket(name)
    else:
        from azure.storage.blob import BlobServiceClient

        BlobServiceClient.from_connection_string(
            os.environ["AZURE_STORAGE_CONNECTION_STRING"]
        ).create_container(name)
    return f"{scheme}://{name}"


@pytest.fixture(params=CLOUDS)
def bucket(request: pytest.FixtureRequest) -> str:
    return make_bucket(request.param)


def read(url: str) -> str:
    from cloudpathlib import CloudPath

    return CloudPath(url).read_text()


def write(url: str, text: str) -> None:
    from cloudpathlib import CloudPath

    CloudPath(url).write_text(text)


def write_pipeline(proc: str, attrs: str, *, workdir: str, outdir: str) -> None:
    """Write pipeline.py: one process ``proc`` with the given class body, in a pipeline P."""
    body = textwrap.indent(textwrap.dedent(attrs).strip(), "    ")
    Path("pipeline.py").write_text(
        f"""from pipework import Channel, Pipeline, Proc

class {proc}(Proc):
{body}

class P(Pipeline):
    starts = {proc}
    workdir = "{workdir}"
    outdir = "{outdir}"

if __name__ == "__main__":
    P.main()
"""
    )


def run(n: int, workdir: str, outdir: str, *args: str) -> subprocess.CompletedProcess[str]:
    Path("pipeline.py").write_text(PIPELINE.format(n=n, workdir=workdir, outdir=outdir))
    return subprocess.run(
        [sys.executable, "pipeline.py", "-q", *args], capture_output=True, text=True, timeout=300
    )


def requests(scheme: str) -> int | None:
    """Requests seen so far by the emulator of that cloud (its request log), or None if not countable."""
    log = {"gs": "gcs.log", "s3": "moto.log"}.get(scheme)
    root = os.environ.get("PW_STORAGE_LOG_DIR")
    if not log or not root or not Path(root, log).exists():
        return None
    text = Path(root, log).read_text(errors="replace")
    return text.count(" HTTP/1.1")


def test_cloud_workdir_and_outdir_then_a_fully_cached_rerun(isolated: Path, bucket: str):
    scheme = bucket.split(":")[0]
    res = run(10, f"{bucket}/work", f"{bucket}/out")
    assert res.returncode == 0, res.stderr
    assert read(f"{bucket}/out/Join/all.txt") == "".join(f"W{i}\n" for i in range(10))
    assert read(f"{bucket}/work/P/Echo/3/job.rc") == "0\n"
    assert read(f"{bucket}/work/P/Echo/3/output/w3.txt") == "w3\n"
    before = requests(scheme)
    plan = subprocess.run([sys.executable, "pipeline.py", "--dry-run"], capture_output=True, text=True)
    assert "Echo   10 jobs: 10 cached, 0 to run" in plan.stdout, plan.stdout + plan.stderr
    res = run(10, f"{bucket}/work", f"{bucket}/out")
    assert res.returncode == 0, res.stderr
    if before is not None:
        after = requests(scheme)
        assert after is not None
        # a dry run plus a cached rerun of 3 processes x 10 jobs: a few requests per process, not per job
        assert after - before <= 40, after - before


def test_local_workdir_and_cloud_outdir(isolated: Path, bucket: str):
    res = run(3, "./wd", f"{bucket}/out")
    assert res.returncode == 0, res.stderr
    assert read(f"{bucket}/out/Join/all.txt") == "W0\nW1\nW2\n"
    assert Path("wd/P/Join/0/output/all.txt").read_text() == "W0\nW1\nW2\n"


def test_cloud_inputs_are_staged_and_globbed(isolated: Path, bucket: str):
    for name in ("b.txt", "a.txt", "c.csv"):
        write(f"{bucket}/in/{name}", f"content of {name}\n")
    write_pipeline(
        "Cat",
        f"""
        input = "f:file"
        input_data = Channel.from_glob("{bucket}/in/*.txt")
        output = "o:file:{{{{in.f | stem}}}}.out"
        script = "test -f {{{{in.f}}}} && cat {{{{in.f}}}} > {{{{out.o}}}}"
        """,
        workdir="./wd",
        outdir="./out",
    )
    res = subprocess.run([sys.executable, "pipeline.py", "-q"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert Path("out/Cat/a.out").read_text() == "content of a.txt\n"
    assert Path("out/Cat/b.out").read_text() == "content of b.txt\n"
    assert "://" not in Path("wd/P/Cat/0/job.script").read_text()  # the script saw a local path
    assert not list(Path("wd/P/Cat/0").glob("in/**/*.txt"))  # staged inputs are cleaned after the job
    rerun = subprocess.run([sys.executable, "pipeline.py", "--dry-run"], capture_output=True, text=True)
    assert "Cat  2 jobs: 2 cached, 0 to run" in rerun.stdout, rerun.stdout
    write(f"{bucket}/in/a.txt", "changed\n")
    rerun = subprocess.run([sys.executable, "pipeline.py", "--dry-run"], capture_output=True, text=True)
    assert "Cat  2 jobs: 1 cached, 1 to run" in rerun.stdout, rerun.stdout


def test_a_failed_directory_export_leaves_no_complete_export(isolated: Path, bucket: str):
    from cloudpathlib import CloudPath

    write_pipeline(
        "Dir",
        """
        output = "d:dir:results"
        script = "echo 1 > {{out.d}}/one.txt; {{'ln -s /nonexistent/target ' + out.d + '/broken' if envs.broken else 'true'}}"
        envs = {"broken": __import__("os").environ.get("BREAK") == "1"}
        """,
        workdir="./wd",
        outdir=f"{bucket}/out",
    )
    ok = subprocess.run([sys.executable, "pipeline.py", "-q"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert CloudPath(f"{bucket}/out/Dir/results/.pipework-complete").exists()
    bad = subprocess.run(
        [sys.executable, "pipeline.py", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "BREAK": "1"},
    )
    assert bad.returncode == 1
    assert "[Dir] exporting its outputs failed: cannot upload to" in bad.stderr
    assert "results/broken' the file" in bad.stderr and "does not exist" in bad.stderr
    assert not CloudPath(f"{bucket}/out/Dir/results/.pipework-complete").exists()  # not a complete export


def test_finished_jobs_stay_cached_after_the_driver_is_killed(isolated: Path, bucket: str):
    """On a bucket the signatures go to one manifest per process, saved as jobs finish (not only at
    the end): a driver killed mid-process leaves its finished jobs cached, and reruns only the rest."""
    import signal
    import time

    from cloudpathlib import CloudPath

    here = Path.cwd()
    script = (
        f"echo run >> {here}/count{{{{in.i}}}}\n"
        f"if [ {{{{in.i}}}} = 1 ] && [ -e {here}/hold ]; then echo $$ > {here}/pid1; sleep 60; fi\n"
        "echo {{in.i}} > {{out.o}}\n"
    )
    write_pipeline(
        "Slow",
        f"""
        input = "i"
        input_data = [0, 1]
        output = "o:file:{{{{in.i}}}}.txt"
        script = {script!r}
        """,
        workdir=f"{bucket}/work",
        outdir="./out",
    )
    Path("hold").touch()
    driver = subprocess.Popen([sys.executable, "pipeline.py", "-q"], start_new_session=True)
    manifest = CloudPath(f"{bucket}/work/P/Slow/.pw-signatures.json")
    deadline = time.monotonic() + 60
    while not (Path("pid1").exists() and manifest.exists()):
        assert driver.poll() is None and time.monotonic() < deadline, "job 0 never finished"
        time.sleep(0.2)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    os.kill(int(Path("pid1").read_text()), signal.SIGKILL)  # the job the killed driver left running
    Path("hold").unlink()
    assert not CloudPath(f"{bucket}/work/P/Slow/0/job.signature.json").exists()  # no object per job

    res = subprocess.run([sys.executable, "pipeline.py", "-q"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert Path("count0").read_text() == "run\n"  # finished before the kill: cached, not run again
    assert Path("count1").read_text() == "run\nrun\n"
    assert Path("out/Slow/1.txt").read_text() == "1\n"


def test_cloudpathlib_cache_dir_is_honoured_and_emptied_after_each_job(isolated: Path):
    """A job that reads a bucket with cloudpathlib fills CLOUDPATHLIB_LOCAL_CACHE_DIR; pipework empties
    it when the job is staged out, so a long run does not fill the disk with cached copies."""
    bucket = make_bucket("gs")
    write(f"{bucket}/ref/genome.txt", "ACGT\n")
    cache = Path("cpl-cache").resolve()
    script = (
        "import os\n"
        "from cloudpathlib import CloudPath\n"
        f"text = CloudPath('{bucket}/ref/genome.txt').read_text()\n"
        "cache = os.environ['CLOUDPATHLIB_LOCAL_CACHE_DIR']\n"
        "cached = [f for _, _, fs in os.walk(cache) for f in fs]\n"
        "open('{{out.o}}', 'w').write(text + str(len(cached)) + '\\n')\n"
    )
    write_pipeline(
        "Read",
        f"""
        input = "i"
        input_data = [0, 1]
        output = "o:file:{{{{in.i}}}}.txt"
        lang = {sys.executable!r}
        script = {script!r}
        """,
        workdir=f"{bucket}/work",
        outdir="./out",
    )
    env = {**os.environ, "CLOUDPATHLIB_LOCAL_CACHE_DIR": str(cache)}
    res = subprocess.run(
        [sys.executable, "pipeline.py", "-q"], capture_output=True, text=True, env=env, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert Path("out/Read/0.txt").read_text() == "ACGT\n1\n"  # the job's read went through the cache dir
    assert cache.is_dir() and not [p for p in cache.rglob("*") if p.is_file()]  # emptied after the jobs


@pytest.mark.parametrize("scheme", CLOUDS)
def test_a_missing_bucket_is_a_clear_error(isolated: Path, scheme: str):
    res = run(1, f"{scheme}://no-such-bucket-{uuid.uuid4().hex[:6]}/work", "./out")
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert "does not exist -- create it, or fix the URL" in res.stderr


def test_bad_azure_credentials_are_a_clear_error(isolated: Path):
    bucket = make_bucket("az")
    env = dict(os.environ)
    env["AZURE_STORAGE_CONNECTION_STRING"] = env["AZURE_STORAGE_CONNECTION_STRING"].replace(
        "AccountKey=E", "AccountKey=X"
    )
    Path("pipeline.py").write_text(PIPELINE.format(n=1, workdir=f"{bucket}/work", outdir="./out"))
    res = subprocess.run(
        [sys.executable, "pipeline.py", "-q"], capture_output=True, text=True, env=env, timeout=120
    )
    assert res.returncode == 1
    assert "permission denied" in res.stderr and "AZURE_STORAGE_CONNECTION_STRING" in res.stderr


@pytest.mark.parametrize(
    "scheduler", [pytest.param("slurm", marks=pytest.mark.slurm), pytest.param("sge", marks=pytest.mark.sge)]
)
def test_cloud_workdir_on_a_cluster_scheduler(isolated: Path, scheduler: str):
    """Cluster jobs stage from and to the bucket themselves (nodes share the driver's Python)."""
    bucket = make_bucket("gs")
    Path("pipeline.py").write_text(
        PIPELINE.format(n=3, workdir=f"{bucket}/work", outdir=f"{bucket}/out").replace(
            'outdir = "', f'scheduler = "{scheduler}"\n    outdir = "'
        )
    )
    res = subprocess.run([sys.executable, "pipeline.py", "-q"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert read(f"{bucket}/out/Join/all.txt") == "W0\nW1\nW2\n"
    jid = read(f"{bucket}/work/P/Echo/1/job.jid").strip()
    assert ("_" if scheduler == "slurm" else ".") in jid  # an array task of the cluster


@pytest.mark.parametrize("scheme", CLOUDS)
def test_the_cloud_echo_example(isolated: Path, scheme: str):
    bucket = make_bucket(scheme)
    example = Path(__file__).resolve().parents[2] / "examples" / "cloud_echo" / "pipeline.py"
    res = subprocess.run(
        [sys.executable, str(example), bucket, "-q"], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr
    for word in ("alpha", "beta", "gamma"):
        assert read(f"{bucket}/pipework/output/Shout/{word}.shout.txt") == word.upper() + "\n"
