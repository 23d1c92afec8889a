#!/usr/bin/env bash
# nvme-vm.sh - run shell commands inside a throw-away QEMU VM that has the
# real Linux NVMe/TCP initiator (nvme-tcp + nvme-cli + fio) and the Linux
# NVMe target (nvmet + nvmet-tcp + null_blk).
#
# Why: the machine running the tests may have a kernel without NVMe modules
# (no /lib/modules, CONFIG_NVME_TCP unset).  We therefore boot a stock Debian
# kernel in QEMU with a small initramfs built from Debian packages only, and
# let the guest reach the host through QEMU user-mode networking:
#
#     guest 10.0.2.15  --->  10.0.2.2:<port>  ==  host 127.0.0.1:<port>
#
# So an NVMe/TCP target listening on the host's 127.0.0.1:4420 is reached
# from the guest with:  nvme connect -t tcp -a 10.0.2.2 -s 4420 -n <nqn>
#
# Usage:
#   nvme-vm.sh [options] -- 'shell commands to run in the guest'
#   nvme-vm.sh [options] --script FILE
#
# Options:
#   --kvm | --tcg       force the accelerator (default: KVM when it looks
#                       usable, else TCG; see kvm_usable below)
#   --mem MB            guest memory in MiB (default 1024)
#   --cpus N            guest vCPUs (default 2)
#   --timeout SEC       kill the VM after SEC seconds (default 900)
#   --share DIR         export host DIR to the guest at /host (virtio-9p)
#   --hostfwd H:G       forward host 127.0.0.1:H to guest port G (repeatable),
#                       e.g. to expose an nvmet target in the guest to the host
#   --hostnqn NQN       host NQN for this VM (default: one fixed per cache;
#                       give each VM its own when several run at once)
#   --no-multipath      boot with nvme_core.multipath=N (default: Y)
#   --append ARGS       extra kernel command line arguments
#   --verbose           show kernel messages (loglevel=7) instead of quiet
#   --rebuild           rebuild the cached kernel + initramfs first
#   --build-only        only build the cache, do not boot
#
# Examples:
#   nvme-vm.sh -- 'nvme connect -t tcp -a 10.0.2.2 -s 4420 -n nqn.2016-06.io.spdk:cnode1 &&
#       wait-dev /dev/nvme0n1 && nvme list && fio --name=r --filename=/dev/nvme0n1 --rw=randread \
#       --bs=4k --iodepth=32 --ioengine=libaio --direct=1 --runtime=10'
#   nvme-vm.sh --share ./results --script ha-test.sh   # results land in ./results
#   nvme-vm.sh --hostfwd 14420:4420 -- '...nvmet on 4420...; sleep 600'
#                       # host tools can now use the guest's nvmet on 127.0.0.1:14420
#
# Environment:
#   NVME_VM_CACHE       cache directory (default $HOME/.cache/nvmeof-gateway/nvme-vm)
#   NVME_VM_KPKG        Debian kernel package to use (default: whatever
#                       linux-image-amd64 currently depends on)
#   NVME_VM_KSERIES     a kernel series instead (e.g. 6.12): the newest
#                       linux-image-<series>.N+debNN-amd64-unsigned apt knows;
#                       a cache holding any package of that series is kept.
#                       Give it its own NVME_VM_CACHE (run-e2e.sh does, for
#                       cases with CASE_KERNEL) so the default cache stays.
#   NVME_VM_TLSHD=1     also put the NVMe/TCP TLS host's user space in the guest:
#                       tlshd (ktls-utils, the kernel's TLS handshake agent) and
#                       keyctl (keyutils), which Debian 12 does not have in the
#                       needed versions. Their .debs and the whole dependency
#                       closure (trixie's own libc6 included) are fetched from
#                       Debian 13 "trixie" with a private apt configuration
#                       (keyring: debian-archive-keyring, cached .debs in
#                       $NVME_VM_CACHE/trixie-apt, never installed on the host),
#                       unpacked to /opt/trixie in the guest and run with
#                       trixie's own loader; /etc/tlshd.conf links the ".nvme"
#                       keyring; kernel TLS ("tls") and its AEADs are loaded at
#                       boot. The cache records it (a cache built otherwise is
#                       rebuilt), so give it its own NVME_VM_CACHE (run-e2e.sh
#                       does, for cases with CASE_TLSHD=yes). Trixie's tlshd
#                       (ktls-utils 1.0.0 on GnuTLS 3.8.9) makes HMAC-SHA256 PSK
#                       binders only, so SHA-384 PSKs do not work with it; sid's
#                       (1.4.0, GnuTLS 3.8.13) needs a kernel newer than 6.12
#                       (TLS_TX_MAX_PAYLOAD_LEN).
#
# Exit status: the exit status of the guest commands; 124 on timeout;
# 125 if the VM stopped without reporting a status (e.g. kernel panic).
#
# Inside the guest: bash + busybox, nvme (nvme-cli), fio (libaio, crc32c
# verify), mke2fs/mkfs.ext4 (e2fsprogs), blkid, dd (coreutils), kmod/modprobe,
# busybox mount/sha256sum/md5sum/ip/wget/nc/timeout/dmesg, ext4 available as a
# module (modprobe ext4), with NVME_VM_TLSHD=1 tlshd and keyctl, and "wait-dev DEV [SEC]" (no udev: nvme connect returns
# before /dev/nvmeXnY exists).  The commands run with bash in /root, stdin from /dev/null,
# and $NVME_VM_HOST=10.0.2.2 (the host's loopback as seen from the guest).  Preloaded modules: nvme-tcp, nvme-fabrics, nvme-core,
# nvmet, nvmet-tcp, configfs (mounted at /sys/kernel/config).  null_blk is
# available but not loaded, so you can pick its parameters yourself.
# /etc/nvme/hostnqn and /etc/nvme/hostid are fixed per cache (stable across
# boots, which keeps host-side ACLs working).

