#!/usr/bin/env python3
"""check-layers.py ROOT [--self-test]: every #include points down.

Reads the layer table (ROOT/gateway/layers.txt: rank, folder, libraries) and fails, naming
file, line and both layers, when a source file includes a header of a higher layer or of a
sibling folder of the same rank. Files of tests (*_test.cc, *_test_util.h, anything under
tests/) may also include tests/. Files outside every layer (tests/, tools) are not checked.
--self-test checks the checker: a tree with one upward include must fail, a clean one pass.
"""
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
SOURCES = (".h", ".hh", ".hpp", ".cc", ".cpp", ".c")


def read_layers(root):
    layers = []
    with open(os.path.join(root, "gateway", "layers.txt")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            rank, folder = line.split()[:2]
            layers.append((int(rank), folder.rstrip("/")))
    # Longest folder first, so gateway/transport wins over gateway.
    layers.sort(key=lambda l: -len(l[1]))
    return layers


def layer_of(path, layers):
    for rank, folder in layers:
        if path == folder or path.startswith(folder + "/"):
            return rank, folder
    return None


def is_test(path):
    name = os.path.basename(path)
    return path.startswith("tests/") or "_test." in name or name.endswith("_test_util.h")


def check(root):
    layers = read_layers(root)
    errors = []
    for rank, folder in layers:
        base = os.path.join(root, folder)
        for dirpath, _, files in os.walk(base):
            for name in files:
                if not name.endswith(SOURCES):
                    continue
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, root)
                own = layer_of(rel, layers)
                if own != (rank, folder):
                    continue  # belongs to a deeper (longer) folder
                with open(full, errors="replace") as f:
                    for lineno, text in enumerate(f, 1):
                        m = INCLUDE.match(text)
                        if not m:
                            continue
                        inc = m.group(1)
                        if "/" not in inc:
                            continue  # a sibling file of the same folder
                        if inc.startswith("tests/"):
                            if not is_test(rel):
                                errors.append(f"{rel}:{lineno}: includes {inc}: only tests may include tests/")
                            continue
                        target = layer_of(inc, layers)
                        if target is None:
                            errors.append(f"{rel}:{lineno}: includes {inc}, which is in no layer of gateway/layers.txt")
                            continue
                        trank, tfolder = target
                        if trank > rank or (trank == rank and tfolder != folder):
                            errors.append(
                                f"{rel}:{lineno}: {folder} (rank {rank}) includes {inc} of {tfolder} "
                                f"(rank {trank}): dependencies point down only")
    return errors


def self_test():
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "gateway", "low"))
        os.makedirs(os.path.join(d, "gateway", "high"))
        with open(os.path.join(d, "gateway", "layers.txt"), "w") as f:
            f.write("0 gateway/low a\n1 gateway/high b\n")
        with open(os.path.join(d, "gateway", "high", "h.h"), "w") as f:
            f.write('#include "gateway/low/l.h"\n')
        with open(os.path.join(d, "gateway", "low", "l.h"), "w") as f:
            f.write("// nothing\n")
        if check(d):
            return "a downward include was refused"
        with open(os.path.join(d, "gateway", "low", "l.cc"), "w") as f:
            f.write('#include "gateway/high/h.h"\n')
        errs = check(d)
        if len(errs) != 1 or "gateway/low/l.cc:1" not in errs[0]:
            return f"an upward include was not reported as expected: {errs}"
    return None


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    root = sys.argv[1]
    if "--self-test" in sys.argv[2:]:
        problem = self_test()
        if problem:
            print(f"check-layers self-test: {problem}")
            return 1
    errors = check(root)
    for e in errors:
        print(e)
    if errors:
        print(f"check-layers: {len(errors)} include(s) against the layer order (gateway/layers.txt)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
