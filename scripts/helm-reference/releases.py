#!/usr/bin/env python3
"""Release operations with the real Helm engine (helm_python, Secret storage) against a cluster.

Usage: releases.py KUBECONFIG NAMESPACE COMMAND [ARGS...], printing one JSON document:
  list                              cfg.list(all_states=True): the summaries of every release
  history NAME                      cfg.history(NAME)
  get NAME [REVISION]               {"values", "all_values", "all", "metadata", "status"}
  install NAME CHART VALUES_JSON    cfg.install(...), waiting for readiness (60 s)
  upgrade NAME CHART VALUES_JSON    cfg.upgrade(...)
  install-nowait, upgrade-nowait    the same, waiting for hooks only (Helm 4's `--wait=hookOnly`),
                                    for clusters without workloads that become ready
  rollback NAME REVISION            cfg.rollback(...), then cfg.status(NAME)
  uninstall NAME                    cfg.uninstall(NAME)
A Helm error prints {"error": message, "type": error class} and exits 0, so that callers can
assert on expected failures (e.g. "release: not found").

Run it as the venv's `bin/helm` (a link to its python, made by setup.sh): Helm names its
server-side apply field manager after the program (os.Args[0]), and the real CLI's is `helm`.
"""
import json
import sys

import helm_python as helm


def run(cfg, ns, cmd, args):
    if cmd == "list":
        return cfg.list(all_states=True)
    if cmd == "history":
        return cfg.history(args[0])
    if cmd == "get":
        rev = int(args[1]) if len(args) > 1 else None
        return {
            "values": cfg.get_values(args[0], revision=rev),
            "all_values": cfg.get_values(args[0], all_values=True, revision=rev),
            "all": cfg.get_all(args[0], revision=rev),
            "metadata": cfg.get_metadata(args[0], revision=rev),
            "status": cfg.status(args[0], revision=rev),
        }
    if cmd in ("install", "upgrade", "install-nowait", "upgrade-nowait"):
        name, chart, values = args[0], args[1], json.loads(args[2])
        action = cfg.install if cmd.startswith("install") else cfg.upgrade
        wait = "hookOnly" if cmd.endswith("-nowait") else "watcher"
        return action(chart, name, values, namespace=ns, wait=wait, timeout=60)
    if cmd == "rollback":
        cfg.rollback(args[0], version=int(args[1]), wait="watcher", timeout=60)
        return cfg.status(args[0])
    if cmd == "uninstall":
        return cfg.uninstall(args[0])
    raise SystemExit(f"unknown command {cmd!r}")


def main(argv):
    kubeconfig, ns, cmd, args = argv[0], argv[1], argv[2], argv[3:]
    cfg = helm.Config(kubeconfig_path=kubeconfig, storage_driver="secret", namespace=ns)
    try:
        out = run(cfg, ns, cmd, args)
    except helm.HelmError as e:
        out = {"error": str(e), "type": type(e).__name__}
    finally:
        cfg.close()
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