set -euo pipefail

# ----------------------------------------------------------------------------
# Defaults and argument parsing
# ----------------------------------------------------------------------------
ACCEL=auto
MEM=1024
CPUS=2
TIMEOUT=900
SHARE_DIR=
HOSTFWD=
HOSTNQN=
MULTIPATH=Y
EXTRA_APPEND=
VERBOSE=0
REBUILD=0
BUILD_ONLY=0
GUEST_CMDS=
CACHE=${NVME_VM_CACHE:-$HOME/.cache/nvmeof-gateway/nvme-vm}
# Bump when the initramfs contents change, so that older caches are rebuilt.
CACHE_FORMAT=2

usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; }
die() { echo "nvme-vm: $*" >&2; exit 2; }
log() { echo "nvme-vm: $*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --kvm) ACCEL=kvm ;;
        --tcg) ACCEL=tcg ;;
        --mem) MEM=$2; shift ;;
        --cpus) CPUS=$2; shift ;;
        --timeout) TIMEOUT=$2; shift ;;
        --share) SHARE_DIR=$(realpath "$2"); shift ;;
        --hostfwd) HOSTFWD+=",hostfwd=tcp:127.0.0.1:${2%%:*}-10.0.2.15:${2##*:}"; shift ;;
        --hostnqn) HOSTNQN=$2; shift ;;
        --no-multipath) MULTIPATH=N ;;
        --append) EXTRA_APPEND=$2; shift ;;
        --verbose) VERBOSE=1 ;;
        --rebuild) REBUILD=1 ;;
        --build-only) BUILD_ONLY=1 ;;
        --script) GUEST_CMDS=$(cat "$2") || die "cannot read $2"; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; GUEST_CMDS="$*"; break ;;
        *) die "unknown option '$1' (try --help)" ;;
    esac
    shift
done

if [ "$BUILD_ONLY" = 0 ] && [ -z "$GUEST_CMDS" ]; then
    die "nothing to run: give commands after '--' or use --script FILE"
fi

# ----------------------------------------------------------------------------
# Cache build: Debian kernel + initramfs, made once and reused
# ----------------------------------------------------------------------------

