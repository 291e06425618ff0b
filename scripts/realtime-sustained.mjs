// A sustained event rate, against a running API: `subscribers` sockets
// (graphql-transport-ws, each signed in with the bench account's token)
// follow one post's commentAdded while comments are written at `rate` per
// second for `seconds` (open loop: each is sent on its tick, whatever the
// deliveries are doing, with at most 64 requests in flight; a tick that
// finds them all busy leaves the rest for later: the writer's backlog).
// Then it waits until every subscriber has every comment that was
// written, up to `drain` seconds. Fails when a comment is repeated,
// delivered out of the log's order or missed by a subscriber that has
// caught up, and when a socket is lost.
//
// Reports the write rate reached, the deliveries per second from the
// first write to the last delivery, the latency from sending each
// mutation to each delivery (p50, p99, max), and how long the
// subscribers took to catch up once the writes stopped (or how far behind
// they still were when the wait ended). The one Node
// process parses every delivery, so its own work is part of the figures.
//
// With API_PID set, also where the CPU went over that time: the API's, the
// client's own and PostgreSQL's (every process named `postgres`), from
// /proc, in cores (CPU seconds per second).
//
//   node scripts/realtime-sustained.mjs <graphql url> [subscribers] [rate] [seconds] [drain] [mutation url]
// Run by `just bench-realtime`; CLIENT_MODULES names the node_modules
// directory holding `ws`.

import { createRequire } from 'node:module';
import { benchAccount, cores, cpu, graphql as request } from './realtime-bench.mjs';

const require = createRequire(`${process.env.CLIENT_MODULES}/`);
const WebSocket = require('ws');

const [httpUrl, subscribersArg, rateArg, secondsArg, drainArg, mutationArg] = process.argv.slice(2);
const subscribers = Number(subscribersArg ?? 1000);
const rate = Number(rateArg ?? 1000);
const seconds = Number(secondsArg ?? 60);
const drainSeconds = Number(drainArg ?? 120);
const mutationUrl = mutationArg ?? httpUrl;
const wsUrl = httpUrl.replace(/^http/, 'ws');
const IN_FLIGHT = 64;
const apiPid = process.env.API_PID;

function fail(message) {
  console.error(`realtime sustained: ${message}`);
  process.exit(1);
}

function graphql(query, variables, token) {
  return request(mutationUrl, query, variables, token);
}

const { token, post } = await benchAccount(mutationUrl, 'sustained');
const COMMENT = 'mutation($p: ID!, $b: String!) { createComment(input: {postId: $p, body: $b}) { id } }';
const SUBSCRIPTION = 'subscription($p: ID!) { commentAdded(postId: $p) { cursor comment { id body } } }';

// Comment n has the body `s <n>`; sentAt[n] is when its mutation was sent.
const planned = Math.ceil(rate * seconds);
const sentAt = new Float64Array(planned);
const written = new Uint8Array(planned);
// Latencies in a histogram of 1 ms buckets (a minute's worth and more).
const histogram = new Uint32Array(600_000);
let deliveries = 0;
let maxLatency = 0;
let lastDelivery = 0;

// Each subscriber: which comments it has, how many, and the last cursor.
function subscriber(index, state) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
    socket.on('error', reject);
    socket.on('close', () => { if (!finished) fail(`subscriber ${index} lost its socket`); });
    socket.on('open', () => socket.send(JSON.stringify({
      type: 'connection_init', payload: { Authorization: `Bearer ${token}` },
    })));
    socket.on('message', (data) => {
      const message = JSON.parse(data);
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ type: 'subscribe', id: '1', payload: { query: SUBSCRIPTION, variables: { p: post } } }));
        resolve(socket);
      } else if (message.type === 'next') {
        const now = performance.now();
        const { body } = message.payload.data.commentAdded.comment;
        if (body.startsWith('warm ')) {
          state.warm = true;
          return;
        }
        const n = Number(body.slice(2));
        if (!(n >= 0 && n < planned) || state.seen[n]) fail(`subscriber ${index}: unexpected or repeated ${body}`);
        // Cursors are opaque to apps; here they are read to check the order.
        const [, txid, position] = Buffer.from(message.payload.data.commentAdded.cursor, 'base64url')
          .toString().split(':').map(Number);
        if (state.txid > txid || (state.txid === txid && state.position >= position)) {
          fail(`subscriber ${index}: ${body} out of the log's order`);
        }
        state.txid = txid;
        state.position = position;
        state.seen[n] = 1;
        state.count += 1;
        const latency = now - sentAt[n];
        histogram[Math.min(histogram.length - 1, Math.floor(latency))] += 1;
        maxLatency = Math.max(maxLatency, latency);
        deliveries += 1;
        lastDelivery = now;
      } else if (message.type === 'error' || message.type === 'complete') {
        fail(`subscriber ${index}: ${JSON.stringify(message)}`);
      }
    });
  });
}

