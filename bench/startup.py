"""Start-up benchmark: what a command costs beyond its own work.

Times ``holodeck build "<prompt>"`` of a scene already in the cache (embedded stack:
its own nats-server, every service in the process) as a fresh process, next to
``holodeck --help`` and ``python -c pass`` (the floor no command beats). The build
reports its scene's own time (request to ``scene.ready``); the rest of its wall time
is process overhead: interpreter, imports, the server's start and stop, the services'
start and stop. Runs alternate between the commands (and between source trees, with
``--against``) so that a noisy machine weighs on all of them alike; figures are medians.

Beside wall times, the CPU time (user + system) of each command and the children it
waited for: on a loaded machine it is the steadier figure.

Each run starts on a free store: the bench first waits until the previous command's
server has released the store's lock, and reports that wait too (a command that
exits while its server is still flushing makes the next command wait that long).

Every command runs with a fresh HOME (the default workspace ``~/.holodeck`` inside it)
and without HOLODECK_* or NATS_URL from the caller's environment, as for a newcomer;
bytecode is cached in a private directory (``PYTHONPYCACHEPREFIX``) as an installed
package would have it, even where PYTHONDONTWRITEBYTECODE is set.

    python bench/startup.py [--runs 7] [--prompt "..."] [--against OTHER_CHECKOUT]

``--against`` runs the same commands with another checkout's sources (say, the commit
before a change) in alternation with this one's. The last line is one JSON object;
``overhead_s`` is the headline (target <= 0.5 s).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.bus import store_held

TARGET_S = 0.5
# How long the bench waits for a store's lock before calling the server an orphan.
RELEASE_TIMEOUT_S = 30.0
# The caller's settings that would change what a build runs (backends, bytecode).
DROPPED = ("PYTHONDONTWRITEBYTECODE", "OPENAI_API_KEY", "COMFYUI_API_URL", "SF3D_API_URL")
MEASURES = (
    "python -c pass",
    "holodeck --help",
    "holodeck build",
    "scene (as reported)",
    "build overhead",
    "store held after exit",
    "python -c pass (cpu)",
    "holodeck --help (cpu)",
    "holodeck build (cpu)",
)


class Tree:
    """One checkout's sources, run with a home of its own."""

    def __init__(self, name: str, source: Path, scratch: Path, prompt: str):
        self.name = name
        home = scratch / name / "home"
        home.mkdir(parents=True)
        self.store = home / ".holodeck" / "nats"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("HOLODECK_", "HOLDECK_", "NATS_")) and k not in DROPPED
        }
        self.env.update(
            HOME=str(home),
            PYTHONPATH=str(source),
            PYTHONPYCACHEPREFIX=str(scratch / name / "pycache"),
        )
        holodeck = str(Path(sys.executable).parent / "holodeck")
        out = str(scratch / name / "out")
        self.commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "holodeck --help": [holodeck, "--help"],
            "holodeck build": [holodeck, "build", prompt, "--out", out, "--json"],
        }
        self.series: dict[str, list[float]] = {name: [] for name in MEASURES}

    def warm_up(self) -> None:
        """The scene's objects enter the cache; bytecode is written."""
        for command in self.commands.values():
            run(command, self.env)
        wait_released(self.store)

    def measure(self) -> None:
        for name, command in self.commands.items():
            elapsed, cpu, stdout = run(command, self.env)
            self.series[name].append(elapsed)
            self.series[f"{name} (cpu)"].append(cpu)
            if name == "holodeck build":
                self.series["store held after exit"].append(wait_released(self.store))
                scene = scene_seconds(stdout)
                self.series["scene (as reported)"].append(scene)
                self.series["build overhead"].append(elapsed - scene)

    def median(self, name: str) -> float:
        return statistics.median(self.series[name])

    def result(self) -> dict[str, float]:
        return {
            "python_s": round(self.median("python -c pass"), 3),
            "help_s": round(self.median("holodeck --help"), 3),
            "build_s": round(self.median("holodeck build"), 3),
            "scene_s": round(self.median("scene (as reported)"), 3),
            "overhead_s": round(self.median("build overhead"), 3),
            "store_held_after_exit_s": round(self.median("store held after exit"), 3),
            "build_cpu_s": round(self.median("holodeck build (cpu)"), 3),
        }


def run(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds and the output of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])} failed ({done.returncode}): {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, done.stdout


def scene_seconds(stdout: str) -> float:
    """The scene's own time from the build's JSON line; it must be a cached success."""
    report = json.loads(stdout.strip().splitlines()[-1])
    if report["status"] != "SUCCEEDED":
        raise SystemExit(f"the build did not succeed: {report}")
    misses = sum(c["misses"] for c in report["cache"].values())
    if misses:
        raise SystemExit(f"the scene was not cached ({misses} misses): {report}")
    return float(report["timings"]["total_s"])


def wait_released(store: Path) -> float:
    """Seconds until no process holds the store's lock (the last server has ended)."""
    start = time.perf_counter()
    while store_held(store):
        if time.perf_counter() - start > RELEASE_TIMEOUT_S:
            raise SystemExit(f"the store {store} is still held {RELEASE_TIMEOUT_S:.0f} s later")
        time.sleep(0.002)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--prompt", default="a small kitchen with a table and two chairs")
    parser.add_argument("--against", type=Path, help="Another checkout to compare with.")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.against is not None and not (args.against / "services" / "cli.py").is_file():
        parser.error(f"--against {args.against}: not a Holodeck checkout (no services/cli.py)")
    if not (Path(sys.executable).parent / "holodeck").is_file():
        raise SystemExit("no holodeck beside this Python: install the project (pip install -e .)")

    with tempfile.TemporaryDirectory(prefix="holodeck-startup-") as tmp:
        trees = [Tree("this", ROOT, Path(tmp), args.prompt)]
        if args.against is not None:
            trees.append(Tree("against", args.against.resolve(), Path(tmp), args.prompt))
        for tree in trees:
            tree.warm_up()
        for _ in range(args.runs):
            for tree in trees:
                tree.measure()

    table = Table("median (s)", *(t.name for t in trees), title=f"{args.runs} runs each")
    for name in MEASURES:
        table.add_row(name, *(f"{t.median(name):.3f}" for t in trees))
    Console().print(table)
    this = trees[0]
    result: dict[str, object] = {"runs": args.runs, **this.result(), "target_s": TARGET_S}
    result["met"] = this.median("build overhead") <= TARGET_S
    if len(trees) > 1:
        result["against"] = {"path": str(args.against), **trees[1].result()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
