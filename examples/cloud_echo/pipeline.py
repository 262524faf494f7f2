"""Echo words into file outputs, with the work and output directories on a bucket.

The same pipeline as a local one: only the two URLs differ. Scripts see local paths; pipework stages
inputs in and outputs out. Run against real GCS with credentials, or the emulator of the tests:

    eval "$(tests/services/storage.sh start)"          # fake-gcs-server, moto, Azurite on 127.0.0.1
    python examples/cloud_echo/pipeline.py gs://my-bucket
"""

import sys

from pipework import Pipeline, Proc

BUCKET = sys.argv[1] if len(sys.argv) > 1 and "://" in sys.argv[1] else "gs://pipework-example"


class Echo(Proc):
    """Write each word to its own file."""

    input = "word"
    input_data = ["alpha", "beta", "gamma"]
    output = "out:file:{{in.word}}.txt"
    script = "echo {{in.word | quote}} > {{out.out | quote}}"


class Shout(Proc):
    """Upper-case every file."""

    requires = Echo
    input = "infile:file"
    output = "out:file:{{in.infile | stem}}.shout.txt"
    script = "tr a-z A-Z < {{in.infile | quote}} > {{out.out | quote}}"


class CloudEcho(Pipeline):
    """Echo and shout, on a bucket."""

    starts = Echo
    workdir = f"{BUCKET}/pipework/work"
    outdir = f"{BUCKET}/pipework/output"


if __name__ == "__main__":
    CloudEcho.main(sys.argv[2:] if len(sys.argv) > 1 and "://" in sys.argv[1] else None)
