"""`kb --help` and `kb show ID` start-up against a bare `import typer` in the same run.

Goals (issue 8): help <= 1.5x, show <= 3x the time of `python -c "import typer"`."""

import sys
import tempfile

from common import KB, command_time, report


def main() -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        env = {"KB_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite"}
        reference = command_time([sys.executable, "-c", "import typer"], env=env)
        help_time = command_time([str(KB), "--help"], env=env)
        show_time = command_time([str(KB), "show", "hoffmann2022.approach3"], env=env)
    ok = report("startup: kb --help", help_time, reference, 1.5)
    ok &= report("startup: kb show hoffmann2022.approach3", show_time, reference, 3.0)
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
