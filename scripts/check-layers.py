#!/usr/bin/env python3
"""The layering invariant of ARCHITECTURE.md, checked from `cargo metadata`.

Every crate of the workspace sits in one layer; a crate's (normal and build) dependencies must
point to a strictly lower layer. Dev-dependencies may point anywhere below the binary: tests
start clusters, but what ships does not link them. A crate missing from the table fails the
check too, so a new crate has to be placed deliberately.
"""

import json
import subprocess
import sys

# Top to bottom.
LAYERS = [
    ["orrery"],  # the binary: wiring, CLI
    ["platform", "sim"],  # clients of the Kubernetes API
    ["helm"],  # Helm's engine and releases (a client too; the platform's App Store uses it)
    ["apiserver"],  # the embedded API server
    ["openapi", "crdschema", "kubeproto", "store"],  # its parts
    ["apimachinery", "gotmpl", "testdata"],  # pure machinery, no I/O; the test-data resolver
    ["gofmt"],  # Go-compatible formats every layer reads
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def main() -> int:
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--no-deps", "--locked"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    members = {p["name"] for p in meta["packages"]}
    problems = []
    for name in sorted(members - LAYER.keys()):
        problems.append(f"{name}: not placed in a layer (scripts/check-layers.py)")
    for pkg in meta["packages"]:
        src = pkg["name"]
        if src not in LAYER:
            continue
        for dep in pkg["dependencies"]:
            dst = dep["name"]
            if dst not in members or dst not in LAYER:
                continue
            kind = dep.get("kind") or "normal"
            if kind == "dev":
                if LAYER[dst] == 0:
                    problems.append(f"{src} → {dst} (dev): nothing depends on the binary")
                continue
            if LAYER[dst] <= LAYER[src]:
                problems.append(
                    f"{src} (layer {LAYER[src]}) → {dst} (layer {LAYER[dst]}) [{kind}]: "
                    "a dependency must point to a lower layer"
                )
    for p in problems:
        print(f"layering: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"layering: {len(members)} crates, every dependency points down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
