// Round trips of `status` through the Node client, for bench/csharp_client.py.
// Usage: node bench.mjs COMMANDS_ADDR N   (prints {"us": [...]}, after 500 warm-up requests)
import { BridgeClient } from "./client.mjs";

const [commands, n] = process.argv.slice(2);
const client = new BridgeClient({ commands, timeoutMs: 5000 });
const times = [];
for (let i = 0; i < 500 + Number(n); i++) {
  const start = process.hrtime.bigint();
  await client.status();
  if (i >= 500) times.push(Number(process.hrtime.bigint() - start) / 1000);
}
client.close();
console.log(JSON.stringify({ us: times }));
process.exit(0);
