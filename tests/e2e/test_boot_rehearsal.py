"""Boot rehearsals: towergen's own user-data parts, as rendered, run on this machine where it can
run them, each in a throw-away Linux namespace so that nothing outside it changes.

- the Fusion storage step on loop devices standing in for NVMe instance-store disks (mount
  namespace: /dev/disk/by-id, /scratch, /etc/sysctl.d, /proc/sys/vm and /var/lib/towergen are
  private tmpfs copies, so the kernel settings and folders of this machine stay as they are);
- the IMDSv2 helper against a small IMDSv2-only metadata server at 169.254.169.254 inside a
  network namespace that has nothing but a loopback interface;
- the download check accepting the pinned bytes and refusing tampered ones, and a tampered
  download failing its whole step and making 90-start-ecs.sh shut the instance down (which the
  launch template turns into a termination: instance_initiated_shutdown_behavior);
- the task-side AWS CLI step (30-aws-cli.sh) installing a real PyInstaller one-folder build laid
  out as AWS CLI v2's zip, and its cliPath running from a root file system without zlib (Debian's
  busybox-static and libc6, chroot), where the bare binary fails as biocontainers do.

What only AWS can show: real NVMe instance-store disks and udev's names for them, dnf and its
signature checks, the real download hosts, amazon-ebs-autoscale creating and attaching volumes,
the ECS agent joining the cluster, FSx mounts, the real AWS CLI in a real task container, and an
instance really terminated. Needs root, util-linux (unshare, losetup), lvm2, xfsprogs and
busybox-static, and PyInstaller in .venv-rehearsal (see .ci/run).
"""

from __future__ import annotations

import hashlib
import http.server
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import towergen
from conftest import EXAMPLES, SAMPLE_FSX, parts, user_data

pytestmark = pytest.mark.rehearsal

# Folders the rehearsal mounts over inside its namespace; created empty when missing, removed after.
MOUNT_POINTS = ("/dev/disk", "/scratch", "/var/lib/towergen", "/etc/sysctl.d", "/opt/aws-cli")


@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> dict[tuple[str, str], str]:
    tmp = tmp_path_factory.mktemp("rehearsal")
    out = tmp / "infra"
    # the legacy EBS autoscale scratch: no shipped example uses it (it warns), so one file here does
    autoscale = tmp / "ebs-autoscale.yaml"
    autoscale.write_text("version: 1\nname: ebs-autoscale\nregion: eu-west-1\nwork_dir: s3://ebs-autoscale-boot/work\n"
                         "compute:\n  ebs_autoscale: {mount_path: /scratch, initial_size_gib: 500, max_size_gib: 4000}\n")
    towergen.render([*EXAMPLES, autoscale], out)
    found = {}
    for path in out.glob("*/user-data.tftpl"):
        for filename, _, script in parts(user_data(path.read_text(), SAMPLE_FSX)):
            found[(path.parent.name, filename)] = script
    return found


@pytest.fixture(scope="module")
def sandbox_ready():
    assert os.geteuid() == 0, "the boot rehearsal needs root (namespaces, loop devices)"
    for tool in ("unshare", "losetup", "mkfs.xfs", "pvcreate", "sysctl", "curl", "openssl"):
        assert shutil.which(tool), f"{tool} is missing (apt-get install -y lvm2 xfsprogs curl openssl)"
    created = []
    for folder in MOUNT_POINTS:
        if not os.path.isdir(folder):
            os.makedirs(folder)
            created.append(folder)
    yield
    for folder in reversed(created):
        os.rmdir(folder)


def stubs(tmp_path: Path, extra: dict[str, str] | None = None) -> Path:
    """Commands the instance has but this machine must not run for real: dnf (package installs
    are Amazon Linux's), logger (the console), systemctl and shutdown (recorded instead)."""
    folder = tmp_path / "stubs"
    folder.mkdir(exist_ok=True)
    log = tmp_path / "calls.log"
    commands = {
        "dnf": f'echo "dnf $*" >>{log}',
        "logger": "cat",
        "systemctl": f'echo "systemctl $*" >>{log}',
        "shutdown": f'echo "shutdown $*" >>{log}',
        **(extra or {}),
    }
    for name, body in commands.items():
        path = folder / name
        path.write_text(f"#!/bin/bash\n{body}\n")
        path.chmod(0o755)
    return folder


