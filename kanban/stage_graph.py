"""Paths between stages along automatic moves: robots' and triggers' loop warnings share this search."""

from __future__ import annotations

Edge = tuple[int, int, str]  # from stage, to stage, label


def find_path(edges: list[Edge], start: int, goal: int) -> list[Edge] | None:
    """A path of edges from `start` to `goal` (breadth first, so the shortest), or None."""
    graph: dict[int, list[Edge]] = {}
    for edge in edges:
        graph.setdefault(edge[0], []).append(edge)
    queue: list[tuple[int, list[Edge]]] = [(start, [])]
    seen = {start}
    while queue:
        node, path = queue.pop(0)
        if node == goal:
            return path
        for edge in graph.get(node, []):
            if edge[1] not in seen:
                seen.add(edge[1])
                queue.append((edge[1], [*path, edge]))
    return None
