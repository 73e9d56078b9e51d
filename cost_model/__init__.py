"""The cost model: prices the synthesized templates in `cdk.out/` (`make cost`).

- `prices`: the committed price tables, one per region, every line with its source page.
- `assembly`: the stacks of a cloud assembly, with system, environment and region.
- `fixed`: what each resource costs by the month whatever the traffic (the floor).
- `usage`: what the operations and the background work cost (footprints in config/cost.py).
- `report`: both, per system and environment, with the budget gate, JSON and chart.
"""
