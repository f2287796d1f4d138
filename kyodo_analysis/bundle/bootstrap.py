"""Reproduce a study bundle on a machine with only python3 (standard library only).

Copied into every bundle as ``reproduce.py`` (run by ``make reproduce`` or
``python3 reproduce.py``) and used by ``kyodo reproduce bundle.zip``: checks every file's
sha256 against ``datapackage.json``, creates a virtual environment from
``environment/requirements.lock`` (:func:`install_lock`: uv from the wheel cache, pip as the
fallback), unpacks the bundled kyodo_analysis
and runs ``kyodo reproduce <bundle> --python current`` in that environment. Everything it
creates goes under ``<bundle>/.kyodo/``, except the wheels (and uv's unpacked copies of
them), kept in a local wheel cache (:func:`wheel_cache`) for the next environment.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
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


def _entries(lock: Path) -> list[tuple[str, str, str]]:
    """``(name, version, requirement)`` of every pin of the lock, ``requirement`` being its
    ``name==version`` line with its ``--hash`` lines (a requirements file of its own)."""
    out: list[tuple[str, str, str]] = []
    for line in lock.read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith((" ", "#", "-")):
            name, _, version = line.split(";")[0].split()[0].partition("==")
            out.append((name, version, line))
        elif out and line.strip().startswith("--hash="):
            out[-1] = (*out[-1][:2], out[-1][2] + "\n" + line)
    return out


def _pins(lock: Path) -> list[tuple[str, str]]:
    """``(name, version)`` of every ``name==version`` line of the lock."""
    return [(name, version) for name, version, _ in _entries(lock)]


def _stem(name: str, version: str) -> str:
    """A wheel file name's ``distribution-version`` (normalised, lower case)."""
    return f"{re.sub(r'[-_.]+', '_', name).lower()}-{version.lower()}"


def _wheels(cache: Path, name: str, version: str) -> list[Path]:
    stem = _stem(name, version)
    return sorted(p for p in cache.glob("*.whl")
                  if "-".join(p.name.lower().split("-")[:2]) == stem)


def _missing(cache: Path, entries: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The pins of which ``cache`` holds no wheel (the installer still checks every hash)."""
    names = {p.name.lower() for p in cache.glob("*.whl")} if cache.is_dir() else set()
    stems = {"-".join(n.split("-")[:2]) for n in names}
    return [e for e in entries if _stem(e[0], e[1]) not in stems]


def _cached(cache: Path, pins: list[tuple[str, str]]) -> bool:
    """Whether ``cache`` holds a wheel of every pin (the installer still checks each hash)."""
    return not _missing(cache, [(name, version, "") for name, version in pins])


#: The installer of the fast route (pinned in the lock like every other package).
UV = "uv"


def _hashes(requirement: str) -> set[str]:
    return set(re.findall(r"--hash=sha256:([0-9a-f]{64})", requirement))


def uv_from_cache(cache: Path, lock: Path, dest: Path) -> Path | None:
    """uv's executable, unpacked into ``dest`` from its locked wheel in the wheel cache.

    Only a wheel whose sha256 is one of the lock's hashes for uv is used (what
    ``pip install --require-hashes`` checks), and only if its executable runs here (a wheel
    of another platform does not). No pip is needed, so the environment can be made
    ``--without-pip``. None when the lock pins no uv or no usable wheel is cached.
    """
    pin = next((e for e in _entries(lock) if e[0].lower() == UV), None)
    if pin is None or not cache.is_dir():
        return None
    allowed = _hashes(pin[2])
    exe = "uv.exe" if os.name == "nt" else "uv"
    for wheel in _wheels(cache, pin[0], pin[1]):
        if _sha256(wheel) not in allowed:
            continue
        try:
            with zipfile.ZipFile(wheel) as zf:
                member = next((n for n in zf.namelist()
                               if n.endswith(f".data/scripts/{exe}")), None)
                if member is None:
                    continue
                dest.mkdir(parents=True, exist_ok=True)
                target = dest / exe
                with zf.open(member) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
            target.chmod(0o755)
            subprocess.run([str(target), "--version"], check=True, capture_output=True,
                           timeout=60)
        except (OSError, zipfile.BadZipFile, subprocess.SubprocessError):
            continue
        return target
    return None


def link_mode(cache: Path, target: Path) -> str:
    """How uv puts its cached files into the environment: hard links when the cache and the
    environment are on one file system (nothing is copied), else copies."""
    try:
        same = os.stat(cache).st_dev == os.stat(target).st_dev
    except OSError:
        same = False
    return "hardlink" if same else "copy"


def uv_command(uv: Path, python: str, lock: Path, cache: Path, uv_cache: Path,
               mode: str) -> list[str]:
    """``uv pip install`` of exactly the locked packages from the wheel cache (no index)."""
    return [str(uv), "pip", "install", "--quiet", "--no-config", "--python", python,
            "--require-hashes", "--no-deps", "--no-index", "--find-links", str(cache),
            "--cache-dir", str(uv_cache), "--link-mode", mode, "-r", str(lock)]


def pip_commands(python: str, lock: Path, cache: Path | None) -> list[list[str]]:
    """The pip route: ``pip install --require-hashes --no-deps`` from the wheel cache without
    asking the index (or from the index when there is no cache)."""
    pip = [python, "-m", "pip", "--disable-pip-version-check"]
    options = ["--require-hashes", "--no-deps", "--prefer-binary", "-r", str(lock)]
    if cache is None:
        return [[*pip, "install", "--quiet", "--no-compile", *options]]
    return [[*pip, "install", "--quiet", "--no-compile", "--no-index", "--find-links",
             str(cache), *options]]


def _ensure_pip(python: str) -> None:
    """pip in ``python``'s environment (made ``--without-pip``): ``ensurepip`` when absent."""
    if subprocess.run([python, "-m", "pip", "--version"], capture_output=True,
                      check=False).returncode:
        subprocess.run([python, "-m", "ensurepip", "--default-pip"], check=True,
                       stdout=subprocess.DEVNULL)