let finished = false;
const states = Array.from({ length: subscribers }, () => ({
  seen: new Uint8Array(planned), count: 0, txid: -1, position: -1, warm: false,
}));
const sockets = [];
for (let n = 0; n < subscribers; n += 200) {
  const batch = Math.min(200, subscribers - n);
  sockets.push(...(await Promise.all(Array.from({ length: batch }, (_, i) => subscriber(n + i, states[n + i])))));
}
// The protocol has no "subscribed" acknowledgement: comment until every
// subscriber has a warm-up event.
for (let attempt = 0; attempt < 50 && !states.every((s) => s.warm); attempt += 1) {
  await graphql(COMMENT, { p: post, b: `warm ${attempt}` }, token);
  await new Promise((resolve) => setTimeout(resolve, 200));
}
if (!states.every((s) => s.warm)) fail(`not all ${subscribers} subscribers received a warm-up comment`);

// The writer: open loop, on a 5 ms tick.
let issued = 0;
let inFlight = 0;
let ok = 0;
let failed = 0;
let backlog = 0;
const started = performance.now();
const cpuBefore = cpu(apiPid);
await new Promise((resolve) => {
  const tick = setInterval(() => {
    const due = Math.min(planned, Math.floor(((performance.now() - started) / 1000) * rate));
    while (issued < due) {
      if (inFlight >= IN_FLIGHT) {
        backlog = Math.max(backlog, due - issued);
        break;
      }
      const n = issued;
      issued += 1;
      inFlight += 1;
      sentAt[n] = performance.now();
      graphql(COMMENT, { p: post, b: `s ${n}` }, token)
        .then(() => { written[n] = 1; ok += 1; })
        .catch(() => { failed += 1; })
        .finally(() => { inFlight -= 1; });
    }
    if (performance.now() - started >= seconds * 1000) {
      clearInterval(tick);
      resolve();
    }
  }, 5);
});
while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 5));
const wrote = (performance.now() - started) / 1000;

// Catch-up: every subscriber must reach every comment that was written.
const stopped = performance.now();
const deadline = stopped + drainSeconds * 1000;
while (states.some((s) => s.count < ok) && performance.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 20));
}
finished = true;
const cpuAfter = cpu(apiPid);
// Within a subscriber, events arrive in the log's order, so one that is
// short after the wait holds the log's first events and is still
// receiving the rest (its socket open, nothing repeated or out of order):
// behind, which is reported, not an error. One that has caught up must
// hold exactly the comments that were written.
const lagging = states.filter((s) => s.count < ok);
for (const [index, state] of states.entries()) {
  if (state.count < ok) continue;
  for (let n = 0; n < planned; n += 1) {
    if (state.seen[n] !== written[n]) fail(`subscriber ${index}: comment ${n} ${written[n] ? 'missed' : 'was never written but arrived'}`);
  }
}
function percentile(p) {
  const wanted = Math.ceil((deliveries * p) / 100);
  let seen = 0;
  for (let ms = 0; ms < histogram.length; ms += 1) {
    seen += histogram[ms];
    if (seen >= wanted) return ms + 1;
  }
  return histogram.length;
}
const span = (lastDelivery - started) / 1000;
console.log(
  `${subscribers} subscribers, ${rate} events/s asked for ${seconds} s: ${ok} written in ${wrote.toFixed(1)} s ` +
    `(${Math.round(ok / wrote)} events/s; ${failed} failed; the writer's largest backlog ${backlog}), ` +
    `${deliveries} deliveries, none repeated or out of order`,
);
console.log(
  `delivery: ${Math.round(deliveries / span)} deliveries/s (${(deliveries / subscribers / span).toFixed(1)} events/s to each), ` +
    `latency p50 ${percentile(50)} ms, p99 ${percentile(99)} ms, max ${maxLatency.toFixed(0)} ms ` +
    '(mutation sent -> event received, deliveries made)',
);
if (apiPid) {
  console.log(
    `CPU over the run (cores): ${cores(cpuBefore, cpuAfter)}; ` +
      `API ${((1e6 * (cpuAfter.api - cpuBefore.api)) / Math.max(deliveries, 1)).toFixed(1)} µs per delivery, writes included`,
  );
}
if (lagging.length === 0) {
  console.log(
    `every subscriber has every comment, none missed: caught up ` +
      `${Math.max(0, (lastDelivery - stopped) / 1000).toFixed(1)} s after the writes stopped`,
  );
} else {
  const held = states.reduce((sum, s) => sum + s.count, 0);
  console.log(
    `behind: ${drainSeconds} s after the writes stopped, ${lagging.length} of ${subscribers} subscribers ` +
      `were still receiving (in order), ${held} of ${ok * subscribers} deliveries made ` +
      `(${((100 * held) / (ok * subscribers)).toFixed(1)}%)`,
  );
}
for (const socket of sockets) socket.terminate();
process.exit(0);
