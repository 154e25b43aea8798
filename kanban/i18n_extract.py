"""A Babel extractor for robot and trigger kind modules: their `_()` messages as usual, plus each kind class's
docstring, which the kind pickers and robot forms show as the kind's description (`kind_description`)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from babel.messages.extract import extract_python


def extract_kinds(fileobj: Any, keywords: Any, comment_tags: Any, options: Any) -> Iterator[tuple[Any, ...]]:
    """Babel extraction method (see babel.cfg)."""
    source = fileobj.read()
    fileobj.seek(0)
    yield from extract_python(fileobj, keywords, comment_tags, options)
    text = source.decode(options.get("encoding", "utf-8")) if isinstance(source, bytes) else source
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef):
            doc = ast.get_docstring(node)
            if doc and any(isinstance(b, ast.Name) and b.id in ("RobotKind", "TriggerKind") for b in node.bases):
                for message in dict.fromkeys((doc.strip(), doc.strip().split("\n")[0])):
                    yield node.lineno, None, message, []
