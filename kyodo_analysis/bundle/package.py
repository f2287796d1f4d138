"""The bundle's Frictionless ``datapackage.json``: one resource per file with its sha256 and
size, table schemas for the microdata, validated with the ``frictionless`` library; and the
check a partner's machine runs before anything else (:func:`verify_bundle`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from kyodo_analysis.bundle.study import BundleError
from kyodo_analysis.reporting.manifest import sha256_file

__all__ = ["DATAPACKAGE", "load_validator", "microdata_schema", "validate_package",
           "validate_table", "verify_bundle", "write_datapackage"]

DATAPACKAGE = "datapackage.json"
_FORMATS = {".csv": "csv", ".json": "json", ".md": "md", ".yaml": "yaml", ".yml": "yaml",
            ".ipynb": "ipynb", ".lock": "txt", ".txt": "txt", ".gz": "gz"}


def _name(rel: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", rel.lower()).strip("-")


def microdata_schema(codebook, columns: list[str]) -> dict:
    """Table Schema of a wave's microdata file (codes integer, dates year-month)."""
    types = {"id": ("string", "random row key (not derived from the respondent id)")}
    for q in codebook:
        for col in (q.option_ids if q.is_multiple else [q.id]):
            kind = {"text": "string", "numeric": "number", "date": "string"}.get(q.type, "integer")
            types[col] = (kind, q.text)
    types["weight"] = ("number", "final weight of the city's design / 最終ウェイト")
    types["fpc"] = ("number", "frame size of the stratum (finite population correction)")
    fields = []
    for col in columns:
        kind, title = types.get(col, ("string", ""))
        fields.append({"name": col, "type": kind, "description": title})
    return {"fields": fields, "primaryKey": ["id"], "missingValues": [""]}


def write_datapackage(root: Path, *, name: str, title: str, schemas: dict[str, dict],
                      description: str = "") -> Path:
    """Describe every file under ``root`` in ``datapackage.json`` (sha256, bytes; the
    microdata with their schemas)."""
    resources = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel == DATAPACKAGE:
            continue
        fmt = _FORMATS.get(path.suffix.lower(), path.suffix.lstrip(".").lower() or "bin")
        res: dict = {"name": _name(rel), "path": rel}
        if rel in schemas:
            res.update(type="table", format="csv", mediatype="text/csv", encoding="utf-8")
        else:
            # every other file (aggregate inputs in their own encodings included) is checked
            # by hash and size only
            res.update(type="file", format=fmt if fmt != "csv" else "txt",
                       mediatype=_mediatype(fmt))
        res.update(hash=f"sha256:{sha256_file(path)}", bytes=path.stat().st_size)
        if rel in schemas:
            res["schema"] = schemas[rel]
        resources.append(res)
    package = {"name": _name(name), "title": title, "description": description,
               "resources": resources}
    out = root / DATAPACKAGE
    out.write_text(json.dumps(package, ensure_ascii=False, indent=1), encoding="utf-8")
    return out


def _mediatype(fmt: str) -> str:
    return {"json": "application/json", "md": "text/markdown", "yaml": "application/yaml",
            "ipynb": "application/x-ipynb+json", "gz": "application/gzip"}.get(fmt, "text/plain")


def load_validator() -> None:
    """Import frictionless and its JSON Schema checker (seconds: jsonschema compiles its
    format grammars on import); run in a helper process while the bundle is being written."""
    import frictionless  # noqa: F401
    from frictionless import platform

    platform.jsonschema  # noqa: B018 - the lazy import is the point


def validate_table(root: Path, rel: str, schema: dict) -> list[str]:
    """Validate the table ``root/rel`` (CSV, UTF-8) against its Table Schema with
    frictionless: types, primary key, missing values; the errors, empty when valid."""
    from frictionless import FrictionlessException, Resource

    try:
        resource = Resource.from_descriptor(
            {"name": _name(rel), "path": rel, "type": "table", "format": "csv",
             "encoding": "utf-8", "schema": schema}, basepath=str(root))
    except FrictionlessException as exc:
        return [f"{rel}: {e.type}: {e.note}" for e in (exc.reasons or [exc.error])]
    return [f"{rel}: {row[0]}: {row[1]}" for row in resource.validate().flatten(["type", "note"])]


def validate_package(root: Path, *, tables: bool = True) -> list[str]:
    """Validate ``datapackage.json`` with frictionless: the descriptor against the Data
    Package profile and (``tables``) every table resource's rows against its Table Schema,
    with its hash and size; the errors, empty when valid.

    The other resources (plain files) are not read again: their sha256 and size were just
    computed from the files themselves by :func:`write_datapackage`, and the partner's
    :func:`verify_bundle` checks every one of them.
    """
    from frictionless import FrictionlessException, Package

    try:
        package = Package(str(root / DATAPACKAGE))
    except FrictionlessException as exc:
        return [f"{DATAPACKAGE}: {e.type}: {e.note}" for e in (exc.reasons or [exc.error])]
    errors = []
    for resource in package.resources if tables else []:
        if resource.type == "table":
            errors += [f"{resource.path}: {row[0]}: {row[1]}"
                       for row in resource.validate().flatten(["type", "note"])]
    return errors


def verify_bundle(root: Path) -> int:
    """Check every file of the bundle against ``datapackage.json`` (sha256 and size) and that
    no file was added; returns the number of files checked.

    Raises
    ------
    BundleError
        Naming the first missing, changed or unlisted file.
    """
    root = Path(root)
    try:
        doc = json.loads((root / DATAPACKAGE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"{root / DATAPACKAGE} is missing or not JSON: {exc}") from None
    listed = set()
    for res in doc.get("resources", []):
        rel = res["path"]
        path = (root / rel).resolve()
        if root.resolve() not in path.parents:
            raise BundleError(f"datapackage.json names a file outside the bundle: {rel}")
        listed.add(rel)
        if not path.is_file():
            raise BundleError(f"file missing from the bundle: {rel}")
        algo, _, digest = str(res.get("hash", "")).partition(":")
        if algo != "sha256" or sha256_file(path) != digest or path.stat().st_size != res.get("bytes"):
            raise BundleError(f"file changed since the bundle was made: {rel} (sha256 differs "
                              "from datapackage.json)")
    extra = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.is_file() and p.relative_to(root).as_posix() not in listed
                   and p.name != DATAPACKAGE and not _generated(p.relative_to(root)))
    if extra:
        raise BundleError(f"file not listed in datapackage.json: {extra[0]}")
    return len(listed)


def _generated(rel: Path) -> bool:
    """Files a partner's own work creates inside an unpacked bundle (caches)."""
    return any(part in {"__pycache__", ".ipynb_checkpoints", ".kyodo"} for part in rel.parts)
