#!/usr/bin/env bash
# Runs Google's packetdrill test scripts against ustack through its C API's shared object
# (libustack_capi.so), each script in a fresh network namespace, in parallel; prints one line
# per script (PASS, FAIL with packetdrill's error, SKIP with the reason) and a total line
# "N passed, M failed, K skipped". docs/conformance.md explains the results.
#
# packetdrill is GPL-2.0 and is never copied into this repository: the runner builds it from
# the pinned release tarball (checked by its SHA-256) and reads the scripts from there,
# unpacked under target/packetdrill/.
#
# Usage: scripts/packetdrill.sh [options] [LIST...]
#   LIST                 files of script paths, one a line, relative to packetdrill's tree
#                        (default: tests/packetdrill/core.txt)
#   --tarball PATH       packetdrill-2c4001c4.tar.gz (or env PACKETDRILL_TARBALL)
#   --tests-tarball PATH packetdrill-tests-24354fe.tar.gz, the 2013 scripts (or env
#                        PACKETDRILL_TESTS_TARBALL); needed for lists naming them
#   --pass-list FILE     exit 1 if a script listed in FILE does not pass
#   --jobs N             scripts run at once (default: number of CPUs)
#   --timeout SECS       wall-clock bound of one script (default 60)
#   --no-build           use the existing target/release/libustack_capi.so
#   --sysctl NAME=VALUE  set a sysctl in every script's namespace before it runs (repeatable);
#                        a list's "# sysctl: NAME=VALUE" lines do the same for its scripts
#   --ip-version MODE    ipv4 (default), ipv4-mapped-ipv6 (AF_INET6 sockets, IPv4 packets) or
#                        ipv6 (with packetdrill's --mtu=1520, as its run_all.py does, and the
#                        library's MTU to match); scripts named *v6* run only with ipv6
#   -v                   print packetdrill's whole output for failures
# Without --tarball the tarballs are looked for by file name in the directories above the
# checkout, nearest first, each searched five levels deep. Needs root (network namespaces),
# gcc, bison, flex, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

PD_TARBALL_NAME=packetdrill-2c4001c4.tar.gz
PD_TARBALL_SHA256=b76c249e6de25dfc8aac599139308bb75aca06c1d0972638e3058f091310287b
PD_TESTS_NAME=packetdrill-tests-24354fe.tar.gz
PD_TESTS_SHA256=75f420456b5a04112d4e1a7caae82418577629cf4b2fb4baa4704135951674f0

tarball=${PACKETDRILL_TARBALL:-}
tests_tarball=${PACKETDRILL_TESTS_TARBALL:-}
pass_list=
jobs=$(nproc)
timeout_secs=60
build=1
verbose=0
sysctls=()
ip_version=ipv4
lists=()
while (($#)); do
  case $1 in
    --tarball) tarball=$2; shift 2 ;;
    --tests-tarball) tests_tarball=$2; shift 2 ;;
    --pass-list) pass_list=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --timeout) timeout_secs=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --sysctl) sysctls+=("$2"); shift 2 ;;
    --ip-version) ip_version=$2; shift 2 ;;
    -v) verbose=1; shift ;;
    -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) lists+=("$1"); shift ;;
  esac
done
((${#lists[@]})) || lists=(tests/packetdrill/core.txt)
case $ip_version in
  ipv4) PD_FLAGS= ;;
  ipv4-mapped-ipv6) PD_FLAGS=--ip_version=ipv4-mapped-ipv6 ;;
  ipv6) PD_FLAGS="--ip_version=ipv6 --mtu=1520 --so_flags=mtu=1520" ;;
  *) echo "--ip-version: ipv4, ipv4-mapped-ipv6 or ipv6, not $ip_version" >&2; exit 2 ;;
esac

if ((EUID != 0)); then
  echo "packetdrill runs need root (network namespaces)" >&2
  exit 2
fi

