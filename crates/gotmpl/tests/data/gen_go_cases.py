#!/usr/bin/env python3
"""Regenerates go_cases.json: renders each case with the real Helm v4 engine (PyPI
`helm-python-sdk`, Go text/template + Sprig) and records the output or error.

Usage: python3 gen_go_cases.py  (reads cases.py next to this file)."""
import json, os, shutil, tempfile
import helm_python as helm

HERE = os.path.dirname(os.path.abspath(__file__))

def render(tpl, values):
    d = tempfile.mkdtemp()
    try:
        os.makedirs(d + "/c/templates")
        open(d + "/c/Chart.yaml", "w").write("apiVersion: v2\nname: c\nversion: 0.1.0\n")
        open(d + "/c/values.yaml", "w").write(json.dumps(values))
        open(d + "/c/templates/t.txt", "w").write(tpl)
        ch = helm.Chart.load(d + "/c")
        try:
            out = ch.render({}, name="release-name", namespace="default", is_install=True)
            return {"out": out["c/templates/t.txt"]}
        except Exception as e:
            return {"err": str(e)}
    finally:
        shutil.rmtree(d)

def main():
    ns = {}
    exec(open(os.path.join(HERE, "cases.py")).read(), ns)
    res = []
    for c in ns["CASES"]:
        tpl, values = (c, {}) if isinstance(c, str) else c
        r = render(tpl, values)
        r.update({"tpl": tpl, "values": values})
        res.append(r)
    with open(os.path.join(HERE, "go_cases.json"), "w") as f:
        json.dump(res, f, indent=1, ensure_ascii=False)
        f.write("\n")

main()
