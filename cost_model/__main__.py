"""`make cost`: price every template in a cloud assembly and gate on each budget.

    python -m cost_model [cdk.out] [--json cost-report.json] [--chart cost-report.svg]

Exits 1 naming each environment over its monthly budget, 2 when the assembly is missing
or holds a resource type the model neither prices nor lists as free.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cost_model import assembly
from cost_model.chart import write_chart
from cost_model.report import UnpricedResources, build, document, offenders, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cost_model", description=__doc__)
    parser.add_argument("assembly", nargs="?", default="cdk.out", type=Path)
    parser.add_argument("--json", default=Path("cost-report.json"), type=Path)
    parser.add_argument("--chart", default=Path("cost-report.svg"), type=Path)
    args = parser.parse_args(argv)
    try:
        costs = build(assembly.read(args.assembly))
    except (FileNotFoundError, UnpricedResources) as problem:
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
