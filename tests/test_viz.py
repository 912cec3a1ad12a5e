"""ember.viz: DOT text, and SVG laid out by ember itself (no Graphviz) or by Graphviz's `dot` when installed."""
import math
import re
import shutil
import xml.etree.ElementTree as ET

import pytest

import ember
from ember import viz

SVG = "{http://www.w3.org/2000/svg}"
HAVE_DOT = shutil.which("dot") is not None


def _mlp_loss():
    ember.manual_seed(0)
    x = ember.randn(3, 4, requires_grad=True)
    w1, b1 = ember.randn(8, 4, requires_grad=True), ember.randn(8, requires_grad=True)
    w2 = ember.randn(2, 8, requires_grad=True)
    h = (x @ w1.T + b1).relu()
    out = (h @ w2.T).softmax(-1)
    # skips ranks (x.exp, h.mean), a node used twice (out * out), several leaves
    loss = (out * out).sum() + h.mean() + x.exp().sum()
    return loss, {"x": x, "w1": w1, "b1": b1, "w2": w2}


def _dot_graph(dot):
    nodes = set(re.findall(r"^\s*(n\d+) \[label=", dot, re.M))
    edges = re.findall(r"^\s*(n\d+) -> (n\d+);", dot, re.M)
    return nodes, sorted(edges)


def _bbox(group):
    rect = group.find(SVG + "rect")
    if rect is not None:
        x, y, w, h = (float(rect.get(k)) for k in ("x", "y", "width", "height"))
        return x, y, x + w, y + h
    pts = [tuple(map(float, p.split(","))) for p in group.find(SVG + "polygon").get("points").split()]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return min(xs), min(ys), max(xs), max(ys)


def _parse_svg(text):
    """{node id: bbox}, [(src, dst, first point, last point)] from ember's or Graphviz's SVG."""
    root = ET.fromstring(text.encode())
    boxes, edges = {}, []
    for g in root.iter(SVG + "g"):
        kind = g.get("class")
        if kind == "node":
            boxes[g.find(SVG + "title").text] = _bbox(g)
        elif kind == "edge":
            paths = g.findall(SVG + "path")
            assert len(paths) == 1, "one path per edge"
            src, dst = g.find(SVG + "title").text.split("->")
            nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", paths[0].get("d"))]
            edges.append((src, dst, (nums[0], nums[1]), (nums[-2], nums[-1])))
    return boxes, edges


def _inside(point, box, slack):
    x, y = point
    return box[0] - slack <= x <= box[2] + slack and box[1] - slack <= y <= box[3] + slack


def _check_picture(text, dot, end_slack):
    nodes, dot_edges = _dot_graph(dot)
    boxes, edges = _parse_svg(text)
    assert set(boxes) == nodes, "one box per node"
    assert sorted((s, d) for s, d, _, _ in edges) == dot_edges, "one path per edge"
    names = sorted(boxes)
    for i, a in enumerate(names):                  # no two boxes overlap
        for b in names[i + 1:]:
            A, B = boxes[a], boxes[b]
            assert min(A[2], B[2]) <= max(A[0], B[0]) or min(A[3], B[3]) <= max(A[1], B[1]), (a, b)
    for src, dst, first, last in edges:
        assert boxes[src][3] < boxes[dst][1], f"{src}->{dst} must point down a rank"
        assert _inside(first, boxes[src], 1.0), f"{src}->{dst} starts at its source box"
        assert _inside(last, boxes[dst], end_slack), f"{src}->{dst} ends at its target box"


def test_to_dot_names_nodes_and_labels_leaves():
    x = ember.randn(3, 4, requires_grad=True)
    w = ember.randn(4, requires_grad=True)
    loss = (x * w).exp().sum()
    dot = ember.viz.to_dot(loss, params={"x": x, "w": w})
    assert dot.startswith("digraph {") and dot.rstrip().endswith("}")
    for part in ("SumBackward0", "ExpBackward0", "MulBackward0", "AccumulateGrad", '"x\\n(3, 4)"', '"w\\n(4)"',
                 '"output\\n()"', "fillcolor=darkolivegreen1", "fillcolor=lightblue"):
        assert part in dot
    assert dot.count("AccumulateGrad") == 2 and dot.count("->") == 7


