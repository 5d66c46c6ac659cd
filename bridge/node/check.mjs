// Cross-language check: drives a running bridge server with every request type and
// the error cases of PROTOCOL.md, then prints one JSON object of what it saw.
// Usage: node check.mjs COMMANDS_ADDR EVENTS_ADDR
import { BridgeClient, BridgeError } from "./client.mjs";

const [commands, events] = process.argv.slice(2);
const client = new BridgeClient({ commands, events, timeoutMs: 5000 });
const out = { replies: {}, errors: {}, events: { mood: [] } };

async function errorCode(promise) {
  try {
    await promise;
    return null;
  } catch (err) {
    if (err instanceof BridgeError) return err.code;
    throw err;
  }
}

// Subscribe first, so the status event that arrives every second is seen, and the
// mood events of the set_mood below: one as its change starts being heard, one as its ramp ends.
// The set_param below makes a pair with the same text, which may start and end inside that
// ramp: the set_mood's end is the one that carries its start's intensity.
const MOOD = "tense stealth, muted strings";
const subscription = client.subscribe("status", "mood");
const firstEvents = (async () => {
  for await (const { topic, data } of subscription) {
    if (topic === "mood") out.events.mood.push(data);
    else out.events[topic] = data;
    const ours = out.events.mood.filter((m) => m.text === MOOD);
    const start = ours.find((m) => m.phase === "start");
    const end = start && ours.find((m) => m.phase === "end" && m.intensity === start.intensity);
    if (out.events.status && end) break;
  }
})();

const hello = await client.hello();
out.replies.hello = hello;
out.replies.set_mood = await client.setMood(MOOD, { quantize: "now", ramp: 0.5 });
out.replies.event = await client.event(hello.events[0]);
out.replies.set_param = await client.setIntensity(0.25);
// The event may have played a stinger; stingers are rate limited server-wide (PROTOCOL.md §5).
const stingerName = hello.stingers.length ? hello.stingers[0] : "short chime";
try {
  out.replies.stinger = await client.stinger(stingerName);
} catch (err) {
  if (!(err instanceof BridgeError && err.code === "rate_limited")) throw err;
  await new Promise((r) => setTimeout(r, 1000 / hello.limits.stingers_per_second));
  out.replies.stinger = await client.stinger(stingerName);
}
out.replies.pause = await client.pause();
out.replies.resume = await client.resume();
out.replies.status = await client.status();

out.errors.unknown_type = await errorCode(client.request("teleport"));
out.errors.bad_version = await errorCode(client.requestMessage({ v: 2, id: 900001, type: "status" }));
out.errors.nan = await errorCode(client.setIntensity(NaN));
out.errors.out_of_range = await errorCode(client.setIntensity(1.5));
out.errors.missing_field = await errorCode(client.request("set_mood"));
out.errors.wrong_type = await errorCode(client.request("set_mood", { text: 42 }));
out.errors.unknown_event = await errorCode(client.event("no_such_event"));
out.errors.too_large = await errorCode(client.setMood("x".repeat(5000)));

// A frame that is not msgpack is answered with id nil.
out.errors.malformed = (await client.sendRaw(Buffer.from([0xc1, 0xff, 0x00]))).error.code;

// The server still answers after all of that.
out.replies.status_after = await client.status();
await Promise.race([firstEvents, new Promise((r) => setTimeout(r, 5000))]);
client.close();
console.log(JSON.stringify(out));
process.exit(0); // the subscription may still be waiting on its socket

