#!/bin/sh
# `make run`'s last step: the HTTP API in the background, the Streamlit UI in the foreground.
# Prints both addresses; when the UI stops (Ctrl-C), the API stops too.
set -eu
VENV=${VENV:-.venv}
HOME_DIR=${HOME_DIR:-index}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
UI_PORT=${UI_PORT:-8501}
API_URL="http://$HOST:$PORT"

# The UI runs on this host and forwards each visitor's address: the API believes it from here.
POLICYKB_TRUSTED_PROXIES=${POLICYKB_TRUSTED_PROXIES:-127.0.0.1} \
    "$VENV/bin/policykb" --home "$HOME_DIR" serve --host "$HOST" --port "$PORT" &
API=$!
trap 'kill "$API" 2>/dev/null || true' EXIT INT TERM

tries=0
until "$VENV/bin/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
        "$API_URL/health" 2>/dev/null; do
    if ! kill -0 "$API" 2>/dev/null; then echo "the API did not start (see the error above)" >&2; exit 1; fi
    tries=$((tries + 1))
    if [ "$tries" -gt 120 ]; then echo "the API did not answer $API_URL/health within a minute" >&2; exit 1; fi
    sleep 0.5
done

echo
echo "  API: $API_URL   (OpenAPI docs: $API_URL/docs)"
echo "  UI:  http://$HOST:$UI_PORT"
echo "  Ctrl-C stops both."
echo
POLICYKB_UI_API_URL="$API_URL" "$VENV/bin/python" -m streamlit run ui/app.py \
    --server.headless true --server.address "$HOST" --server.port "$UI_PORT" \
    --browser.gatherUsageStats false --client.toolbarMode minimal
