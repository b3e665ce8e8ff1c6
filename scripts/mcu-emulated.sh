#!/usr/bin/env bash
# The safety MCU image on an emulated board: builds the MPS2 AN386 image
# (firmware/boards/mps2-an386), starts it in QEMU (`-M mps2-an386`) with UART0 on a local TCP
# socket, and runs the bench (its examples/emulate.rs): link frames from the firmware crate's
# own encoder go in, the board's Decision frames come back and are checked against the same
# monitor and SSM run on the host. The last line of stdout is one JSON object: per scenario,
# pass/fail and figures.
#
# Emulated time: QEMU runs with `-icount shift=auto` (override: A4MER_QEMU_ICOUNT). With
# icount the board's clock (SysTick, the watchdog) advances with the instructions the guest
# executes, not with the host's wall clock, so a stall of the host (2 shared cores in CI)
# while the firmware decodes or decides does not show up as latency on the board; `auto`
# lets QEMU pick the cost of an instruction so that emulated time keeps pace with the host's,
# which the bench needs since it sends frames on host time (and, measured here, it moves UART
# bytes fastest). Latencies are the board's own timestamps in its Decision frames, in 1 ms
# SysTick ticks; the ProtectiveStop latency depends only on the monitor's thresholds and that
# tick, so it is the same on every run.
#
# No qemu-system-arm: prints SKIP with the reason and exits 0, or 1 when CI=true.
#
#   scripts/mcu-emulated.sh
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
qemu="${QEMU_SYSTEM_ARM:-qemu-system-arm}"
icount="${A4MER_QEMU_ICOUNT-shift=auto}"

step() { printf '==> %s [%s]\n' "$*" "$(date -u +%H:%M:%S)" >&2; }

if ! command -v "$qemu" >/dev/null; then
    reason="$qemu not found (Debian/Ubuntu: apt-get install -y qemu-system-arm)"
    echo "SKIP: $reason" >&2
    echo "{\"skip\": true, \"reason\": \"$reason\"}"
    [ "${CI:-}" = "true" ] && exit 1
    exit 0
fi
if ! "$qemu" -M help | grep -q '^mps2-an386 '; then
    reason="$qemu has no mps2-an386 machine"
    echo "SKIP: $reason" >&2
    echo "{\"skip\": true, \"reason\": \"$reason\"}"
    [ "${CI:-}" = "true" ] && exit 1
    exit 0
fi

work="$(mktemp -d -t a4mer-mcu.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

step "build: the board image, its stall-test variant (thumbv7em-none-eabihf) and the host bench"
image="$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/a4mer-mcu-mps2-an386"
cargo build --locked -q -p a4mer-mcu-mps2-an386 --release --target thumbv7em-none-eabihf --features stall-test
cp "$image" "$work/stall-test.elf"
cargo build --locked -q -p a4mer-mcu-mps2-an386 --release --target thumbv7em-none-eabihf
cargo build --locked -q -p a4mer-mcu-mps2-an386 --release --example emulate
bench="$CARGO_TARGET_DIR/release/examples/emulate"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# One board: its ELF, its UART0 port, its log.
board() {
    "$qemu" -M mps2-an386 -nographic -monitor none ${icount:+-icount "$icount"} \
        -chardev "socket,id=link,host=127.0.0.1,port=$2,server=on,wait=off" -serial chardev:link \
        -kernel "$1" >"$3" 2>&1 &
    pids+=($!)
}

port="$(free_port)"
step "run: $("$qemu" --version | head -1), -icount ${icount:-off}, UART0 on 127.0.0.1:$port"
board "$image" "$port" "$work/qemu.log"
status=0
"$bench" "$port" >"$work/main.json" || status=$?

stall_port="$(free_port)"
step "run: the stall-test image, UART0 on 127.0.0.1:$stall_port"
board "$work/stall-test.elf" "$stall_port" "$work/qemu-stall.log"
"$bench" --stall "$stall_port" >"$work/stall.json" || status=$?

for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "qemu exited early:" >&2
        cat "$work"/qemu*.log >&2
        status=1
    fi
done
# One JSON line: the bench's, with the watchdog scenario appended.
python3 - "$work/main.json" "$work/stall.json" <<'PY'
import json, sys
def last_json(path):
    lines = [l for l in open(path).read().splitlines() if l.startswith("{")]
    return json.loads(lines[-1]) if lines else None
main, stall = last_json(sys.argv[1]), last_json(sys.argv[2])
out = main or {"board": "mps2-an386", "pass": False, "scenarios": [], "error": "the bench printed no result"}
out["scenarios"].append(stall or {"name": "stalled_loop_watchdog_reset", "pass": False, "error": "no result"})
out["pass"] = all(s.get("pass") is True for s in out["scenarios"])
print(json.dumps(out))
PY
exit "$status"
