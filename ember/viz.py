"""Draw the autograd graph behind a tensor: Graphviz DOT text, rendered to SVG/PNG when `dot` is installed.

    loss = model(x).sum()
    print(ember.viz.to_dot(loss, params=dict(model.named_parameters())))
    ember.viz.render(loss, "graph.svg")

Nodes are the grad_fn objects, named like PyTorch's (MulBackward0, AccumulateGrad, ...). Each leaf is drawn
as its own box under its AccumulateGrad, labelled with its name (from `params`) and shape; the output
tensor is drawn at the top with its shape. Edges point the way gradients flow (output to leaves).
"""
import shutil
import subprocess

from ._tensor import Tensor
from .autograd.graph import AccumulateGrad, walk

__all__ = ["to_dot", "render"]


def _shape(t):
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def _quote(text):
    """A DOT string literal; newlines become DOT's \\n line breaks."""
    parts = [part.replace("\\", "\\\\").replace('"', '\\"') for part in str(text).split("\n")]
    return '"' + "\\n".join(parts) + '"'


def to_dot(tensor, params=None, show_attrs=False):
    """Graphviz DOT source for the graph that computed `tensor` (or a tuple of tensors)."""
    outputs = tensor if isinstance(tensor, (tuple, list)) else (tensor,)
    names = {id(p): name for name, p in (params or {}).items()}
    lines = ["digraph {", '    graph [rankdir=TB];',
             '    node [shape=box, style=filled, fillcolor=white, fontname="monospace", fontsize=10];']
    ids = {}

    def node_id(obj):
        if id(obj) not in ids:
            ids[id(obj)] = f"n{len(ids)}"
        return ids[id(obj)]

    roots = []
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"to_dot expects tensors, got {type(out).__name__}")
        label = names.get(id(out), "output" if len(outputs) == 1 else f"output {i}")
        oid = node_id(out)
        lines.append(f"    {oid} [label={_quote(label + chr(10) + _shape(out))}, fillcolor=darkolivegreen1];")
        if out.grad_fn is not None:
            roots.append(out.grad_fn)
            lines.append(f"    {oid} -> {node_id(out.grad_fn)};")
    for node in walk(roots):
        nid = node_id(node)
        if isinstance(node, AccumulateGrad):
            lines.append(f"    {nid} [label=\"AccumulateGrad\", fillcolor=lightgray];")
            leaf = node.variable
            if leaf is not None:
                lid = node_id(leaf)
                label = names.get(id(leaf), "leaf")
                lines.append(f"    {lid} [label={_quote(label + chr(10) + _shape(leaf))}, fillcolor=lightblue];")
                lines.append(f"    {nid} -> {lid};")
            continue
        label = node.name()
        if show_attrs:
            extra = [f"{k}={v}" for k, v in sorted(getattr(node, "__dict__", {}).items())
                     if not k.startswith("_") and isinstance(v, (int, float, tuple, str, bool))]
            label += "".join("\n" + e for e in extra)
        lines.append(f"    {nid} [label={_quote(label)}];")
        for nxt, _ in node.next_functions:
            if nxt is not None:
                lines.append(f"    {nid} -> {node_id(nxt)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(tensor, path, format=None, params=None):
    """Write the graph to `path` as SVG/PNG/PDF (format from the suffix) with Graphviz's `dot` program."""
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError("render: the Graphviz 'dot' program was not found on PATH; install Graphviz, or use "
                           "to_dot() and render the text elsewhere")
    fmt = format or str(path).rsplit(".", 1)[-1]
    subprocess.run([dot, f"-T{fmt}", "-o", str(path)], input=to_dot(tensor, params).encode(), check=True)
    return path