find_tarball() { # name -> path, searching the directories above the checkout, nearest first
  local name=$1 dir=$root
  while [[ $dir != / ]]; do
    dir=$(dirname "$dir")
    local hit
    hit=$(find "$dir" -maxdepth 5 \( -path /proc -o -path /sys -o -path /dev -o -path "$root" \) \
      -prune -o -name "$name" -print -quit 2>/dev/null || true)
    if [[ -n $hit ]]; then echo "$hit"; return; fi
  done
}

check_sha() { # path sha256
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  if [[ $got != "$2" ]]; then
    echo "$1: SHA-256 $got, expected $2 (not the pinned packetdrill)" >&2
    exit 2
  fi
}

[[ -n $tarball ]] || tarball=$(find_tarball "$PD_TARBALL_NAME")
if [[ -z $tarball || ! -f $tarball ]]; then
  echo "cannot find $PD_TARBALL_NAME: pass --tarball PATH" >&2
  exit 2
fi
check_sha "$tarball" "$PD_TARBALL_SHA256"

work=$root/target/packetdrill
src=$work/src
pd=$src/gtests/net/packetdrill/packetdrill
if [[ ! -x $pd ]]; then
  echo "==> building packetdrill from $(basename "$tarball")"
  rm -rf "$src"
  mkdir -p "$src"
  tar -xzf "$tarball" -C "$src" --strip-components=1
  (cd "$src/gtests/net/packetdrill" && ./configure >/dev/null && make -j"$(nproc)" packetdrill >"$work/build.log" 2>&1) || {
    tail -30 "$work/build.log" >&2
    echo "building packetdrill failed (needs gcc, bison, flex)" >&2
    exit 2
  }
fi

# A list whose first line is "# tree: 2013" names the 2013 scripts, unpacked in a tree of
# their own (their fast_retransmit/ would otherwise replace the newer one's).
src2013=$work/src-2013
needs_2013=0
for l in "${lists[@]}"; do
  head -1 "$l" | grep -q '^# tree: 2013' && needs_2013=1
done
if ((needs_2013)) && [[ ! -d $src2013/gtests ]]; then
  [[ -n $tests_tarball ]] || tests_tarball=$(find_tarball "$PD_TESTS_NAME")
  if [[ -z $tests_tarball || ! -f $tests_tarball ]]; then
    echo "cannot find $PD_TESTS_NAME: pass --tests-tarball PATH" >&2
    exit 2
  fi
  check_sha "$tests_tarball" "$PD_TESTS_SHA256"
  mkdir -p "$src2013"
  tar -xzf "$tests_tarball" -C "$src2013" --strip-components=1
fi

if ((build)); then
  echo "==> building libustack_capi.so"
  cargo build --release --locked -p ustack-capi >/dev/null
fi
so=$root/target/release/libustack_capi.so
hook=$work/getsockopt_hook.so
gcc -shared -fPIC -O2 -Wall -Werror -o "$hook" crates/capi/preload/getsockopt_hook.c -ldl

results=$work/results
rm -rf "$results"
mkdir -p "$results"

