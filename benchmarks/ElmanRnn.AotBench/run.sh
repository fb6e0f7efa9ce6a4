#!/usr/bin/env bash
# NativeAOT and ReadyToRun against the JIT, and first-call times (issue 8): builds this app as JIT, as NativeAOT with
# the default x64 target, as NativeAOT with the README's IlcInstructionSet=x86-64-v3 (AVX2+FMA) (and x86-64-v4,
# AVX-512, on a machine that has it), as ReadyToRun
# framework-dependent (what `-p:PublishReadyToRun=true` alone gives) and as ReadyToRun self-contained, trimmed,
# composite (framework included) for x86-64-v3, each into its own folder under bin/aotbench/, then
#   - times Forward of RNN(256, 256) fp32, L = 64, N = 16 (eval, 1 thread) each way and prints the medians and their
#     ratios to the JIT's;
#   - runs `first-calls` (case a's first 1000 calls, case b's first 20, in a fresh process) as JIT, as JIT pinned to one
#     CPU (taskset -c 0), as both ReadyToRun builds (the composite one also pinned) and as the x86-64-v3 NativeAOT
#     binary, and prints each way's median and range over the runs.
# Builds run under `nice -n 19` (a shared machine); the timed runs do not.
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

build() {   # build NAME COMMAND...: runs the build at low priority, its log in $out.NAME.log
  local name=$1; shift
  nice -n 19 "$@" -o "$out/$name" >"$out.$name.log" 2>&1 || { tail -n 20 "$out.$name.log"; exit 1; }
}
echo "== build (JIT), publish (NativeAOT: default target, x86-64-v3; ReadyToRun: framework-dependent, self-contained composite)"
build jit dotnet build -c Release
build aot-default dotnet publish -c Release -r linux-x64 -p:PublishAot=true
build aot-v3 dotnet publish -c Release -r linux-x64 -p:PublishAot=true -p:IlcInstructionSet=x86-64-v3
# On an AVX-512 machine also x86-64-v4, whose binary refuses to start elsewhere.
avx512=$(grep -qw avx512f /proc/cpuinfo && echo yes || true)
[ -n "$avx512" ] && build aot-v4 dotnet publish -c Release -r linux-x64 -p:PublishAot=true -p:IlcInstructionSet=x86-64-v4
# crossgen2 runs again only when its inputs change, not its arguments: start each ReadyToRun publish from a clean R2R
# folder so one variant's images are never reused for the other.
r2r_obj=obj/Release/net10.0/linux-x64/R2R
rm -rf "$r2r_obj"
build r2r dotnet publish -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true
rm -rf "$r2r_obj"
build r2r-sc dotnet publish -c Release -r linux-x64 --self-contained true -p:PublishTrimmed=true \
  -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true \
  -p:PublishReadyToRunCrossgen2ExtraArgs=--instruction-set:x86-64-v3
rm -rf "$r2r_obj"

echo "== machine: $(lscpu | sed -nE 's/^Model name: *//p'), $(nproc) CPUs; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# How each way is started (framework-dependent builds through `dotnet`, the others through their own executable).
declare -A cmd=(
  [jit]="dotnet $out/jit/ElmanRnn.AotBench.dll"
  [aot-default]="$out/aot-default/ElmanRnn.AotBench"
  [aot-v3]="$out/aot-v3/ElmanRnn.AotBench"
  [aot-v4]="$out/aot-v4/ElmanRnn.AotBench"
  [r2r]="dotnet $out/r2r/ElmanRnn.AotBench.dll"
  [r2r-sc]="$out/r2r-sc/ElmanRnn.AotBench"
)
ways="jit aot-default aot-v3${avx512:+ aot-v4} r2r r2r-sc"

median_ms() { sed -nE 's/.*median ([0-9.]+) ms.*/\1/p'; }
declare -A steady
for run in $(seq "$runs"); do   # the ways interleaved, so drifting load on a shared machine hits each alike
  for way in $ways; do
    line=$(${cmd[$way]})
    echo "$way run $run: $(tr '\n' ' ' <<<"$line")"
    steady[$way]+="$(median_ms <<<"$line") "
  done
done
med() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
jit=$(med <<<"${steady[jit]}")
for way in $ways; do
  m=$(med <<<"${steady[$way]}")
  echo "steady $way: median of runs $m ms, $(awk -v m="$m" -v j="$jit" 'BEGIN { printf "%.2f", m / j }')× the JIT"
done

echo "== first calls (each run a fresh process)"
first_ways="jit jit-cpu0 r2r r2r-sc r2r-sc-cpu0 aot-v3${avx512:+ aot-v4}"
first_log=$out.first-calls.log
: >"$first_log"
for run in $(seq "$runs"); do
  for way in $first_ways; do
    case $way in
      *-cpu0) c="taskset -c 0 ${cmd[${way%-cpu0}]}" ;;
      *) c=${cmd[$way]} ;;
    esac
    echo "-- $way, run $run"
    output=$($c first-calls)
    echo "$output"
    printf '%s\t%s\n' "$way" "$(tr '\n' ' ' <<<"$output")" >>"$first_log"
  done
done

# Per way: median (min–max) over the runs of case a's first call, the mean of its first 1000 calls, the methods the
# JIT compiled during that first call, and case b's first and 10th calls over its steady median.
echo "== first calls, median (min–max) of $runs runs"
printf '%-12s %-26s %-26s %-16s %-22s %s\n' way "case a 1st call ms" "case a mean of 1000 µs" "JIT'd in 1st" \
  "case b 1st / steady" "case b 10th / steady"
for way in $first_ways; do
  grep -P "^$way\t" "$first_log" | awk -F'\t' '
    function num(s, re) { return match(s, re) ? substr(s, RSTART, RLENGTH) : "" }
    {
      s = $2
      first = num(num(s, "first call [0-9.]+"), "[0-9.]+") / 1000
      mean = num(num(s, "mean of first 1000 [0-9.]+"), "[0-9.]+$")
      jit = num(num(s, "case a.s 1st call: [0-9]+"), "[0-9]+$")
      sb = num(num(s, "case b steady median [0-9.]+"), "[0-9.]+")
      calls = substr(s, index(s, "case b calls"))
      b1 = num(num(calls, " 1:[0-9]+"), "[0-9]+$"); b10 = num(num(calls, " 10:[0-9]+"), "[0-9]+$")
      print first, mean, jit, b1 / sb, b10 / sb
    }' | awk -v way="$way" '
    function stat(col,   n, i, j, v, t) {   # median (min–max) of column col
      n = 0
      for (i = 1; i <= NR; i++) { v[++n] = row[i, col] }
      for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
      return sprintf(fmt[col], (v[int((n + 1) / 2)] + v[int(n / 2) + 1]) / 2, v[1], v[n])
    }
    BEGIN { fmt[1] = "%.3f (%.3f–%.3f)"; fmt[2] = "%.2f (%.2f–%.2f)"; fmt[3] = "%d (%d–%d)"
            fmt[4] = "%.1f× (%.1f–%.1f)"; fmt[5] = "%.2f× (%.2f–%.2f)" }
    { for (c = 1; c <= 5; c++) row[NR, c] = $c }
    END { printf "%-12s %-26s %-26s %-16s %-22s %s\n", way, stat(1), stat(2), stat(3), stat(4), stat(5) }'
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
