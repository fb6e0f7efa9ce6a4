#!/usr/bin/env bash
# Coverage-guided fuzzing of every reader of untrusted bytes with AFL++ and SharpFuzz (tests/ElmanRnn.Fuzz/README.md).
#   bash tests/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# SECONDS_PER_TARGET defaults to 60; TARGETs default to all: safetensors pt pickle npy state checkpoint.
# One afl-fuzz at a time. Prints each target's executions, corpus, crashes and hangs; exits 1 if any crash, or any
# hang that also hangs when replayed in-process, was found (the inputs are printed in base64 and kept under
# $FUZZ_OUT, default artifacts/fuzz). Installs afl++ (apt) and the SharpFuzz CLI (dotnet tool restore) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors pt pickle npy state checkpoint)
out=${FUZZ_OUT:-$PWD/artifacts/fuzz}
mkdir -p "$out"
fixtures=tests/ElmanRnn.Tests/Fixtures

if ! command -v afl-fuzz > /dev/null; then
  echo "== installing afl++"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ > /dev/null
fi
dotnet tool restore > "$out.tool-restore.log" 2>&1 || { cat "$out.tool-restore.log"; exit 1; }

echo "== publish the harness and instrument ElmanRnn.dll and the CLI (for .npy) with sharpfuzz"
rm -rf "$out/bin"   # a fresh copy each time: sharpfuzz refuses an assembly it already instrumented
dotnet publish tests/ElmanRnn.Fuzz -c Release -o "$out/bin" --nologo -v quiet > "$out.publish.log" 2>&1 \
  || { cat "$out.publish.log"; exit 1; }
for dll in ElmanRnn.dll elman-rnn.dll; do
  dotnet sharpfuzz "$out/bin/$dll" > "$out.sharpfuzz.log" 2>&1 || { echo "sharpfuzz $dll failed:"; cat "$out.sharpfuzz.log"; exit 1; }
done
harness=("$(command -v dotnet)" "$out/bin/ElmanRnn.Fuzz.dll")

# Seeds: the committed fixtures, only the smallest (afl-fuzz mutates small inputs far faster).
# (awk rather than head: head would stop reading early and pipefail would take sort's SIGPIPE for a failure)
smallest() { find "$fixtures" -name "$2" -printf '%s %p\n' | sort -n | awk -v n="$1" 'NR <= n { print $2 }'; }
seeds() {
  local target=$1 dir=$out/seeds/$1
  rm -rf "$dir"
  mkdir -p "$dir"
  case $target in
    safetensors) smallest 8 '*.safetensors' | xargs cp -t "$dir" ;;
    pt) smallest 2 '*.pt' | xargs cp -t "$dir" ;;
    pickle)  # the data.pkl of each small .pt
      smallest 4 '*.pt' | while read -r pt; do
        python3 -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1]); name = next(n for n in z.namelist() if n.endswith("/data.pkl"))
open(sys.argv[2], "wb").write(z.read(name))' "$pt" "$dir/$(basename "$pt" .pt).pkl"
      done ;;
    npy) cp "$fixtures"/npy/*.npy "$dir" ;;
    state) "${harness[@]}" state --seeds "$dir" ;;
    checkpoint) { smallest 3 '*.safetensors'; smallest 2 '*.pt'; } | xargs cp -t "$dir" ;;
  esac
  [ -n "$(ls -A "$dir")" ] || { echo "no seeds for $target"; exit 1; }
}

stat_of() { sed -nE "s/^$2 *: *//p" "$1" | head -n 1; }

found=0
summary=()
for target in "${targets[@]}"; do
  seeds "$target"
  findings=$out/findings/$target
  rm -rf "$findings"
  mkdir -p "$out/findings"
  dict=()  # the format's tokens, where the format is text (afl-fuzz cannot take them from a .NET binary)
  [ ! -f "tests/ElmanRnn.Fuzz/dict/$target.dict" ] || dict=(-x "tests/ElmanRnn.Fuzz/dict/$target.dict")
  echo "== afl-fuzz $target for ${seconds}s ($(ls "$out/seeds/$target" | wc -l) seeds)"
  # SharpFuzz writes a 64 KiB coverage map: AFL_MAP_SIZE matches it (AFL_SKIP_BIN_CHECK turns off AFL++'s map
  # size detection, and AFL++'s 8 MiB default would only slow it down). -m none: the .NET runtime reserves far
  # more address space than afl's default limit; the harness caps the GC heap instead (ElmanRnn.Fuzz.csproj).
  AFL_SKIP_BIN_CHECK=1 AFL_MAP_SIZE=65536 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 \
  AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_FAST_CAL=1 AFL_FORKSRV_INIT_TMOUT=60000 \
    afl-fuzz -i "$out/seeds/$target" -o "$findings" -m none -t 5000 -V "$seconds" "${dict[@]}" \
      -- "${harness[@]}" "$target" > "$out/afl-$target.log" 2>&1 || {
        echo "afl-fuzz $target failed:"; tail -n 30 "$out/afl-$target.log"; found=1; continue; }

  stats=$findings/default/fuzzer_stats
  execs=$(stat_of "$stats" execs_done)
  corpus=$(stat_of "$stats" corpus_count)
  crashes=$(stat_of "$stats" saved_crashes)
  hangs=$(stat_of "$stats" saved_hangs)
  runtime=$(stat_of "$stats" run_time)
  summary+=("$(printf '%-12s %6ss %10s execs %6s corpus %4s crashes %4s hangs' "$target" "$runtime" "$execs" "$corpus" "$crashes" "$hangs")")

  # Every crash is a finding. A hang may be load on a shared machine: it counts only if it also hangs (or
  # crashes) when replayed in-process, with a generous limit.
  for kind in crashes hangs; do
    dir=$findings/default/$kind
    [ -n "$(ls -A "$dir" 2>/dev/null | grep -v README.txt)" ] || continue
    if "${harness[@]}" "$target" --replay "$dir" > "$out/replay-$target-$kind.txt" 2>&1 && [ "$kind" = hangs ]; then
      echo "$target: afl-fuzz timeouts that do not reproduce in-process (machine load):"; tail -n 1 "$out/replay-$target-$kind.txt"
      continue
    fi
    found=1
    echo "!! $target $kind:"
    head -n 40 "$out/replay-$target-$kind.txt"
    for f in $(ls "$dir" | grep -v README.txt | head -n 3); do
      echo "-- $f (base64, first 4 KiB):"
      head -c 4096 "$dir/$f" | base64
    done
  done
done

echo "== fuzzing summary (${seconds}s per target; findings under $out/findings)"
printf '%s\n' "${summary[@]}"
exit $found
