// The realtime part of `just bench-sqlite`: one server's memory per idle
// subscriber and one event's delivery to all of them, the same way for
// Hearth (GraphQL over WebSocket) and PocketBase (server-sent events).
//
//   node scripts/bench/realtime-sqlite.mjs '<settings as JSON>'
//
// settings: server ("hearth" or "pocketbase"), base (http://host:port), pid
// (the server process, for its VmRSS), token (the demo account's), post (the
// post to follow: a Hearth global id or a PocketBase record id), author
// (PocketBase: the demo user's id, for the comments it creates),
// subscribers, events, settle_ms, wait_ms.
//
// 1. Reads the server's VmRSS, opens `subscribers` subscriptions to new
//    comments on `post` (200 at a time), waits settle_ms, reads it again.
// 2. Comments on the post until one comment reaches every subscriber (the
//    warm-up: Hearth's protocol has no "subscribed" acknowledgement), then
//    makes `events` comments one at a time through the server's own HTTP
//    API, each once the one before has reached every subscriber or wait_ms
//    has passed. A delivery's latency runs from just before the create
//    request is sent to the subscriber's event being parsed, in this one
//    process: the request and commit are part of it, and so is this
//    process's own work on every delivery.
//
// Prints one JSON object on stdout; progress and errors go to stderr.
// Everything but the two adapters below is shared, so both servers meet
// the same load generator. CLIENT_MODULES names the node_modules
// directory holding `ws`.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(`${process.env.CLIENT_MODULES}/`);
const WebSocket = require('ws');

const settings = JSON.parse(process.argv[2]);
const { server, base, pid, token, post } = settings;
const subscribers = settings.subscribers ?? 1000;
const events = settings.events ?? 20;
const settleMs = settings.settle_ms ?? 2000;
const waitMs = settings.wait_ms ?? 10_000;
const BATCH = 200;

function note(message) {
  process.stderr.write(`  realtime ${server}: ${message}\n`);
}

