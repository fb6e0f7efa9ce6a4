#!/usr/bin/env bash
# "Two threads beside a busy core" (docs/performance.md): case c at 1 and 2 threads, each in a fresh process, on a
# quiet machine and then beside a CPU-bound process pinned to the last CPU. Usage: bash run.sh [ROUNDS] [--into]
# (default 2 rounds; --into: Forward into tensors made once instead of the overload that returns new ones)
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-2}
into=${2:-}
nice -n 19 dotnet build -c Release -o bin/busycore >/dev/null
app=bin/busycore/ElmanRnn.BusyCore.dll
for round in $(seq "$rounds"); do
  echo "quiet:     $(dotnet $app 1 $into)  |  $(dotnet $app 2 $into)"
done
last=$(($(nproc) - 1))
taskset -c "$last" sh -c 'while :; do :; done' &
busy=$!
trap 'kill $busy' EXIT
sleep 0.3
for round in $(seq "$rounds"); do
  echo "busy CPU $last: $(dotnet $app 1 $into)  |  $(dotnet $app 2 $into)"
done
