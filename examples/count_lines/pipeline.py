"""Count the lines of some text files, then add the counts up: fan-out over files, fan-in to one job.

python examples/count_lines/pipeline.py          # run it (from anywhere)
python examples/count_lines/pipeline.py --dry-run  # what would run, and why
"""

from pathlib import Path

from pipework import Pipeline, Proc

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


def make_data() -> list[str]:
    """Write three small text files (the example brings its own data) and return their paths."""
    DATA.mkdir(exist_ok=True)
    texts = {"alpha.txt": "a\nb\nc\n", "beta.txt": "d\ne\n", "gamma.txt": "f\ng\nh\ni\n"}
    for name, text in texts.items():
        path = DATA / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return sorted(str(DATA / name) for name in texts)


class Count(Proc):
    """Count the lines of each input file."""

    input = "infile:file"
    input_data = make_data()
    output = "count:file:{{in.infile | stem}}.count"
    script = "wc -l < {{in.infile | quote}} > {{out.count | quote}}"


class Total(Proc):
    """Add all the counts up, in one job."""

    requires = Count
    input = "counts:files"
    input_data = lambda ch: [[ch.column("count")]]  # noqa: E731  (the whole column as one list)
    output = "total:file:total.txt"
    script = "cat {{in.counts | quote}} | awk '{s += $1} END {print s}' > {{out.total | quote}}"


class Lines(Pipeline):
    """Count lines in many files."""

    starts = Count
    workdir = str(HERE / ".pipework")
    outdir = str(HERE / "output")
    forks = 4


if __name__ == "__main__":
    Lines.main()