# Kernel modules the guest needs.  Their dependencies (crc64, t10-pi, virtio,
# ...) are resolved with modprobe --show-depends against the extracted tree.
MODULES="nvme-core nvme-fabrics nvme-tcp nvme nvme-auth nvmet nvmet-tcp
         null_blk configfs virtio_pci virtio_net virtio-rng
         9p 9pnet_virtio crc32c_generic crc32c-intel
         ext4 jbd2 mbcache crc16 libcrc32c loop"
# Modules /init loads at boot (the rest can be modprobe'd by the commands).
BOOT_MODULES="virtio_pci virtio_net virtio-rng configfs nvme-core nvme-fabrics
              nvme-tcp nvmet nvmet-tcp crc32c-intel crc32c_generic"
# User-space programs copied into the guest, with the shared libraries
# they need.
PROGRAMS="/usr/sbin/nvme /usr/bin/fio /usr/bin/kmod /usr/bin/bash
          /usr/sbin/mke2fs /usr/sbin/blkid /usr/bin/dd"
# NVME_VM_TLSHD=1 (see the header): trixie's tlshd and keyctl, the kTLS module,
# the AEADs kernel TLS runs (AES-GCM, AES-CCM, ChaCha20-Poly1305: modules in
# Debian's kernels, loaded here since the guest has no udev) and the NVMe
# keyring; the cache says which extras it holds ("extras").
TLSHD=${NVME_VM_TLSHD:-0}
EXTRAS=
TRIXIE_PACKAGES="ktls-utils keyutils"
if [ "$TLSHD" = 1 ]; then
    MODULES+=" tls nvme-keyring gcm ghash-generic ghash-clmulni-intel aesni-intel ccm chacha20poly1305"
    BOOT_MODULES+=" tls nvme-keyring gcm ghash-generic aesni-intel ghash-clmulni-intel ccm chacha20poly1305"
    EXTRAS=tlshd-2
fi

# Install the host packages we build from (Debian only).
ensure_host_packages() {
    local missing=()
    command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
    command -v nvme   >/dev/null || missing+=(nvme-cli)
    command -v fio    >/dev/null || missing+=(fio)
    command -v cpio   >/dev/null || missing+=(cpio)
    command -v depmod >/dev/null || missing+=(kmod)
    command -v zstd   >/dev/null || missing+=(zstd)
    command -v xz     >/dev/null || missing+=(xz-utils)
    [ -x /usr/sbin/mke2fs ] || missing+=(e2fsprogs)
    [ -x /usr/sbin/blkid ]  || missing+=(util-linux)
    # Either busybox flavour works (a dynamic one gets its libraries copied).
    [ -x /bin/busybox ] || missing+=(busybox-static)
    [ "$TLSHD" != 1 ] || [ -s /usr/share/keyrings/debian-archive-keyring.gpg ] \
        || missing+=(debian-archive-keyring)
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing host packages: ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            "${missing[@]}" >&2
    fi
}

