// Event delivery at scale, against a running API:
//
// 1. `subscribers` sockets (graphql-transport-ws, each signed in with the
//    bench account's token) follow one post's commentAdded; `events` comments are made one after another
//    (through `mutationUrl`, another API process, when given), each once
//    every subscriber has the one before. Reports the time from sending
//    the mutation to each subscriber receiving the event (p50, p99, max
//    over every delivery): an upper bound on commit-to-subscriber, since
//    it includes the mutation's own request and commit.
// 2. A subscriber takes a cursor and goes away; `missed` comments are
//    made (32 at a time); it comes back with `after:` that cursor. Reports
//    how long until it has received all of them, and checks their order.
//    Skipped when `missed` is 0.
//
// The subscribers live in CLIENT_THREADS worker threads (default 1), each
// parsing its share of the deliveries; the times come from one clock. The
// client's own work is part of the figure: with 10,000 subscribers on one
// thread, the last of them waits for the thread to parse the other 9,999.
// With API_PID set, the CPU of the API, this client and PostgreSQL while
// delivering is reported too.
//
//   node scripts/realtime-events.mjs <graphql url> [subscribers] [events] [missed] [mutation url]
// Run by `just bench-realtime`; CLIENT_MODULES names the node_modules
// directory holding `ws`.

import { createRequire } from 'node:module';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { benchAccount, cores, cpu, graphql as request } from './realtime-bench.mjs';

const require = createRequire(`${process.env.CLIENT_MODULES}/`);
const WebSocket = require('ws');

const COMMENT = 'mutation($p: ID!, $b: String!) { createComment(input: {postId: $p, body: $b}) { id } }';
const SUBSCRIPTION = 'subscription($p: ID!, $after: String) { commentAdded(postId: $p, after: $after) { cursor comment { id body } } }';

// One clock for every thread (performance.now() starts anew in each).
const now = () => Number(process.hrtime.bigint()) / 1e6;

function fail(message) {
  console.error(`realtime events: ${message}`);
  process.exit(1);
}

// A subscriber: `onEvent(body, cursor)` for each event.
function subscriber({ wsUrl, token, post }, onEvent, after) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
    socket.on('error', reject);
    socket.on('open', () => socket.send(JSON.stringify({
      type: 'connection_init', payload: { Authorization: `Bearer ${token}` },
    })));
    socket.on('message', (data) => {
      const message = JSON.parse(data);
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ type: 'subscribe', id: '1', payload: { query: SUBSCRIPTION, variables: { p: post, after } } }));
        resolve(socket);
      } else if (message.type === 'next') {
        const added = message.payload.data.commentAdded;
        onEvent(added.comment.body, added.cursor);
      } else if (message.type === 'error') {
        fail(`subscription error: ${JSON.stringify(message.payload)}`);
      }
    });
  });
}

