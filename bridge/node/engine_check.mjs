// Cross-language check of the engine output (protocol 1.1): opens the stream of a server started
// with `serve --output engine`, pulls blocks, and prints one JSON object: the open reply, each
// block's position, and all the PCM as base64 float32.
// Usage: node engine_check.mjs COMMANDS_ADDR EVENTS_ADDR SAMPLE_RATE PULLS FRAMES
import { BridgeClient } from "./client.mjs";

const [commands, events, rate, pulls, frames] = process.argv.slice(2);
const client = new BridgeClient({ commands, events, timeoutMs: 5000 });
const open = await client.audioOpen(Number(rate));
const positions = [];
const blocks = [];
for (let i = 0; i < Number(pulls); i++) {
  const block = await client.audioPull(Number(frames));
  positions.push(block.position);
  blocks.push(Buffer.from(block.pcm.buffer, block.pcm.byteOffset, block.pcm.byteLength));
}
client.close();
console.log(JSON.stringify({ open, positions, pcm: Buffer.concat(blocks).toString("base64") }));
