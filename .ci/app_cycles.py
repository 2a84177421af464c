#!/usr/bin/env python3
"""Finds import cycles among the files of crates/server/src/app: each file is a node, each
`crate::…`/`super::…` path it names (outside its tests) an edge to the file that defines it. Exits 1
when there is a cycle, so that the use cases keep depending one way."""
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else "crates/server/src"
app = os.path.join(root, "app")
files = []
for d, _, fs in os.walk(app):
    for f in fs:
        if f.endswith(".rs"):
            files.append(os.path.join(d, f))
def modpath(p):
    rel = os.path.relpath(p, root)[:-3].split(os.sep)
    if rel[-1] == "mod": rel = rel[:-1]
    return rel
bypath = {tuple(modpath(p)): p for p in files}
def resolve(segs):
    for n in range(len(segs), 0, -1):
        if tuple(segs[:n]) in bypath: return bypath[tuple(segs[:n])]
    return None
edges = {p: set() for p in files}
for p in files:
    text = open(p).read()
    # strip test modules
    text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
    text = re.sub(r"//.*", "", text)
    me = modpath(p)
    # expand use groups crudely: crate::app::a::{b, c::d}
    for m in re.finditer(r"crate::((?:\w+::)*)\{([^}]*)\}", text):
        base = m.group(1).strip(":").split("::")
        for item in m.group(2).split(","):
            item = item.strip().split(" as ")[0]
            if not item: continue
            segs = base + (item.split("::") if item != "self" else [])
            t = resolve(segs)
            if t and t != p: edges[p].add(t)
    for m in re.finditer(r"crate((?:::\w+)+)", text):
        segs = m.group(1).strip(":").split("::")
        t = resolve(segs)
        if t and t != p: edges[p].add(t)
    for m in re.finditer(r"\b((?:super::)+)((?:\w+::)*\w+|\*)", text):
        ups = m.group(1).count("super")
        # a mod.rs file's module is its directory
        base = me[:len(me) - ups]
        rest = [] if m.group(2) == "*" else m.group(2).split("::")
        t = resolve(base + rest)
        if t and t != p: edges[p].add(t)
# Tarjan
index, low, stack, on, sccs, i = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)
def visit(v):
    index[v] = low[v] = i[0]; i[0] += 1; stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index: visit(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(comp)
for v in files:
    if v not in index: visit(v)
print(f"{len(files)} files, {sum(map(len, edges.values()))} imports, {len(sccs)} file cycles")
for c in sccs:
    print(" cycle:", " ".join(sorted(os.path.relpath(x, app) for x in c)))
sys.exit(1 if sccs else 0)
