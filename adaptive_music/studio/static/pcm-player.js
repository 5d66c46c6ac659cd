// The studio's AudioWorklet: plays PCM blocks from the studio and asks for more as it
// plays, so the browser's audio clock paces the soundtrack (its engine output).
"use strict";

const MAX_ASK = 4096;  // frames per pull (the bridge allows 8192)

class PcmPlayer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.target = Math.round(sampleRate * (options.processorOptions.bufferSeconds || 0.2));
    this.blocks = [];      // [Float32Array interleaved stereo]
    this.offset = 0;       // frames of blocks[0] already played
    this.buffered = 0;     // frames received, not yet played
    this.asked = 0;        // frames asked for, not yet received
    this.playing = false;  // false while pre-buffering: that silence is no underrun
    this.stats = { underruns: 0, received: 0, played: 0, gaps: 0, buffered: 0 };
    this.next = null;      // the stream position the next block must start at
    this.quanta = 0;
    this.port.onmessage = ({ data }) => {
      const frames = data.pcm.length / 2;
      if (this.next !== null && data.position !== this.next) this.stats.gaps += 1;
      this.next = data.position + frames;
      this.blocks.push(data.pcm);
      this.buffered += frames;
      this.asked -= frames;
      this.stats.received += frames;
    };
  }

  process(inputs, outputs) {
    const [left, right] = outputs[0];
    const n = left.length;
    while (this.buffered + this.asked < this.target) {
      const ask = Math.min(MAX_ASK, this.target - this.buffered - this.asked);
      this.asked += ask;
      this.port.postMessage({ pull: ask });
    }
    if (!this.playing) this.playing = this.buffered >= this.target / 2;
    if (this.playing && this.buffered < n) this.stats.underruns += 1;  // plays silence
    else if (this.playing) {
      for (let i = 0; i < n; i++) {
        const block = this.blocks[0];
        left[i] = block[2 * this.offset];
        right[i] = block[2 * this.offset + 1];
        if (++this.offset * 2 >= block.length) { this.blocks.shift(); this.offset = 0; }
      }
      this.buffered -= n;
      this.stats.played += n;
    }
    if (++this.quanta % 32 === 0) {
      this.stats.buffered = this.buffered;
      this.port.postMessage({ stats: this.stats });
    }
    return true;
  }
}

registerProcessor("pcm-player", PcmPlayer);
