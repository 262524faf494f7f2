"""A chain of three processes; the middle one is Python. Shows var and file outputs, and envs.

python examples/python_chain/pipeline.py
"""

import sys
from pathlib import Path

from pipework import Pipeline, Proc

HERE = Path(__file__).resolve().parent


class Numbers(Proc):
    """Write the numbers 1..n to a file, one job per n."""

    input = "n"
    input_data = [3, 5, 10]
    output = ["numbers:file:numbers-{{in.n}}.txt", "n:{{in.n}}"]  # a file and a plain value
    script = "seq {{in.n}} > {{out.numbers | quote}}"


class Stats(Proc):
    """Compute the mean and the spread of the numbers, in Python."""

    requires = Numbers
    input = "numbers:file, n"
    output = "stats:file:stats-{{in.n}}.json"
    lang = sys.executable  # the interpreter running this pipeline; "python3" works too
    envs = {"digits": 2}
    script = """
import json, statistics
values = [float(line) for line in open({{in.numbers | json}})]
result = {
    "n": {{in.n}},
    "mean": round(statistics.mean(values), {{envs.digits}}),
    "stdev": round(statistics.stdev(values), {{envs.digits}}),
}
json.dump(result, open({{out.stats | json}}, "w"))
"""


class Report(Proc):
    """Gather every result into one table."""

    requires = Stats
    input = "stats:files"
    input_data = lambda ch: [[ch.column("stats")]]  # noqa: E731
    output = "report:file:report.tsv"
    lang = sys.executable
    script = """
import json
rows = [json.load(open(path)) for path in {{in.stats | json}}]
with open({{out.report | json}}, "w") as out:
    out.write("n\\tmean\\tstdev\\n")
    for row in rows:
        out.write(f"{row['n']}\\t{row['mean']}\\t{row['stdev']}\\n")
"""


class Chain(Pipeline):
    """Numbers -> statistics -> report."""

    starts = Numbers
    workdir = str(HERE / ".pipework")
    outdir = str(HERE / "output")


if __name__ == "__main__":
    Chain.main()
