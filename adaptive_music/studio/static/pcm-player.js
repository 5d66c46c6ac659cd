// The studio's AudioWorklet: plays PCM blocks from the studio and asks for more as it
// plays, so the browser's audio clock paces the soundtrack (its engine output).
"use strict";

const MAX_ASK = 4096;     // frames per pull (the bridge allows 8192)
const MIN_ASK = 2048;     // each pull is a round trip to the soundtrack: no 128-frame trickle (375 a second)
const REPORT_QUANTA = 16; // stats, clock and level every 16 render quanta (~43 ms at 48 kHz)

class PcmPlayer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.target = Math.round(sampleRate * (options.processorOptions.bufferSeconds || 0.2));
    this.blocks = [];      // [{position, pcm: Float32Array interleaved stereo}]
    this.offset = 0;       // frames of blocks[0] already played
    this.buffered = 0;     // frames received, not yet played
    this.asked = 0;        // frames asked for, not yet received
    this.playing = false;  // false while pre-buffering: that silence is no underrun
    this.stats = { underruns: 0, received: 0, played: 0, gaps: 0, buffered: 0 };
    this.next = null;      // the stream position the next block must start at
    this.watched = [];     // stream positions (beats) whose playing time the page asked for, ascending
    this.quanta = 0;
    this.sumSquares = 0;   // over the frames played since the last report
    this.peak = 0;
    this.frames = 0;
    this.port.onmessage = ({ data }) => {
      if (data.watch !== undefined) { this.watched.push(data.watch); return; }
      const frames = data.pcm.length / 2;
      if (this.next !== null && data.position !== this.next) this.stats.gaps += 1;
      this.next = data.position + frames;
      this.blocks.push({ position: data.position, pcm: data.pcm });
      this.buffered += frames;
      this.asked -= frames;
      this.stats.received += frames;
    };
  }

  process(inputs, outputs) {
    const [left, right] = outputs[0];
    const n = left.length;
    while (this.target - this.buffered - this.asked >= Math.min(MIN_ASK, this.target)) {
      const ask = Math.min(MAX_ASK, this.target - this.buffered - this.asked);
      this.asked += ask;
      this.port.postMessage({ pull: ask });
    }
    if (!this.playing) this.playing = this.buffered >= this.target / 2;
    if (this.playing && this.buffered < n) this.stats.underruns += 1;  // plays silence
    else if (this.playing) {
      const first = this.blocks[0].position + this.offset;  // stream position played at currentTime
      while (this.watched.length && this.watched[0] < first + n) {
        const position = this.watched.shift();  // played now, or skipped over: said either way
        this.port.postMessage({ played: position, time: currentTime + (position - first) / sampleRate });
      }
      for (let i = 0; i < n; i++) {
        const block = this.blocks[0].pcm;
        const l = block[2 * this.offset], r = block[2 * this.offset + 1];
        left[i] = l;
        right[i] = r;
        this.sumSquares += l * l + r * r;
        this.peak = Math.max(this.peak, Math.abs(l), Math.abs(r));
        if (++this.offset * 2 >= block.length) { this.blocks.shift(); this.offset = 0; }
      }
      this.frames += n;
      this.buffered -= n;
      this.stats.played += n;
    }
    if (++this.quanta % REPORT_QUANTA === 0) {
      this.stats.buffered = this.buffered;
      // The clock: the stream position that the next quantum starts with, and its context time.
      const clock = this.playing && this.blocks.length
        ? { position: this.blocks[0].position + this.offset, time: currentTime + n / sampleRate } : null;
      const rms = this.frames ? Math.sqrt(this.sumSquares / (2 * this.frames)) : 0;
      this.port.postMessage({ stats: this.stats, clock, level: { rms, peak: this.peak, time: currentTime } });
      this.sumSquares = 0; this.peak = 0; this.frames = 0;
    }
    return true;
  }
}

registerProcessor("pcm-player", PcmPlayer);
