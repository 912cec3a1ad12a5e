"""Draw the autograd graph behind a tensor: Graphviz DOT text, and SVG with or without Graphviz.

    loss = model(x).sum()
    print(ember.viz.to_dot(loss, params=dict(model.named_parameters())))
    ember.viz.render(loss, "graph.svg")

Nodes are the grad_fn objects, named like PyTorch's (MulBackward0, AccumulateGrad, ...). Each leaf is drawn
as its own box under its AccumulateGrad, labelled with its name (from `params`) and shape; the output
tensor is drawn at the top with its shape. Edges point the way gradients flow (output to leaves).

`render` uses Graphviz's `dot` program when it is on PATH. Without it, `to_svg` draws the same graph with a
small layered (Sugiyama-style) layout of its own: every node gets the rank of its longest path from the
outputs, edges that skip ranks pass through invisible bend points, the order within each rank is improved
by barycenter sweeps (fewer crossings), and each rank's boxes are placed as close to their neighbours'
centres as the order and the spacing allow.
"""
import shutil
import subprocess
from xml.sax.saxutils import escape

from ._tensor import Tensor
from .autograd.graph import AccumulateGrad, walk

__all__ = ["to_dot", "to_svg", "render"]

# node kind -> (DOT fillcolor or None for the default white, SVG fill)
_FILL = {"output": ("darkolivegreen1", "#caff70"), "op": (None, "white"),
         "accumulate": ("lightgray", "lightgray"), "leaf": ("lightblue", "lightblue")}


def _shape(t):
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def _quote(text):
    """A DOT string literal; newlines become DOT's \\n line breaks."""
    parts = [part.replace("\\", "\\\\").replace('"', '\\"') for part in str(text).split("\n")]
    return '"' + "\\n".join(parts) + '"'


def _graph(tensor, params=None, show_attrs=False):
    """The graph as plain data: {node id: (label, kind)} in first-seen order, and [(src id, dst id)]."""
    outputs = tensor if isinstance(tensor, (tuple, list)) else (tensor,)
    names = {id(p): name for name, p in (params or {}).items()}
    ids, nodes, edges = {}, {}, []

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
        nodes[oid] = (label + "\n" + _shape(out), "output")
        if out.grad_fn is not None:
            roots.append(out.grad_fn)
            edges.append((oid, node_id(out.grad_fn)))
    for node in walk(roots):
        nid = node_id(node)
        if isinstance(node, AccumulateGrad):
            nodes[nid] = ("AccumulateGrad", "accumulate")
            leaf = node.variable
            if leaf is not None:
                lid = node_id(leaf)
                nodes[lid] = (names.get(id(leaf), "leaf") + "\n" + _shape(leaf), "leaf")
                edges.append((nid, lid))
            continue
        label = node.name()
        if show_attrs:
            extra = [f"{k}={v}" for k, v in sorted(getattr(node, "__dict__", {}).items())
                     if not k.startswith("_") and isinstance(v, (int, float, tuple, str, bool))]
            label += "".join("\n" + e for e in extra)
        nodes[nid] = (label, "op")
        edges.extend((nid, node_id(nxt)) for nxt, _ in node.next_functions if nxt is not None)
    return nodes, edges