# Scripts that need what no userspace stack behind --so_filename can have: SKIP with why.
skip_reason() { # script path -> reason or nothing
  case $1 in
    *v6.pkt|*ipv6*) [[ $ip_version == ipv6 ]] || echo "an IPv6 script: run with --ip-version ipv6" ;;
    gtests/net/psp/*) echo "PSP needs packetdrill's wire mode" ;;
  esac
}

run_one() { # index tree script
  local i=$1 tree=$2 script=$3 out=$results/$1
  local reason
  reason=$(skip_reason "$script")
  if [[ -n $reason ]]; then
    printf 'SKIP %s (%s)\n' "$script" "$reason" >"$out.line"
    return
  fi
  if [[ ! -f $tree/$script ]]; then
    printf 'SKIP %s (not in the unpacked packetdrill tree)\n' "$script" >"$out.line"
    return
  fi
  local ns=ustackpd$$x$i
  ip netns add "$ns"
  # packetdrill's defaults.sh ends with "tc qdisc add dev tun0 ...": give it a tun0.
  ip netns exec "$ns" ip tuntap add tun0 mode tun
  local kv
  while IFS= read -r kv; do
    [[ -n $kv ]] && ip netns exec "$ns" sysctl -q -w "$kv" >/dev/null
  done < <(printf '%s\n' "$SYSCTLS"; cat "$results/$i.sysctl" 2>/dev/null)
  local rc=0
  (cd "$tree/$(dirname "$script")" &&
    LD_PRELOAD=$hook timeout "$timeout_secs" ip netns exec "$ns" \
      "$pd" --so_filename="$so" $PD_FLAGS "$(basename "$script")") >"$out.log" 2>&1 || rc=$?
  ip netns del "$ns"
  if ((rc == 0)); then
    printf 'PASS %s\n' "$script" >"$out.line"
  else
    local why
    if ((rc == 124)); then
      why="timed out after ${timeout_secs}s"
    else
      # packetdrill's error: the first line naming the script, without the path.
      why=$(grep -v 'tcp_congestion_control' "$out.log" | grep -m1 -E '\.pkt:[0-9]+:|error|Error' | sed 's/^[^ ]*\.pkt:/line /' | cut -c1-300)
      [[ -n $why ]] || why="exit status $rc"
    fi
    printf 'FAIL %s: %s\n' "$script" "$why" >"$out.line"
  fi
}
export -f run_one skip_reason
SYSCTLS=$(printf '%s\n' "${sysctls[@]}")
export results src pd so hook timeout_secs SYSCTLS ip_version PD_FLAGS

scripts=()
trees=()
list_sysctls=()
for l in "${lists[@]}"; do
  tree=$src
  head -1 "$l" | grep -q '^# tree: 2013' && tree=$src2013
  # "# sysctl: NAME=VALUE" lines: settings every script of this list runs with.
  sys=$(sed -n 's/^# sysctl: *//p' "$l")
  while read -r s; do
    s=${s%%#*}
    s=${s%"${s##*[![:space:]]}"}
    [[ -n $s ]] || continue
    scripts+=("$s")
    trees+=("$tree")
    list_sysctls+=("$sys")
  done <"$l"
done
for i in "${!scripts[@]}"; do
  [[ -n ${list_sysctls[$i]} ]] && printf '%s\n' "${list_sysctls[$i]}" >"$results/$i.sysctl"
done
echo "==> running ${#scripts[@]} scripts, $jobs at a time"
for i in "${!scripts[@]}"; do printf '%s\t%s\t%s\n' "$i" "${trees[$i]}" "${scripts[$i]}"; done |
  xargs -P "$jobs" -L 1 bash -c 'run_one "$0" "$1" "$2"'

passed=0 failed=0 skipped=0
declare -A status
for i in "${!scripts[@]}"; do
  line=$(cat "$results/$i.line")
  echo "$line"
  case $line in
    PASS*) ((passed += 1)); status[${scripts[$i]}]=pass ;;
    FAIL*)
      ((failed += 1)); status[${scripts[$i]}]=fail
      if ((verbose)); then sed 's/^/    /' "$results/$i.log"; fi
      ;;
    SKIP*) ((skipped += 1)); status[${scripts[$i]}]=skip ;;
  esac
done
echo "$passed passed, $failed failed, $skipped skipped"

if [[ -n $pass_list ]]; then
  regressions=0
  while read -r s; do
    s=${s%%#*}
    s=${s%"${s##*[![:space:]]}"}
    [[ -n $s ]] || continue
    if [[ ${status[$s]:-missing} != pass ]]; then
      echo "REGRESSION: $s is in $pass_list but did not pass" >&2
      regressions=1
    fi
  done <"$pass_list"
  exit $regressions
fi
