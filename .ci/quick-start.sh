#!/usr/bin/env bash
# The README's quick start in the folder it is run in: `npm start` on the embedded database, then the sign-up flow
# with curl (register → the code from the server's log → verifyOtp → me), then a clean SIGTERM.
set -euo pipefail
port=${PORT:-4791}
data=$(mktemp -d)
log=$(mktemp)
api="http://127.0.0.1:$port/graphql"

# Its own process group, so that SIGTERM reaches the server itself and not only npm.
PORT=$port DATA_DIR=$data setsid npm start >"$log" 2>&1 &
server=$!
trap 'kill -- -$server 2>/dev/null || true; rm -rf "$data" "$log"' EXIT

wait_for_log() { # pattern, seconds
  for _ in $(seq 1 "$2"); do
    if grep -q "$1" "$log"; then return 0; fi
    # Gone when neither npm (until setsid runs, the group does not exist yet) nor any process of its group is left.
    if ! kill -0 "$server" 2>/dev/null && ! kill -0 -- -$server 2>/dev/null; then break; fi
    sleep 1
  done
  if grep -q "$1" "$log"; then return 0; fi
  echo "quick start: no '$1' in the server's output:" >&2
  cat "$log" >&2
  return 1
}

gql() { # JSON body, [token]
  curl -sS "$api" -H 'content-type: application/json' ${2:+-H "authorization: Bearer $2"} -d "$1"
}

wait_for_log 'listening on' 180
email="quick-start-$RANDOM@example.com"
gql '{"query":"mutation($i: RegisterInput!) { register(input: $i) { expiresIn } }","variables":{"i":{"email":"'"$email"'","password":"Quick-Start-Pass-1","fullName":"Quick Start"}}}' | grep -q '"expiresIn":600'
wait_for_log "email to $email" 30
code=$(grep "email to $email" "$log" | grep -oE '\b[0-9]{6}\b' | head -1)
token=$(gql '{"query":"mutation { verifyOtp(email: \"'"$email"'\", code: \"'"$code"'\", purpose: VERIFY_EMAIL) { accessToken } }"}' \
  | sed -E 's/.*"accessToken":"([^"]+)".*/\1/')
gql '{"query":"{ me { email emailVerified } }"}' "$token" | grep -q "\"email\":\"$email\",\"emailVerified\":true"

kill -TERM -- -$server
wait $server || true # npm itself exits 143 on SIGTERM; the server's own word is the log line
wait_for_log '"msg":"stopped"' 30
echo "quick start: npm start, sign-up by curl and a clean stop all worked"
