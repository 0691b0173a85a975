"""`nexara remote …`: get a GPU box ready to run Nexara over SSH.

    nexara remote check HOST      what the host has: Python, nexara (and its version
                                  against this one), ffmpeg, PyAV, TensorFlow, GPUs
    nexara remote install HOST    build this nexara's wheel, upload it over SFTP, pip
                                  install it into ~/.local/share/nexara/venv there
    nexara remote trust HOST      show the host's key fingerprint and save it to known_hosts
    nexara remote probe           (runs on the host; what `check` asks for)

HOST is an ~/.ssh/config alias or user@host[:port].
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from core import __version__
from core.cli import add_common
from core.errors import NexaraError
from core.events import EventType, emit, event, parse_line
from core.host import Host


def register(sub: Any) -> None:
    p = sub.add_parser("remote", help="check, prepare and trust a remote host",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(cmd=sys.modules[__name__])
    acts = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    s = acts.add_parser("check", help="report what the host has and whether versions match")
    s.add_argument("host", metavar="HOST")
    s.add_argument("--remote-nexara", metavar="PATH", help="the nexara executable on HOST")
    s.add_argument("--json", action="store_true")

    s = acts.add_parser("install", help="install this version of nexara into a venv on HOST")
    s.add_argument("host", metavar="HOST")
    s.add_argument("--venv", default="~/.local/share/nexara/venv", metavar="PATH",
                   help="venv on HOST (default ~/.local/share/nexara/venv, where nexara looks)")
    s.add_argument("--python", default="python3", metavar="PY", help="Python on HOST that makes the venv")
    s.add_argument("--system-site-packages", action="store_true",
                   help="let the venv see HOST's packages (e.g. a preinstalled TensorFlow)")
    s.add_argument("--no-deps", action="store_true", help="install nexara only, no dependencies")
    s.add_argument("--extra", metavar="NAME", help="an optional dependency set, e.g. gpu or train")
    s.add_argument("--wheel", metavar="FILE", help="install this wheel instead of building one")
    s.add_argument("--json", action="store_true")

    s = acts.add_parser("trust", help="show HOST's key fingerprint and save it to known_hosts")
    s.add_argument("host", metavar="HOST")
    s.add_argument("--fingerprint", metavar="SHA256:…", help="accept only if the key has this fingerprint")
    s.add_argument("--yes", action="store_true", help="accept without asking")

    s = acts.add_parser("probe", help="(on the host) report Python, nexara, PyAV, TensorFlow, GPUs")
    add_common(s, host=False)


def run(args: argparse.Namespace) -> int:
    return {"check": _check, "install": _install, "trust": _trust, "probe": _probe}[args.action](args)


# ---------------------------------------------------------------- probe (runs on the host)


def probe() -> dict[str, Any]:
    """What this machine offers Nexara. TensorFlow is found, not imported (that takes seconds)."""
    info: dict[str, Any] = {
        "nexara": __version__, "python": platform.python_version(), "executable": sys.executable,
        "ffmpeg": shutil.which("ffmpeg"), "pyav": None, "tensorflow": None, "gpus": [],
    }
    try:
        import av

        info["pyav"] = av.__version__
    except Exception:  # noqa: BLE001 - absent or broken: both mean "no PyAV"
        pass
    if importlib.util.find_spec("tensorflow") is not None:
        from importlib.metadata import PackageNotFoundError, version

        for dist in ("tensorflow", "tensorflow-cpu"):
            try:
                info["tensorflow"] = version(dist)
                break
            except PackageNotFoundError:
                continue
        info["tensorflow"] = info["tensorflow"] or "present"
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=name,memory.total", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20).stdout
            info["gpus"] = [ln.strip() for ln in out.splitlines() if ln.strip()]
        except (OSError, subprocess.TimeoutExpired):
            pass
    return info


def _probe(args: argparse.Namespace) -> int:
    info = probe()
    if args.json:
        emit(event("probe", **info))
    else:
        for k, v in info.items():
            print(f"{k:10} {v}")
    return 0


# ---------------------------------------------------------------- check


def _connect(name: str, remote_nexara: str | None = None) -> Host:
    from core.host import open_host

    host = open_host(name, remote_nexara=remote_nexara)
    host.connect()
    return host


def check(host: Host) -> dict[str, Any]:
    """The host's report plus `local_version` and `version_match` (None if nexara is missing)."""
    rc, out, _ = host.exec_capture("python3 --version 2>&1; true", timeout=30)
    report: dict[str, Any] = {"host": host.name, "python3": out.decode(errors="replace").strip() or None,
                              "local_version": __version__, "installed": False, "remote": None}
    try:
        res = host.run(["remote", "probe", "--json"], timeout=120)
    except NexaraError as exc:
        report["problem"] = exc.message
    else:
        info = next((ev for ev in map(parse_line, res.stdout.splitlines())
                     if ev is not None and ev["type"] == EventType.PROBE), None)
        if info is None:
            # An older or broken nexara: at least ask for its version.
            ver = host.run(["--version"], timeout=60)
            report["installed"] = ver.rc == 0
            report["remote"] = {"nexara": ver.stdout.strip().removeprefix("nexara ") or None}
            if ver.rc != 0:
                report["problem"] = (res.stderr or ver.stderr).strip().splitlines()[-1:] or None
        else:
            report["installed"] = True
            report["remote"] = {k: v for k, v in info.items() if k not in ("v", "type", "t")}
    remote_ver = (report["remote"] or {}).get("nexara")
    report["version_match"] = (remote_ver == __version__) if report["installed"] else None
    return report