def to_dot(tensor, params=None, show_attrs=False):
    """Graphviz DOT source for the graph that computed `tensor` (or a tuple of tensors)."""
    nodes, edges = _graph(tensor, params, show_attrs)
    lines = ["digraph {", '    graph [rankdir=TB];',
             '    node [shape=box, style=filled, fillcolor=white, fontname="monospace", fontsize=10];']
    for nid, (label, kind) in nodes.items():
        fill = _FILL[kind][0]
        lines.append(f"    {nid} [label={_quote(label)}" + (f", fillcolor={fill}];" if fill else "];"))
    lines.extend(f"    {src} -> {dst};" for src, dst in edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- ember's own layout: ranks, order within ranks, coordinates, then SVG ------------------------------------

_CHAR_W, _LINE_H, _PAD_X, _PAD_Y = 6.2, 13.0, 9.0, 6.0      # monospace 10px text in a box
_NODE_GAP, _RANK_GAP, _MARGIN, _SWEEPS = 18.0, 36.0, 12.0, 8


def _ranks(nodes, edges):
    """Rank of each node = length of its longest path from a node with no incoming edge (the outputs)."""
    succ = {n: [] for n in nodes}
    indeg = dict.fromkeys(nodes, 0)
    for u, v in edges:
        succ[u].append(v)
        indeg[v] += 1
    rank = dict.fromkeys(nodes, 0)
    ready = [n for n in nodes if indeg[n] == 0]
    while ready:                                  # Kahn's order: a node is ranked after all its parents
        u = ready.pop()
        for v in succ[u]:
            rank[v] = max(rank[v], rank[u] + 1)
            indeg[v] -= 1
            if indeg[v] == 0:
                ready.append(v)
    return rank


def _crossings(upper, lower, segments):
    """Edge crossings between two adjacent layers: inversions of the lower ends, sorted by the upper ends."""
    pos_u = {n: i for i, n in enumerate(upper)}
    pos_l = {n: i for i, n in enumerate(lower)}
    ends = [pos_l[v] for _, v in sorted(segments, key=lambda e: (pos_u[e[0]], pos_l[e[1]]))]
    tree = [0] * (len(lower) + 1)                 # Fenwick tree over lower positions
    count = 0
    for seen, p in enumerate(ends):
        i, below = p + 1, 0
        while i > 0:                              # ends seen so far at positions <= p
            below += tree[i]
            i -= i & -i
        count += seen - below
        i = p + 1
        while i <= len(lower):
            tree[i] += 1
            i += i & -i
    return count


def _order(layers, segments_between):
    """Reorder each layer by the barycenter of its neighbours' positions, sweeping down and up; keep the best."""
    def total():
        return sum(_crossings(layers[r], layers[r + 1], segments_between[r]) for r in range(len(layers) - 1))

    best, best_count = [list(layer) for layer in layers], total()
    for sweep in range(_SWEEPS):
        down = sweep % 2 == 0
        rng = range(1, len(layers)) if down else range(len(layers) - 2, -1, -1)
        for r in rng:
            fixed = layers[r - 1] if down else layers[r + 1]
            pos = {n: i for i, n in enumerate(fixed)}
            sums = {}
            for u, v in segments_between[r - 1] if down else segments_between[r]:
                mine, other = (v, u) if down else (u, v)
                total_, k = sums.get(mine, (0.0, 0))
                sums[mine] = (total_ + pos[other], k + 1)
            current = {n: i for i, n in enumerate(layers[r])}
            # a node without neighbours on that side keeps its place
            key = {n: (sums[n][0] / sums[n][1] if n in sums else current[n], current[n]) for n in layers[r]}
            layers[r].sort(key=key.__getitem__)
        count = total()
        if count < best_count:
            best, best_count = [list(layer) for layer in layers], count
    return best


def _isotonic(targets):
    """Non-decreasing sequence closest to `targets` in least squares (pool adjacent violators)."""
    blocks = []                                   # [mean, size]
    for t in targets:
        blocks.append([t, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, n2 = blocks.pop()
            m1, n1 = blocks[-1]
            blocks[-1] = [(m1 * n1 + m2 * n2) / (n1 + n2), n1 + n2]
    out = []
    for mean, size in blocks:
        out.extend([mean] * size)
    return out


def _place(layer, desired, width):
    """Centres for one layer in its order, each as near its desired x as min spacing allows."""
    offsets, acc = [], 0.0
    for i, n in enumerate(layer):
        if i:
            acc += (width[layer[i - 1]] + width[n]) / 2 + _NODE_GAP
        offsets.append(acc)
    # x_i = y_i + offset_i with y non-decreasing keeps every gap; least squares to the desired centres
    ys = _isotonic([desired[n] - off for n, off in zip(layer, offsets)])
    return {n: y + off for n, y, off in zip(layer, ys, offsets)}


def _layout(nodes, edges):
    """Boxes {id: (cx, cy, w, h)}, edge polylines [[(x, y), ...]] (one per edge), canvas (width, height)."""
    rank = _ranks(nodes, edges)
    size = {}
    for nid, (label, _) in nodes.items():
        lines = label.split("\n")
        size[nid] = (max(len(line) for line in lines) * _CHAR_W + 2 * _PAD_X, len(lines) * _LINE_H + 2 * _PAD_Y)
    nlayers = max(rank.values(), default=-1) + 1
    layers = [[] for _ in range(nlayers)]
    for nid in nodes:                             # first-seen order (depth first from the outputs) to start
        layers[rank[nid]].append(nid)
    segments = [[] for _ in range(max(nlayers - 1, 0))]
    chains = []                                   # per edge: the nodes it passes, real ends and bend points
    for i, (u, v) in enumerate(edges):
        chain = [u] + [("bend", i, r) for r in range(rank[u] + 1, rank[v])] + [v]
        for r, bend in zip(range(rank[u] + 1, rank[v]), chain[1:-1]):
            layers[r].append(bend)
            size[bend] = (0.0, 0.0)
        for k, (a, b) in enumerate(zip(chain, chain[1:])):
            segments[rank[u] + k].append((a, b))
        chains.append(chain)
    layers = _order(layers, segments)

    width = {n: max(size[n][0], _NODE_GAP / 2) for n in size}
    x = {}
    for layer in layers:                          # start packed from the left
        x.update(_place(layer, dict.fromkeys(layer, 0.0), width))
    up = {n: [] for n in size}
    down = {n: [] for n in size}
    for seg in segments:
        for a, b in seg:
            down[a].append(b)
            up[b].append(a)

    def relax(r, sides):
        desired = {}
        for n in layers[r]:
            near = [x[m] for side in sides for m in side[n]]
            desired[n] = sum(near) / len(near) if near else x[n]
        x.update(_place(layers[r], desired, width))

    for _ in range(4):                            # align each rank with its neighbours, down then up
        for r in range(1, nlayers):
            relax(r, (up,))
        for r in range(nlayers - 2, -1, -1):
            relax(r, (down,))
    for r in range(nlayers):
        relax(r, (up, down))

    left = min((x[n] - width[n] / 2 for n in x), default=0.0)
    ys, top = [], _MARGIN
    for layer in layers:
        height = max((size[n][1] for n in layer), default=0.0)
        ys.append(top + height / 2)
        top += height + _RANK_GAP
    boxes = {n: (x[n] - left + _MARGIN, ys[rank[n]], *size[n]) for n in nodes}
    canvas_w = max((x[n] - left + width[n] / 2 for n in x), default=0.0) + 2 * _MARGIN
    canvas_h = top - _RANK_GAP + _MARGIN

    # ports: the edges leaving (entering) a box are spread along its bottom (top) side, ordered by where
    # they go (come from), so parallel edges and fans stay apart
    layer_of = {n: r for r, layer in enumerate(layers) for n in layer}
    point = {n: (x[n] - left + _MARGIN, ys[layer_of[n]]) for n in x}
    outgoing, incoming = {n: [] for n in nodes}, {n: [] for n in nodes}
    for i, chain in enumerate(chains):
        outgoing[chain[0]].append((point[chain[1]][0], i))
        incoming[chain[-1]].append((point[chain[-2]][0], i))
    start, end = {}, {}
    for ports, sign, store in ((outgoing, 1, start), (incoming, -1, end)):
        for n, items in ports.items():
            cx, cy, w, h = boxes[n]
            items.sort()
            step = min(10.0, (w - 2 * _PAD_X) / max(len(items) - 1, 1))
            for k, (_, i) in enumerate(items):
                store[i] = (cx + (k - (len(items) - 1) / 2) * step, cy + sign * h / 2)
    polylines = [[start[i]] + [point[b] for b in chain[1:-1]] + [end[i]] for i, chain in enumerate(chains)]
    return boxes, polylines, (canvas_w, canvas_h)
def _svg_path(points):
    """Smooth path through the points: vertical tangents at each one, so edges leave and enter boxes straight."""
    (x0, y0), parts = points[0], []
    for x1, y1 in points[1:]:
        mid = (y0 + y1) / 2
        parts.append(f"C{x0:.1f},{mid:.1f} {x1:.1f},{mid:.1f} {x1:.1f},{y1:.1f}")
        x0, y0 = x1, y1
    return f"M{points[0][0]:.1f},{points[0][1]:.1f} " + " ".join(parts)


def to_svg(tensor, params=None, show_attrs=False):
    """SVG text of the graph, laid out by ember itself (no Graphviz needed); see the module docstring.

    Like Graphviz's SVG, each node is a `<g class="node">` whose `<title>` is its DOT id (n0, n1, ...) and
    each edge a `<g class="edge">` titled "src->dst" holding one `<path>` that ends in an arrowhead.
    """
    nodes, edges = _graph(tensor, params, show_attrs)
    boxes, polylines, (width, height) = _layout(nodes, edges)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}pt" height="{height:.0f}pt" '
           f'viewBox="0 0 {width:.1f} {height:.1f}" font-family="monospace" font-size="10">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto"><polygon points="0,0 10,5 0,10" fill="black"/></marker></defs>',
           f'<rect class="background" width="{width:.1f}" height="{height:.1f}" fill="white"/>']
    for (src, dst), points in zip(edges, polylines):
        out.append(f'<g class="edge"><title>{src}-&gt;{dst}</title><path d="{_svg_path(points)}" fill="none" '
                   'stroke="black" marker-end="url(#arrow)"/></g>')
    for nid, (label, kind) in nodes.items():
        cx, cy, w, h = boxes[nid]
        lines = label.split("\n")
        out.append(f'<g class="node"><title>{nid}</title><rect x="{cx - w / 2:.1f}" y="{cy - h / 2:.1f}" '
                   f'width="{w:.1f}" height="{h:.1f}" rx="2" fill="{_FILL[kind][1]}" stroke="black"/>')
        first = cy - (len(lines) - 1) * _LINE_H / 2 + 3.5     # baseline of the first line, text centred
        for i, line in enumerate(lines):
            out.append(f'<text x="{cx:.1f}" y="{first + i * _LINE_H:.1f}" text-anchor="middle">'
                       f'{escape(line)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def render(tensor, path, format=None, params=None, show_attrs=False):
    """Write the graph to `path` as SVG, PNG or PDF (format from the suffix unless given); returns `path`.

    Graphviz's `dot` program lays it out when it is on PATH. Without it SVG is still written, laid out by
    `to_svg`; PNG and PDF need Graphviz.
    """
    fmt = (format or str(path).rsplit(".", 1)[-1]).lower()
    dot = shutil.which("dot")
    if dot is not None:
        subprocess.run([dot, f"-T{fmt}", "-o", str(path)], input=to_dot(tensor, params, show_attrs).encode(),
                       check=True)
    elif fmt == "svg":
        with open(path, "w", encoding="utf-8") as f:
            f.write(to_svg(tensor, params, show_attrs))
    else:
        raise RuntimeError(f"render: {fmt} needs the Graphviz 'dot' program, which was not found on PATH; "
                           "install Graphviz, or write SVG (ember lays that out itself)")
    return path