def test_own_svg_layout_boxes_edges_and_ranks():
    loss, params = _mlp_loss()
    text = viz.to_svg(loss, params=params)
    _check_picture(text, viz.to_dot(loss, params=params), end_slack=1.0)
    for label in ("output", "SoftmaxBackward0", "MmBackward0", "ReluBackward0", "w1", "(8, 4)"):
        assert f">{label}<" in text


def test_own_svg_layout_draws_a_node_used_twice_with_two_edges():
    x = ember.randn(3, requires_grad=True)
    outputs = (x * x, (x.sin() * x).sum())
    text = viz.to_svg(outputs)
    _check_picture(text, viz.to_dot(outputs), end_slack=1.0)
    _, edges = _parse_svg(text)
    pairs = [(s, d) for s, d, _, _ in edges]
    doubled = {pair for pair in pairs if pairs.count(pair) == 2}
    assert len(doubled) == 1                      # x * x: MulBackward0 -> AccumulateGrad twice
    for pair in doubled:
        ends = [(first, last) for s, d, first, last in edges if (s, d) == pair]
        assert ends[0][0] != ends[1][0] and ends[0][1] != ends[1][1]     # parallel edges stay apart


def test_own_svg_escapes_labels_and_draws_a_lone_tensor():
    w = ember.randn(2, requires_grad=True)
    text = viz.to_svg((w * 2).sum(), params={"w<&>": w})
    assert ET.fromstring(text.encode()) is not None and "w&lt;&amp;&gt;" in text
    boxes, edges = _parse_svg(viz.to_svg(ember.ones(2)))
    assert list(boxes) == ["n0"] and edges == []


def test_barycenter_ordering_removes_a_crossing():
    layers = [["a", "b"], ["c", "d"]]
    segments = [[("a", "d"), ("b", "c")]]
    assert viz._crossings(*layers, segments[0]) == 1
    ordered = viz._order([list(layer) for layer in layers], segments)
    assert viz._crossings(ordered[0], ordered[1], segments[0]) == 0
    # three edges pairwise crossing: (a-f, b-e, c-d) is reversed order, 3 inversions
    assert viz._crossings(["a", "b", "c"], ["d", "e", "f"], [("a", "f"), ("b", "e"), ("c", "d")]) == 3


def test_render_without_dot_writes_svg_with_own_layout(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    loss, params = _mlp_loss()
    path = viz.render(loss, tmp_path / "graph.svg", params=params)
    assert str(path).endswith("graph.svg")
    _check_picture((tmp_path / "graph.svg").read_text(), viz.to_dot(loss, params=params), end_slack=1.0)
    with pytest.raises(RuntimeError, match="png needs the Graphviz 'dot' program"):
        viz.render(loss, tmp_path / "graph.png")


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz 'dot' is not installed")
def test_render_with_graphviz(tmp_path):
    loss, params = _mlp_loss()
    path = viz.render(loss, tmp_path / "graph.svg", params=params)
    text = (tmp_path / "graph.svg").read_text()
    assert str(path).endswith("graph.svg") and "Generated by graphviz" in text
    # Graphviz stops the path short of the target for its arrowhead polygon
    _check_picture(text, viz.to_dot(loss, params=params), end_slack=12.0)


def test_own_layout_of_a_few_hundred_nodes():
    xs = [ember.randn(3, requires_grad=True) for _ in range(60)]
    t = xs[0]
    for prev, x in zip(xs, xs[1:]):
        t = (t * x).sin() + prev                  # `prev` skips ranks: edges through bend points
    text = viz.to_svg(t.sum())
    boxes, _ = _parse_svg(text)
    assert len(boxes) == 1 + 1 + 3 * 59 + 2 * 60 and all(math.isfinite(v) for b in boxes.values() for v in b)
    _check_picture(text, viz.to_dot(t.sum()), end_slack=1.0)
