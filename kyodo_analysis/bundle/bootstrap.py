"""Reproduce a study bundle on a machine with only python3 (standard library only).

Copied into every bundle as ``reproduce.py`` (run by ``make reproduce`` or
``python3 reproduce.py``) and used by ``kyodo reproduce bundle.zip``: checks every file's
sha256 against ``datapackage.json``, creates a virtual environment from
``environment/requirements.lock`` (:func:`install_lock`), unpacks the bundled kyodo_analysis
and runs ``kyodo reproduce <bundle> --python current`` in that environment. Everything it
creates goes under ``<bundle>/.kyodo/``, except the wheels, kept in a local wheel cache
(:func:`wheel_cache`) for the next environment.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

WORK = ".kyodo"


def _sha256(path: Path) -> str:
    # the same digest as reporting.manifest.sha256_file, written again because this file runs
    # alone (standard library only) on the partner's machine before anything is installed
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(root: Path) -> int:
    """Check every file named in datapackage.json; return how many (SystemExit on a mismatch)."""
    doc = json.loads((root / "datapackage.json").read_text(encoding="utf-8"))
    for res in doc["resources"]:
        path = root / res["path"]
        if not path.is_file() or "sha256:" + _sha256(path) != res["hash"]:
            raise SystemExit(f"reproduce: file missing or changed: {res['path']}")
    return len(doc["resources"])


def _safe_untar(archive: Path, target: Path) -> None:
    target = target.resolve()
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            dest = (target / member.name).resolve()
            if not (member.isfile() or member.isdir()) or (
                    dest != target and target not in dest.parents):
                raise SystemExit(f"reproduce: unsafe member in {archive}: {member.name}")
        tar.extractall(target)


def wheel_cache() -> Path | None:
    """The local wheel cache: ``$KYODO_WHEELS`` (empty: none), else ``kyodo/wheels`` in the
    user's cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``)."""
    if "KYODO_WHEELS" in os.environ:
        return Path(os.environ["KYODO_WHEELS"]) if os.environ["KYODO_WHEELS"] else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kyodo" / "wheels"


def _pins(lock: Path) -> list[tuple[str, str]]:
    """``(name, version)`` of every ``name==version`` line of the lock."""
    out = []
    for line in lock.read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith((" ", "#", "-")):
            name, _, version = line.split(";")[0].split()[0].partition("==")
            out.append((name, version))
    return out


def _cached(cache: Path, pins: list[tuple[str, str]]) -> bool:
    """Whether ``cache`` holds a wheel of every pin (pip still checks each one's hash)."""
    names = {p.name.lower() for p in cache.glob("*.whl")} if cache.is_dir() else set()
    stems = {"-".join(n.split("-")[:2]) for n in names}
    return all(f"{re.sub(r'[-_.]+', '_', name).lower()}-{version.lower()}" in stems
               for name, version in pins)


def install_lock(python: str, lock: Path, cache: Path | None) -> None:
    """Install exactly the locked packages into ``python``'s environment.

    ``pip install --require-hashes --no-deps`` (the lock is complete: nothing is resolved),
    preferring wheels and without compiling every module ahead (each is compiled when first
    imported). With a wheel cache the wheels are taken from it without asking the index; a
    cache lacking some is filled first (``pip download``), so the next environment is made
    from local files.
    """
    pip = [python, "-m", "pip", "--disable-pip-version-check"]
    options = ["--require-hashes", "--no-deps", "--prefer-binary", "-r", str(lock)]
    if cache is not None:
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError:
            cache = None
    if cache is None:
        subprocess.run([*pip, "install", "--quiet", "--no-compile", *options], check=True)
        return
    if not _cached(cache, _pins(lock)):
        subprocess.run([*pip, "download", "--quiet", "--dest", str(cache), *options],
                       check=True)
    subprocess.run([*pip, "install", "--quiet", "--no-compile", "--no-index", "--find-links",
                    str(cache), *options], check=True)


def environment(root: Path, python: str | None) -> tuple[str, dict]:
    """The interpreter to run in and the process environment (PYTHONPATH to the source)."""
    work = root / WORK
    src = work / "src"
    if not (src / "kyodo_analysis").is_dir():
        src.mkdir(parents=True, exist_ok=True)
        _safe_untar(root / "source" / "kyodo_analysis.tar.gz", src)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(src), *filter(None, [env.get("PYTHONPATH")])])
    if python:
        return python, env
    venv = work / "env"
    exe = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    marker = venv / ".locked"
    lock = root / "environment" / "requirements.lock"
    if not marker.is_file() or marker.read_text() != _sha256(lock):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        install_lock(str(exe), lock, wheel_cache())
        marker.write_text(_sha256(lock))
    return str(exe), env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", nargs="?", default=str(Path(__file__).resolve().parent))
    parser.add_argument("--python", default=None,
                        help="interpreter with the locked packages (default: create a venv)")
    parser.add_argument("--jobs", "-j", default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--timeout", default=None)
    args = parser.parse_args(argv)
    root = Path(args.bundle).resolve()
    print(f"files verified: {verify(root)}", flush=True)
    python, env = environment(root, args.python)
    cmd = [python, "-m", "kyodo_analysis.cli", "reproduce", str(root), "--python", "current"]
    for opt in ("jobs", "out", "timeout"):
        if getattr(args, opt):
            cmd += [f"--{opt}", str(getattr(args, opt))]
    return subprocess.run(cmd, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
