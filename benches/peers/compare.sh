#!/usr/bin/env bash
# Times the benchmark kernels under jitlab and under real interpreters, and prints a
# markdown table with ratios to Lua 5.4.
#
#   benches/peers/compare.sh            # best of 5 runs of each kernel
#   RUNS=3 benches/peers/compare.sh     # best of 3
#   KERNELS="objects polymorphic" benches/peers/compare.sh   # some kernels only
#
# The kernels are benches/kernels/*.mini and their twins benches/peers/*.lua. Each sets
# its size on one line (`let n = N;`, `local n = N`); this script runs them at the
# bigger sizes of PEER_SIZE below, written to a temporary copy, so that every run takes
# at least ~100 ms in Lua 5.4 and process start-up (about 1 ms) does not count. Every
# engine must print the same checksum, or the script stops.
#
# The jitlab columns are stages 1, 3, 5, 6 and 7 (those built) and `jitlab run` with
# its default engine (what a user gets); the peers are Lua 5.4, LuaJIT's interpreter
# (`luajit -joff`, the target of stage 6 on the object kernels) and LuaJIT with its
# JIT on (`luajit`, stage 7's yardstick). The ratios are to Lua 5.4, the highest
# stage's also to `luajit -joff`, and the default engine's also to `luajit`. A peer
# that is not installed is skipped, with a note. Timing is wall-clock, with
# `date +%s%N`, of the whole process; the engines take turns, and each one's best
# of RUNS is reported.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
runs=${RUNS:-5}
read -r -a kernels <<<"${KERNELS:-fib loop sieve matmul objects calls polymorphic}"
declare -A PEER_SIZE=(
  [fib]=32
  [loop]=4000000
  [sieve]=2000000
  [matmul]=170
  [objects]=20000
  [calls]=1500000
  [polymorphic]=300000
)

echo "building jitlab (release)..." >&2
cargo build --quiet --release -p jitlab --manifest-path "$root/Cargo.toml"
target=${CARGO_TARGET_DIR:-$root/target}
[[ "$target" = /* ]] || target="$PWD/$target" # cargo reads it relative to here
jitlab="$target/release/jitlab"

# The engines, one per column: a label, the command (the program file is appended),
# and the extension of the program it runs. A stage not built yet is left out.
labels=()
commands=()
exts=()
probe=$(mktemp)
echo "print 1;" >"$probe"
for stage in 1 3 5 6 7; do
  if "$jitlab" run --stage "$stage" "$probe" >/dev/null 2>&1; then
    labels+=("jitlab --stage $stage")
    commands+=("$jitlab run --stage $stage")
    exts+=(mini)
  fi
done
rm -f "$probe"
top_col=$((${#labels[@]} - 1))
labels+=("jitlab run")
commands+=("$jitlab run")
exts+=(mini)
default_col=$((${#labels[@]} - 1))
for peer in "lua5.4" "luajit -joff" "luajit"; do
  if command -v "${peer%% *}" >/dev/null; then
    labels+=("$peer")
    commands+=("$peer")
    exts+=(lua)
  else
    echo "note: ${peer%% *} is not installed; its column is skipped" >&2
  fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for k in "${kernels[@]}"; do
  sed -E "s/^let n = [0-9]+;/let n = ${PEER_SIZE[$k]};/" \
    "$root/benches/kernels/$k.mini" >"$tmp/$k.mini"
  sed -E "s/^local n = [0-9]+$/local n = ${PEER_SIZE[$k]}/" \
    "$root/benches/peers/$k.lua" >"$tmp/$k.lua"
done

# time_ms COMMAND FILE EXPECTED: the wall time in ms of one run, checking its output.
time_ms() {
  local cmd=$1 file=$2 expected=$3 start end out
  start=$(date +%s%N)
  out=$($cmd "$file")
  end=$(date +%s%N)
  if [[ "$out" != "$expected" ]]; then
    echo "error: '$cmd $file' printed '$out', expected '$expected'" >&2
    exit 1
  fi
  echo $(((end - start) / 1000000))
}

lua_col=-1
luajit_col=-1
luajit_jit_col=-1
for i in "${!labels[@]}"; do
  [[ "${labels[$i]}" == "lua5.4" ]] && lua_col=$i
  [[ "${labels[$i]}" == "luajit -joff" ]] && luajit_col=$i
  [[ "${labels[$i]}" == "luajit" ]] && luajit_jit_col=$i
done

# ratio A B: A / B as `1.23x`, or `-` when B is 0.
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'
}

header="| kernel | n |"
rule="|---|---:|"
for l in "${labels[@]}"; do header+=" $l (ms) |"; rule+="---:|"; done
if ((lua_col >= 0)); then
  for i in "${!labels[@]}"; do
    ((i == lua_col)) && continue
    header+=" ${labels[$i]} / lua5.4 |"
    rule+="---:|"
  done
fi
if ((luajit_col >= 0)); then
  header+=" ${labels[$top_col]} / luajit -joff |"
  rule+="---:|"
fi
if ((luajit_jit_col >= 0)); then
  header+=" ${labels[$default_col]} / luajit |"
  rule+="---:|"
fi
echo "$header"
echo "$rule"

for k in "${kernels[@]}"; do
  expected=$($jitlab run --stage 1 "$tmp/$k.mini")
  row="| $k | ${PEER_SIZE[$k]} |"
  # Round-robin over the engines, so that a burst of load on the machine hits them
  # all alike; keep each engine's best.
  times=()
  for ((r = 0; r < runs; r++)); do
    for i in "${!labels[@]}"; do
      t=$(time_ms "${commands[$i]}" "$tmp/$k.${exts[$i]}" "$expected")
      if [[ -z "${times[$i]:-}" ]] || ((t < times[i])); then times[i]=$t; fi
    done
  done
  for t in "${times[@]}"; do row+=" $t |"; done
  if ((lua_col >= 0)); then
    for i in "${!labels[@]}"; do
      ((i == lua_col)) && continue
      row+=" $(ratio "${times[$i]}" "${times[$lua_col]}") |"
    done
  fi
  if ((luajit_col >= 0)); then
    row+=" $(ratio "${times[$top_col]}" "${times[$luajit_col]}") |"
  fi
  if ((luajit_jit_col >= 0)); then
    row+=" $(ratio "${times[$default_col]}" "${times[$luajit_jit_col]}") |"
  fi
  echo "$row"
done