# Which kernel package: the one the linux-image-amd64 meta-package points at.
kernel_package() {
    if [ -n "${NVME_VM_KPKG:-}" ]; then echo "$NVME_VM_KPKG"; return; fi
    if [ -n "${NVME_VM_KSERIES:-}" ]; then
        apt-cache search --names-only "^linux-image-${NVME_VM_KSERIES//./\\.}\\.[0-9]+.*-amd64-unsigned\$" 2>/dev/null \
            | awk '{ print $1 }' | grep -Ev -- '-(rt|cloud)-' | sort -V | tail -1
        return
    fi
    apt-cache depends linux-image-amd64 2>/dev/null \
        | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

# Copy a program and every shared library it links against into $root,
# keeping the paths the dynamic loader expects.
copy_with_libs() {
    local root=$1 prog=$2 lib
    cp -L "$prog" "$root$prog"
    # ldd prints "name => /path (addr)" per library, and the loader alone;
    # for a static binary it prints nothing useful and fails: that is fine.
    for lib in $(ldd "$prog" 2>/dev/null | awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }'); do
        [ -e "$root$lib" ] && continue
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
}

# NVME_VM_TLSHD=1: download (never install) trixie's $TRIXIE_PACKAGES and their
# whole dependency closure, trixie's libc6 included, with a private apt
# configuration (own sources, state and cache under $CACHE/trixie-apt; the
# Release file checked against debian-archive-keyring). Kept across cache
# rebuilds: only the first build downloads (delete the directory to refresh).
fetch_trixie_debs() {
    local d=$CACHE/trixie-apt
    [ -e "$d/complete" ] && return 0
    rm -rf "$d"
    mkdir -p "$d/state/lists/partial" "$d/cache/archives/partial" "$d/etc/sources.list.d" "$d/etc/preferences.d"
    : > "$d/state/status"   # nothing installed: apt resolves the whole closure
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
        > "$d/etc/sources.list"
    local apt=(apt-get -q -o "Dir::Etc::SourceList=$d/etc/sources.list"
               -o "Dir::Etc::SourceParts=$d/etc/sources.list.d" -o "Dir::Etc::Preferences=$d/etc/preferences"
               -o "Dir::Etc::PreferencesParts=$d/etc/preferences.d" -o "Dir::State=$d/state"
               -o "Dir::State::status=$d/state/status" -o "Dir::Cache=$d/cache"
               -o APT::Architecture=amd64 -o APT::Architectures::=amd64 -o Acquire::Languages=none
               -o APT::Sandbox::User=root)
    log "downloading trixie's $TRIXIE_PACKAGES and their dependencies into $d"
    # shellcheck disable=SC2086
    "${apt[@]}" update >&2 \
        && "${apt[@]}" -y -d --no-install-recommends install $TRIXIE_PACKAGES >&2 \
        || die "could not download $TRIXIE_PACKAGES from trixie"
    rm -rf "$d/state/lists" "$d/cache/"*.bin
    touch "$d/complete"
}

# Unpack the trixie closure to /opt/trixie in the guest root $1; tlshd and
# keyctl become wrappers that run trixie's binaries with trixie's loader and
# libraries (the guest's own are bookworm's).
install_tlshd() {
    local root=$1 t=$1/opt/trixie deb prog
    local lib=/opt/trixie/usr/lib/x86_64-linux-gnu
    mkdir -p "$t"
    for deb in "$CACHE"/trixie-apt/cache/archives/*.deb; do dpkg -x "$deb" "$t"; done
    rm -rf "$t/usr/share" "$root$lib/gconv" "$t/etc/tlshd.conf"
    [ -x "$root$lib/ld-linux-x86-64.so.2" ] && [ -x "$t/usr/sbin/tlshd" ] && [ -x "$t/usr/bin/keyctl" ] \
        || die "trixie's loader, tlshd or keyctl missing after unpacking"
    for prog in /usr/sbin/tlshd /usr/bin/keyctl; do
        rm -f "$root$prog"
        printf '#!/bin/sh\n# trixie'"'"'s %s, with its own loader and libraries\nexec %s --library-path %s /opt/trixie%s "$@"\n' \
            "${prog##*/}" "$lib/ld-linux-x86-64.so.2" "$lib" "$prog" > "$root$prog"
        chmod 755 "$root$prog"
    done
    # tlshd.conf(5): link the kernel's NVMe keyring into tlshd's session keyring.
    cat > "$root/etc/tlshd.conf" <<'EOF'
[debug]
loglevel=1
tls=0
nl=0

[authenticate]
keyrings=.nvme
EOF
}

# Turn the bzImage into the plain vmlinux ELF inside it.  QEMU boots such an
# ELF directly through its PVH entry point (CONFIG_PVH=y), skipping the BIOS
# real-mode path and the in-guest decompressor, which under TCG saves about
# 4 s per boot.  The compressed payload's position is in the x86 boot
# header: offset = (setup_sects + 1) * 512 + payload_offset (boot protocol
# >= 2.08).  Returns non-zero if anything looks off; the caller then simply
# keeps using the bzImage.
extract_vmlinux() {
    local bz=$1 out=$2 config=$3 sects poff plen magic
    grep -q '^CONFIG_PVH=y' "$config" || return 1
    sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
    poff=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')
    plen=$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')
    [ -n "$sects" ] && [ -n "$poff" ] && [ "${plen:-0}" -gt 0 ] || return 1
    poff=$(( (sects + 1) * 512 + poff ))
    magic=$(od -An -tx1 -j "$poff" -N4 "$bz" | tr -d ' ')
    # Decompressors may complain about the size word the kernel build
    # appends after the stream; the ELF check below is what counts.
    case "$magic" in
        fd377a58) tail -c +$((poff + 1)) "$bz" | head -c "$plen" | xz -dc --single-stream ;;
        28b52ffd) tail -c +$((poff + 1)) "$bz" | head -c "$plen" | zstd -dcq ;;
        1f8b08*)  tail -c +$((poff + 1)) "$bz" | head -c "$plen" | gzip -dcq ;;
        *) return 1 ;;
    esac > "$out" 2>/dev/null || true
    [ "$(od -An -tx1 -N4 "$out" | tr -d ' ')" = 7f454c46 ] || { rm -f "$out"; return 1; }
}

