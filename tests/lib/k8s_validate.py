#!/usr/bin/python3
"""Validate rendered Kubernetes/Flux YAML against tests/schemas/k8s.

Usage: k8s_validate.py [--schemas DIR] [--vars FILE] [--no-schema-ok KIND...] FILE...

Schema choice follows tests/schemas/k8s/README.md: CRDs by group/kind/version
from crds/, built-in types from the newest core/*-standalone-strict/. Before
validating, ${VAR} references are substituted (as Flux postBuild would) from
--vars (a ConfigMap-style YAML `data:` map or KEY=VALUE lines); unknown
variables become "x" so that they validate as strings. kustomize.config.k8s.io
documents are build inputs, not objects: counted, not validated.

A document whose kind has no schema is listed ("NO SCHEMA ...") and makes the
run fail unless its apiVersion/kind is given with --no-schema-ok.
Prints one line per problem and a summary line; exit 0 when all passed.
"""
import json
import pathlib
import re
import sys

import jsonschema
import yaml

VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def schema_for(root, core, api_version, kind):
    k = kind.lower()
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        p = root / "crds" / group / f"{k}_{version}.json"
        return p if p.exists() else core / f"{k}-{group.split('.')[0]}-{version}.json"
    return core / f"{k}-{api_version}.json"


def drop_nulls(x):
    if isinstance(x, dict):
        return {k: drop_nulls(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [drop_nulls(v) for v in x]
    return x


def load_vars(path):
    text = pathlib.Path(path).read_text()
    try:
        doc = yaml.safe_load(text)
        if isinstance(doc, dict):
            return {str(k): str(v) for k, v in (doc.get("data") or doc).items()}
    except yaml.YAMLError:
        pass
    out = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def main(argv):
    here = pathlib.Path(__file__).resolve().parent
    root = here.parent / "schemas" / "k8s"
    variables, no_schema_ok, files = {}, set(), []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--schemas":
            root = pathlib.Path(argv[i + 1]); i += 2; continue
        if a == "--vars":
            variables.update(load_vars(argv[i + 1])); i += 2; continue
        if a == "--no-schema-ok":
            no_schema_ok.add(argv[i + 1]); i += 2; continue
        files.append(a); i += 1
    cores = sorted((root / "core").glob("v*-standalone-strict"))
    if not cores:
        print(f"no core schemas under {root}/core", file=sys.stderr)
        return 2
    core = cores[-1]
    cache = {}
    rc = 0
    n_ok = n_build = n_noschema = n_fail = 0
    for path in files:
        text = pathlib.Path(path).read_text()
        text = VAR.sub(lambda m: variables.get(m.group(1), "x"), text)
        try:
            docs = list(yaml.safe_load_all(text))
        except yaml.YAMLError as e:
            print(f"YAML ERROR {path}: {e}")
            rc = 1; n_fail += 1
            continue
        for doc in docs:
            if doc is None:
                continue
            if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
                print(f"FAIL {path}: document without apiVersion/kind")
                rc = 1; n_fail += 1
                continue
            av, kind = doc["apiVersion"], doc["kind"]
            if av.startswith("kustomize.config.k8s.io/"):
                n_build += 1
                continue
            p = schema_for(root, core, av, kind)
            if not p.exists():
                n_noschema += 1
                print(f"NO SCHEMA {path} {av} {kind}")
                if f"{av}/{kind}" not in no_schema_ok and kind not in no_schema_ok:
                    rc = 1
                continue
            if "/crds/" in str(p):
                doc = drop_nulls(doc)
            v = cache.get(p)
            if v is None:
                v = cache[p] = jsonschema.Draft7Validator(json.loads(p.read_text()))
            errs = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
            name = (doc.get("metadata") or {}).get("name", "?")
            for e in errs:
                print(f"FAIL {path} {kind} {name} {'/'.join(map(str, e.path))}: {e.message[:200]}")
            if errs:
                rc = 1; n_fail += 1
            else:
                n_ok += 1
    print(f"validated {n_ok} objects, {n_fail} failed, {n_noschema} without schema, "
          f"{n_build} kustomize build files")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
