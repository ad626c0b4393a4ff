"""Container engine, base image and iofs image for the container tests.

Used by tests/container/conftest.py (a session fixture) and by
scripts/container-test (``python tests/container/containerlib.py prepare``).

- Engine: docker if a docker engine is *running* (``docker info`` succeeds),
  else rootful podman with runc, installed with apt-get if missing, configured
  by containers/containers.conf through CONTAINERS_CONF.
- Base image: Debian bookworm made with ``debootstrap --variant=minbase`` from
  the Debian mirror in the machine's apt sources, imported into the engine.
  Unless IOFS_BASE_IMAGE names one to use instead.
- iofs image: the top-level Dockerfile built with BASE_IMAGE set to it, from a
  private copy of the build context that carries wheels made here with
  ``pip wheel`` (no HTTPS needed in the build) and the host's extra CA
  certificates.

Everything is cached and keyed on what made it: the base tarball in the cache
directory and the images in the engine's storage, tagged with a hash of their
inputs, so a second run builds nothing.

Environment: IOFS_CONTAINER_ENGINE (podman|docker), IOFS_BASE_IMAGE,
IOFS_CONTAINER_CACHE (default /var/cache/iofs-containers as root,
~/.cache/iofs-containers otherwise), IOFS_DEBIAN_MIRROR.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = REPO / "containers" / "containers.conf"
SUITE = "bookworm"
SUITE_PYTHON = {"bookworm": (3, 11)}  # the python3 of the image's Debian release
LABEL = "iofs-test"  # every test container carries this label
BASE_REPO = "localhost/iofs-base"
IMAGE_REPO = "localhost/iofs-test"
# Bump when the way the base tarball or the image context is made changes.
RECIPE = "2"


class Unavailable(Exception):
    """No container engine can be installed or used here: the tests skip."""


def log(msg: str) -> None:
    print(f"container-test: {msg}", file=sys.stderr, flush=True)


def _run(cmd, *, timeout, env=None, check=True, capture=True, **kw):
    return subprocess.run(
        cmd, timeout=timeout, env=env, check=check, text=True,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.STDOUT if capture else None, **kw)


def _tail(text: str | None, n: int = 25) -> str:
    return "\n".join((text or "").strip().splitlines()[-n:])


def cache_dir() -> Path:
    d = os.environ.get("IOFS_CONTAINER_CACHE")
    if d:
        p = Path(d)
    elif os.geteuid() == 0:
        p = Path("/var/cache/iofs-containers")
    else:
        p = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "iofs-containers"
    p.mkdir(parents=True, exist_ok=True)
    return p


@contextlib.contextmanager
def cache_lock():
    """One builder at a time (two pytest runs may start together)."""
    with open(cache_dir() / "lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------- engine

@dataclass
class Engine:
    name: str                      # "podman" or "docker"
    env: dict = field(default_factory=lambda: dict(os.environ))

    def cmd(self, *args) -> list[str]:
        return [self.name, *args]

    def run(self, *args, timeout=120, check=True, capture=True, **kw):
        return _run(self.cmd(*args), timeout=timeout, env=self.env, check=check,
                    capture=capture, **kw)

    def image_id(self, ref: str) -> str | None:
        r = self.run("image", "inspect", "--format", "{{.Id}}", ref, check=False, timeout=60)
        return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else None

    def remove_test_containers(self) -> None:
        """Remove containers left by an earlier, killed test run."""
        r = self.run("ps", "-aq", "--filter", f"label={LABEL}", check=False, timeout=60)
        ids = r.stdout.split() if r.returncode == 0 else []
        if ids:
            self.run("rm", "-f", *ids, check=False, timeout=120)


def _can_install() -> list[str] | None:
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n"]
    return None


def apt_install(pkgs: list[str]) -> None:
    missing = [p for p in pkgs if subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True
    ).stdout.strip() != "install ok installed"]
    if not missing:
        return
    prefix = _can_install()
    if prefix is None:
        raise Unavailable(f"{' '.join(missing)} not installed, and installing needs root or sudo")
    if not shutil.which("apt-get"):
        raise Unavailable(f"{' '.join(missing)} not installed and there is no apt-get")
    log(f"installing {' '.join(missing)} (apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = prefix + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]
    r = _run(cmd, timeout=600, env=env, check=False)
    if r.returncode != 0:  # stale or missing package lists: update once, try again
        _run(prefix + ["apt-get", "update", "-qq"], timeout=300, env=env, check=False)
        r = _run(cmd, timeout=600, env=env, check=False)
    if r.returncode != 0:
        raise Unavailable(f"apt-get install {' '.join(missing)} failed: {_tail(r.stdout, 3)}")


def _docker_running() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except (subprocess.TimeoutExpired, OSError):
        return False


def find_engine() -> Engine:
    """The engine to use, installing podman if needed; Unavailable if none can be had."""
    want = os.environ.get("IOFS_CONTAINER_ENGINE", "")
    if want not in ("", "podman", "docker"):
        raise Unavailable(f"IOFS_CONTAINER_ENGINE={want!r}: only podman or docker")
    if want == "docker" or (not want and _docker_running()):
        if not _docker_running():
            raise Unavailable("IOFS_CONTAINER_ENGINE=docker but `docker info` fails (no engine running)")
        eng = Engine("docker")
    else:
        if sys.platform != "linux":
            raise Unavailable("container tests need Linux")
        # runc, not crun: crun fails on kernels with mixed cgroup v1/v2 hierarchies.
        # (and debootstrap now, in the same apt-get call, when the base image will need it)
        apt_install(["podman", "runc"] + ([] if os.environ.get("IOFS_BASE_IMAGE") else ["debootstrap"]))
        if os.geteuid() != 0:
            raise Unavailable("the container tests use rootful podman and need root")
        eng = Engine("podman", env=dict(os.environ, CONTAINERS_CONF=str(CONTAINERS_CONF)))
    try:
        r = eng.run("info", timeout=120, check=False)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"`{eng.name} info` timed out") from None
    if r.returncode != 0:
        raise Unavailable(f"`{eng.name} info` fails: {_tail(r.stdout, 3)}")
    return eng


# ---------------------------------------------------------------- base image

def debian_mirror() -> str:
    """The Debian mirror of the machine's apt sources (deb822 or one-line format)."""
    if os.environ.get("IOFS_DEBIAN_MIRROR"):
        return os.environ["IOFS_DEBIAN_MIRROR"]
    entries: list[tuple[list[str], list[str]]] = []  # (uris, suites)
    files = sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
    for f in files:
        for stanza in re.split(r"\n\s*\n", f.read_text(errors="replace")):
            fields = {}
            for line in stanza.splitlines():
                m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
                if m:
                    fields[m.group(1).lower()] = m.group(2).split()
            if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"])[0] != "no":
                entries.append((fields.get("uris", []), fields.get("suites", [])))
    for f in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.list"))]:
        if f.is_file():
            for line in f.read_text(errors="replace").splitlines():
                m = re.match(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
                if m:
                    entries.append(([m.group(1)], [m.group(2)]))
    # A mirror that serves the suite itself (not -security, not -updates) ...
    for uris, suites in entries:
        if SUITE in suites:
            return uris[0].rstrip("/")
    # ... else any Debian archive the machine uses.
    for uris, suites in entries:
        for u in uris:
            if u.rstrip("/").endswith("/debian"):
                return u.rstrip("/")
    raise Unavailable("no Debian mirror in the apt sources (set IOFS_DEBIAN_MIRROR)")


def _debootstrap_version() -> str:
    return subprocess.run(["dpkg-query", "-W", "-f=${Version}", "debootstrap"],
                          capture_output=True, text=True).stdout.strip()


def base_image(eng: Engine) -> str:
    """A Debian bookworm image in the engine: IOFS_BASE_IMAGE, or made with debootstrap."""
    if os.environ.get("IOFS_BASE_IMAGE"):
        return os.environ["IOFS_BASE_IMAGE"]
    apt_install(["debootstrap"])
    if os.geteuid() != 0:
        raise Unavailable("debootstrap needs root (or set IOFS_BASE_IMAGE)")
    inputs = {"suite": SUITE, "variant": "minbase", "mirror": debian_mirror(),
              "arch": subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                                     text=True).stdout.strip(),
              "debootstrap": _debootstrap_version(), "recipe": RECIPE}
    key = _sha(inputs)[:16]
    tag = f"{BASE_REPO}:{SUITE}-{key}"
    if eng.image_id(tag):
        return tag
    cache = cache_dir()
    tarball = cache / f"base-{SUITE}-{key}.tar"
    if not tarball.exists():
        for old in cache.glob(f"base-{SUITE}-*.tar"):  # made from other inputs
            old.unlink()
        t0 = time.monotonic()
        log(f"debootstrap --variant=minbase {SUITE} from {inputs['mirror']} (about a minute)")
        with tempfile.TemporaryDirectory(dir=cache, prefix="debootstrap-") as tmp:
            root = Path(tmp) / "root"
            r = _run(["debootstrap", "--variant=minbase", SUITE, str(root), inputs["mirror"]],
                     timeout=900, check=False)
            if r.returncode != 0:
                raise RuntimeError(f"debootstrap failed:\n{_tail(r.stdout)}")
            # What apt downloaded and its lists: the image build runs apt-get update itself.
            for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for p in (root / sub).glob("*"):
                    if p.is_file():
                        p.unlink()
            partial = tarball.with_suffix(".partial")
            _run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(partial), "."],
                 timeout=600)
            partial.rename(tarball)
        log(f"base tarball made in {time.monotonic() - t0:.0f} s: {tarball}")
    log(f"importing {tarball.name} as {tag}")
    r = eng.run("import", str(tarball), tag, timeout=600, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"{eng.name} import failed:\n{_tail(r.stdout)}")
    return tag


