#!/usr/bin/python3
"""Validate Talos machine configs against the official JSON schemas.

usage: talos_validate.py SCHEMA_DIR MINOR FILE...

SCHEMA_DIR holds config.schema.v1.<MINOR>.json (tests/schemas/talos).
Every YAML document of every FILE is validated with Draft202012Validator.
The documents of cluster.inlineManifests are validated too, against the
Kubernetes schemas in SCHEMA_DIR/../k8s when one exists for their kind.
Prints one line per problem and "ok FILE (N documents)" per valid file;
exits 1 when anything is invalid. Must run with Debian's /usr/bin/python3
(python3-yaml, python3-jsonschema).
"""
import json
import os
import sys

import jsonschema
import yaml


def k8s_schema(k8s_dir, doc):
    api, kind = doc.get("apiVersion", ""), doc.get("kind", "").lower()
    if "/" in api:
        group, version = api.split("/", 1)
        path = os.path.join(k8s_dir, "crds", group, f"{kind}_{version}.json")
        if not os.path.exists(path):  # a built-in grouped type (batch/v1 Job): see k8s/README.md
            path = os.path.join(k8s_dir, "core", "v1.32.2-standalone-strict",
                                f"{kind}-{group.split('.')[0]}-{version}.json")
    else:
        path = os.path.join(k8s_dir, "core", "v1.32.2-standalone-strict", f"{kind}-{api}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def errors_of(validator, doc, where):
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        path = "/".join(str(p) for p in err.absolute_path)
        yield f"{where}: /{path}: {err.message[:300]}"


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    schema_dir, minor, files = argv[1], argv[2], argv[3:]
    with open(os.path.join(schema_dir, f"config.schema.v1.{minor}.json")) as f:
        talos = jsonschema.Draft202012Validator(json.load(f))
    k8s_dir = os.path.join(schema_dir, "..", "k8s")
    bad = 0
    for name in files:
        with open(name) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        problems = []
        for i, doc in enumerate(docs):
            problems += errors_of(talos, doc, f"{name}: document {i + 1}")
            inline = ((doc.get("cluster") or {}).get("inlineManifests") or []) if isinstance(doc, dict) else []
            for m in inline:
                for j, obj in enumerate(yaml.safe_load_all(m.get("contents", ""))):
                    if obj is None:
                        continue
                    schema = k8s_schema(k8s_dir, obj)
                    if schema is None:
                        problems.append(f"{name}: inline manifest '{m.get('name')}' document {j + 1}: "
                                        f"no schema for {obj.get('apiVersion')} {obj.get('kind')}")
                        continue
                    v = jsonschema.Draft202012Validator(schema)
                    problems += errors_of(v, obj, f"{name}: inline manifest '{m.get('name')}' document {j + 1}")
        if not docs:
            problems.append(f"{name}: no YAML documents")
        for p in problems:
            print(p)
        if problems:
            bad += 1
        else:
            print(f"ok {name} ({len(docs)} documents)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
