#!/usr/bin/env python3
"""Generates crates/kubeproto/src/generated.rs, the protobuf schema table of kubeproto.

Inputs (nothing from them is copied; only field facts are extracted):
  * the `k8s-pb` 0.9 crate sources from the cargo registry: message names, field
    numbers, wire types, labels and message references;
  * the Go API types of Kubernetes 1.35 (k8s.io/api, k8s.io/apimachinery,
    k8s.io/apiextensions-apiserver at v0.35.x, the release k8s-pb 0.9 was generated
    from): JSON names, `,inline`, `omitempty` and whether a field is a Go pointer,
    none of which the protobuf schema records.

Usage:
  python3 tools/kubeproto-gen/gen.py --k8s-pb DIR --go-api DIR --go-apimachinery DIR \
      --go-apiextensions DIR [--out crates/kubeproto/src/generated.rs]

`--k8s-pb` defaults to the newest k8s-pb-0.9.* under ~/.cargo/registry/src (run
`cargo fetch` in a project that depends on k8s-pb first). The Go trees are plain
checkouts (e.g. `git archive v0.35.7 | tar -x`).
"""

import argparse
import glob
import os
import re
import sys

# Modules (k8s-pb paths) whose kinds kubeproto serves; messages they reference in other
# modules are pulled in transitively.
ROOT_MODULES = [
    "api/admissionregistration/v1",
    "api/apps/v1",
    "api/authentication/v1",
    "api/authorization/v1",
    "api/autoscaling/v1",
    "api/autoscaling/v2",
    "api/batch/v1",
    "api/certificates/v1",
    "api/coordination/v1",
    "api/core/v1",
    "api/discovery/v1",
    "api/events/v1",
    "api/flowcontrol/v1",
    "api/networking/v1",
    "api/node/v1",
    "api/policy/v1",
    "api/rbac/v1",
    "api/resource/v1",
    "api/scheduling/v1",
    "api/storage/v1",
    "apiextensions_apiserver/pkg/apis/apiextensions/v1",
    "apimachinery/pkg/apis/meta/v1",
]

# Messages whose JSON form is not an object of their fields.
SPECIAL = {
    "apimachinery.pkg.apis.meta.v1.Time": "Time",
    "apimachinery.pkg.apis.meta.v1.MicroTime": "MicroTime",
    "apimachinery.pkg.apis.meta.v1.Duration": "Duration",
    "apimachinery.pkg.apis.meta.v1.FieldsV1": "RawJson",
    "apimachinery.pkg.runtime.RawExtension": "RawJson",
    "apimachinery.pkg.api.resource.Quantity": "Quantity",
    "apimachinery.pkg.util.intstr.IntOrString": "IntOrString",
    "apiextensions_apiserver.pkg.apis.apiextensions.v1.Json": "RawJson",
    "apiextensions_apiserver.pkg.apis.apiextensions.v1.JsonSchemaPropsOrArray": "PropsOrArray",
    "apiextensions_apiserver.pkg.apis.apiextensions.v1.JsonSchemaPropsOrBool": "PropsOrBool",
    "apiextensions_apiserver.pkg.apis.apiextensions.v1.JsonSchemaPropsOrStringArray": "PropsOrStringArray",
}

# Kinds of meta/v1 that every group version carries (client-go sends DeleteOptions with
# the target resource's apiVersion); served for any apiVersion.
META_KINDS = [
    "APIGroup", "APIGroupList", "APIResourceList", "APIVersions", "CreateOptions",
    "DeleteOptions", "GetOptions", "ListOptions", "PartialObjectMetadata",
    "PartialObjectMetadataList", "PatchOptions", "Status", "UpdateOptions", "WatchEvent",
]

SCALARS = {"string": "Str", "bool": "Bool", "int32": "I32", "int64": "I64",
           "double": "F64", "bytes": "Bytes"}


def parse_k8s_pb(root):
    """Returns ({full_name: [field dict]}, [(api_version, kind, full_name)])."""
    messages, kinds = {}, []
    for path in sorted(glob.glob(os.path.join(root, "**", "mod.rs"), recursive=True)):
        module = os.path.relpath(os.path.dirname(path), root).split(os.sep)
        with open(path) as f:
            text = f.read()
        for m in re.finditer(r"^pub struct (\w+) \{\}$|^pub struct (\w+) \{\n(.*?)^\}", text, re.M | re.S):
            if m.group(1):
                messages[".".join(module + [m.group(1)])] = []
                continue
            name = ".".join(module + [m.group(2)])
            messages[name] = parse_struct_body(m.group(3), module, name)
        for m in re.finditer(
            r"impl crate::Resource for (\w+) \{\s*const API_VERSION: &'static str = \"([^\"]*)\";"
            r".*?const KIND: &'static str = \"([^\"]*)\";", text, re.S):
            kinds.append((m.group(2), m.group(3), ".".join(module + [m.group(1)])))
    return messages, kinds