# ---------------------------------------------------------------- iofs image

def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def wheelhouse() -> Path | None:
    """Wheels of iofs's dependencies (and its build backend), made here with pip wheel.

    Only when this Python is the image's (the compiled pyfuse3 wheel must fit);
    None otherwise, and the image build then uses the package index.
    """
    if sys.version_info[:2] != SUITE_PYTHON[SUITE]:
        log(f"python {platform.python_version()} is not {SUITE}'s: no wheels, the build uses the index")
        return None
    pp = _pyproject()
    reqs = sorted(pp["project"].get("dependencies", []) + pp["build-system"].get("requires", [])
                  + ["wheel"])
    key = _sha({"reqs": reqs, "python": sys.version_info[:2], "machine": platform.machine(),
                "recipe": RECIPE})[:16]
    d = cache_dir() / f"wheels-{key}"
    if (d / ".complete").exists():
        return d
    for old in cache_dir().glob("wheels-*"):
        shutil.rmtree(old, ignore_errors=True)
    log(f"pip wheel {' '.join(reqs)}")
    tmp = Path(tempfile.mkdtemp(dir=cache_dir(), prefix="wheels-tmp-"))
    r = _run([sys.executable, "-m", "pip", "wheel", "-q", "-w", str(tmp), *reqs],
             timeout=600, check=False)
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        log(f"pip wheel failed, the build uses the index instead:\n{_tail(r.stdout, 5)}")
        return None
    (tmp / ".complete").touch()
    tmp.rename(d)
    return d


