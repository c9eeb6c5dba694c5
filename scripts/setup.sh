#!/usr/bin/env bash
# Idempotent set-up: installs what Hull needs (Debian packages, npm
# dependencies), builds it, and builds the built-in busybox image. Starts
# nothing, so scripts and CI can call it. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages Hull drives. Tests add the interop peers they check against (umoci, skopeo, docker-registry) and
# `script` for terminals (HULL_SETUP_TEST=1); bench adds its peers (podman) with HULL_SETUP_BENCH=1.
PKGS=(crun runc conmon busybox-static attr socat util-linux mount iproute2 tar nftables procps zstd conntrack)
PKGS+=(qemu-system-x86 qemu-utils cpio e2fsprogs) # VMs: QEMU, qemu-img, the guest's initramfs and disks
PKGS+=(qemu-system-common) # virtiofsd (/usr/lib/qemu/virtiofsd on Debian 12): local volumes and binds in VM-isolated containers
PKGS+=(tini) # --init: /usr/bin/tini-static, statically linked so it runs as PID 1 in any image
PKGS+=(genisoimage) # VMs: the cloud-init NoCloud seed ISO for guests that boot their own disk
PKGS+=(btrfs-progs xfsprogs) # --storage-opt size=: btrfs qgroups and xfs project quotas where the root's filesystem has them
if [[ "${HULL_SETUP_TEST:-}" == 1 ]]; then PKGS+=(umoci skopeo bsdutils docker-registry libcap2-bin); fi  # libcap2-bin: setcap for the xattr unpack test
if [[ "${HULL_SETUP_TEST:-}" == 1 ]]; then PKGS+=(cloud-init openssl); fi  # cloud-init's own code reads Hull's seed; openssl checks the password hash
if [[ "${HULL_SETUP_TEST:-}" == 1 ]]; then PKGS+=(gcc libc6-dev); fi  # net-security.test.ts builds its attack program (router advertisements, DNS floods) static
if [[ "${HULL_SETUP_TEST:-}" == 1 ]]; then PKGS+=(iputils-ping); fi  # ping without NET_RAW (busybox's ping only opens raw sockets)
if [[ "${HULL_SETUP_BENCH:-}" == 1 ]]; then PKGS+=(podman skopeo docker-registry); fi
if [[ "${HULL_SETUP_BENCH:-}" == 1 ]]; then PKGS+=(wrk); fi  # bench/network.ts: connection rate through a published port
if [[ "${HULL_SETUP_TEST:-}" == 1 ]]; then PKGS+=(docker-compose); fi  # docker-compose.test.ts: Debian's compose 1.29 against Hull's Docker socket
if [[ "${HULL_SETUP_TEST:-}" == 1 ]]; then PKGS+=(etcd-server etcd-client); fi  # etcd-store.test.ts runs the Store suite on a real etcd 3.4 (etcdctl to look inside); nothing starts on install
if [[ "${HULL_SETUP_TEST:-}" == 1 ]]; then PKGS+=(chromium); fi  # dashboard.test.ts drives the web dashboard in headless chromium (playwright-core)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then echo "setup: need root to install: ${missing[*]}" >&2; exit 1; fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# cloud-init on this host is only a library for the tests: this marker keeps its systemd generator from ever
# enabling it here at a boot (installing it starts nothing; without systemd its units are inert anyway).
if [[ "${HULL_SETUP_TEST:-}" == 1 && -d /etc/cloud && ! -e /etc/cloud/cloud-init.disabled ]]; then touch /etc/cloud/cloud-init.disabled; fi

# npm dependencies: install when package-lock.json changed since the last install.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: installing npm dependencies"
  # `npm install`, not `npm ci`: node-unix-socket lists per-platform optional packages that the
  # registry reached here does not serve, which `npm ci` treats as a lock-file mismatch.
  npm install --no-audit --no-fund --loglevel=error
fi

echo "setup: building"
npm run --silent build

node dist/scripts/build-busybox-image.js build/images/busybox

# Debian's docker.io, unpacked into build/peers/docker.io, never installed (installing starts dockerd, whose default
# firewall policy breaks the bridges Hull's networks rely on): its 20.10 client for the docker-api tests, and with
# HULL_SETUP_BENCH dockerd and containerd for the bench's peer (started on its own root and socket, bench/docker-run.ts).
docker_peer() {
  local dir=build/peers/docker.io want=(docker.io) tmp
  [[ "${HULL_SETUP_BENCH:-}" == 1 ]] && want+=(containerd)
  if [[ -x $dir/docker && ( "${HULL_SETUP_BENCH:-}" != 1 || -x $dir/containerd ) ]]; then return; fi
  tmp=$(mktemp -d)
  (cd "$tmp" && { apt-get download "${want[@]}" >/dev/null 2>&1 || { apt-get update -qq && apt-get download "${want[@]}" >/dev/null; }; })
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/x"; done
  mkdir -p "$dir"
  cp "$tmp/x/usr/bin/docker" "$dir/"
  if [[ "${HULL_SETUP_BENCH:-}" == 1 ]]; then cp "$tmp/x/usr/sbin/dockerd" "$tmp/x/usr/bin/containerd" "$tmp/x/usr/bin/containerd-shim-runc-v2" "$dir/"; fi
  rm -rf "$tmp"
}
if [[ "${HULL_SETUP_TEST:-}" == 1 || "${HULL_SETUP_BENCH:-}" == 1 ]]; then docker_peer; fi
node dist/scripts/build-guest.js build/guest # the VM guest: kernel, initramfs, debian-min disk (cached)
echo "setup: done"
