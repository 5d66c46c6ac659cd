#!/bin/sh
# Start or stop a private PulseAudio daemon with a clocked null sink, for the
# real-playback tests and benchmarks on machines without a sound card.
#
#   scripts/pulse-test-sink.sh start    # prints: export XDG_RUNTIME_DIR=...
#   scripts/pulse-test-sink.sh stop
#   scripts/pulse-test-sink.sh status   # exit 0 when the sink answers
#
# Needs: apt-get install -y --no-install-recommends pulseaudio pulseaudio-utils \
#            libasound2-plugins libportaudio2
# Play to the ALSA/sounddevice device "pulse"; record what was played with
#   parec -d testsink.monitor --format=float32le --rate=48000 --channels=2 --raw
#
# The daemon's runtime dir is $ADAPTIVE_MUSIC_PULSE_DIR (default
# /tmp/adaptive-music-pulse); clients find the daemon through
# XDG_RUNTIME_DIR=$ADAPTIVE_MUSIC_PULSE_DIR.
#
# Where allowed (root, or an rtprio limit), the daemon's main thread gets the
# real-time priority its sink thread already has: PulseAudio moves client
# audio into the sink on its main thread, and on a loaded 2-core machine that
# thread, at its usual nice -11, was late often enough to leave 5-35 ms holes
# every few seconds (see adaptive_music/playback/device.py). Set
# ADAPTIVE_MUSIC_PULSE_RT=0 to keep the stock priorities.
#
# The sink does not rewind (norewinds=1), so that its monitor records exactly
# what the sink played. A rewinding sink replaces the silence it rendered
# ahead during an underflow with the music once it arrives, but its monitor
# has already passed part of that silence to the recording and cannot take it
# back: the capture shows the silence and then resumes the music later than
# it stopped, a skip that the sink never played (bench/RESULTS.md, issue 13).
# Set ADAPTIVE_MUSIC_PULSE_REWINDS=1 to get the stock rewinding sink.
set -eu

dir="${ADAPTIVE_MUSIC_PULSE_DIR:-/tmp/adaptive-music-pulse}"

answers() {
    XDG_RUNTIME_DIR="$dir" pactl list short sinks 2>/dev/null | grep -q '^[0-9]*[[:space:]]testsink[[:space:]]'
}

case "${1:-}" in
start)
    command -v pulseaudio >/dev/null || { echo "pulseaudio is not installed" >&2; exit 2; }
    mkdir -p "$dir" && chmod 700 "$dir"
    if ! answers; then
        norewinds=1
        [ "${ADAPTIVE_MUSIC_PULSE_REWINDS:-0}" = 1 ] && norewinds=0
        XDG_RUNTIME_DIR="$dir" pulseaudio --daemonize=yes -n --exit-idle-time=-1 \
            --load=module-native-protocol-unix \
            --load="module-null-sink sink_name=testsink rate=48000 channels=2 format=float32le norewinds=$norewinds" \
            --load=module-always-sink
        # The daemon forks before the sink is loaded: wait until it answers.
        i=0
        until answers; do
            i=$((i + 1))
            [ "$i" -le 100 ] || { echo "pulseaudio did not come up" >&2; exit 1; }
            sleep 0.05
        done
        XDG_RUNTIME_DIR="$dir" pactl set-default-sink testsink
        if [ "${ADAPTIVE_MUSIC_PULSE_RT:-1}" != 0 ] && [ -f "$dir/pulse/pid" ]; then
            chrt -r -p 5 "$(cat "$dir/pulse/pid")" 2>/dev/null || true
        fi
    fi
    echo "export XDG_RUNTIME_DIR=$dir"
    ;;
stop)
    XDG_RUNTIME_DIR="$dir" pulseaudio --kill 2>/dev/null || true
    ;;
status)
    answers
    ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