def _check(args: argparse.Namespace) -> int:
    host = _connect(args.host, args.remote_nexara)
    try:
        report = check(host)
    finally:
        host.close()
    if args.json:
        emit(event("remote_check", **report))
    else:
        r = report["remote"] or {}
        print(f"host       {report['host']}")
        print(f"python3    {report['python3'] or 'not found'}")
        if not report["installed"]:
            print(f"nexara     NOT INSTALLED ({report.get('problem', '')}); "
                  f"run `nexara remote install {args.host}`")
        else:
            print(f"nexara     {r.get('nexara')} (python {r.get('python', '?')}, {r.get('executable', '?')})")
            print(f"ffmpeg     {r.get('ffmpeg') or 'not on PATH (not needed: PyAV bundles FFmpeg)'}")
            print(f"PyAV       {r.get('pyav') or 'MISSING: scanning will not work'}")
            print(f"TensorFlow {r.get('tensorflow') or 'not installed (only needed for training)'}")
            gpus = r.get("gpus") or []
            print(f"GPUs       {', '.join(gpus) if gpus else 'none found (nvidia-smi)'}")
            if report["version_match"] is False:
                print(f"WARNING: version mismatch: here {__version__}, on {args.host} {r.get('nexara')}; "
                      f"run `nexara remote install {args.host}`")
    if not report["installed"]:
        return 2
    return 0 if report["version_match"] else 1


# ---------------------------------------------------------------- install


