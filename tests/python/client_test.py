"""The official Kubernetes Python client against an Orrery cluster.

Creates, reads, lists (selectors, pagination), watches (bounded by timeout_seconds), patches
and deletes objects through the typed, custom-object and dynamic APIs. Each check is a
function; the script prints one line per check and ends with "N passed, M failed", exiting
non-zero when any check failed.

    python tests/python/client_test.py --kubeconfig <data-dir>/kubeconfig.yaml
"""

import argparse
import sys
import time
import traceback
import uuid

from kubernetes import client, config, dynamic, watch
from kubernetes.client.rest import ApiException

# Every request is bounded, so a hung server fails the check instead of the whole run.
TIMEOUT = 30

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def expect_status(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ApiException as e:
        assert e.status == code, f"expected HTTP {code}, got {e.status}: {e.body}"
        return e
    raise AssertionError(f"expected HTTP {code}, the call succeeded")


class Ctx:
    def __init__(self, api_client, ns):
        self.api = api_client
        self.ns = ns
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)


def cm(name, data, labels=None):
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}), data=data
    )


@check
def server_version(ctx):
    v = client.VersionApi(ctx.api).get_code(_request_timeout=TIMEOUT)
    assert v.major == "1" and v.minor.startswith("33"), v
    assert v.git_version.startswith("v1.33."), v


@check
def namespace_is_active(ctx):
    ns = ctx.core.read_namespace(ctx.ns, _request_timeout=TIMEOUT)
    assert ns.status.phase == "Active", ns.status


@check
def configmap_create_read_replace(ctx):
    made = ctx.core.create_namespaced_config_map(
        ctx.ns, cm("one", {"k": "v"}, {"suite": "py"}), _request_timeout=TIMEOUT
    )
    assert made.metadata.uid and made.metadata.resource_version, made.metadata
    got = ctx.core.read_namespaced_config_map("one", ctx.ns, _request_timeout=TIMEOUT)
    assert got.data == {"k": "v"}, got.data
    got.data["k"] = "w"
    replaced = ctx.core.replace_namespaced_config_map(
        "one", ctx.ns, got, _request_timeout=TIMEOUT
    )
    assert replaced.data == {"k": "w"}
    assert int(replaced.metadata.resource_version) > int(made.metadata.resource_version)
    # The object we replaced from is now stale: optimistic concurrency says 409.
    got.data["k"] = "stale"
    expect_status(409, ctx.core.replace_namespaced_config_map, "one", ctx.ns, got,
                  _request_timeout=TIMEOUT)


@check
def errors_are_status_objects(ctx):
    e = expect_status(404, ctx.core.read_namespaced_config_map, "missing", ctx.ns,
                      _request_timeout=TIMEOUT)
    assert e.reason == "Not Found" or "NotFound" in e.body, e.body
    ctx.core.create_namespaced_config_map(ctx.ns, cm("dup", {}), _request_timeout=TIMEOUT)
    e = expect_status(409, ctx.core.create_namespaced_config_map, ctx.ns, cm("dup", {}),
                      _request_timeout=TIMEOUT)
    assert "AlreadyExists" in e.body, e.body


@check
def list_with_selectors_and_pagination(ctx):
    for i in range(5):
        ctx.core.create_namespaced_config_map(
            ctx.ns, cm(f"page-{i}", {"i": str(i)}, {"suite": "pages", "n": str(i)}),
            _request_timeout=TIMEOUT,
        )
    picked = ctx.core.list_namespaced_config_map(
        ctx.ns, label_selector="suite=pages,n in (1,3)", _request_timeout=TIMEOUT
    )
    assert sorted(o.metadata.name for o in picked.items) == ["page-1", "page-3"]
    by_field = ctx.core.list_namespaced_config_map(
        ctx.ns, field_selector="metadata.name=page-4", _request_timeout=TIMEOUT
    )
    assert [o.metadata.name for o in by_field.items] == ["page-4"]
    names, token, pages = [], None, 0
    while True:
        page = ctx.core.list_namespaced_config_map(
            ctx.ns, label_selector="suite=pages", limit=2, _continue=token,
            _request_timeout=TIMEOUT,
        )
        pages += 1
        names += [o.metadata.name for o in page.items]
        token = page.metadata._continue
        if not token:
            break
        assert pages < 10, "pagination does not end"
    assert pages == 3, pages
    assert sorted(names) == [f"page-{i}" for i in range(5)], names


