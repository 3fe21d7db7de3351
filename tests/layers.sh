#!/usr/bin/env bash
# The layers of src/ (docs/ARCHITECTURE.md, "Dependencies run one way"),
# read off the object files with nm: which file calls which. Each lower
# folder calls only what is below it; services.c (what the handshake takes
# from its connection) is below both the engine and the handshake; the
# handshake, src/hs/, calls nothing in the engine, conn.c; and no two files
# call each other round a circle, but for the one left inside src/hs/ (its
# shared files and its version files), which may not grow.
# Usage: bash tests/layers.sh BUILD_DIR
set -u
BUILD=${1:-build}
OBJ="$BUILD/CMakeFiles/hasp_obj.dir/src"
[ -d "$OBJ" ] || { echo "not ok - layers: no object files in $OBJ (build first)"; exit 1; }
command -v nm >/dev/null && command -v python3 >/dev/null || { echo "not ok - layers: needs nm and python3"; exit 1; }
python3 - "$OBJ" <<'EOF'
import collections, os, subprocess, sys
root = sys.argv[1]
defs, und = {}, collections.defaultdict(set)
for d, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith(".c.o"):
            continue
        o = os.path.join(d, f)
        name = os.path.relpath(o, root)[:-2]
        for line in subprocess.run(["nm", o], capture_output=True, text=True).stdout.splitlines():
            p = line.split()
            if len(p) == 3 and p[1] in "TDRB":
                defs[p[2]] = name
            elif len(p) == 2 and p[0] == "U":
                und[name].add(p[1])
g = collections.defaultdict(set)
why = {}
for n, us in und.items():
    for u in us:
        if u in defs and defs[u] != n:
            g[n].add(defs[u])
            why.setdefault((n, defs[u]), u)
folder = lambda f: f.split("/")[0] if "/" in f else f
fails = 0
def report(ok, name, detail=""):
    global fails
    print(("ok - " if ok else "not ok - ") + name + ("" if ok else ": " + detail))
    fails += not ok
# each lower folder calls only what is below it
below = {
    "codec": {"alloc.c", "err.c"},
    "crypto": {"alloc.c", "err.c", "codec"},
    "record": {"alloc.c", "err.c", "codec", "crypto"},
    "x509": {"alloc.c", "err.c", "codec", "crypto"},
    "services.c": {"alloc.c", "err.c", "codec", "crypto", "record", "x509"},
}
for fo, allowed in below.items():
    bad = sorted("%s -> %s (%s)" % (a, b, why[(a, b)]) for a in g for b in g[a]
                 if folder(a) == fo and folder(b) != fo and folder(b) not in allowed)
    report(not bad, "src/%s calls only %s" % (fo if "." in fo else fo + "/", ", ".join(sorted(allowed))),
           "; ".join(bad[:5]))
# the handshake calls nothing in the engine (its services are in services.c)
up = sorted("%s -> conn.c (%s)" % (a, why[(a, "conn.c")]) for a in g if folder(a) == "hs" and "conn.c" in g[a])
report(not up, "src/hs/ calls nothing in conn.c", "; ".join(up[:5]))
# circles between files (Tarjan's strongly connected components)
sys.setrecursionlimit(10000)
idx, low, st, on, sccs, c = {}, {}, [], set(), [], [0]
def visit(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in g[v]:
        if w not in idx:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(sorted(comp))
for v in list(g):
    if v not in idx:
        visit(v)
# The one circle left is inside the handshake: hello.c calls into tls12.c
# and tls13.c, whose tables name hello.c's and machine.c's handlers, and so
# on. It may not grow: a circle through any other file fails.
hs_circle = {"hs/auth.c", "hs/ext.c", "hs/hello.c", "hs/machine.c", "hs/tls12.c", "hs/tls13.c"}
bad = [s for s in sccs if not set(s) <= hs_circle]
report(not bad, "no circle of calls between src/ files but the one inside src/hs/ (%s)"
       % ", ".join(f[3:] for f in sorted(hs_circle)), "; ".join(" <-> ".join(s) for s in bad))
# inside x509/ and crypto/: one way
for fo in ("x509", "crypto"):
    two = sorted({tuple(sorted((a, b))) for a in g for b in g[a]
                  if folder(a) == fo and folder(b) == fo and a in g[b]})
    report(not two, "no two files of src/%s/ call each other" % fo,
           "; ".join("%s <-> %s" % p for p in two))
# tls12.c and tls13.c do not call each other
cross = [(a, b) for a, b in (("hs/tls12.c", "hs/tls13.c"), ("hs/tls13.c", "hs/tls12.c")) if b in g[a]]
report(not cross, "hs/tls12.c and hs/tls13.c do not call each other",
       "; ".join("%s -> %s (%s)" % (a, b, why[(a, b)]) for a, b in cross))
sys.exit(1 if fails else 0)
EOF
