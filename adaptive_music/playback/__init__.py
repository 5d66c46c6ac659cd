"""Real-time playback: a gapless ring buffer feeding an audio device or a clocked file."""