def build_wheel(out_dir: Path) -> Path:
    """This source tree as a wheel, built from a copy so the user's tree gets no build/ litter."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise NexaraError(f"{root}: no pyproject.toml here to build a wheel from; pass --wheel FILE")
    src = out_dir / "src"
    src.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("pyproject.toml", "README.md", "LICENSE", "core", "nexara_tui"):
        p = root / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=skip)
        elif p.is_file():
            shutil.copy2(p, src / name)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out_dir), str(src)],
        capture_output=True, text=True)
    wheels = sorted(out_dir.glob("nexara-*.whl"))
    if proc.returncode != 0 or not wheels:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if "error" in ln.lower()]
        raise NexaraError(f"{root}: building the wheel failed ({(lines or ['no wheel produced'])[0]})")
    return wheels[-1]


def _sh(path: str) -> str:
    from core.host.ssh import shell_path

    return shell_path(path)


def install(host: Host, wheel: Path, venv: str = "~/.local/share/nexara/venv", python: str = "python3",
            system_site_packages: bool = False, no_deps: bool = False, extra: str | None = None) -> str:
    """Upload `wheel` and pip install it into `venv` on the host; return the installed version."""
    rc, out, err = host.exec_capture('mkdir -p "$HOME/.local/share/nexara/wheels" && echo "$HOME"', timeout=30)
    if rc != 0:
        raise NexaraError(f"{host.name}: cannot create ~/.local/share/nexara/wheels ({err.decode().strip()})")
    remote_wheel = f".local/share/nexara/wheels/{wheel.name}"  # SFTP paths are relative to $HOME
    host.upload(wheel, remote_wheel)
    target = _sh(f"~/{remote_wheel}") + (shlex.quote(f"[{extra}]") if extra else "")
    venv_q = _sh(venv)
    cmd = (f"{shlex.quote(python)} -m venv {'--system-site-packages ' if system_site_packages else ''}"
           f"{venv_q} && {venv_q}/bin/python -m pip install -q --disable-pip-version-check "
           f"--force-reinstall {'--no-deps ' if no_deps else ''}{target}")
    rc, out, err = host.exec_capture(cmd, timeout=1800)
    if rc != 0:
        tail = (err.decode(errors="replace").strip().splitlines() or ["pip failed"])[-1]
        raise NexaraError(f"{host.name}: pip install into {venv} failed ({tail})")
    # The version as pip recorded it: works even before the dependencies are usable.
    rc, out, err = host.exec_capture(
        f"{venv_q}/bin/python -c 'import importlib.metadata as m; print(m.version(\"nexara\"))'", timeout=60)
    if rc != 0:
        raise NexaraError(f"{host.name}: installed, but {venv}/bin/python cannot see nexara")
    return out.decode().strip()


def _install(args: argparse.Namespace) -> int:
    host = _connect(args.host)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            wheel = Path(args.wheel) if args.wheel else build_wheel(Path(tmp))
            if not wheel.is_file():
                raise NexaraError(f"{wheel}: no such wheel")
            version = install(host, wheel, args.venv, args.python, args.system_site_packages,
                              args.no_deps, args.extra)
    finally:
        host.close()
    if args.json:
        emit(event("remote_install", host=args.host, venv=args.venv, version=version))
    else:
        print(f"installed nexara {version} into {args.venv} on {args.host}")
        if args.venv != "~/.local/share/nexara/venv":
            print(f"tell Nexara where it is: --remote-nexara {args.venv}/bin/nexara, or in "
                  f"~/.config/nexara/config.toml:\n  [hosts.{args.host}]\n"
                  f"  remote_nexara = \"{args.venv}/bin/nexara\"")
    if version != __version__:
        print(f"WARNING: installed {version}, but this nexara is {__version__}", file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------- trust


def _trust(args: argparse.Namespace) -> int:
    from core.host import open_host
    from core.host.ssh import UnknownHostKey

    host = open_host(args.host)
    try:
        try:
            host.connect()
        except UnknownHostKey as exc:
            print(f"{exc.host_id} offers {exc.key_type} key {exc.fingerprint}")
            if args.fingerprint:
                ok = args.fingerprint == exc.fingerprint
                if not ok:
                    raise NexaraError(f"{exc.host_id}: key is {exc.fingerprint}, not {args.fingerprint}; "
                                      f"not saved") from None
            elif args.yes:
                ok = True
            elif sys.stdin.isatty():
                ok = input("Trust this key and save it to known_hosts? [y/N] ").strip().lower() == "y"
            else:
                raise NexaraError(f"{exc.host_id}: not saved (no terminal to ask; pass --yes or "
                                  f"--fingerprint {exc.fingerprint})") from None
            if not ok:
                print("not saved")
                return 1
            exc.accept()
            print(f"saved to {exc.known_hosts}")
            return 0
        print(f"{args.host}: host key already trusted")
        return 0
    finally:
        host.close()