def in_namespace(tmp_path: Path, setup: str, run: str, *, net: bool = False, env: dict | None = None):
    """Run ``setup`` then ``run`` in new mount (and network) namespaces; setup failing stops
    everything before the part runs."""
    wrapper = tmp_path / "wrapper.sh"
    wrapper.write_text("set -euo pipefail\n" + setup + "\nset +e\n" + run + "\n")
    flags = ["-m", "--propagation", "private"] + (["-n"] if net else [])
    return subprocess.run(
        ["unshare", *flags, "bash", str(wrapper)], capture_output=True, text=True, timeout=180,
        env={**os.environ, **(env or {})},
    )


PRIVATE = """
for d in /scratch /var/lib/towergen /etc/sysctl.d; do mount -t tmpfs tmpfs "$d"; done
mount -t tmpfs tmpfs /proc/sys/vm
[ "$(stat -f -c %T /proc/sys/vm)" = tmpfs ]   # never touch this machine's kernel settings
echo 0 >/proc/sys/vm/dirty_bytes
echo 0 >/proc/sys/vm/dirty_background_bytes
mount -t tmpfs tmpfs /dev/disk
mkdir /dev/disk/by-id
"""

REPORT = """
echo "rc=$rc"
echo "mount=$(findmnt -n -o SOURCE,FSTYPE /scratch/fusion || echo none)"
echo "mode=$(stat -c %a /scratch/fusion)"
echo "dirty=$(cat /proc/sys/vm/dirty_bytes) $(cat /proc/sys/vm/dirty_background_bytes)"
echo "failed=$(cat /var/lib/towergen/failed 2>/dev/null)"
"""


class Loops:
    """Sparse files attached as loop devices: stand-ins for NVMe instance-store disks."""

    def __init__(self, tmp_path: Path, count: int):
        self.devices: list[str] = []
        for i in range(count):
            image = tmp_path / f"nvme{i}.img"
            with open(image, "wb") as fh:
                fh.truncate(400 * 1024 * 1024)  # xfs needs 300 MB at least
            self.devices.append(subprocess.check_output(["losetup", "-f", "--show", str(image)], text=True).strip())

    def links(self) -> str:
        """udev's by-id names on EC2: one per instance-store disk (and a second, namespace-suffixed
        one), plus names that must not be taken: a partition and an EBS volume."""
        lines = []
        for i, dev in enumerate(self.devices):
            base = f"/dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_AWS{i:04d}"
            lines += [f"ln -s {dev} {base}", f"ln -s {dev} {base}_1"]
        lines += [
            "ln -s /dev/null /dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_AWS9999-part1",
            "ln -s /dev/null /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0",
        ]
        return "\n".join(lines)

    def close(self) -> None:
        for dev in self.devices:
            subprocess.run(["losetup", "-d", dev], check=False)


def rehearse_fusion(scripts, tmp_path: Path, disks: int, env: dict | None = None):
    script = tmp_path / "20-fusion-storage.sh"
    script.write_text(scripts[("spot-eu-west-1", "20-fusion-storage.sh")])
    loops = Loops(tmp_path, disks)
    try:
        run = f"PATH={stubs(tmp_path)}:$PATH bash {script}; rc=$?\n" + REPORT
        result = in_namespace(tmp_path, PRIVATE + loops.links(), run, env=env)
    finally:
        loops.close()
    assert "rc=" in result.stdout, result.stdout + result.stderr
    report = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line and line.split("=")[0] in
                  ("rc", "mount", "mode", "dirty", "failed"))
    return report, loops.devices, result


def test_fusion_one_nvme_disk_becomes_xfs_at_scratch_fusion(scripts, sandbox_ready, tmp_path):
    report, devices, result = rehearse_fusion(scripts, tmp_path, 1)
    assert report["rc"] == "0", result.stdout + result.stderr
    assert report["mount"].split() == [devices[0], "xfs"]
    assert report["mode"] == "1777" and report["failed"] == ""
    assert report["dirty"] == "1258291200 629145600"
    assert "1 NVMe instance-store disk(s)" in result.stdout


def test_fusion_without_nvme_keeps_the_cache_on_the_boot_disk(scripts, sandbox_ready, tmp_path):
    report, _, result = rehearse_fusion(scripts, tmp_path, 0)
    assert report["rc"] == "0", result.stdout + result.stderr
    assert report["mount"] == "none" and report["mode"] == "1777"
    assert report["dirty"] == "1258291200 629145600"