function rssKiB() {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// --- the two servers ------------------------------------------------------
// Each adapter: open(onEvent, onLost) resolves with a handle once the
// subscription is requested, onEvent(body) per comment event, onLost(reason)
// if the subscription ends early; create(body) makes a comment on `post`;
// close(handle).

const HEARTH_SUBSCRIPTION = 'subscription($p: ID!) { commentAdded(postId: $p) { cursor comment { id body } } }';
const HEARTH_COMMENT = 'mutation($p: ID!, $b: String!) { createComment(input: {postId: $p, body: $b}) { id } }';

const hearth = {
  open(onEvent, onLost) {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`${base.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
      let opened = false;
      socket.on('open', () => socket.send(JSON.stringify({
        type: 'connection_init', payload: { Authorization: `Bearer ${token}` },
      })));
      socket.on('message', (data) => {
        const message = JSON.parse(data);
        if (message.type === 'next') {
          const added = message.payload?.data?.commentAdded;
          if (added) onEvent(added.comment.body);
          else onLost(`event with errors: ${JSON.stringify(message.payload).slice(0, 300)}`);
        } else if (message.type === 'connection_ack') {
          socket.send(JSON.stringify({
            type: 'subscribe', id: '1', payload: { query: HEARTH_SUBSCRIPTION, variables: { p: post } },
          }));
          opened = true;
          resolve(socket);
        } else if (message.type === 'ping') {
          socket.send(JSON.stringify({ type: 'pong' }));
        } else if (message.type === 'error' || message.type === 'complete') {
          onLost(`${message.type}: ${JSON.stringify(message.payload ?? null).slice(0, 300)}`);
        }
      });
      socket.on('error', (error) => (opened ? onLost(`socket error: ${error.message}`) : reject(error)));
      socket.on('close', (code, reason) => {
        if (!opened) reject(new Error(`closed before connection_ack: ${code} ${reason}`));
        else if (!socket.closing) onLost(`closed: ${code} ${reason}`);
      });
    });
  },
  async create(body) {
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: HEARTH_COMMENT, variables: { p: post, b: body } }),
    });
    const answer = await response.json();
    if (!response.ok || answer.errors) throw new Error(`createComment: ${response.status} ${JSON.stringify(answer).slice(0, 300)}`);
  },
  close(socket) {
    socket.closing = true;
    socket.terminate();
  },
};

// PocketBase's realtime API: GET /api/realtime is an event stream whose
// first event, PB_CONNECT, names the client; POST /api/realtime then sets
// that client's subscriptions, with the user's token. A collection topic
// takes the list API's query options; `filter` narrows it to one post.
const PB_TOPIC = `comments/*?options=${encodeURIComponent(JSON.stringify({ query: { filter: `post='${post}'` } }))}`;

const pocketbase = {
  open(onEvent, onLost) {
    return new Promise((resolve, reject) => {
      const handle = { controller: new AbortController(), closing: false };
      let opened = false;
      const fail = (reason) => {
        if (handle.closing) return;
        if (opened) onLost(reason);
        else {
          pocketbase.close(handle);
          reject(new Error(reason));
        }
      };
      const subscribe = async (clientId) => {
        const response = await fetch(`${base}/api/realtime`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ clientId, subscriptions: [PB_TOPIC] }),
        });
        if (response.status !== 204) throw new Error(`POST /api/realtime: ${response.status} ${(await response.text()).slice(0, 300)}`);
        opened = true;
        resolve(handle);
      };
      (async () => {
        const response = await fetch(`${base}/api/realtime`, {
          headers: { accept: 'text/event-stream' }, signal: handle.controller.signal,
        });
        if (!response.ok) throw new Error(`GET /api/realtime: ${response.status}`);
        const decoder = new TextDecoder();
        let buffer = '';
        for await (const chunk of response.body) {
          buffer += decoder.decode(chunk, { stream: true });
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let name = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) name = line.slice(6).trim();
              else if (line.startsWith('data:')) data += line.slice(5);
            }
            if (name === 'PB_CONNECT') subscribe(JSON.parse(data).clientId).catch((error) => fail(error.message));
            else if (name === PB_TOPIC) onEvent(JSON.parse(data).record.body);
          }
        }
        fail('the event stream ended');
      })().catch((error) => fail(`${error.message}${error.cause ? ` (${error.cause.message})` : ''}`));
    });
  },
  async create(body) {
    const response = await fetch(`${base}/api/collections/comments/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ post, author: settings.author, body }),
    });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`create comment: ${response.status} ${text.slice(0, 300)}`);
  },
  close(handle) {
    handle.closing = true;
    handle.controller.abort();
  },
};

// --- the measurement, the same for both -------------------------------------

const adapter = { hearth, pocketbase }[server];
if (!adapter) throw new Error(`unknown server ${server}`);
const out = { server, subscribers, events };
const errors = [];
// The first few distinct messages: a failure repeats itself.
const error = (message) => {
  if (errors.length < 5 && !errors.includes(message)) errors.push(message);
};

// body -> { at: arrival time per subscriber (NaN: not yet), count }
const expected = new Map();
let unexpected = 0;
let duplicates = 0;
const lost = new Set();
function arrived(n, body) {
  const at = performance.now();
  const slot = expected.get(body);
  if (!slot) unexpected += 1;
  else if (!Number.isNaN(slot.at[n])) duplicates += 1;
  else {
    slot.at[n] = at;
    slot.count += 1;
  }
}
function expect(body) {
  const slot = { at: new Float64Array(subscribers).fill(NaN), count: 0 };
  expected.set(body, slot);
  return slot;
}

out.rss_before_kib = rssKiB();
const handles = new Array(subscribers).fill(null);
let openFailures = 0;
const opening = performance.now();
for (let n = 0; n < subscribers; n += BATCH) {
  const batch = Array.from({ length: Math.min(BATCH, subscribers - n) }, (_, i) => n + i);
  const results = await Promise.allSettled(batch.map((k) => adapter.open(
    (body) => arrived(k, body),
    (reason) => {
      lost.add(k);
      error(`subscriber ${k}: ${reason}`);
    },
  )));
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') handles[batch[i]] = result.value;
    else {
      openFailures += 1;
      error(`subscriber ${batch[i]} did not open: ${result.reason?.message ?? result.reason}`);
    }
  });
}
out.open_s = (performance.now() - opening) / 1000;
const open = subscribers - openFailures;
out.open = open;
out.open_failures = openFailures;
note(`${open} of ${subscribers} subscribers open in ${out.open_s.toFixed(1)} s`);
if (open === 0) {
  out.errors = errors;
  console.log(JSON.stringify(out));
  process.exit(1);
}
// Let the subscriptions start and the allocator settle.
await sleep(settleMs);
out.rss_after_kib = rssKiB();
out.per_subscriber_kib = (out.rss_after_kib - out.rss_before_kib) / open;
note(`RSS ${(out.rss_before_kib / 1024).toFixed(1)} -> ${(out.rss_after_kib / 1024).toFixed(1)} MiB, ` +
  `${out.per_subscriber_kib.toFixed(1)} KiB per subscriber`);

async function reached(slot, within) {
  const deadline = performance.now() + within;
  // A subscriber already lost is not waited for; its events count as missing.
  while (slot.count < open - lost.size) {
    if (performance.now() > deadline) return false;
    await sleep(1);
  }
  return true;
}

const run = `${server} ${Date.now().toString(36)}`;
let live = false;
out.warmup_events = 0;
for (let attempt = 0; attempt < 20 && !live; attempt += 1) {
  const slot = expect(`warm-up ${run} ${attempt}`);
  out.warmup_events += 1;
  try {
    await adapter.create(`warm-up ${run} ${attempt}`);
    live = await reached(slot, 3000);
  } catch (e) {
    error(e.message);
  }
}
out.warmup_reached_all = live;
if (!live) error(`no warm-up event reached all ${open} subscribers in ${out.warmup_events} tries`);

const latencies = [];
const requests = [];
let createFailures = 0;
const measured = [];
for (let n = 0; n < events; n += 1) {
  const body = `event ${run} ${n}`;
  const slot = expect(body);
  const sent = performance.now();
  try {
    await adapter.create(body);
  } catch (e) {
    createFailures += 1;
    error(e.message);
    continue;
  }
  requests.push(performance.now() - sent);
  measured.push([slot, sent]);
  await reached(slot, waitMs);
}
for (const [slot, sent] of measured) {
  for (let k = 0; k < subscribers; k += 1) if (handles[k] && !Number.isNaN(slot.at[k])) latencies.push(slot.at[k] - sent);
}
latencies.sort((a, b) => a - b);
requests.sort((a, b) => a - b);
const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] : null);
Object.assign(out, {
  deliveries: latencies.length,
  missing: measured.length * open - latencies.length,
  create_failures: createFailures,
  lost: lost.size,
  duplicates,
  unexpected,
  p50_ms: percentile(latencies, 50),
  p99_ms: percentile(latencies, 99),
  max_ms: latencies.length ? latencies[latencies.length - 1] : null,
  request_p50_ms: percentile(requests, 50),
});
out.errors = errors;
const ms = (value) => (value === null ? '–' : value.toFixed(1));
note(`${out.deliveries} deliveries of ${events} events, ${out.missing} missing; p50 ${ms(out.p50_ms)} ms, ` +
  `p99 ${ms(out.p99_ms)} ms, max ${ms(out.max_ms)} ms`);
for (const handle of handles) if (handle) adapter.close(handle);
console.log(JSON.stringify(out));
process.exit(0);
