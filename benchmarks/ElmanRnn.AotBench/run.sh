#!/usr/bin/env bash
# NativeAOT against the JIT, and first-call times (issue 8): builds this app as JIT, as NativeAOT with the default x64
# target, and as NativeAOT with the README's IlcInstructionSet=x86-64-v3 (AVX2+FMA), each into its own folder under
# bin/aotbench/, then
#   - times Forward of RNN(256, 256) fp32, L = 64, N = 16 (eval, 1 thread) each way and prints the medians and their
#     ratios to the JIT's;
#   - runs `first-calls` (case a's first 1000 calls, case b's first 20, in a fresh process) as JIT, as JIT pinned to one
#     CPU (taskset -c 0), and as the x86-64-v3 NativeAOT binary.
# Usage: bash benchmarks/ElmanRnn.AotBench/run.sh [RUNS]   (RUNS: how many times to run each, default 3)
set -euo pipefail
cd "$(dirname "$0")"
runs=${1:-3}
out=bin/aotbench
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
mkdir -p "$out"

# NativeAOT links with clang and needs zlib.
if ! command -v clang >/dev/null || ! dpkg -s zlib1g-dev >/dev/null 2>&1; then
  apt-get update && apt-get install -y clang zlib1g-dev
fi

echo "== build (JIT) and publish (NativeAOT: default target, x86-64-v3)"
dotnet build -c Release -o "$out/jit" >"$out.jit.log" 2>&1 || { tail -n 20 "$out.jit.log"; exit 1; }
dotnet publish -c Release -r linux-x64 -p:PublishAot=true -o "$out/aot-default" >"$out.aot-default.log" 2>&1 \
  || { tail -n 20 "$out.aot-default.log"; exit 1; }
dotnet publish -c Release -r linux-x64 -p:PublishAot=true -p:IlcInstructionSet=x86-64-v3 -o "$out/aot-v3" \
  >"$out.aot-v3.log" 2>&1 || { tail -n 20 "$out.aot-v3.log"; exit 1; }

echo "== machine: $(lscpu | sed -nE 's/^Model name: *//p'), $(nproc) CPUs; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

median_ms() { sed -nE 's/.*median ([0-9.]+) ms.*/\1/p'; }
declare -A steady
for run in $(seq "$runs"); do   # the three ways interleaved, so drifting load on a shared machine hits each alike
  for way in jit aot-default aot-v3; do
    if [ "$way" = jit ]; then line=$(dotnet "$out/jit/ElmanRnn.AotBench.dll"); else line=$("$out/$way/ElmanRnn.AotBench"); fi
    echo "$way run $run: $(tr '\n' ' ' <<<"$line")"
    steady[$way]+="$(median_ms <<<"$line") "
  done
done
med() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
jit=$(med <<<"${steady[jit]}")
for way in jit aot-default aot-v3; do
  m=$(med <<<"${steady[$way]}")
  echo "steady $way: median of runs $m ms, $(awk -v m="$m" -v j="$jit" 'BEGIN { printf "%.2f", m / j }')× the JIT"
done

echo "== first calls (each run a fresh process)"
for run in $(seq "$runs"); do
  echo "-- JIT, run $run";                 dotnet "$out/jit/ElmanRnn.AotBench.dll" first-calls
  echo "-- JIT, taskset -c 0, run $run";   taskset -c 0 dotnet "$out/jit/ElmanRnn.AotBench.dll" first-calls
  echo "-- NativeAOT x86-64-v3, run $run"; "$out/aot-v3/ElmanRnn.AotBench" first-calls
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