# Small guest helpers.  There is no udev in the guest and "nvme connect"
# returns before the namespace's block device exists, so scripts should
# "wait-dev /dev/nvme0n1" before using it.
write_helpers() {
    cat > "$1/usr/bin/wait-dev" <<'EOF'
#!/bin/sh
# wait-dev DEVICE [SECONDS]: wait until the block device exists (default 10 s)
dev=$1 tries=$(( ${2:-10} * 5 ))
while [ ! -b "$dev" ]; do
    [ "$tries" -gt 0 ] || { echo "wait-dev: $dev did not appear" >&2; exit 1; }
    tries=$((tries - 1)); sleep 0.2
done
EOF
    chmod 755 "$1/usr/bin/wait-dev"
}

# The guest's /init: runs as PID 1, prepares the system, runs the commands
# found in /nvme-vm/cmd.sh (added to the initramfs for each run), prints
# an exit marker on the console and powers the VM off.
write_init() {
    cat > "$1/init" <<'EOF'
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
# Before devtmpfs is mounted there is no /dev/console, so mount it first and
# only then attach stdin/stdout/stderr to the serial console.
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp

for m in $(cat /etc/nvme-vm/boot-modules); do
    modprobe "$m" || echo "nvme-vm: warning: modprobe $m failed"
done
mount -t configfs configfs /sys/kernel/config

# QEMU user-mode networking: static address, the host is 10.0.2.2.
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
echo "nameserver 10.0.2.3" > /etc/resolv.conf

# Optional host directory shared with --share.
if grep -q 'nvme_vm.share=1' /proc/cmdline; then
    modprobe 9pnet_virtio && modprobe 9p
    mkdir -p /host
    mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 host /host \
        || echo "nvme-vm: warning: could not mount /host"
fi

# Per-run host NQN (--hostnqn); the host ID follows the NQN's UUID if any.
if [ -s /nvme-vm/hostnqn ]; then
    cp /nvme-vm/hostnqn /etc/nvme/hostnqn
    case "$(cat /etc/nvme/hostnqn)" in
        *:uuid:*) sed 's/.*:uuid://' /etc/nvme/hostnqn > /etc/nvme/hostid ;;
        *) cat /proc/sys/kernel/random/uuid > /etc/nvme/hostid ;;
    esac
fi

export NVME_VM_HOST=10.0.2.2
cd /root
# Tells the host the boot is over (it logs the boot time from it).
echo "@@NVME-VM-START:$(cat /nvme-vm/token)@@"
bash /nvme-vm/cmd.sh </dev/null
rc=$?
sync
# The token makes the marker impossible to fake by accident from the commands.
echo "@@NVME-VM-EXIT:$(cat /nvme-vm/token):$rc@@"
poweroff -f
# poweroff -f should not return; if it does, PID 1 must not exit (panic).
echo o > /proc/sysrq-trigger
while :; do sleep 60; done
EOF
    chmod 755 "$1/init"
}

