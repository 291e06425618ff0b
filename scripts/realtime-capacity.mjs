// Idle subscriptions one API process holds: opens `count` WebSocket
// connections (graphql-transport-ws), each with one commentAdded
// subscription, and reports the API's resident memory before and after.
//
//   node scripts/realtime-capacity.mjs <graphql url> <api pid> <count> [--no-subscribe]
// With --no-subscribe the connections only initialise, which separates the
// socket's cost from the subscription's.
// Run by `just bench-realtime`; CLIENT_MODULES names the node_modules
// directory holding `ws`.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(`${process.env.CLIENT_MODULES}/`);
const WebSocket = require('ws');

const [httpUrl, pid, countArg] = process.argv.slice(2);
const count = Number(countArg ?? 5000);
const subscribe = !process.argv.includes('--no-subscribe');
const wsUrl = httpUrl.replace(/^http/, 'ws');

function rssMiB() {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

async function graphql(query) {
  const response = await fetch(httpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  return (await response.json()).data;
}

// Any post will do: anonymous subscribers may follow public ones.
const feed = await graphql('{ posts(first: 1) { edges { node { id } } } }');
const post = feed?.posts?.edges?.[0]?.node?.id;
if (!post) {
  console.error('realtime capacity: the database has no public post (seed it first)');
  process.exit(1);
}

function subscriber(n) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
    socket.on('error', reject);
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
    socket.on('message', (data) => {
      const message = JSON.parse(data);
      if (message.type === 'connection_ack' && !subscribe) resolve(socket);
      else if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({
          type: 'subscribe',
          id: String(n),
          payload: { query: `subscription { commentAdded(postId: "${post}") { comment { id } } }` },
        }));
        resolve(socket);
      }
    });
  });
}

const before = rssMiB();
const sockets = [];
const batch = 200;
for (let n = 0; n < count; n += batch) {
  const opened = await Promise.all(
    Array.from({ length: Math.min(batch, count - n) }, (_, i) => subscriber(n + i)),
  );
  sockets.push(...opened);
}
// Let the subscriptions start and the allocator settle.
await new Promise((resolve) => setTimeout(resolve, 2000));
const after = rssMiB();
const perSubscription = ((after - before) * 1024) / count;
console.log(`api RSS idle: ${before.toFixed(1)} MiB`);
const what = subscribe ? 'idle subscriptions' : 'idle connections (no subscription)';
console.log(`api RSS with ${count} ${what}: ${after.toFixed(1)} MiB`);
console.log(`per ${subscribe ? 'subscription (connection included)' : 'connection'}: ${perSubscription.toFixed(1)} KiB`);
console.log(`idle subscriptions in 100 MB: about ${Math.floor((100 * 1024) / perSubscription)}`);
for (const socket of sockets) socket.terminate();
