"""Control-flow graph of a function body, one node per simple statement or branch test.

The graph never copies or mutates the AST: a `Node` refers to the statement (or, for `if`
and `while`, the test expression; for `for`, the loop header) it stands for. Successor and
predecessor lists are tuples so the graph can be shared freely between analyses.
"""

from __future__ import annotations

import ast

from srcgrad.records import record

__all__ = ["Node", "CFG", "build"]


class Node:
    """One CFG node. `ast_node` is a statement, or the `If`/`While`/`For` whose header it is."""

    __slots__ = ("ast_node", "successors", "predecessors", "_label")

    def __init__(self, ast_node: ast.AST | None, label: str = ""):
        self.ast_node = ast_node  # None for the synthetic entry and exit
        self.successors: list[Node] = []
        self.predecessors: list[Node] = []
        self._label = label

    @property
    def label(self) -> str:
        stmt = self.ast_node
        if stmt is None:
            return self._label
        return f"{type(stmt).__name__}@{getattr(stmt, 'lineno', '?')}"

    def __repr__(self) -> str:
        return f"Node({self.label})"


@record
class CFG:
    entry: Node
    exit: Node
    nodes: tuple[Node, ...]

    def node_of(self, stmt: ast.AST) -> Node:
        for node in self.nodes:
            if node.ast_node is stmt:
                return node
        raise KeyError(stmt)


class _Builder:
    def __init__(self):
        self.nodes: list[Node] = []

    def new(self, ast_node, label="") -> Node:
        node = Node(ast_node, label)
        self.nodes.append(node)
        return node

    @staticmethod
    def link(sources, target: Node) -> None:
        for source in sources:
            source.successors.append(target)
            target.predecessors.append(source)

    def block(self, body: list[ast.stmt], preds: list[Node], exit_node: Node) -> list[Node]:
        """Wire `body` after `preds`; return the nodes control leaves the block from."""
        for stmt in body:
            preds = self.statement(stmt, preds, exit_node)
        return preds

    def statement(self, stmt: ast.stmt, preds: list[Node], exit_node: Node) -> list[Node]:
        if isinstance(stmt, ast.If):
            test = self.new(stmt)
            self.link(preds, test)
            out = self.block(stmt.body, [test], exit_node)
            out += self.block(stmt.orelse, [test], exit_node) if stmt.orelse else [test]
            return out
        if isinstance(stmt, (ast.While, ast.For)):
            header = self.new(stmt)
            self.link(preds, header)
            body_out = self.block(stmt.body, [header], exit_node)
            self.link(body_out, header)
            return self.block(stmt.orelse, [header], exit_node) if stmt.orelse else [header]
        node = self.new(stmt)
        self.link(preds, node)
        if isinstance(stmt, ast.Return):
            self.link([node], exit_node)
            return []
        return [node]


def build(function: ast.FunctionDef) -> CFG:
    """The CFG of `function`'s body."""
    builder = _Builder()
    entry = builder.new(None, "entry")
    exit_node = Node(None, "exit")
    out = builder.block(function.body, [entry], exit_node)
    builder.link(out, exit_node)
    builder.nodes.append(exit_node)
    return CFG(entry, exit_node, tuple(builder.nodes))
