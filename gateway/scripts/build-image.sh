#!/usr/bin/env bash
# build-image.sh: the container image of packaging/Containerfile, built without a
# container engine or registry: a Debian 12 root file system from Debian's packages
# (mmdebstrap) with the project's Debian package installed in it (cpack, from the built
# binaries), written as an OCI image layout (umoci) and a tar of it.
#
#   gateway/scripts/build-image.sh [--build DIR] [--deb FILE] [--out DIR] [--tag TAG]
#                                  [--sources FILE]
#
#   --build DIR     build tree with nvmeof-gateway and gwcli (default build/; configured
#                   and the two targets built when missing or stale)
#   --deb FILE      put this nvmeof-gateway .deb in the image instead of making one
#   --out DIR       where the results go (default BUILD/image): DIR/deb/ (the package),
#                   DIR/oci/ (the OCI layout, reference nvmeof-gateway:TAG) and
#                   DIR/nvmeof-gateway-TAG.oci.tar (the layout as one file: `podman load -i`,
#                   `skopeo copy oci-archive:... docker://REGISTRY/...`)
#   --tag TAG       image tag (default: the project's version)
#   --sources FILE  apt sources for the root file system (default: this host's, so the
#                   libraries are the versions the binaries were built against)
#
# Runs as root (mmdebstrap's root mode; apt downloads the runtime packages). Prints the
# paths and the manifest digest; exit status non-zero on any failure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$ROOT/build OUT= TAG= SOURCES= DEB=
while (($#)); do
  case $1 in
    --build) BUILD=$(realpath -m "$2"); shift 2 ;;
    --deb) DEB=$(realpath "$2"); shift 2 ;;
    --out) OUT=$(realpath -m "$2"); shift 2 ;;
    --tag) TAG=$2; shift 2 ;;
    --sources) SOURCES=$(realpath "$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "build-image: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-$BUILD/image}
VERSION=$(sed -n 's/^project(nvmeof-gateway VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
TAG=${TAG:-$VERSION}
for tool in mmdebstrap umoci cpack ninja; do
  command -v $tool >/dev/null || { echo "build-image: $tool is missing (gateway/scripts/install-deps.sh)" >&2; exit 1; }
done
((EUID == 0)) || { echo "build-image: run as root (mmdebstrap root mode)" >&2; exit 1; }

# 1. The Debian package, from the build tree's binaries (cpack builds nothing itself).
rm -rf "$OUT"
mkdir -p "$OUT/deb"
if [[ -z $DEB ]]; then
  if [[ ! -f $BUILD/CPackConfig.cmake ]]; then
    cmake -S "$ROOT" -B "$BUILD" -G Ninja >/dev/null
  fi
  ninja -C "$BUILD" nvmeof-gateway gwcli >/dev/null
  (cd "$BUILD" && cpack -G DEB -B "$OUT/deb" >"$OUT/deb/cpack.log" 2>&1) ||
    { cat "$OUT/deb/cpack.log" >&2; exit 1; }
  DEB=$(ls "$OUT"/deb/nvmeof-gateway_*.deb)
else
  cp "$DEB" "$OUT/deb/" && DEB=$OUT/deb/$(basename "$DEB")
fi
chmod -R a+rX "$OUT/deb"
echo "build-image: package $DEB"

# 2. The root file system: Debian 12's essential packages and the package's dependencies,
#    no documentation but ours, the entrypoint, /src for cephadm's configuration file.
if [[ -z $SOURCES ]]; then
  SOURCES=$(mktemp)
  trap 'rm -f "$SOURCES"' EXIT
  cat /etc/apt/sources.list.d/*.sources 2>/dev/null >"$SOURCES" || true
  [[ -s $SOURCES ]] || grep -h '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null >"$SOURCES" || true
  [[ -s $SOURCES ]] || { echo "build-image: no apt sources on this host; pass --sources FILE" >&2; exit 1; }
  case $(head -c 200 "$SOURCES") in *Types:*) mv "$SOURCES" "$SOURCES.sources"; SOURCES=$SOURCES.sources ;; esac
fi
mmdebstrap --mode=root --variant=essential --format=tar --quiet \
  --hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
  --include="$DEB" \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/nvmeof-gateway/*' \
  --customize-hook='mkdir -p "$1/src" "$1/var/log/ceph" "$1/usr/local/bin"' \
  --customize-hook="copy-in $ROOT/packaging/nvmeof-entrypoint /usr/local/bin" \
  --customize-hook='chmod 755 "$1/usr/local/bin/nvmeof-entrypoint"' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
  bookworm "$OUT/rootfs.tar" "$SOURCES"
echo "build-image: root file system $OUT/rootfs.tar ($(du -m "$OUT/rootfs.tar" | cut -f1) MiB)"

# 3. The OCI layout: one layer, the configuration of packaging/Containerfile.
umoci init --layout "$OUT/oci"
umoci new --image "$OUT/oci:$TAG"
umoci raw add-layer --image "$OUT/oci:$TAG" "$OUT/rootfs.tar"
umoci config --image "$OUT/oci:$TAG" \
  --config.entrypoint /usr/local/bin/nvmeof-entrypoint \
  --config.cmd -c --config.cmd /src/ceph-nvmeof.conf \
  --config.workingdir /src \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.exposedports 5500/tcp --config.exposedports 4420/tcp \
  --config.exposedports 8009/tcp --config.exposedports 10008/tcp \
  --config.label org.opencontainers.image.title=nvmeof-gateway \
  --config.label "org.opencontainers.image.version=$VERSION" \
  --config.label io.ceph.component=nvmeof-gateway --config.label "io.ceph.version=$VERSION" \
  --architecture "$(dpkg --print-architecture)" --os linux \
  --author nvmeof-gateway --history.created_by "gateway/scripts/build-image.sh"
umoci gc --layout "$OUT/oci"
rm -f "$OUT/rootfs.tar"
tar -C "$OUT/oci" -cf "$OUT/nvmeof-gateway-$TAG.oci.tar" .
DIGEST=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$OUT/oci/index.json")
echo "build-image: OCI layout $OUT/oci (nvmeof-gateway:$TAG, manifest $DIGEST)"
echo "build-image: archive $OUT/nvmeof-gateway-$TAG.oci.tar"
