#!/usr/bin/env bash
# Stages a three-person chat in tmux and captures the full-screen client as
# alice sees it: docs/fullscreen.txt (plain text, for the README) and
# docs/fullscreen.png (colours, via scripts/ansi_to_png.py; needs Debian
# python3-pil). Usage: scripts/fullscreen_screenshot.sh [BUILD_DIR]
# A documentation helper: the pauses only let the screen settle for the picture.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
sock=$tmp/sock
"$root/$build/src/server/muxchatd" --listen=127.0.0.1:0 --log_level=warn --memory > "$tmp/d.out" &
daemon=$!
trap 'tmux -S "$sock" kill-server 2>/dev/null || true; kill $daemon 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do grep -q listening "$tmp/d.out" && break; sleep 0.1; done
port=$(sed -n 's/.*://p' "$tmp/d.out" | head -1)
client() { echo "env LC_ALL=C.UTF-8 TERM=screen-256color $root/$build/src/client/muxchat 127.0.0.1 $port --nick $1"; }
tmux -u -S "$sock" -f /dev/null new-session -d -s chat -n alice -x 100 -y 24 "$(client alice)"
tmux -S "$sock" new-window -d -n bob "$(client bob)"
tmux -S "$sock" new-window -d -n carol "$(client carol)"
# After new-window: tmux 3.3a crashes on new-window with window-size manual and no client attached.
tmux -S "$sock" set -g window-size manual
say() { tmux -S "$sock" send-keys -t "chat:$1" -l "$2"; tmux -S "$sock" send-keys -t "chat:$1" Enter; sleep 0.15; }
sleep 0.5
say alice "/create lobby"; say alice "/create dev"; say alice "/create ops"
say alice "/join dev"; say alice "/join ops"; say alice "/join lobby"
say bob "/join lobby"; say bob "/join dev"; say carol "/join lobby"; say carol "/join ops"
say bob "/switch lobby"; say carol "/switch lobby"
say bob "morning all"
say carol "morning! coffee machine on 3 is fixed"
say alice "finally"
say bob "deploy of 0.2 is at 14:00, anyone against?"
say carol "fine by me, the soak test ran clean overnight"
say carol "/switch ops"
say carol "disk on db-2 at 81%"
say carol "rotating logs now"
say carol "back to 40%"
say bob "/switch dev"
say bob "alice: can you review the resize fix before the deploy?"
tmux -S "$sock" send-keys -t chat:alice -l "sure, looking at it after lun"
sleep 0.5
tmux -S "$sock" capture-pane -p -t chat:alice > "$root/docs/fullscreen.txt"
tmux -S "$sock" capture-pane -p -e -N -t chat:alice > "$tmp/capture.ansi"
/usr/bin/python3 "$root/scripts/ansi_to_png.py" "$tmp/capture.ansi" "$root/docs/fullscreen.png" 100
echo "wrote docs/fullscreen.txt and docs/fullscreen.png"