@check
def patch_merge_strategic_and_json(ctx):
    ctx.core.create_namespaced_config_map(ctx.ns, cm("patched", {"a": "1", "b": "2"}),
                                          _request_timeout=TIMEOUT)
    # A dict body is sent as a strategic merge patch.
    out = ctx.core.patch_namespaced_config_map(
        "patched", ctx.ns, {"data": {"b": None, "c": "3"}}, _request_timeout=TIMEOUT
    )
    assert out.data == {"a": "1", "c": "3"}, out.data
    # A list body is sent as a JSON patch.
    out = ctx.core.patch_namespaced_config_map(
        "patched", ctx.ns, [{"op": "replace", "path": "/data/a", "value": "one"}],
        _request_timeout=TIMEOUT,
    )
    assert out.data == {"a": "one", "c": "3"}, out.data
    e = expect_status(
        422, ctx.core.patch_namespaced_config_map, "patched", ctx.ns,
        [{"op": "test", "path": "/data/a", "value": "nope"}], _request_timeout=TIMEOUT,
    )
    assert e.body, e


@check
def deployment_typed_create_and_scale(ctx):
    labels = {"app": "py-web"}
    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="py-web"),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[client.V1Container(name="web", image="nginx:1.27")]
                ),
            ),
        ),
    )
    made = ctx.apps.create_namespaced_deployment(ctx.ns, dep, _request_timeout=TIMEOUT)
    assert made.metadata.generation == 1
    # Server-side defaults come back in the typed model.
    assert made.spec.strategy.type == "RollingUpdate", made.spec.strategy
    ctx.apps.patch_namespaced_deployment_scale(
        "py-web", ctx.ns, {"spec": {"replicas": 4}}, _request_timeout=TIMEOUT
    )
    scale = ctx.apps.read_namespaced_deployment_scale("py-web", ctx.ns,
                                                      _request_timeout=TIMEOUT)
    assert scale.spec.replicas == 4, scale
    got = ctx.apps.read_namespaced_deployment("py-web", ctx.ns, _request_timeout=TIMEOUT)
    assert got.spec.replicas == 4 and got.metadata.generation == 2, got.metadata


@check
def bounded_watch_sees_added_modified_deleted(ctx):
    rv = ctx.core.list_namespaced_config_map(
        ctx.ns, _request_timeout=TIMEOUT
    ).metadata.resource_version
    ctx.core.create_namespaced_config_map(ctx.ns, cm("watched", {"v": "1"}),
                                          _request_timeout=TIMEOUT)
    ctx.core.patch_namespaced_config_map("watched", ctx.ns, {"data": {"v": "2"}},
                                         _request_timeout=TIMEOUT)
    ctx.core.delete_namespaced_config_map("watched", ctx.ns, _request_timeout=TIMEOUT)
    seen = []
    w = watch.Watch()
    deadline = time.monotonic() + TIMEOUT
    for event in w.stream(
        ctx.core.list_namespaced_config_map, ctx.ns, resource_version=rv,
        field_selector="metadata.name=watched", timeout_seconds=10,
        _request_timeout=TIMEOUT,
    ):
        seen.append((event["type"], event["object"].data.get("v")))
        if event["type"] == "DELETED" or time.monotonic() > deadline:
            w.stop()
    assert [t for t, _ in seen] == ["ADDED", "MODIFIED", "DELETED"], seen
    assert seen[1][1] == "2", seen


