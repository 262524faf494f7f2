"""One pipeline, several "stacks": the profiles in .pipework.toml switch where and how it runs.

    cd examples/profiles
    python pipeline.py                    # [default]: local, 2 jobs at a time
    python pipeline.py --profile fast     # local, 8 at a time, content-hash cache
    python pipeline.py --profile hpc      # the same pipeline on SLURM (needs a cluster)
    pipework profile show hpc             # the effective settings and where each comes from

Profiles are read from ./.pipework.toml (here, the file next to this one) and ~/.pipework.toml.
"""

from pathlib import Path

from pipework import Pipeline, Proc

HERE = Path(__file__).resolve().parent


class Square(Proc):
    """Square each number."""

    input = "x"
    input_data = list(range(1, 9))
    output = "sq:file:{{in.x}}.txt"
    script = "echo $(( {{in.x}} * {{in.x}} )) > {{out.sq | quote}}"


class Sum(Proc):
    """Add the squares up."""

    requires = Square
    input = "squares:files"
    input_data = lambda ch: [[ch.column("sq")]]  # noqa: E731
    output = "sum:file:sum.txt"
    script = "cat {{in.squares | quote}} | awk '{s += $1} END {print s}' > {{out.sum | quote}}"


class Squares(Pipeline):
    """The sum of the first eight squares."""

    starts = Square
    workdir = str(HERE / ".pipework")
    outdir = str(HERE / "output")


if __name__ == "__main__":
    Squares.main()
