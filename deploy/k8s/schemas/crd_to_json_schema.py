"""A CRD's openAPIV3Schema as a JSON schema, to check manifests against the CRD a cluster has:

    kubectl get crd scaledobjects.keda.sh -o yaml \
      | python deploy/k8s/schemas/crd_to_json_schema.py > /tmp/scaledobject.json
    kubectl kustomize deploy/k8s/overlays/production | ... check-jsonschema --schemafile ...

The Kubernetes extensions become plain JSON schema (int-or-string, nullable); unknown fields stay
allowed, as the API server prunes them rather than refusing them."""

from __future__ import annotations

import json
import sys
from typing import Any

import yaml


def convert(node: Any) -> Any:
    if isinstance(node, list):
        return [convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: convert(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    out.pop("nullable", None)
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def json_schema(crd: dict[str, Any], version: str | None = None) -> dict[str, Any]:
    versions = crd["spec"]["versions"]
    chosen = next(v for v in versions if version in (None, v["name"]) and v.get("served", True))
    schema = convert(chosen["schema"]["openAPIV3Schema"])
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    schema.setdefault("properties", {})
    schema["properties"]["apiVersion"] = {"const": f"{group}/{chosen['name']}"}
    schema["properties"]["kind"] = {"const": kind}
    return {"$schema": "http://json-schema.org/draft-07/schema#", "title": kind, **schema}


if __name__ == "__main__":
    crd = yaml.safe_load(sys.stdin)
    json.dump(json_schema(crd, sys.argv[1] if len(sys.argv) > 1 else None), sys.stdout, indent=1)
    print()