def _device_mapper() -> bool:
    try:
        return "device-mapper" in Path("/proc/misc").read_text()
    except OSError:
        return False


@pytest.mark.xfail(not _device_mapper(), strict=True,
                   reason="this kernel has no device-mapper, so no LVM stripe can be built here (EC2's kernels have it)")
def test_fusion_several_nvme_disks_become_an_lvm_stripe(scripts, sandbox_ready, tmp_path):
    lvm_dir = tmp_path / "lvm"  # LVM's metadata archive and backups go here, not to /etc/lvm
    lvm_dir.mkdir()
    env = {"LVM_SYSTEM_DIR": str(lvm_dir), "DM_DISABLE_UDEV": "1", "LVM_SUPPRESS_FD_WARNINGS": "1"}
    had_mapper = os.path.exists("/dev/mapper")
    try:
        report, _, result = rehearse_fusion(scripts, tmp_path, 2, env)
    finally:
        subprocess.run(["vgremove", "-f", "fusion"], env={**os.environ, **env}, capture_output=True)
        if not had_mapper and os.path.isdir("/dev/mapper"):
            shutil.rmtree("/dev/mapper", ignore_errors=True)
    assert "2 NVMe instance-store disk(s)" in result.stdout
    assert report["rc"] == "0", result.stdout + result.stderr
    assert report["mount"].split()[1] == "xfs" and "fusion" in report["mount"]


# --- IMDSv2 ----------------------------------------------------------------------------------------

IMDS_SERVER = r'''
import http.server, sys
TOKEN = "rehearsal-token"
class Imds(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):
        if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            self._send(200, TOKEN)
        else:
            self._send(400, "")
    def do_GET(self):
        if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
            self._send(401, "")  # IMDSv2 only: no token, no answer
        elif self.path == "/latest/meta-data/placement/availability-zone":
            self._send(200, "eu-west-1b")
        else:
            self._send(404, "")
    def _send(self, code, body):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())
    def log_message(self, *args):
        pass
http.server.HTTPServer(("169.254.169.254", 80), Imds).serve_forever()
'''


def function_text(script: str, name: str) -> str:
    start = script.index(f"{name}() {{")
    return script[start : script.index("\n}\n", start) + 3]


def test_imds_helper_speaks_imdsv2(scripts, sandbox_ready, tmp_path):
    step = scripts[("ebs-autoscale", "20-ebs-autoscale.sh")]
    server = tmp_path / "imds.py"
    server.write_text(IMDS_SERVER)
    setup = f"""
ip link set lo up
ip addr add 169.254.169.254/32 dev lo
python3 {server} &
for _ in $(seq 50); do curl -s -o /dev/null http://169.254.169.254/ && break; sleep 0.1; done
"""
    run = function_text(step, "imds") + """
echo "zone=$(imds placement/availability-zone)"
echo "tokenless=$(curl -s -o /dev/null -w '%{http_code}' http://169.254.169.254/latest/meta-data/placement/availability-zone)"
kill %1
"""
    result = in_namespace(tmp_path, setup, run, net=True)
    assert "zone=eu-west-1b" in result.stdout, result.stdout + result.stderr
    assert "tokenless=401" in result.stdout  # what v2.4.7's helper got: the server answers nothing


# --- verification ----------------------------------------------------------------------------------


@pytest.fixture
def https_server(tmp_path):
    """A local HTTPS server (self-signed certificate, trusted only through CURL_CA_BUNDLE)."""
    root = tmp_path / "www"
    root.mkdir()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a: None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"https://127.0.0.1:{server.server_address[1]}", cert
    server.shutdown()


def test_fetch_keeps_pinned_bytes_and_refuses_tampered_ones(scripts, https_server, tmp_path):
    root, base, cert = https_server
    step = scripts[("minimal", "30-aws-cli.sh")]
    good = b"the pinned artifact\n"
    (root / "good.bin").write_bytes(good)
    (root / "bad.bin").write_bytes(good.replace(b"pinned", b"swapped"))
    sha = hashlib.sha256(good).hexdigest()
    script = tmp_path / "fetch.sh"
    script.write_text(
        "set -euo pipefail\n" + function_text(step, "fetch")
        + f'fetch {base}/good.bin {sha} "{tmp_path}/out/good.bin"\necho fetched-good\n'
        + f'fetch {base}/bad.bin {sha} "{tmp_path}/out/bad.bin"\necho fetched-bad\n'
    )
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "CURL_CA_BUNDLE": str(cert)})
    assert result.returncode == 1 and "fetched-good" in result.stdout and "fetched-bad" not in result.stdout
    assert (tmp_path / "out" / "good.bin").read_bytes() == good
    assert not (tmp_path / "out" / "bad.bin").exists() and not (tmp_path / "out" / "bad.bin.part").exists()
    assert "is not the pinned file" in result.stdout and sha in result.stdout


