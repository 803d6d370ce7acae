"""A picture of a fused graph: one self-contained HTML page with an inline
SVG (no scripts, no external files). Each kernel is a coloured cluster
holding its member ops (hover for the ONNX nodes and types); views, which
are no kernel, are small grey boxes; arrows are data. The layout is layered
by dependency depth (networkx), rows ordered to keep arrows short.
"""
from __future__ import annotations

import html

import networkx as nx

from .graph import Graph
from .ops import kernel_name, node_sources

ROW_GAP, COL_GAP = 46, 26
MEMBER_H, TITLE_H, PAD = 20, 18, 6
CHAR_W = 6.6
# cluster fill / stroke by what the kernel is built around (the anchor's kind)
COLOURS = {
    "out_fusable": ("#dbe8fb", "#3b73c4"), "reduce": ("#dcf2de", "#3d9a4a"),
    "pointwise": ("#fde9d2", "#d5822b"), "injective": ("#efe0f7", "#8c54b0"),
    "other": ("#ececec", "#777777"),
}


class _Item:
    def __init__(self, key, title: str, lines: list[tuple[str, str]], kind: str, tip: str):
        self.key, self.title, self.lines, self.kind, self.tip = key, title, lines, kind, tip
        width = max([len(title)] + [len(a) + len(b) + 2 for a, b in lines]) * CHAR_W + 2 * PAD
        self.w = max(90.0, width)
        self.h = (TITLE_H if title else 0) + MEMBER_H * max(len(lines), 1) + PAD
        self.x = self.y = 0.0


def _kernel_kind(members) -> str:
    kinds = [m.opdef.kind for m in members]
    for k in ("out_fusable", "reduce"):
        if k in kinds:
            return k
    if all(k in ("elemwise", "broadcast", "view", "injective") for k in kinds):
        return "pointwise" if any(k in ("elemwise", "broadcast") for k in kinds) else "injective"
    return "other"


def _items(g: Graph):
    items, producer = [], {}
    for v in g.inputs:
        items.append(_Item(("in", v.name), "", [(v.name, v.type_str)], "io", f"graph input {v.name}: {v.type_str}"))
        producer[v] = items[-1]
    for i, n in enumerate(g.nodes):
        if n.opdef.kind == "view":
            v = n.outputs[0]
            it = _Item(("view", i), "", [(n.op, v.type_str)], "view",
                       f"view (no kernel): {v.name}: {v.type_str}\n{', '.join(node_sources(n))}")
        else:
            members = n.attrs["body"].nodes if n.op == "fused" else [n]
            lines = [(m.op, ", ".join(s.removeprefix("onnx ") for s in node_sources(m))[:40]) for m in members]
            outs = ", ".join(f"{v.name}: {v.type_str}" for v in n.outputs)
            tip = f"kernel {kernel_name(n, i)} -> {outs}\n" + "\n".join(
                f"{m.op}: {', '.join(node_sources(m)) or '-'}" for m in members)
            it = _Item(("node", i), kernel_name(n, i), lines, _kernel_kind(members), tip)
        items.append(it)
        for v in n.outputs:
            producer[v] = it
    for j, v in enumerate(g.outputs):
        items.append(_Item(("out", j), "", [(v.name, v.type_str)], "io", f"graph output {v.name}: {v.type_str}"))
    edges = []
    by_key = {it.key: it for it in items}
    for i, n in enumerate(g.nodes):
        dst = by_key.get(("node", i)) or by_key[("view", i)]
        for v in n.inputs:
            if v is not None and v in producer:
                edges.append((producer[v], dst, v))
    for j, v in enumerate(g.outputs):
        if v in producer:
            edges.append((producer[v], by_key[("out", j)], v))
    return items, edges


def _layout(items, edges) -> tuple[float, float]:
    dag = nx.DiGraph()
    dag.add_nodes_from(range(len(items)))
    index = {id(it): k for k, it in enumerate(items)}
    for a, b, _ in edges:
        dag.add_edge(index[id(a)], index[id(b)])
    y, width, placed_x = 20.0, 0.0, {}
    for layer in nx.topological_generations(dag):
        row = [items[k] for k in layer]
        # barycentre of the predecessors' centres: keeps arrows short and crossings few
        def centre(it):
            xs = [placed_x[p] for p in dag.predecessors(index[id(it)]) if p in placed_x]
            return sum(xs) / len(xs) if xs else 0.0
        row.sort(key=centre)
        x = 20.0
        for it in row:
            want = centre(it) - it.w / 2
            it.x, it.y = max(x, want), y
            x = it.x + it.w + COL_GAP
            placed_x[index[id(it)]] = it.x + it.w / 2
        width = max(width, x)
        y += max(it.h for it in row) + ROW_GAP
    return width + 20, y


