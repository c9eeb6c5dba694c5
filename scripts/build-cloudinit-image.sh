#!/usr/bin/env bash
# A small Debian cloud image for the opt-in cloud-init boot test (HULL_TEST_CLOUDINIT=1,
# test/integration/vm-cloud-init-boot.test.ts): bookworm with systemd, cloud-init, ifupdown
# and the cloud kernel, on a disk that boots through the BIOS as a downloaded cloud image
# does (syslinux on a small FAT partition, ext4 root on the second), in qcow2.
#
#   scripts/build-cloudinit-image.sh OUT.qcow2      (as root; a few minutes; nothing is mounted)
#
# Packages come from the host's apt sources (mmdebstrap). The tools are installed if missing.
set -euo pipefail
out=${1:?usage: build-cloudinit-image.sh OUT.qcow2}
need=(mmdebstrap syslinux syslinux-common mtools dosfstools fdisk e2fsprogs qemu-utils)
missing=()
for p in "${need[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if ((${#missing[@]})); then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hull-ci-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root

# The guest: what a cloud image has, minus what is slow under TCG (no sshd: its host keys take long).
# dbus: systemd-logind needs it, and logind is what powers off on the ACPI power button (Hull's stop).
mmdebstrap --variant=apt --include=systemd-sysv,udev,dbus,cloud-init,ifupdown,iproute2,linux-image-cloud-amd64,initramfs-tools,passwd,sudo \
  --customize-hook='echo "datasource_list: [ NoCloud, None ]" > "$1/etc/cloud/cloud.cfg.d/90-hull.cfg"' \
  --customize-hook='chroot "$1" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer >/dev/null' \
  --customize-hook='printf "/dev/vda2 / ext4 rw,errors=remount-ro 0 1\n" > "$1/etc/fstab"' \
  bookworm "$root" 2>&1 | grep -v '^I: ' || true
[[ -x $root/usr/bin/cloud-init ]] || { echo "mmdebstrap did not make the root" >&2; exit 1; }

# Disk: MBR, p1 FAT16 (32 MiB at 1 MiB, bootable: syslinux, kernel, initrd), p2 ext4 root.
disk=$work/disk.raw
size_mib=2048
truncate -s ${size_mib}M "$disk"
printf 'label: dos\nstart=2048, size=65536, type=6, bootable\nstart=67584, type=83\n' | sfdisk -q "$disk"
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$disk" bs=440 count=1 conv=notrunc status=none
mkfs.vfat -F 16 -n BOOT --offset 2048 "$disk" $((65536 / 2)) >/dev/null 2>&1  # (it notes the file is bigger than the partition)
fat="$disk@@1M"
kernel=$(ls "$root"/boot/vmlinuz-* | head -1)
initrd=$(ls "$root"/boot/initrd.img-* | head -1)
cat >"$work/syslinux.cfg" <<EOF
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /vmlinuz
  APPEND initrd=/initrd.img root=/dev/vda2 rw console=ttyS0 net.ifnames=0 quiet
EOF
mcopy -i "$fat" "$kernel" ::/vmlinuz
mcopy -i "$fat" "$initrd" ::/initrd.img
mcopy -i "$fat" "$work/syslinux.cfg" ::/syslinux.cfg
syslinux --offset $((2048 * 512)) --install "$disk"
root_blocks=$(( (size_mib * 1024 * 1024 - 67584 * 512) / 4096 ))
mke2fs -q -t ext4 -b 4096 -E offset=$((67584 * 512)) -d "$root" "$disk" "$root_blocks"
qemu-img convert -f raw -O qcow2 "$disk" "$out.tmp"
mv "$out.tmp" "$out"
echo "built $out ($(du -h "$out" | cut -f1))"