@check
def custom_resources_through_custom_objects_api(ctx):
    ext = client.ApiextensionsV1Api(ctx.api)
    group, plural = "py.example.com", f"gadgets{uuid.uuid4().hex[:6]}"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group, "scope": "Namespaced",
            "names": {"plural": plural, "singular": plural[:-1],
                      "kind": "Gadget" + plural[7:].upper()},
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True}},
            }],
        },
    }
    ext.create_custom_resource_definition(crd, _request_timeout=TIMEOUT)
    custom = client.CustomObjectsApi(ctx.api)
    body = {"apiVersion": f"{group}/v1", "kind": crd["spec"]["names"]["kind"],
            "metadata": {"name": "g1"}, "spec": {"size": 3}}
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            custom.create_namespaced_custom_object(group, "v1", ctx.ns, plural, body,
                                                   _request_timeout=TIMEOUT)
            break
        except ApiException as e:
            # The new resource is served shortly after the CRD is established.
            if e.status != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    got = custom.get_namespaced_custom_object(group, "v1", ctx.ns, plural, "g1",
                                              _request_timeout=TIMEOUT)
    assert got["spec"] == {"size": 3}, got
    out = custom.patch_namespaced_custom_object(group, "v1", ctx.ns, plural, "g1",
                                                {"spec": {"size": 5}},
                                                _request_timeout=TIMEOUT)
    assert out["spec"]["size"] == 5, out
    listed = custom.list_namespaced_custom_object(group, "v1", ctx.ns, plural,
                                                  _request_timeout=TIMEOUT)
    assert [o["metadata"]["name"] for o in listed["items"]] == ["g1"], listed


@check
def dynamic_client_discovers_and_applies(ctx):
    dyn = dynamic.DynamicClient(ctx.api)
    secrets = dyn.resources.get(api_version="v1", kind="Secret")
    made = secrets.create(
        namespace=ctx.ns,
        body={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "dyn"},
              "stringData": {"password": "s3cret"}},
        _request_timeout=TIMEOUT,
    )
    assert made.data.password == "czNjcmV0", made.data
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.namespaced and deployments.name == "deployments"
    names = [i.metadata.name for i in deployments.get(namespace=ctx.ns,
                                                       _request_timeout=TIMEOUT).items]
    assert "py-web" in names, names


@check
def delete_with_propagation_policy(ctx):
    owner = ctx.core.create_namespaced_config_map(ctx.ns, cm("owner", {}),
                                                  _request_timeout=TIMEOUT)
    child = cm("child", {})
    child.metadata.owner_references = [client.V1OwnerReference(
        api_version="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid)]
    ctx.core.create_namespaced_config_map(ctx.ns, child, _request_timeout=TIMEOUT)
    ctx.core.delete_namespaced_config_map(
        "owner", ctx.ns, body=client.V1DeleteOptions(propagation_policy="Orphan"),
        _request_timeout=TIMEOUT,
    )
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            ctx.core.read_namespaced_config_map("owner", ctx.ns, _request_timeout=TIMEOUT)
        except ApiException as e:
            if e.status == 404:
                break
            raise
        assert time.monotonic() < deadline, "owner not deleted"
        time.sleep(0.05)
    kept = ctx.core.read_namespaced_config_map("child", ctx.ns, _request_timeout=TIMEOUT)
    assert not kept.metadata.owner_references, kept.metadata


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", default=f"py-{uuid.uuid4().hex[:8]}")
    args = parser.parse_args()
    api_client = config.new_client_from_config(config_file=args.kubeconfig)
    core = client.CoreV1Api(api_client)
    core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=args.namespace)),
        _request_timeout=TIMEOUT,
    )
    ctx = Ctx(api_client, args.namespace)
    passed = failed = 0
    for fn in CHECKS:
        try:
            fn(ctx)
        except Exception:  # noqa: BLE001 - every failure is reported, then counted
            failed += 1
            print(f"FAIL {fn.__name__}")
            traceback.print_exc(file=sys.stdout)
        else:
            passed += 1
            print(f"ok   {fn.__name__}")
    print(f"{passed} passed, {failed} failed")
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