// A client thread: holds `count` subscribers, and reports each event's
// arrival times once all of its subscribers have it.
if (!isMainThread) {
  const { count } = workerData;
  const arrivals = new Map(); // body -> arrival times
  const onEvent = (body) => {
    const times = arrivals.get(body) ?? [];
    times.push(now());
    arrivals.set(body, times);
    if (times.length === count) {
      parentPort.postMessage({ body, times });
      arrivals.delete(body);
    }
  };
  for (let n = 0; n < count; n += 200) {
    await Promise.all(Array.from({ length: Math.min(200, count - n) }, () => subscriber(workerData, onEvent)));
  }
  parentPort.postMessage({ ready: true });
} else {
  const [httpUrl, subscribersArg, eventsArg, missedArg, mutationArg] = process.argv.slice(2);
  const subscribers = Number(subscribersArg ?? 1000);
  const events = Number(eventsArg ?? 200);
  const missed = Number(missedArg ?? 10000);
  const threads = Number(process.env.CLIENT_THREADS ?? 1);
  if (!Number.isInteger(threads) || threads < 1 || threads > subscribers) {
    fail(`CLIENT_THREADS must be a whole number from 1 to the ${subscribers} subscribers, not ${process.env.CLIENT_THREADS}`);
  }
  const mutationUrl = mutationArg ?? httpUrl;
  const wsUrl = httpUrl.replace(/^http/, 'ws');

  const graphql = (query, variables, token) =>
    request(mutationUrl, query, variables, token).catch((error) => fail(error.message));

  const { token, post } = await benchAccount(mutationUrl, 'events');
  const target = { wsUrl, token, post };

  const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];

  // 1. Delivery to many subscribers, held by `threads` client threads.
  const arrivals = new Map(); // body -> arrival times, from the threads that have all of theirs
  const workers = [];
  let closing = false;
  await Promise.all(Array.from({ length: threads }, (_, t) => new Promise((resolve) => {
    const count = Math.floor(subscribers / threads) + (t < subscribers % threads ? 1 : 0);
    const worker = new Worker(new URL(import.meta.url), { workerData: { ...target, count } });
    worker.on('error', (error) => fail(`client thread: ${error.message}`));
    // A thread that failed has said why; its exit ends the run.
    worker.on('exit', (code) => { if (!closing) fail(`a client thread exited (${code})`); });
    worker.on('message', (message) => {
      if (message.ready) {
        resolve();
        return;
      }
      const times = arrivals.get(message.body) ?? [];
      times.push(...message.times);
      arrivals.set(message.body, times);
    });
    workers.push(worker);
  })));
  async function everyoneHas(body, within = 10_000) {
    const deadline = now() + within;
    while ((arrivals.get(body)?.length ?? 0) < subscribers) {
      if (now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    return true;
  }
  // The protocol has no "subscribed" acknowledgement: comment until every
  // subscriber has a warm-up event.
  let live = false;
  for (let attempt = 0; attempt < 20 && !live; attempt += 1) {
    await graphql(COMMENT, { p: post, b: `warm-up ${attempt}` }, token);
    live = await everyoneHas(`warm-up ${attempt}`, 3_000);
  }
  if (!live) fail(`not all ${subscribers} subscribers received the warm-up`);
  const latencies = [];
  const cpuBefore = cpu(process.env.API_PID);
  for (let n = 0; n < events; n += 1) {
    const body = `event ${n}`;
    const sent = now();
    await graphql(COMMENT, { p: post, b: body }, token);
    if (!(await everyoneHas(body))) fail(`${body} did not reach all ${subscribers} subscribers within 10 s`);
    for (const at of arrivals.get(body)) latencies.push(at - sent);
  }
  const cpuAfter = cpu(process.env.API_PID);
  latencies.sort((a, b) => a - b);
  console.log(
    `delivery to ${subscribers} subscribers (${threads} client thread${threads === 1 ? '' : 's'}), ${events} events ` +
      `(${latencies.length} deliveries): p50 ${percentile(latencies, 50).toFixed(1)} ms, ` +
      `p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${latencies[latencies.length - 1].toFixed(1)} ms ` +
      '(mutation sent -> event received)',
  );
  if (process.env.API_PID) {
    const perDelivery = ((cpuAfter.api - cpuBefore.api) * 1e6) / latencies.length;
    console.log(`CPU while delivering (cores): ${cores(cpuBefore, cpuAfter)}; the API's per delivery: ${perDelivery.toFixed(1)} µs`);
  }
  closing = true;
  await Promise.all(workers.map((worker) => worker.terminate()));
  if (missed === 0) process.exit(0);

  // 2. Replay after a reconnect.
  let cursor;
  const first = await subscriber(target, (_, c) => { cursor ??= c; });
  for (let attempt = 0; attempt < 20 && !cursor; attempt += 1) {
    await graphql(COMMENT, { p: post, b: `cursor ${attempt}` }, token);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  first.close();
  if (!cursor) fail('no cursor');
  const writing = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < missed) {
      const n = next;
      next += 1;
      await graphql(COMMENT, { p: post, b: `missed ${String(n).padStart(6, '0')}` }, token);
    }
  }));
  const wrote = (performance.now() - writing) / 1000;
  let received = 0;
  let lastCursor;
  const started = performance.now();
  const done = new Promise((resolve) => {
    subscriber(target, (body, c) => {
      if (!body.startsWith('missed ')) return;
      // Cursors are opaque to apps; here they are read to check the order.
      const [, txid, position] = Buffer.from(c, 'base64url').toString().split(':').map(Number);
      if (lastCursor && (txid < lastCursor[0] || (txid === lastCursor[0] && position <= lastCursor[1]))) {
        fail('replay out of order');
      }
      lastCursor = [txid, position];
      received += 1;
      if (received === missed) resolve();
    }, cursor).then((socket) => done.then(() => socket.close()));
  });
  const timeout = setTimeout(() => fail(`replay: ${received} of ${missed} within 120 s`), 120_000);
  await done;
  clearTimeout(timeout);
  const took = (performance.now() - started) / 1000;
  console.log(
    `replay of ${missed} missed events (written in ${wrote.toFixed(1)} s): all received in ${took.toFixed(2)} s ` +
      `(${Math.round(missed / took)} events/s)`,
  );
  process.exit(0);
}
