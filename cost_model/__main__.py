"""`make cost`: price the templates of the selected environments and gate on each budget.

    python -m cost_model [cdk.out] [--env E] [--system S] [--check]
        [--json cost-report.json] [--chart cost-report.svg]

Every environment of every system is selected unless --env/--system narrow it. An assembly
that lacks one of them is refused, naming the missing ones, before anything is written:
pricing a subset would pass for the whole. --check only reports what is missing.
Exits 1 naming each environment over its monthly budget, 2 when the assembly is missing or
incomplete or holds a resource type the model neither prices nor lists as free.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from config import ConfigError
from config.selection import chosen
from cost_model import assembly
from cost_model.assembly import Stack
from cost_model.chart import write_chart
from cost_model.report import UnpricedResources, build, document, offenders, render


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m cost_model", description=__doc__)
    parser.add_argument("assembly", nargs="?", default="cdk.out", type=Path)
    parser.add_argument("--env", default="")
    parser.add_argument("--system", default="")
    parser.add_argument("--check", action="store_true", help="only say what cdk.out lacks (make)")
    parser.add_argument("--json", default=Path("cost-report.json"), type=Path)
    parser.add_argument("--chart", default=Path("cost-report.svg"), type=Path)
    return parser.parse_args(argv)


class MissingEnvironments(FileNotFoundError):
    pass


def selected_stacks(outdir: Path, env: str | None, system: str | None) -> list[Stack]:
    """The stacks of the selected environments; FileNotFoundError naming any it lacks."""
    wanted = chosen(env, system)
    stacks = assembly.read(outdir)
    present = {(stack.system, stack.environment) for stack in stacks}
    missing = [f"{s}/{e}" for s, e in wanted if (s, e) not in present]
    if missing:
        raise MissingEnvironments(f"{outdir} has no templates for {', '.join(missing)}")
    return [stack for stack in stacks if (stack.system, stack.environment) in set(wanted)]


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        stacks = selected_stacks(args.assembly, args.env or None, args.system or None)
        if args.check:
            return 0
        costs = build(stacks)
    except MissingEnvironments as problem:
        # --check is how `make cost` asks, and it synthesizes what is missing next.
        then = "synthesizing them first" if args.check else "run `make cost` or `make synth`"
        print(f"cost: {problem}; {then}", file=sys.stderr)
        return 2
    except (FileNotFoundError, UnpricedResources, ConfigError) as problem:
        print(f"cost: {problem}", file=sys.stderr)
        return 2
    args.json.write_text(json.dumps(document(costs), indent=2) + "\n")
    write_chart(costs, args.chart)
    print(render(costs))
    print(f"\nwritten: {args.json}, {args.chart}")
    over = offenders(costs)
    for offender in over:
        print(f"OVER BUDGET {offender}", file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
