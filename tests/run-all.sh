#!/usr/bin/env bash
# run-all.sh: the whole test suite, as CI runs it (README: the second command).
#
#   tests/run-all.sh [--quick] [--no-e2e] [--no-ceph] [--no-asan] [--no-fuzz] [--image]
#
# 1. installs the Debian packages the project needs (gateway/scripts/install-deps.sh)
# 2. builds everything (build/, RelWithDebInfo) and runs every test: unit, bad input,
#    management plane, integration against a real Ceph started here, and end-to-end
#    against the Linux kernel's NVMe/TCP host in QEMU
# 3. builds the data plane with ASan+UBSan (build-asan/) and runs its unit and bad-input
#    tests there
# 4. builds the libFuzzer targets with clang (build-fuzz/, the target `fuzzers` only) and
#    runs each for a bounded time, two at once
# 5. with --image: builds the container image from Debian's packages and runs the gateway
#    from it (also on a throw-away cluster, a QEMU host doing verified I/O), and installs the Debian package into a fresh root file system and runs it
#    there (label image; downloads the runtime packages, a few minutes)
# Prints ctest's summary per stage and a closing "N passed, N failed" line; exits non-zero
# on any failure.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
E2E=1 CEPH=1 ASAN=1 FUZZ=1 IMAGE=0
for a in "$@"; do
  case $a in
    --quick) E2E=0; CEPH=0; FUZZ=0 ;;
    --no-e2e) E2E=0 ;;
    --no-ceph) CEPH=0 ;;
    --no-asan) ASAN=0 ;;
    --no-fuzz) FUZZ=0 ;;
    --image) IMAGE=1 ;;
    -h|--help) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "run-all: unknown option $a (see --help)" >&2; exit 2 ;;
  esac
done
JOBS=$(nproc)
T0=$SECONDS
PASSED=0 FAILED=0
declare -a FAILED_STAGES=()

stage() { printf '\n==== %s (%ds elapsed)\n' "$*" $((SECONDS - T0)); }

# Runs ctest in a build dir with extra args; adds its counts to the totals.
run_ctest() { # name builddir ctest-args...
  local name=$1 dir=$2; shift 2
  local log="$dir/ctest-$name.log"
  ctest --test-dir "$dir" --output-on-failure --no-tests=ignore --test-output-size-failed 65536 --test-output-truncation head "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local line total failed
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
  if [[ -n $line ]]; then
    failed=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* tests failed out of ([0-9]+).*/\1/' <<<"$line")
    PASSED=$((PASSED + total - failed)); FAILED=$((FAILED + failed))
  fi
  if ((rc != 0)); then
    FAILED_STAGES+=("$name")
    [[ -n $line ]] || FAILED=$((FAILED + 1))
  fi
}

build() { # dir cmake-args...  (ninja builds $TARGETS when set, else everything)
  local dir=$1; shift
  mkdir -p "$dir"
  cmake -S "$ROOT" -B "$dir" -G Ninja "$@" >"$dir/configure.log" 2>&1 || { cat "$dir/configure.log"; return 1; }
  # shellcheck disable=SC2086
  ninja -C "$dir" -j"$JOBS" ${TARGETS:-} 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\] ' | tail -40
  return "${PIPESTATUS[0]}"
}

stage "dependencies"
bash gateway/scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

stage "build (release)"
if ! build build; then
  echo "run-all: the build failed"; echo "0 passed, 1 failed"; exit 1
fi

stage "unit, bad-input and management tests"
run_ctest fast build -L 'unit|badinput|mgmt' -j2

if ((CEPH)); then
  stage "integration tests against a real Ceph"
  run_ctest ceph build -L ceph -LE e2e  # the VM tests on Ceph run in the e2e stage
fi

if ((E2E)); then
  stage "end-to-end tests: the Linux NVMe/TCP host in QEMU"
  run_ctest e2e build -L e2e
fi

if ((IMAGE)); then
  stage "the container image (gateway/scripts/build-image.sh)"
  run_ctest image build -L image
fi

if ((ASAN)); then
  stage "ASan+UBSan build of the data plane"
  if build build-asan -DNVMEOF_SANITIZE=ON -DNVMEOF_WITH_GRPC=OFF -DNVMEOF_WITH_RBD=OFF -DCMAKE_BUILD_TYPE=Debug; then
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      run_ctest asan build-asan -L 'unit|badinput' -j2
  else
    FAILED=$((FAILED + 1)); FAILED_STAGES+=("asan-build")
  fi
fi

if ((FUZZ)); then
  stage "fuzzers (bounded)"
  # Only the fuzzers and what they need (the rest of the tree is built and tested above).
  if TARGETS=fuzzers build build-fuzz -DNVMEOF_FUZZ=ON -DNVMEOF_WITH_GRPC=OFF -DNVMEOF_WITH_RBD=OFF \
       -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++; then
    run_ctest fuzz build-fuzz -L fuzz -j2
  else
    FAILED=$((FAILED + 1)); FAILED_STAGES+=("fuzz-build")
  fi
fi

stage "done"
((${#FAILED_STAGES[@]})) && echo "failed stages: ${FAILED_STAGES[*]}"
echo "total time: $((SECONDS - T0)) s"
echo "$PASSED passed, $FAILED failed"
((FAILED == 0 && ${#FAILED_STAGES[@]} == 0))
