#!/usr/bin/env python3
"""Render one chart with the real Helm engine (helm_python) and print the map as JSON.

Usage: render.py CHART_DIR [VALUES_YAML] [--time N | --manifest] [--release NAME] [--namespace NS]

Release "release-name", namespace "default" (unless given), install — like the corpus's
render_reference.py.
The values file is loaded with PyYAML (as render_reference.py does) and handed to Helm as JSON.
With --time N it renders N times and prints {"median_ms": ..., "manifests": {...}}, timing
render() only. With --manifest it runs a client-only install dry run (memory storage, no
cluster) and prints {"manifest": ..., "notes": ...}: the release manifest Helm builds.
"""
import json
import statistics
import sys
import time

import helm_python as helm
import yaml


def main(argv):
    runs = 0
    manifest = "--manifest" in argv
    argv = [a for a in argv if a != "--manifest"]
    release, namespace = "release-name", "default"
    for flag in ("--release", "--namespace"):
        if flag in argv:
            i = argv.index(flag)
            if flag == "--release":
                release = argv[i + 1]
            else:
                namespace = argv[i + 1]
            argv = argv[:i] + argv[i + 2:]
    if "--time" in argv:
        i = argv.index("--time")
        runs = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    chart_dir = argv[0]
    values = None
    if len(argv) > 1:
        with open(argv[1]) as f:
            values = yaml.safe_load(f) or {}
    if manifest:
        cfg = helm.Config(
            storage_driver="memory",
            kubeconfig_content="apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n",
        )
        with helm.Chart.load(chart_dir) as chart:
            try:
                rel = cfg.install(chart, release, values or {}, namespace=namespace, dry_run="client")
            except helm.HelmError as e:
                json.dump({"error": str(e)}, sys.stdout)
                return 0
            json.dump({"manifest": rel.get("manifest", ""), "notes": rel.get("notes", "")}, sys.stdout)
        return 0
    with helm.Chart.load(chart_dir) as chart:
        try:
            out = chart.render(values, name=release, namespace=namespace, is_install=True)
        except helm.HelmError as e:
            json.dump({"error": str(e)}, sys.stdout)
            return 0
        if runs:
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                chart.render(values, name="release-name", namespace="default", is_install=True)
                times.append((time.perf_counter() - t0) * 1000.0)
            json.dump({"median_ms": statistics.median(times), "manifests": out}, sys.stdout)
        else:
            json.dump(out, sys.stdout, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
