"""`kb --help` and `kb show ID` start-up against a bare `import typer` in the same run.

Goals (issue 8): help <= 1.5x, show <= 3x the time of `python -c "import typer"`; issue 12:
`kb list` and `kb search` <= 2x (they answer from the cached catalog while the store holds
only the published laws), `kb eval` <= 2.5x."""

import sys
import tempfile

from common import KB, command_time, report


def main() -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        env = {"KB_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite"}
        reference = command_time([sys.executable, "-c", "import typer"], env=env)
        help_time = command_time([str(KB), "--help"], env=env)
        show_time = command_time([str(KB), "show", "hoffmann2022.approach3"], env=env)
        list_time = command_time([str(KB), "list"], env=env)
        search_time = command_time([str(KB), "search", "kaplan"], env=env)
        eval_time = command_time([str(KB), "eval", "hoffmann2022.approach3", "N=70B", "D=1.4T"], env=env)
    ok = report("startup: kb --help", help_time, reference, 1.5)
    ok &= report("startup: kb show hoffmann2022.approach3", show_time, reference, 3.0)
    ok &= report("startup: kb list", list_time, reference, 2.0)
    ok &= report("startup: kb search kaplan", search_time, reference, 2.0)
    ok &= report("startup: kb eval approach3 N D", eval_time, reference, 2.5)
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
