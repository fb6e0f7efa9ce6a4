#!/usr/bin/env bash
# The kernels' ARM64 checks on an x64 Linux machine: publishes tests/ElmanRnn.Arm64Check self-contained for
# linux-arm64 and runs it under qemu-aarch64 (user-mode emulation; Debian's qemu-user with the arm64 C and C++
# runtime from the *-arm64-cross packages as its sysroot, so no binfmt registration and no foreign dpkg architecture
# are needed). On an ARM64 machine it runs the app natively. Arguments go to the app (--quick: a subset of the
# libtorch fixtures and of the tanh sample).
#   usage: nice -n 19 bash tests/arm64-check.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
sysroot=/usr/aarch64-linux-gnu
run=()
if [ "$(uname -m)" != aarch64 ]; then
  if ! command -v qemu-aarch64 >/dev/null || [ ! -e "$sysroot/lib/libstdc++.so.6" ]; then
    echo "== install qemu-user and the arm64 C/C++ runtime (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross
  fi
  run=(qemu-aarch64 -L "$sysroot")
  # W^X maps JIT code twice (a writable view and an executable one); qemu-user only notices code written through the
  # executable view's pages, so a method patched through the other (tiering, stubs) can keep running stale code:
  # random heap corruption, seen 4 times in 5 under DOTNET_GCgen0size=0x20000, 0 in 5 with W^X off.
  export DOTNET_EnableWriteXorExecute=0
fi

echo "== publish tests/ElmanRnn.Arm64Check for linux-arm64 (self-contained)"
dotnet publish tests/ElmanRnn.Arm64Check -c Release -r linux-arm64 --self-contained -o "$out" --nologo -v quiet

echo "== run${run:+ under ${run[*]}}"
"${run[@]}" "$out/ElmanRnn.Arm64Check" "$@"