def _stage_context(dest: Path, wheels: Path | None) -> None:
    """The build context: what .dockerignore lets through, plus wheels and CA certificates."""
    for name in ("Dockerfile", ".dockerignore", "pyproject.toml"):
        shutil.copy2(REPO / name, dest / name)
    readme = REPO / "README.md"
    if readme.exists():
        shutil.copy2(readme, dest / "README.md")
    else:  # pyproject.toml names it; an empty one builds the same package
        (dest / "README.md").write_text("# iofs\n")
    shutil.copytree(REPO / "iofs", dest / "iofs",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    w = dest / "containers" / "wheels"
    c = dest / "containers" / "ca-certificates"
    w.mkdir(parents=True)
    c.mkdir(parents=True)
    if wheels:
        for f in sorted(wheels.glob("*.whl")):
            shutil.copy2(f, w / f.name)
    # Extra CAs (an intercepting HTTPS proxy), from the standard Debian location.
    ca_root = Path("/usr/local/share/ca-certificates")
    if ca_root.is_dir():
        for f in sorted(ca_root.rglob("*.crt")):
            shutil.copy2(f, c / f.name)


def _tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def iofs_image(eng: Engine, base: str) -> str:
    """The iofs image built from the Dockerfile on ``base``; reused while its inputs are unchanged."""
    base_id = eng.image_id(base)
    if not base_id:
        raise RuntimeError(f"base image {base} is not in {eng.name}")
    wheels = wheelhouse()
    with tempfile.TemporaryDirectory(dir=cache_dir(), prefix="context-") as ctx:
        ctx = Path(ctx)
        _stage_context(ctx, wheels)
        key = _sha({"context": _tree_hash(ctx), "base": base_id, "engine": eng.name})[:16]
        tag = f"{IMAGE_REPO}:{key}"
        if eng.image_id(tag):
            return tag
        t0 = time.monotonic()
        log(f"building {tag} on {base} ({'wheels from the host' if wheels else 'package index'})")
        logfile = cache_dir() / "build.log"
        with open(logfile, "w") as lf:
            r = subprocess.run(eng.cmd("build", "--build-arg", f"BASE_IMAGE={base}",
                                       "--label", f"{LABEL}.key={key}", "-t", tag, str(ctx)),
                               env=eng.env, stdout=lf, stderr=subprocess.STDOUT, timeout=900)
        if r.returncode != 0:
            raise RuntimeError(f"{eng.name} build failed (log: {logfile}):\n"
                               f"{_tail(logfile.read_text(errors='replace'))}")
        log(f"built {tag} in {time.monotonic() - t0:.0f} s")
    # Drop images of earlier inputs; layers still in use stay as build cache.
    r = eng.run("images", "--format", "{{.Repository}}:{{.Tag}}", check=False, timeout=60)
    for ref in r.stdout.split():
        if ref.startswith(IMAGE_REPO + ":") and ref != tag:
            eng.run("rmi", ref, check=False, timeout=120)
    if eng.name == "podman":  # and the untagged intermediate images they leave behind
        eng.run("image", "prune", "-f", check=False, timeout=300)
    return tag


@dataclass
class Setup:
    engine: Engine
    base: str
    image: str


def prepare() -> Setup:
    """Engine, base image and iofs image, built or taken from the cache.

    Raises Unavailable when no engine can be had (the tests skip), anything
    else when a build fails (the tests error).
    """
    eng = find_engine()
    with cache_lock():
        eng.remove_test_containers()
        base = base_image(eng)
        image = iofs_image(eng, base)
    return Setup(eng, base, image)


def main(argv: list[str]) -> int:
    if argv[1:] != ["prepare"]:
        print(f"usage: {argv[0]} prepare", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    try:
        s = prepare()
    except Unavailable as e:
        log(f"no container engine: {e} (the container tests will be skipped)")
        return 0
    log(f"ready in {time.monotonic() - t0:.0f} s: engine {s.engine.name}, base {s.base}, image {s.image}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
