#!/usr/bin/env bash
# The layers of src/ (docs/ARCHITECTURE.md, "Dependencies run one way"),
# read off the object files with nm: which file calls which. Each lower
# folder calls only what is below it; services.c (what the handshake takes
# from its connection) is below both the engine and the handshake; the
# handshake, src/hs/, calls nothing in the engine, conn.c; and no two files
# call each other round a circle. Inside src/hs/ the walker (machine.c) is
# on top, msg.c at the bottom, and TLS 1.2 and TLS 1.3 apart. The tool's
# trace (tools/hasp/trace/) too: its collector on top, a file per output
# format, the model below them. And the #include lines: none running up
# from a lower folder, no circle of includes between files.
# Usage: bash tests/layers.sh BUILD_DIR
set -u
BUILD=${1:-build}
OBJ="$BUILD/CMakeFiles/hasp_obj.dir/src"
[ -d "$OBJ" ] || { echo "not ok - layers: no object files in $OBJ (build first)"; exit 1; }
command -v nm >/dev/null && command -v python3 >/dev/null || { echo "not ok - layers: needs nm and python3"; exit 1; }
TOBJ="$BUILD/CMakeFiles/hasp_tool.dir/tools/hasp/trace"
python3 - "$OBJ" "$TOBJ" <<'EOF'
import collections, os, re, subprocess, sys
root, troot = sys.argv[1], sys.argv[2]

def calls(root):
    """Which object file calls which (nm): graph, and a symbol for each arrow."""
    defs, und = {}, collections.defaultdict(set)
    for d, _, fs in os.walk(root):
        for f in fs:
            if not f.endswith(".c.o"):
                continue
            o = os.path.join(d, f)
            name = os.path.relpath(o, root)[:-2]
            und[name]
            for line in subprocess.run(["nm", o], capture_output=True, text=True).stdout.splitlines():
                p = line.split()
                if len(p) == 3 and p[1] in "TDRB":
                    defs[p[2]] = name
                elif len(p) == 2 and p[0] == "U":
                    und[name].add(p[1])
    g, why = collections.defaultdict(set), {}
    for n, us in und.items():
        g[n]
        for u in us:
            if u in defs and defs[u] != n:
                g[n].add(defs[u])
                why.setdefault((n, defs[u]), u)
    return g, why

def circles(g):
    """Tarjan's strongly connected components of more than one file (or a file on itself)."""
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
            if len(comp) > 1 or v in g[v]:
                sccs.append(sorted(comp))
    for v in list(g):
        if v not in idx:
            visit(v)
    return sccs

fails = 0
def report(ok, name, detail=""):
    global fails
    print(("ok - " if ok else "not ok - ") + name + ("" if ok else ": " + detail))
    fails += not ok

g, why = calls(root)
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
# circles of calls between files
sccs = circles(g)
report(not sccs, "no circle of calls between src/ files",
       "; ".join(" <-> ".join(s) for s in sccs))
# inside src/hs/: the walker (machine.c, with the tables) is on top and
# nothing in src/hs/ calls it; msg.c (framing, transcript, names) is at the
# bottom and calls nothing of src/hs/ but the suite table
into = sorted("%s (%s)" % (a, why[(a, "hs/machine.c")]) for a in g
              if folder(a) == "hs" and "hs/machine.c" in g[a])
report(not into, "nothing in src/hs/ calls the walker, hs/machine.c", "; ".join(into[:5]))
low = sorted("%s (%s)" % (b, why[("hs/msg.c", b)]) for b in g["hs/msg.c"]
             if folder(b) == "hs" and b != "hs/suites.c")
report(not low, "hs/msg.c calls nothing in src/hs/ but hs/suites.c", "; ".join(low[:5]))
# inside x509/ and crypto/: one way
for fo in ("x509", "crypto"):
    two = sorted({tuple(sorted((a, b))) for a in g for b in g[a]
                  if folder(a) == fo and folder(b) == fo and a in g[b]})
    report(not two, "no two files of src/%s/ call each other" % fo,
           "; ".join("%s <-> %s" % p for p in two))
# TLS 1.2 (tls12.c) and TLS 1.3 (tls13*.c) do not call each other
v13 = [f for f in g if f.startswith("hs/tls13")] + [f for d in g.values() for f in d if f.startswith("hs/tls13")]
cross = sorted({(a, b) for a in g for b in g[a]
                if (a == "hs/tls12.c" and b in v13) or (a in v13 and b == "hs/tls12.c")})
report(not cross, "hs/tls12.c and hs/tls13*.c do not call each other",
       "; ".join("%s -> %s (%s)" % (a, b, why[(a, b)]) for a, b in cross))

# the same layers read off the #include lines: no circle of includes
# between files of src/, and each lower folder includes only what is below
# it (conn.h, the connection's state, is the header below the engine and
# the handshake both include)
inc = collections.defaultdict(set)
for d, _, fs in os.walk("src"):
    for f in fs:
        if not f.endswith((".c", ".h")):
            continue
        p = os.path.join(d, f)
        inc[os.path.relpath(p, "src")]
        for m in re.finditer(r'^\s*#\s*include\s+"([^"]+)"', open(p).read(), re.M):
            for base in (d, "src"):
                t = os.path.normpath(os.path.join(base, m.group(1)))
                if os.path.exists(t):
                    inc[os.path.relpath(p, "src")].add(os.path.relpath(t, "src"))
                    break
unit = lambda f: f.split("/")[0] if "/" in f else os.path.splitext(f)[0]
for fo in ("codec", "crypto", "record", "x509"):
    allowed = {unit(x) for x in below[fo]}
    bad = sorted("%s includes %s" % (a, b) for a in inc for b in inc[a]
                 if unit(a) == fo and unit(b) != fo and unit(b) not in allowed)
    report(not bad, "src/%s/ includes only %s" % (fo, ", ".join(sorted(allowed))), "; ".join(bad[:5]))
sccs = circles(inc)
report(not sccs, "no circle of #include between src/ files", "; ".join(" <-> ".join(s) for s in sccs))

# the tool's trace (tools/hasp/trace/): model.c at the bottom calls no other
# trace file, each output format calls only the model (html.c also the SVG
# of svg.c), and nothing calls trace.c, the collector on top
name = "tools/hasp/trace/: trace.c on top, one file per format, model.c below them"
if not os.path.isdir(troot):
    report(False, name, "no object files in %s (build first)" % troot)
else:
    tg, twhy = calls(troot)
    allowed = {"model.c": set(), "text.c": {"model.c"}, "json.c": {"model.c"}, "svg.c": {"model.c"},
               "mermaid.c": {"model.c"}, "html.c": {"model.c", "svg.c"}}
    bad = sorted("%s -> %s (%s)" % (a, b, twhy[(a, b)]) for a in tg for b in tg[a]
                 if a in allowed and b not in allowed[a])
    missing = sorted((set(allowed) | {"trace.c"}) - set(tg))
    report(not bad and not missing, name, "; ".join(bad[:5] + ["no object " + m for m in missing]))
sys.exit(1 if fails else 0)
EOF
rc=$?
# every file of src/ says what it is for and stays readable
bad=""
for f in $(find src -name '*.[ch]' | sort); do
    head -c 2 "$f" | grep -q '/\*' || bad="$bad $f (no opening comment)"
    n=$(wc -l <"$f")
    [ "$n" -le 1000 ] || bad="$bad $f ($n lines)"
done
if [ -z "$bad" ]; then echo "ok - every file of src/ opens with a comment and has at most 1000 lines"
else echo "not ok - every file of src/ opens with a comment and has at most 1000 lines:$bad"; rc=1; fi
exit $rc