build_cache() {
    local t0=$SECONDS kpkg kver work root m
    ensure_host_packages
    kpkg=$(kernel_package)
    [ -n "$kpkg" ] || die "cannot determine the kernel package (apt-get update?)"
    kver=${kpkg#linux-image-}; kver=${kver%-unsigned}
    log "building cache in $CACHE for $kpkg"

    work=$CACHE/build
    rm -rf "$work"
    mkdir -p "$work/dl"

    [ "$TLSHD" != 1 ] || fetch_trixie_debs
    # 1. Kernel: download the .deb and unpack it (never installed on the host).
    (cd "$work/dl" && apt-get -o APT::Sandbox::User=root download "$kpkg") >&2
    dpkg -x "$work"/dl/"$kpkg"_*.deb "$work/kernel-root"
    # The .deb ships no modules.dep (depmod normally runs at install time).
    depmod -b "$work/kernel-root" "$kver"

    # 2. Root filesystem skeleton (merged-/usr layout, like Debian 12).
    root=$work/root
    mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,etc/nvme,etc/nvme-vm} \
             "$root"/{dev,proc,sys,run,tmp,root,host,nvme-vm,mnt}
    ln -s usr/bin "$root/bin"; ln -s usr/sbin "$root/sbin"
    ln -s usr/lib "$root/lib"; ln -s usr/lib64 "$root/lib64"

    # busybox provides the shell and the small tools (ip, wget, nc, ...).
    copy_with_libs "$root" /usr/bin/busybox
    for m in $(/bin/busybox --list); do
        [ -e "$root/usr/bin/$m" ] || ln -s busybox "$root/usr/bin/$m"
    done

    # Real programs (they win over busybox applets of the same name).
    for m in $PROGRAMS; do
        rm -f "$root$m"
        copy_with_libs "$root" "$m"
    done
    for m in modprobe insmod rmmod lsmod modinfo depmod; do
        rm -f "$root/usr/bin/$m" "$root/usr/sbin/$m"
        ln -s ../bin/kmod "$root/usr/sbin/$m"
    done
    # e2fsprogs: mke2fs under its mkfs.* names, with the host's defaults file.
    for m in mkfs.ext4 mkfs.ext2 mke2fs.ext4; do
        rm -f "$root/usr/bin/$m" "$root/usr/sbin/$m"
        ln -s mke2fs "$root/usr/sbin/$m"
    done
    rm -f "$root/usr/bin/mke2fs"
    [ ! -e /etc/mke2fs.conf ] || cp /etc/mke2fs.conf "$root/etc/"
    [ "$TLSHD" != 1 ] || install_tlshd "$root"
    # /etc/mtab for mount/df, blkid's cache goes to /run.
    ln -s /proc/mounts "$root/etc/mtab"

    # 3. Kernel modules plus their dependencies.
    local kroot=$work/kernel-root mdir=lib/modules/$kver path
    mkdir -p "$root/usr/$mdir"
    for m in $MODULES; do
        modprobe -d "$kroot" -S "$kver" --show-depends "$m" \
            | awk '$1 == "insmod" { print $2 }' \
            || log "warning: module $m not in $kpkg, skipped"
    done | sort -u | while read -r path; do
        path=${path#"$kroot"/}                  # lib/modules/<kver>/kernel/...
        mkdir -p "$root/usr/$(dirname "$path")"
        cp "$kroot/$path" "$root/usr/$path"
    done
    # Newer Debian kernels ship modules as .ko.xz / .ko.zst.  Unpack them
    # here: it avoids "Invalid ELF header magic" noise from the guest
    # kernel and decompression time in the (maybe emulated) guest.
    find "$root/usr/$mdir" -name '*.ko.xz'  -exec xz -d {} +
    find "$root/usr/$mdir" -name '*.ko.zst' -exec zstd -dq --rm {} +
    find "$root/usr/$mdir" -name '*.ko.gz'  -exec gzip -d {} +
    for m in modules.order modules.builtin modules.builtin.modinfo; do
        [ ! -e "$kroot/$mdir/$m" ] || cp "$kroot/$mdir/$m" "$root/usr/$mdir/"
    done
    depmod -b "$root/usr" "$kver"
    echo $BOOT_MODULES > "$root/etc/nvme-vm/boot-modules"

    # 4. Configuration: a stable host NQN/ID for this cache, passwd for tools.
    local uuid
    uuid=$(cat /proc/sys/kernel/random/uuid)
    echo "nqn.2014-08.org.nvmexpress:uuid:$uuid" > "$root/etc/nvme/hostnqn"
    echo "$uuid" > "$root/etc/nvme/hostid"
    echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
    echo "root:x:0:" > "$root/etc/group"
    write_init "$root"
    write_helpers "$root"

    # 5. Pack the initramfs.  zstd -3 keeps it small without slowing the
    #    (possibly emulated) guest much while it unpacks.
    (cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) \
        | zstd -q -3 -T0 > "$work/initramfs.cpio.zst"

    # 6. Kernel image: the PVH-bootable ELF if we can extract it.
    if extract_vmlinux "$kroot/boot/vmlinuz-$kver" "$work/kernel" \
                       "$kroot/boot/config-$kver"; then
        log "using the uncompressed vmlinux (PVH boot)"
    else
        log "using the bzImage (could not extract a PVH vmlinux)"
        cp "$kroot/boot/vmlinuz-$kver" "$work/kernel"
    fi

    # 7. Publish: kernel image + initramfs + metadata.
    echo "$kpkg" > "$work/kernel-package"
    echo "$CACHE_FORMAT" > "$work/format"
    echo "$EXTRAS" > "$work/extras"
    rm -rf "$CACHE/current"
    mkdir -p "$CACHE/current"
    mv "$work/kernel" "$work/initramfs.cpio.zst" "$work/kernel-package" "$work/format" \
       "$work/extras" "$CACHE/current/"
    rm -rf "$work"
    log "cache built in $((SECONDS - t0)) s ($(du -sh "$CACHE/current" | cut -f1))"
}

# Several nvme-vm.sh may start at once: build under a lock, and re-check
# inside it so only the first one builds.
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
cache_stale() {
    [ "$REBUILD" = 1 ] && return 0
    [ -s "$CACHE/current/initramfs.cpio.zst" ] && [ -s "$CACHE/current/kernel" ] || return 0
    [ "$(cat "$CACHE/current/format" 2>/dev/null)" = "$CACHE_FORMAT" ] || return 0
    [ "$(cat "$CACHE/current/extras" 2>/dev/null)" = "$EXTRAS" ] || return 0
    # An explicitly requested kernel package must match what is cached.
    [ -z "${NVME_VM_KPKG:-}" ] || \
        [ "$(cat "$CACHE/current/kernel-package" 2>/dev/null)" = "$NVME_VM_KPKG" ] || return 0
    [ -n "${NVME_VM_KPKG:-}" ] || [ -z "${NVME_VM_KSERIES:-}" ] || \
        [[ "$(cat "$CACHE/current/kernel-package" 2>/dev/null)" == "linux-image-$NVME_VM_KSERIES."* ]] || return 0
    return 1
}
if cache_stale; then
    build_cache
fi
flock -u 9
exec 9>&-
[ "$BUILD_ONLY" = 1 ] && exit 0

# ----------------------------------------------------------------------------
# Accelerator.  KVM is only worth it with real hardware virtualisation: on a
# host whose /dev/kvm is provided by kvm_pvm (PVM, "pagetable-based virtual
# machine", used when the host itself is a VM without VMX) a stock Debian
# kernel is run mostly by instruction emulation - it crawls through the
# boot and then dies with "KVM internal error ... emulation failure" on
# instructions such as cmpxchg16b or xrstor.  TCG is the safe default there.
# ----------------------------------------------------------------------------
kvm_usable() {
    [ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
    grep -qwE 'vmx|svm' /proc/cpuinfo || return 1
    [ ! -d /sys/module/kvm_pvm ] || return 1
}
if [ "$ACCEL" = auto ]; then
    if kvm_usable; then ACCEL=kvm; else ACCEL=tcg; fi
elif [ "$ACCEL" = kvm ] && ! kvm_usable; then
    log "warning: --kvm forced, but KVM does not look usable (no vmx/svm or kvm_pvm);"
    log "         a stock kernel may hang or fail with an emulation error"
fi

# ----------------------------------------------------------------------------
# Boot: pass the commands in an extra cpio archive, start QEMU, stream the
# serial console to stdout and pick up the exit marker.
# ----------------------------------------------------------------------------
RUN=$(mktemp -d /tmp/nvme-vm.XXXXXX)
QEMU_PID=
cleanup() {
    [ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null || true
    rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TOKEN=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
mkdir -p "$RUN/overlay/nvme-vm"
printf '%s\n' "$GUEST_CMDS" > "$RUN/overlay/nvme-vm/cmd.sh"
echo "$TOKEN" > "$RUN/overlay/nvme-vm/token"
[ -z "$HOSTNQN" ] || echo "$HOSTNQN" > "$RUN/overlay/nvme-vm/hostnqn"
# The kernel unpacks concatenated cpio archives one after the other (the
# same trick early-microcode uses): a small uncompressed archive with this
# run's files, followed by the cached compressed one.
(cd "$RUN/overlay" && find . | cpio -o -H newc --quiet) > "$RUN/initrd"
cat "$CACHE/current/initramfs.cpio.zst" >> "$RUN/initrd"

APPEND="console=ttyS0 panic=-1 nvme_core.multipath=$MULTIPATH"
if [ "$VERBOSE" = 1 ]; then APPEND+=" loglevel=7"; else APPEND+=" quiet loglevel=4"; fi
[ -n "$SHARE_DIR" ] && APPEND+=" nvme_vm.share=1"
APPEND+=" $EXTRA_APPEND"

log "booting $(cat "$CACHE/current/kernel-package") with $ACCEL, $CPUS vCPU(s), $MEM MiB"
# shellcheck disable=SC2054  # QEMU option values contain commas
QEMU=(qemu-system-x86_64 -nodefaults -no-user-config -no-reboot
      -display none -serial stdio -m "$MEM" -smp "$CPUS"
      -kernel "$CACHE/current/kernel" -initrd "$RUN/initrd" -append "$APPEND"
      -netdev "user,id=net0$HOSTFWD" -device virtio-net-pci,netdev=net0
      -device virtio-rng-pci)
if [ "$ACCEL" = kvm ]; then
    QEMU+=(-accel kvm -cpu host)
else
    # "max" exposes SSE4.2/PCLMUL etc. so crc32c-intel and friends load.
    # shellcheck disable=SC2054
    QEMU+=(-accel tcg,thread=multi -cpu max)
fi
if [ -n "$SHARE_DIR" ]; then
    QEMU+=(-virtfs "local,path=$SHARE_DIR,mount_tag=host,security_model=none,id=host")
fi

# QEMU runs in the background writing into a FIFO; we read the FIFO line by
# line so output is streamed as it arrives.
mkfifo "$RUN/console"
timeout -k 10 "$TIMEOUT" "${QEMU[@]}" </dev/null >"$RUN/console" 2>&1 &
QEMU_PID=$!

GUEST_RC=
T_BOOT=$EPOCHREALTIME T_START=
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
while IFS= read -r line; do
    line=${line%$'\r'}                   # the serial console sends CR LF
    case "$line" in
        *"@@NVME-VM-START:$TOKEN@@"*)
            T_START=$EPOCHREALTIME
            log "guest booted in $(elapsed "$T_BOOT" "$T_START") s"
            ;;
        *"@@NVME-VM-EXIT:$TOKEN:"*)
            GUEST_RC=${line##*"@@NVME-VM-EXIT:$TOKEN:"}
            GUEST_RC=${GUEST_RC%%@@*}
            [ -z "$T_START" ] || \
                log "guest commands exited $GUEST_RC after $(elapsed "$T_START" "$EPOCHREALTIME") s"
            ;;
        *)  # after the marker only shutdown noise follows; keep it quiet
            if [ -z "$GUEST_RC" ] || [ "$VERBOSE" = 1 ]; then
                printf '%s\n' "$line"
            fi
            ;;
    esac
done < "$RUN/console"

QEMU_RC=0
wait "$QEMU_PID" || QEMU_RC=$?
QEMU_PID=
if [ -n "$GUEST_RC" ]; then
    exit "$GUEST_RC"
elif [ "$QEMU_RC" = 124 ] || [ "$QEMU_RC" = 137 ]; then
    log "timed out after $TIMEOUT s"
    exit 124
else
    log "VM stopped without an exit status (qemu rc=$QEMU_RC)"
    exit 125
fi