def _svg_item(it: _Item) -> str:
    e = html.escape
    out = [f'<g><title>{e(it.tip)}</title>']
    if it.kind == "io":
        out.append(f'<rect x="{it.x:.1f}" y="{it.y:.1f}" width="{it.w:.1f}" height="{it.h:.1f}" rx="{it.h / 2:.1f}" '
                   'fill="#ffffff" stroke="#444" stroke-dasharray="4 2"/>')
    elif it.kind == "view":
        out.append(f'<rect x="{it.x:.1f}" y="{it.y:.1f}" width="{it.w:.1f}" height="{it.h:.1f}" rx="3" '
                   'fill="#f6f6f6" stroke="#aaa"/>')
    else:
        fill, stroke = COLOURS[it.kind]
        out.append(f'<rect x="{it.x:.1f}" y="{it.y:.1f}" width="{it.w:.1f}" height="{it.h:.1f}" rx="6" '
                   f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>')
        out.append(f'<text x="{it.x + PAD:.1f}" y="{it.y + 13:.1f}" class="k">{e(it.title)}</text>')
    y = it.y + (TITLE_H if it.title else 0) + PAD / 2
    for op, note in it.lines:
        if it.kind not in ("io", "view"):
            out.append(f'<rect x="{it.x + PAD / 2:.1f}" y="{y:.1f}" width="{it.w - PAD:.1f}" height="{MEMBER_H - 3}" '
                       'rx="3" fill="#ffffff" fill-opacity="0.75"/>')
        out.append(f'<text x="{it.x + PAD:.1f}" y="{y + 12:.1f}"><tspan class="op">{e(op)}</tspan> '
                   f'<tspan class="n">{e(note)}</tspan></text>')
        y += MEMBER_H
    out.append("</g>")
    return "".join(out)


def fused_graph_html(g: Graph, title: str = "", summary: dict | None = None) -> str:
    """The fused graph `g` (after dlc's passes) as a self-contained HTML page."""
    items, edges = _items(g)
    width, height = _layout(items, edges)
    parts = []
    for a, b, v in edges:
        x1, y1, x2, y2 = a.x + a.w / 2, a.y + a.h, b.x + b.w / 2, b.y
        mid = (y1 + y2) / 2
        tip = html.escape(f"{v.name}: {v.type_str}")
        parts.append(f'<path d="M{x1:.1f},{y1:.1f} C{x1:.1f},{mid:.1f} {x2:.1f},{mid:.1f} {x2:.1f},{y2 - 4:.1f}" '
                     f'class="e" marker-end="url(#arrow)"><title>{tip}</title></path>')
    parts += [_svg_item(it) for it in items]
    legend = " ".join(f'<span style="background:{f};border:1px solid {s}">{k.replace("_", " ")}</span>'
                      for k, (f, s) in COLOURS.items())
    stats = ""
    if summary:
        stats = "<p>" + " &middot; ".join(f"{html.escape(str(k))}: <b>{html.escape(str(v))}</b>"
                                          for k, v in summary.items()) + "</p>"
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title or g.name)} (fused)</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 16px; }}
p span {{ padding: 1px 6px; margin-right: 4px; border-radius: 3px; font-size: 12px; }}
svg text {{ font: 11px monospace; }} svg .k {{ font-weight: bold; }} svg .op {{ font-weight: bold; }}
svg .n {{ fill: #555; }} svg .e {{ fill: none; stroke: #888; stroke-width: 1.2; }}
</style></head><body>
<h3>{html.escape(title or g.name)}: fused kernels</h3>{stats}
<p>cluster colour = what the kernel is built around: {legend} &middot; grey boxes are views (no kernel) &middot;
hover for ONNX nodes and types</p>
<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}">
<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto">
<path d="M0,0 L8,4 L0,8 z" fill="#888"/></marker></defs>
{chr(10).join(parts)}
</svg></body></html>
"""