def parse_struct_body(body, module, msg_name):
    fields = []
    # Drop doc comments, then split into `#[prost(..)] pub name: Type,` items.
    body = "\n".join(l for l in body.split("\n") if not l.strip().startswith("///"))
    for m in re.finditer(r"#\[prost\((.*?)\)\]\s*pub (r#)?(\w+):\s*(.*?),\s*(?=#\[|$)", body, re.S):
        attr, rust_name, ty = m.group(1), m.group(3), re.sub(r"\s+", "", m.group(4)).replace(",>", ">")
        tag = int(re.search(r'tag = "(\d+)"', attr).group(1))
        field = {"num": tag, "snake": rust_name}
        mm = re.match(r'btree_map = "(\w+), (\w+)"', attr)
        if mm:
            if mm.group(1) != "string":
                sys.exit(f"{msg_name}.{rust_name}: map key {mm.group(1)} unsupported")
            field["label"] = "Map"
            field["ty"] = scalar_or_message(mm.group(2), ty, module, value_of_map=True)
        else:
            kind = attr.split(",")[0].split("=")[0].strip()
            field["label"] = "Repeated" if ", repeated" in attr else "Single"
            field["ty"] = scalar_or_message(kind, ty, module)
        fields.append(field)
    return fields


def scalar_or_message(kind, ty, module, value_of_map=False):
    if kind in SCALARS:
        return ("scalar", SCALARS[kind])
    if kind != "message":
        sys.exit(f"unsupported prost kind {kind}")
    inner = ty
    for wrapper in ("::core::option::Option<", "::prost::alloc::vec::Vec<",
                    "::prost::alloc::boxed::Box<"):
        while inner.startswith(wrapper):
            inner = inner[len(wrapper):-1]
    if value_of_map:
        inner = inner[len("::prost::alloc::collections::BTreeMap<"):-1].split(",", 1)[1]
    parts = inner.split("::")
    ups = 0
    while parts and parts[0] == "super":
        ups += 1
        parts = parts[1:]
    base = module[: len(module) - ups] if ups else module
    return ("message", ".".join(base + parts))


def parse_go(go_roots):
    """Returns ({(module, lower_struct_name): {num: go field}}, {(module, name)} slice aliases)."""
    structs, slices = {}, set()
    for src_root, pb_prefix in go_roots:
        for path in glob.glob(os.path.join(src_root, "**", "*.go"), recursive=True):
            base = os.path.basename(path)
            if base.endswith("_test.go") or "generated" in base:
                continue
            module = tuple(pb_prefix + os.path.relpath(os.path.dirname(path), src_root).split(os.sep))
            with open(path) as f:
                text = f.read()
            for m in re.finditer(r"^type (\w+) \[\]", text, re.M):
                slices.add((module, m.group(1).lower()))
            for m in re.finditer(r"^type (\w+) struct \{\n(.*?)^\}", text, re.M | re.S):
                fields = {}
                for line in m.group(2).split("\n"):
                    parsed = parse_go_field(line)
                    if parsed:
                        fields[parsed["num"]] = parsed
                if fields:
                    structs[(module, m.group(1).lower())] = fields
    return structs, slices


def parse_go_field(line):
    line = line.split("//")[0] if "`" not in line else line
    tm = re.search(r"`(.*)`", line)
    if not tm:
        return None
    pm = re.search(r'protobuf:"([^"]*)"', tm.group(1))
    if not pm or pm.group(1) == "-":
        return None
    tokens = line[: tm.start()].split()
    go_type = tokens[-1]
    jm = re.search(r'json:"([^"]*)"', tm.group(1))
    json_parts = jm.group(1).split(",") if jm else [tokens[0]]
    opts = json_parts[1:]
    return {
        "num": int(pm.group(1).split(",")[1]),
        "json": json_parts[0],
        "inline": "inline" in opts,
        "omitempty": "omitempty" in opts or "omitzero" in opts,
        "pointer": go_type.startswith("*"),
    }


