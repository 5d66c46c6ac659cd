// A Node.js client of the adaptive-music bridge, written from bridge/PROTOCOL.md.
// Commands go over a DEALER socket and are matched to replies by id (PROTOCOL.md §2);
// events come from a SUB socket as [topic, msgpack map] (§4).

import { Dealer, Subscriber } from "zeromq";
import { encode, decode } from "@msgpack/msgpack";

export const PROTOCOL_VERSION = 1;

export class BridgeError extends Error {
  constructor(code, message, id) {
    super(`${code}: ${message}`);
    this.code = code;
    this.id = id;
  }
}

export class BridgeClient {
  constructor({ commands = "tcp://127.0.0.1:5555", events = "tcp://127.0.0.1:5556", timeoutMs = 2000 } = {}) {
    this.commands = commands;
    this.events = events;
    this.timeoutMs = timeoutMs;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer}
    this.unreadable = []; // resolvers for replies with id nil, oldest first (§5)
    this.dealer = new Dealer({ linger: 0 });
    this.dealer.connect(commands);
    this.receiving = this.receiveReplies();
  }

  async receiveReplies() {
    try {
      for await (const [frame] of this.dealer) {
        const reply = decode(frame);
        if (reply.id === null) {
          const resolve = this.unreadable.shift();
          if (resolve) resolve(reply);
          continue;
        }
        const waiter = this.pending.get(reply.id);
        if (!waiter) continue; // a late reply to a request that timed out (§2)
        this.pending.delete(reply.id);
        clearTimeout(waiter.timer);
        if (reply.ok) waiter.resolve(reply);
        else waiter.reject(new BridgeError(reply.error.code, reply.error.message, reply.id));
      }
    } catch (err) {
      if (!this.dealer.closed) throw err;
    }
  }

  // Send raw bytes as one request frame, for testing the server's error handling.
  // Resolves with the next reply whose id is nil: the answer to a frame the server could not read.
  sendRaw(frame, timeoutMs = this.timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to a raw frame within ${timeoutMs} ms`)), timeoutMs);
      this.unreadable.push((reply) => { clearTimeout(timer); resolve(reply); });
      this.dealer.send(frame).catch(reject);
    });
  }

  request(type, fields = {}, timeoutMs = this.timeoutMs) {
    const id = this.nextId++;
    const message = { v: PROTOCOL_VERSION, id, type, ...fields };
    return this.requestMessage(message, timeoutMs);
  }

  // Send a complete message map (its id must be unique among pending requests).
  requestMessage(message, timeoutMs = this.timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(message.id);
        reject(new Error(`no reply to ${message.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(message.id, { resolve, reject, timer });
      this.dealer.send(encode(message)).catch(reject);
    });
  }

  hello() { return this.request("hello"); }
  status() { return this.request("status"); }
  setMood(text, transition) { return this.request("set_mood", transition ? { text, transition } : { text }); }
  event(name, params) { return this.request("event", params ? { name, params } : { name }); }
  setParam(name, value) { return this.request("set_param", { name, value }); }
  setIntensity(value) { return this.setParam("intensity", value); }
  stinger(name) { return this.request("stinger", { name }); }
  pause() { return this.request("pause"); }
  resume() { return this.request("resume"); }

  // Protocol 1.1, a server started with `serve --output engine`: pull the music into your own mixer.
  audioOpen(sampleRate, channels = 2) { return this.request("audio_open", { sample_rate: sampleRate, channels }); }
  // The next `frames` frames: the reply with `pcm` as an interleaved Float32Array (little-endian hosts).
  async audioPull(frames) {
    const reply = await this.request("audio_pull", { frames });
    const bytes = new Uint8Array(reply.pcm); // a copy, at offset 0: a Float32Array needs 4-byte alignment
    return { ...reply, pcm: new Float32Array(bytes.buffer) };
  }

  // An async iterator of {topic, data} for the given topics (all when none are given).
  async *subscribe(...topics) {
    const sub = new Subscriber({ linger: 0 });
    sub.connect(this.events);
    if (topics.length === 0) sub.subscribe();
    else sub.subscribe(...topics);
    try {
      for await (const [topicFrame, body] of sub) {
        const topic = topicFrame.toString("utf8");
        if (topics.length && !topics.includes(topic)) continue; // SUB filters by prefix (§4)
        yield { topic, data: decode(body) };
      }
    } finally {
      sub.close();
    }
  }

  close() {
    for (const waiter of this.pending.values()) clearTimeout(waiter.timer);
    this.pending.clear();
    this.dealer.close();
  }
}