def _fill(python: str, cache: Path, missing: list[tuple[str, str, str]]) -> None:
    """Download the wheels the cache lacks (hash-checked, only those pins) into it."""
    _ensure_pip(python)
    with tempfile.TemporaryDirectory(prefix="kyodo-lock-") as tmp:
        req = Path(tmp) / "missing.txt"
        req.write_text("\n".join(e[2] for e in missing) + "\n", encoding="utf-8")
        subprocess.run([python, "-m", "pip", "--disable-pip-version-check", "download",
                        "--quiet", "--dest", str(cache), "--require-hashes", "--no-deps",
                        "--prefer-binary", "-r", str(req)], check=True)


def _usable(cache: Path | None) -> Path | None:
    if cache is not None:
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError:
            return None
    return cache


def install_lock(python: str, lock: Path, cache: Path | None, *,
                 work: Path | None = None) -> str:
    """Install exactly the locked packages into ``python``'s environment; return the route
    taken, ``"uv"`` or ``"pip"`` (with why).

    Nothing is resolved (the lock is complete: ``--no-deps``) and every wheel's hash is
    checked (``--require-hashes``). With a wheel cache (:func:`wheel_cache`), wheels it lacks
    are downloaded into it first (``pip download``, only those pins), so the next environment
    is made from local files. Then **uv** (pinned in the lock, unpacked from its hash-checked
    wheel in the cache: :func:`uv_from_cache`) installs the lock from the cache without
    asking the index; uv's own cache (unpacked wheels) is kept in the wheel cache's ``.uv``
    folder, so a second environment links its files instead of unpacking them again
    (:func:`link_mode`). Without a cache, without a usable uv, or when uv fails, **pip**
    installs the lock (:func:`pip_commands`), ``ensurepip`` providing pip first.
    ``work``: the folder under which uv's executable is unpacked for the time of the install
    (default: the system's temporary folder).
    """
    cache = _usable(cache)
    why = "no wheel cache"
    if cache is not None:
        entries = _entries(lock)
        missing = _missing(cache, entries)
        if missing:
            _fill(python, cache, missing)
        if work is not None:
            work.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="kyodo-uv-", dir=work) as tmp:
            dest = Path(tmp)
            uv = uv_from_cache(cache, lock, dest / "uv")
            why = "no usable uv in the wheel cache"
            if uv is not None:
                uv_cache = _usable(cache / ".uv") or dest / "uv-cache"
                cmd = uv_command(uv, python, lock, cache, uv_cache,
                                 link_mode(uv_cache, Path(python).parent))
                try:
                    subprocess.run(cmd, check=True)
                    return "uv"
                except subprocess.CalledProcessError as exc:
                    why = f"uv failed with exit code {exc.returncode}"
                except OSError as exc:
                    why = f"uv failed: {exc}"
    _ensure_pip(python)
    for cmd in pip_commands(python, lock, cache):
        subprocess.run(cmd, check=True)
    return f"pip ({why})"


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
    # the environment is the bundle's own (and installed without compiling ahead): let Python
    # keep the modules it compiles in it, or a PYTHONDONTWRITEBYTECODE meant for the user's
    # own work makes every notebook kernel compile pandas, scipy, ... again from source
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    venv = work / "env"
    exe = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    marker = venv / ".locked"
    lock = root / "environment" / "requirements.lock"
    if not marker.is_file() or marker.read_text() != _sha256(lock):
        t0 = time.perf_counter()
        # without pip: the lock is installed by uv; pip is added only if it is needed
        subprocess.run([sys.executable, "-m", "venv", "--clear", "--without-pip", str(venv)],
                       check=True)
        route = install_lock(str(exe), lock, wheel_cache(), work=work)
        marker.write_text(_sha256(lock))
        print(f"environment: created with {route} in {time.perf_counter() - t0:.1f} s",
              flush=True)
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
    t0 = time.perf_counter()
    print(f"files verified: {verify(root)} in {time.perf_counter() - t0:.1f} s", flush=True)
    python, env = environment(root, args.python)
    cmd = [python, "-m", "kyodo_analysis.cli", "reproduce", str(root), "--python", "current"]
    for opt in ("jobs", "out", "timeout"):
        if getattr(args, opt):
            cmd += [f"--{opt}", str(getattr(args, opt))]
    return subprocess.run(cmd, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
