"""One worklist dataflow engine for every analysis.

An analysis supplies a direction, the boundary value, a transfer function and a join (set
union by default). Facts are frozensets; the result is a frozen side table mapping each CFG
node to the facts before and after it (in the direction of flow).
"""

from __future__ import annotations

from collections import deque
from types import MappingProxyType
from typing import Callable

from srcgrad.codegen.analysis.cfg import CFG, Node
from srcgrad.records import record

__all__ = ["Facts", "solve", "FORWARD", "BACKWARD"]

FORWARD = "forward"
BACKWARD = "backward"

Transfer = Callable[[Node, frozenset], frozenset]


@record
class Facts:
    """`before[n]` / `after[n]` hold the facts on entry to / exit from node n, in program order
    (for a backward analysis, `after[n]` is what flows into n from its successors)."""

    before: MappingProxyType
    after: MappingProxyType


def solve(
    cfg: CFG,
    direction: str,
    transfer: Transfer,
    boundary: frozenset = frozenset(),
    join: Callable[[frozenset, frozenset], frozenset] = frozenset.union,
    top: frozenset = frozenset(),
) -> Facts:
    """Iterate `transfer` to a fixed point and return the facts at every node.

    For a may-analysis (join = union) the defaults fit. For a must-analysis pass
    join=frozenset.intersection and `top`, the set every fact starts from.
    """
    forward = direction == FORWARD
    start = cfg.entry if forward else cfg.exit
    incoming = {node: top for node in cfg.nodes}
    outgoing = {node: top for node in cfg.nodes}
    incoming[start] = boundary
    work = deque(cfg.nodes if forward else reversed(cfg.nodes))
    queued = set(work)
    while work:
        node = work.popleft()
        queued.discard(node)
        sources = node.predecessors if forward else node.successors
        if node is not start:
            if len(sources) == 1:  # (most nodes: straight-line code)
                value = outgoing[sources[0]]
            elif sources:
                value = outgoing[sources[0]]
                for source in sources[1:]:
                    value = join(value, outgoing[source])
            else:
                value = top
            incoming[node] = value
        result = transfer(node, incoming[node])
        if result != outgoing[node] or node is start:
            outgoing[node] = result
            for target in node.successors if forward else node.predecessors:
                if target not in queued:
                    work.append(target)
                    queued.add(target)
    if forward:
        return Facts(MappingProxyType(incoming), MappingProxyType(outgoing))
    return Facts(MappingProxyType(outgoing), MappingProxyType(incoming))