def lower_camel(snake):
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--k8s-pb")
    ap.add_argument("--go-api", required=True)
    ap.add_argument("--go-apimachinery", required=True)
    ap.add_argument("--go-apiextensions", required=True)
    ap.add_argument("--out", default="crates/kubeproto/src/generated.rs")
    args = ap.parse_args()
    pb_root = args.k8s_pb
    if not pb_root:
        found = sorted(glob.glob(os.path.expanduser("~/.cargo/registry/src/*/k8s-pb-0.9.*")))
        if not found:
            sys.exit("k8s-pb 0.9 not found in the cargo registry; pass --k8s-pb")
        pb_root = found[-1]
    messages, kinds = parse_k8s_pb(os.path.join(pb_root, "src"))
    go_structs, go_slices = parse_go([
        (args.go_api, ["api"]),
        (os.path.join(args.go_apimachinery, "pkg"), ["apimachinery", "pkg"]),
        (os.path.join(args.go_apiextensions, "pkg"), ["apiextensions_apiserver", "pkg"]),
    ])

    # Reachable messages from the root modules, in a stable order.
    order, seen = [], set()
    todo = sorted(n for n in messages if n.rsplit(".", 1)[0].replace(".", "/") in ROOT_MODULES)
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        if name not in messages:
            sys.exit(f"unresolved message {name}")
        seen.add(name)
        order.append(name)
        for f in messages[name]:
            if f["ty"][0] == "message":
                todo.append(f["ty"][1])
    index = {n: i for i, n in enumerate(order)}

    unmatched = []
    lines = []
    for name in order:
        module, short = tuple(name.split(".")[:-1]), name.split(".")[-1]
        special = SPECIAL.get(name)
        if not special and (module, short.lower()) in go_slices:
            special = "Items"
        go = go_structs.get((module, short.lower()), {})
        fields = []
        for f in messages[name]:
            g = go.get(f["num"])
            if g is None:
                json_name, flags = lower_camel(f["snake"]), []
                if not special:
                    unmatched.append(f"{name}.{f['snake']}")
            else:
                json_name = g["json"]
                flags = []
                if g["inline"]:
                    flags.append("INLINE")
                if g["omitempty"] and not g["pointer"]:
                    flags.append("OMIT_ZERO")
            kind, target = f["ty"]
            ty = f"Ty::Msg({index[target]})" if kind == "message" else f"Ty::{target}"
            flag_expr = "|".join(flags) or "0"
            fields.append(f'F::new({f["num"]},"{json_name}",{ty},L::{f["label"]},{flag_expr})')
        sp = special or "None"
        lines.append(f'    M{{name:"{name}",special:S::{sp},fields:&[{",".join(fields)}]}},')

    # k8s-pb marks only top-level resources; subresource kinds (Scale, Eviction,
    # TokenRequest) and lists are the other messages of those modules that carry
    # ObjectMeta or ListMeta.
    module_version = {name.rsplit(".", 1)[0]: av for av, _, name in kinds}
    meta_types = {"apimachinery.pkg.apis.meta.v1.ObjectMeta", "apimachinery.pkg.apis.meta.v1.ListMeta"}
    kind_rows = set()
    for name in order:
        module, short = name.rsplit(".", 1)
        # Embedded templates carry ObjectMeta too but are never sent on their own.
        if module not in module_version or short.endswith("Spec") or short.endswith("ClaimTemplate"):
            continue
        if any(f["snake"] == "metadata" and f["ty"] == ("message", t)
               for f in messages[name] for t in meta_types):
            kind_rows.add((module_version[module], short, index[name]))
    for api_version, kind, name in kinds:
        if name in index:
            kind_rows.add((api_version, kind, index[name]))
    kind_rows = sorted(kind_rows)
    meta_rows = [(k, index["apimachinery.pkg.apis.meta.v1." + k]) for k in META_KINDS]

    out = []
    out.append("// @generated by tools/kubeproto-gen/gen.py from the k8s-pb 0.9 crate (field numbers,\n"
               "// wire types) and the Kubernetes 1.35 Go API types (JSON names, inline, omitempty,\n"
               "// pointers). Do not edit; regenerate with the command in tools/kubeproto-gen/README.md.\n")
    out.append("use crate::schema::{F, INLINE, Kind, Label as L, Message as M, OMIT_ZERO, Special as S, Ty};\n")
    out.append(f"/// Every message kubeproto knows, referenced by index from `Ty::Msg`.\n#[rustfmt::skip]\npub(crate) static MESSAGES: [M; {len(order)}] = [\n"
               + "\n".join(lines) + "\n];\n")
    out.append(f"/// Built-in kinds: (apiVersion, kind, message index), sorted for binary search.\n#[rustfmt::skip]\npub(crate) static KINDS: [Kind; {len(kind_rows)}] = [\n"
               + "\n".join(f'    Kind{{api_version:"{a}",kind:"{k}",message:{i}}},' for a, k, i in kind_rows)
               + "\n];\n")
    out.append(f"/// meta/v1 kinds served under any apiVersion: (kind, message index), sorted.\n#[rustfmt::skip]\npub(crate) static META_KINDS: [(&str, u16); {len(meta_rows)}] = [\n"
               + "\n".join(f'    ("{k}", {i}),' for k, i in sorted(meta_rows)) + "\n];\n")
    with open(args.out, "w") as f:
        f.write("\n".join(out))
    print(f"{len(order)} messages, {sum(len(messages[n]) for n in order)} fields, "
          f"{len(kind_rows)} kinds; {len(unmatched)} fields without Go JSON info", file=sys.stderr)
    for u in unmatched:
        print("  no Go field:", u, file=sys.stderr)


if __name__ == "__main__":
    main()