def test_tampered_download_marks_the_instance_unfit(scripts, sandbox_ready, tmp_path):
    """The whole AWS CLI step, as rendered, with every download answered by other bytes: the step
    fails before anything is unpacked, and 90-start-ecs.sh shuts the instance down."""
    step = tmp_path / "30-aws-cli.sh"
    step.write_text(scripts[("minimal", "30-aws-cli.sh")])
    start = tmp_path / "90-start-ecs.sh"
    start.write_text(scripts[("minimal", "90-start-ecs.sh")])
    # curl answers every download with bytes that are not the pinned zip
    fake_curl = 'while [ $# -gt 0 ]; do if [ "$1" = -o ]; then printf "not the AWS CLI" >"$2"; shift; fi; shift; done'
    folder = stubs(tmp_path, {"curl": fake_curl, "unzip": 'echo "unzip ran" >>' + str(tmp_path / "calls.log")})
    run = f"""
PATH={folder}:$PATH bash {step}; echo "step=$?"
PATH={folder}:$PATH bash {start}; echo "start=$?"
echo "failed=$(cat /var/lib/towergen/failed)"
"""
    result = in_namespace(tmp_path, PRIVATE, run)
    assert "step=1" in result.stdout and "start=1" in result.stdout, result.stdout + result.stderr
    assert f"failed={step}" in result.stdout
    assert "is not the pinned file" in result.stdout
    calls = (tmp_path / "calls.log").read_text()
    assert "unzip ran" not in calls and "shutdown -h now" in calls and "systemctl disable --now ecs" in calls
    assert "systemctl enable" not in calls


def test_unknown_architecture_marks_the_instance_unfit(scripts, sandbox_ready, tmp_path):
    step = tmp_path / "30-aws-cli.sh"
    step.write_text(scripts[("minimal", "30-aws-cli.sh")])
    folder = stubs(tmp_path, {"uname": "echo riscv64"})
    run = f'PATH={folder}:$PATH bash {step}; echo "step=$?"\necho "failed=$(cat /var/lib/towergen/failed)"\n'
    result = in_namespace(tmp_path, PRIVATE, run)
    assert "step=1" in result.stdout and f"failed={step}" in result.stdout, result.stdout + result.stderr
    assert "no pinned AWS CLI for riscv64" in result.stdout


# --- the AWS CLI tasks use, from a root file system without zlib -------------------------------------
#
# AWS CLI v2 cannot be downloaded here (awscli.amazonaws.com is out of reach). It is a PyInstaller
# one-folder build, and what fails in a busybox + glibc container is PyInstaller's bootloader, which
# links libz.so.1 dynamically. So the rehearsal builds a small program the same way (PyInstaller
# 6.22.3 from PyPI, its Linux bootloader as shipped), packs it as AWS's zip is packed (aws/install,
# aws/dist/), and runs the rendered 30-aws-cli.sh with that zip in place of the pinned one (the same
# script, only the checksum swapped for the stand-in's). Then, in a root file system assembled from
# Debian's busybox-static and libc6 (no zlib), with the installed tree bind-mounted read-only at the
# same path (as Nextflow mounts the grandparent of cliPath), it shows: the bare binary fails with
# "error while loading shared libraries: libz.so.1" (exit 127), and cliPath runs.
#
# What this does not show: the real AWS CLI 2.23.6 (its own bootloader build, its Python extensions)
# in a real biocontainer under ECS; Amazon Linux 2023's libz.so.1 in place of Debian's.

REHEARSAL_VENV = Path(__file__).resolve().parent.parent.parent / ".venv-rehearsal" / "bin"

STAND_IN_PROGRAM = r'''
import gzip, sys, zlib
if sys.argv[1:] == ["--version"]:
    print("aws-cli/2.23.6 Python/3 Linux (towergen rehearsal stand-in)")
    sys.exit(0)
data = b"towergen " * 64
assert gzip.decompress(gzip.compress(data)) == data
print("stand-in aws", " ".join(sys.argv[1:]), "crc32", zlib.crc32(data))
'''

