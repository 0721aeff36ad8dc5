#!/usr/bin/env bash
# Smoke test of a running AOS node: liveness, readiness (store reachable,
# skills loaded), metrics, one sample run to completion and its replay.
# Exits non-zero at the first failure, saying which check failed.
#
#   ops/smoke.sh <url> [api-key]
#
# The key (or AOS_API_KEY) is sent as `Authorization: Bearer <key>` on /v1
# routes; probes and /metrics need none. AOS_SMOKE_WAIT_S bounds the wait for
# the run (default 60). Needs only bash, curl and grep.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || $1 == -h || $1 == --help ]]; then
  echo "usage: $0 <url> [api-key]" >&2
  exit 2
fi
url="${1%/}"
key="${2:-${AOS_API_KEY:-}}"
wait_s="${AOS_SMOKE_WAIT_S:-60}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

fail() {
  echo "smoke: FAIL $*" >&2
  exit 1
}
pass() { echo "smoke: ok   $*"; }

# request METHOD PATH [JSON]: sets $status and $body.
request() {
  local method=$1 path=$2 data=${3:-}
  local args=(-sS -o "$scratch/body" -w '%{http_code}' -X "$method"
    --max-time "$((wait_s + 10))")
  if [[ -n $key && $path == /v1/* ]]; then
    args+=(-H "Authorization: Bearer $key")
  fi
  if [[ -n $data ]]; then
    args+=(-H 'content-type: application/json' --data "$data")
  fi
  status="$(curl "${args[@]}" "$url$path" 2>"$scratch/error")" ||
    fail "$method $path: no answer from $url ($(cat "$scratch/error"))"
  body="$(cat "$scratch/body")"
}

expect() { # STATUS WHAT
  [[ $status == "$1" ]] || fail "$2: HTTP $status, expected $1: ${body:0:500}"
}

contains() { # TEXT WHAT
  grep -qF -- "$1" <<<"$body" || fail "$2: no $1 in ${body:0:500}"
}

# A value of the exposition, 0 when the series is absent.
metric() {
  local line
  line="$(grep -F -- "$1 " <<<"$body" | head -n 1 || true)"
  echo "${line##* }"
}

request GET /healthz
expect 200 "liveness /healthz"
contains '"status":"ok"' "liveness /healthz"
pass "liveness"

request GET /readyz
expect 200 "readiness /readyz"
contains '"store":true' "readiness /readyz"
grep -qE '"skills":[1-9]' <<<"$body" || fail "readiness: no skills loaded: $body"
pass "readiness (store reachable, skills loaded)"

request GET /metrics
expect 200 "metrics /metrics"
contains "# TYPE nova_runs_total counter" "metrics /metrics"
contains "# TYPE nova_http_requests_total counter" "metrics /metrics"
pass "metrics"

plan='{"steps":[
  {"id":"extract","skill":"json_transform","params":{"op":"extract","path":"$.order",
    "input":{"order":{"id":7,"customer":{"name":"Smoke","tier":"gold"}}}}},
  {"id":"pick","skill":"json_transform","params":{"op":"pick",
    "input":"{{steps.extract.output.result}}","keys":["customer"]}},
  {"id":"omit","skill":"json_transform","params":{"op":"omit",
    "input":"{{steps.pick.output.result.customer}}","keys":["tier"]}}]}'
request POST /v1/runs "$plan"
expect 202 "submit POST /v1/runs"
run_id="$(grep -oE '"run_id":"[^"]+"' <<<"$body" | head -n 1 | cut -d'"' -f4)"
[[ -n $run_id ]] || fail "submit: no run_id in $body"
pass "submitted $run_id"

deadline=$((SECONDS + wait_s))
while :; do
  request GET "/v1/runs/$run_id?wait_ms=$((wait_s * 1000 < 60000 ? wait_s * 1000 : 60000))"
  expect 200 "status GET /v1/runs/$run_id"
  grep -qF '"status":"running"' <<<"$body" || break
  ((SECONDS < deadline)) || fail "run $run_id still running after ${wait_s}s"
done
contains '"status":"succeeded"' "run $run_id"
contains '"result":{"name":"Smoke"}' "run $run_id output"
pass "run $run_id succeeded"

request POST "/v1/runs/$run_id/replay"
expect 200 "replay POST /v1/runs/$run_id/replay"
contains '"verdict":"identical"' "replay of $run_id"
pass "replay of $run_id is identical"

request GET /metrics
expect 200 "metrics /metrics"
succeeded="$(metric 'nova_runs_total{status="succeeded"}')"
[[ ${succeeded:-0} -ge 1 ]] 2>/dev/null ||
  fail "metrics: nova_runs_total{status=\"succeeded\"} is ${succeeded:-absent}"
replays="$(metric 'nova_replay_tests_total{status="identical"}')"
[[ ${replays:-0} -ge 1 ]] 2>/dev/null ||
  fail "metrics: nova_replay_tests_total{status=\"identical\"} is ${replays:-absent}"
pass "metrics count the run and its replay"
echo "smoke: all checks passed against $url"
