#!/usr/bin/env bash
# install-deps.sh: install every Debian package nvmeof-gateway needs to build, test and run
# its demo (Debian 12). Idempotent and quiet when everything is already there.
#   install-deps.sh [--build]   --build: only what building the binaries needs (the
#                               container image's build stage, packaging/Containerfile)
set -euo pipefail

PKGS_BUILD=(
  # build
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev python3
  # libraries
  librbd-dev librados-dev libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev
  libabsl-dev prometheus-cpp-dev libgtest-dev libgmock-dev libcli11-dev nlohmann-json3-dev
  libspdlog-dev libfmt-dev liburing-dev libyaml-cpp-dev libssl-dev
)
PKGS=(
  "${PKGS_BUILD[@]}"
  # a local Ceph cluster (tests and demo)
  ceph-mon ceph-osd ceph-mgr ceph-common jq
  # the metrics tests: promtool and a Prometheus server scraping the gateway
  prometheus python3-yaml
  # the deployment artefacts' tests (tests/ops): Helm values schema, container image
  python3-jsonschema mmdebstrap umoci
  # the Linux initiator in QEMU (end-to-end tests) and benchmarks
  qemu-system-x86 nvme-cli fio iperf3 cpio kmod zstd xz-utils busybox-static
)

[[ ${1:-} == --build ]] && PKGS=("${PKGS_BUILD[@]}")

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=; [[ $(id -u) == 0 ]] || SUDO=sudo
  echo "install-deps: installing ${#missing[@]} package(s): ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: all packages present"