# The layout AWS's installer makes (aws/aws-cli exe/assets/install): the dist folder copied to
# <install-dir>/v2/<version>/dist, <install-dir>/v2/current linked to <install-dir>/v2/<version>,
# and symlinks in --bin-dir.
STAND_IN_INSTALLER = r'''#!/bin/sh
set -e
while [ $# -gt 0 ]; do
  case "$1" in
    --install-dir) root=$2; shift ;;
    --bin-dir) bin=$2; shift ;;
    --update) ;;
  esac
  shift
done
here=$(cd "$(dirname "$0")" && pwd)
version=$("$here/dist/aws" --version | cut -d ' ' -f 1 | cut -d '/' -f 2)
mkdir -p "$root/v2/$version/bin" "$bin"
cp -r "$here/dist" "$root/v2/$version/dist"
ln -s ../dist/aws "$root/v2/$version/bin/aws"
ln -snf "$root/v2/$version" "$root/v2/current"
ln -sf "$root/v2/current/bin/aws" "$bin/aws"
'''


@pytest.fixture(scope="module")
def aws_cli_stand_in(tmp_path_factory) -> Path:
    """A zip laid out as AWS's (aws/install, aws/dist/aws), its program a real PyInstaller build."""
    pyinstaller = shutil.which("pyinstaller") or str(REHEARSAL_VENV / "pyinstaller")
    assert Path(pyinstaller).exists(), "pyinstaller is missing: python3 -m venv .venv-rehearsal && .venv-rehearsal/bin/pip install -r tests/e2e/requirements-rehearsal.txt"
    work = tmp_path_factory.mktemp("pyinstaller")
    (work / "aws.py").write_text(STAND_IN_PROGRAM)
    subprocess.run([pyinstaller, "--onedir", "--noconfirm", "--log-level", "WARN", "--name", "aws", "--distpath", str(work / "dist"),
                    "--workpath", str(work / "build"), "--specpath", str(work / "build"), str(work / "aws.py")],
                   check=True, capture_output=True, timeout=300)
    needed = subprocess.run(["readelf", "-d", str(work / "dist" / "aws" / "aws")], capture_output=True, text=True, check=True).stdout
    assert "[libz.so.1]" in needed, "PyInstaller's bootloader should link libz.so.1 dynamically, as AWS CLI v2's does"
    import zipfile

    archive = work / "awscliv2.zip"
    with zipfile.ZipFile(archive, "w") as z:
        def add(path: Path, name: str) -> None:
            info = zipfile.ZipInfo(name)
            info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
            z.writestr(info, path.read_bytes())
        installer = work / "install"
        installer.write_text(STAND_IN_INSTALLER)
        installer.chmod(0o755)
        add(installer, "aws/install")
        for path in sorted((work / "dist" / "aws").rglob("*")):
            if path.is_file():
                add(path, "aws/dist/" + str(path.relative_to(work / "dist" / "aws")))
    return archive


def zlibless_root(folder: Path) -> Path:
    """A root file system from Debian's busybox-static and libc6 packages: a shell, glibc, no zlib
    (what an nf-core biocontainer's base image is)."""
    files = subprocess.run(["dpkg", "-L", "libc6", "busybox-static"], capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        src = Path(name)
        if src.is_dir() or not (src.is_file() or src.is_symlink()):
            continue
        if ".so" in src.name or src.name.startswith("ld-linux") or src.name == "busybox":
            dest = folder / name.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest, follow_symlinks=False)
    (folder / "bin").mkdir(exist_ok=True)
    if not (folder / "bin" / "busybox").exists():
        shutil.copy2(shutil.which("busybox"), folder / "bin" / "busybox")
    (folder / "bin" / "sh").symlink_to("busybox")
    (folder / "opt" / "aws-cli").mkdir(parents=True)
    # Debian's merged /usr: /lib64/ld-linux-x86-64.so.2 points into /lib, which must resolve here too
    assert not list(folder.rglob("libz.so*")), "the root must have no zlib"
    return folder


