"""A small kustomize renderer for deploy/k8s, so the overlays are checked without the
kustomize binary (neither PyPI nor Debian ships it).

It knows only what deploy/k8s uses, and refuses anything else rather than render it
wrongly: `resources` (files, or folders with their own kustomization.yaml), `namespace`,
`images` (newName/newTag), `replicas`, and `patches` given by `path`, applied as strategic
merge patches (maps merged key by key, lists of named items merged by name, other lists
replaced) to the resource of the same kind and name.
"""

from pathlib import Path
from typing import Any

import yaml

KNOWN = {"apiVersion", "kind", "resources", "namespace", "images", "replicas", "patches"}

Resource = dict[str, Any]


class Unsupported(ValueError):
    """The kustomization uses something this renderer does not know."""


def render(folder: Path) -> list[Resource]:
    """The resources `folder`'s kustomization.yaml produces, as kustomize would."""
    spec = yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))
    if unknown := set(spec) - KNOWN:
        raise Unsupported(f"{folder}: {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in spec.get("resources", []):
        path = folder / entry
        resources += render(path) if path.is_dir() else load(path)
    for patch in spec.get("patches", []):
        if set(patch) != {"path"}:
            raise Unsupported(f"{folder}: a patch other than by path: {patch}")
        for doc in load(folder / patch["path"]):
            merge(find(resources, doc["kind"], doc["metadata"]["name"]), doc)
    for replicas in spec.get("replicas", []):
        find(resources, "Deployment", replicas["name"])["spec"]["replicas"] = replicas["count"]
    for image in spec.get("images", []):
        for container in containers(resources):
            name, _, tag = container["image"].partition(":")
            if name == image["name"]:
                new_tag = image.get("newTag", tag)
                container["image"] = image.get("newName", name) + (f":{new_tag}" if new_tag else "")
    if namespace := spec.get("namespace"):
        for resource in resources:
            resource["metadata"]["namespace"] = namespace
    return resources


def load(path: Path) -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def find(resources: list[Resource], kind: str, name: str) -> Resource:
    found = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    if len(found) != 1:
        raise LookupError(f"{len(found)} resources {kind}/{name}")
    return found[0]


def containers(resources: list[Resource]) -> list[Resource]:
    return [
        container
        for resource in resources
        if resource["kind"] == "Deployment"
        for container in resource["spec"]["template"]["spec"]["containers"]
    ]


def merge(target: Resource, patch: Resource) -> None:
    """Strategic merge of `patch` into `target`, in place."""
    for key, value in patch.items():
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            merge(current, value)
        elif _named(value) and _named(current):
            by_name = {item["name"]: item for item in current}
            for item in value:
                if item["name"] in by_name:
                    merge(by_name[item["name"]], item)
                else:
                    current.append(item)
        else:
            target[key] = value


def _named(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and "name" in i for i in value)