def test_task_side_aws_cli_runs_in_a_container_without_zlib(scripts, sandbox_ready, aws_cli_stand_in, tmp_path):
    assert shutil.which("busybox") and shutil.which("chroot"), "busybox-static is missing (apt-get install -y busybox-static)"
    archive = aws_cli_stand_in
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    rendered = scripts[("minimal", "30-aws-cli.sh")]
    pinned = re.search(r"x86_64\) fetch (\S+) ([0-9a-f]{64}) ", rendered)
    assert pinned, "the step fetches a pinned x86_64 zip"
    step = tmp_path / "30-aws-cli.sh"
    step.write_text(rendered.replace(pinned.group(2), sha))  # the same step, the stand-in's checksum
    fake_curl = f'while [ $# -gt 0 ]; do if [ "$1" = -o ]; then cp {archive} "$2"; shift; fi; shift; done'
    folder = stubs(tmp_path, {"curl": fake_curl})
    root = zlibless_root(tmp_path / "root")
    run = f"""
PATH={folder}:$PATH bash {step}; echo "step=$?"
echo "failed=$(cat /var/lib/towergen/failed 2>/dev/null)"
mount --bind /opt/aws-cli {root}/opt/aws-cli
mount -o remount,bind,ro {root}/opt/aws-cli
chroot {root} /opt/aws-cli/v2/current/dist/aws s3 cp s3://bucket/in.fq.gz . >{tmp_path}/bare.out 2>&1; echo "bare=$?"
chroot {root} /bin/sh -c '/opt/aws-cli/bin/aws s3 cp --only-show-errors "s3://bucket/a b.txt" .' >{tmp_path}/wrapped.out 2>&1; echo "wrapped=$?"
chroot {root} /bin/sh -c 'LD_LIBRARY_PATH=/usr/local/lib /opt/aws-cli/bin/aws --version' >{tmp_path}/version.out 2>&1; echo "version=$?"
cp /opt/aws-cli/bin/aws {tmp_path}/wrapper
ls /opt/aws-cli/lib >{tmp_path}/lib.out
"""
    result = in_namespace(tmp_path, PRIVATE + "mount -t tmpfs tmpfs /opt/aws-cli\n", run)
    out = result.stdout + result.stderr
    assert "step=0" in result.stdout and re.search(r"^failed=$", result.stdout, re.M), out
    assert "aws-cli/2.23.6" in result.stdout, out  # the step's own check ran the installed wrapper
    bare = (tmp_path / "bare.out").read_text()
    assert "bare=127" in result.stdout and "error while loading shared libraries: libz.so.1" in bare, bare
    wrapped = (tmp_path / "wrapped.out").read_text()
    assert "wrapped=0" in result.stdout and "stand-in aws s3 cp --only-show-errors s3://bucket/a b.txt ." in wrapped, wrapped
    assert "version=0" in result.stdout and "aws-cli/2.23.6" in (tmp_path / "version.out").read_text()
    assert (tmp_path / "lib.out").read_text().split() == ["libz.so.1"]
    # the wrapper is plain POSIX sh
    lint = subprocess.run([shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck"), "-s", "sh", str(tmp_path / "wrapper")],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


def test_task_side_aws_cli_step_fails_without_a_libz_to_copy(scripts, sandbox_ready, aws_cli_stand_in, tmp_path):
    """A host whose loader finds no libz.so.1 for the binary fails the step (and the instance is
    terminated) rather than leaving a cliPath that cannot run in task containers."""
    sha = hashlib.sha256(aws_cli_stand_in.read_bytes()).hexdigest()
    rendered = scripts[("minimal", "30-aws-cli.sh")]
    pinned = re.search(r"x86_64\) fetch (\S+) ([0-9a-f]{64}) ", rendered)
    step = tmp_path / "30-aws-cli.sh"
    step.write_text(rendered.replace(pinned.group(2), sha))
    fake_curl = f'while [ $# -gt 0 ]; do if [ "$1" = -o ]; then cp {aws_cli_stand_in} "$2"; shift; fi; shift; done'
    folder = stubs(tmp_path, {"curl": fake_curl, "ldd": 'echo "	not a dynamic executable"'})
    run = f'PATH={folder}:$PATH bash {step}; echo "step=$?"\necho "failed=$(cat /var/lib/towergen/failed)"\n'
    result = in_namespace(tmp_path, PRIVATE + "mount -t tmpfs tmpfs /opt/aws-cli\n", run)
    assert "step=1" in result.stdout and f"failed={step}" in result.stdout, result.stdout + result.stderr
    assert "cannot find the libz.so.1" in result.stdout
