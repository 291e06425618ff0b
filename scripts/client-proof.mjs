// Client proof: the real graphql-ws client and Apollo Client (GraphQLWsLink
// for subscriptions, HttpLink for the rest) against a running API. Each
// subscribes, a mutation goes over HTTP, and the event must arrive.
// Prints the mutation -> subscriber latency over a number of events.
//
//   node scripts/client-proof.mjs <graphql url> [events] [mutation url]
// Subscriptions go to the first URL, mutations to the last (another API
// process, to measure events crossing processes). Run by scripts/realtime.sh,
// which installs the packages and starts the API; CLIENT_MODULES names the
// node_modules directory to load them from.

import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(`${process.env.CLIENT_MODULES}/`);
const { createClient } = require('graphql-ws');
const WebSocket = require('ws');
const apollo = require('@apollo/client');
const { GraphQLWsLink } = require('@apollo/client/link/subscriptions');
const { getMainDefinition } = require('@apollo/client/utilities');

const httpUrl = process.argv[2];
const wsUrl = httpUrl.replace(/^http/, 'ws');
const events = Number(process.argv[3] ?? 50);
const mutationUrl = process.argv[4] ?? httpUrl;
const run = Date.now().toString(36);

function fail(message) {
  console.error(`client proof: FAILED: ${message}`);
  process.exit(1);
}

async function http(query, variables, token) {
  const response = await fetch(mutationUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) fail(`${query.slice(0, 40)}…: ${JSON.stringify(body.errors)}`);
  return body.data;
}

async function signUp(name) {
  const data = await http(
    'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }',
    {
      input: {
        email: `${name}-${run}@example.com`,
        username: `${name}_${run}`,
        password: 'correct horse battery',
        device: { name: 'client-proof', secret: 'device-secret-0123456789abcdef' },
      },
    },
  );
  return data.signUp.accessToken;
}

const COMMENT = 'mutation($p: ID!, $b: String!) { createComment(input: {postId: $p, body: $b}) { id } }';
const COMMENT_ADDED = 'subscription($p: ID!, $after: String) { commentAdded(postId: $p, after: $after) { cursor comment { id body author { username } } } }';

// Waits for `count` events from `next`-style callbacks, failing after 10 s.
function collector() {
  const waiting = [];
  const arrived = [];
  return {
    push(value) {
      const waiter = waiting.shift();
      if (waiter) waiter(value);
      else arrived.push(value);
    },
    drain() {
      arrived.length = 0;
    },
    next(within = 10_000) {
      if (arrived.length) return Promise.resolve(arrived.shift());
      return new Promise((resolve, reject) => {
        const waiter = (value) => {
          clearTimeout(timer);
          resolve(value);
        };
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(waiter), 1);
          reject(new Error(`no event within ${within} ms`));
        }, within);
        waiting.push(waiter);
      });
    },
  };
}

// Triggers events until one arrives, then drops any late warm-up events.
async function untilLive(received, trigger) {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    await trigger();
    const arrived = await received.next(500).then(() => true, () => false);
    if (arrived) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      received.drain();
      return;
    }
  }
  fail('no event arrived within 20 attempts');
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main() {
  const ann = await signUp('ann');
  const bob = await signUp('bob');
  const post = (await http('mutation { createPost(input: {body: "client proof"}) { id } }', {}, ann))
    .createPost.id;

  // 1. graphql-ws, as React Native and web apps use it directly.
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: () => ({ Authorization: `Bearer ${ann}` }),
    retryAttempts: 0,
  });
  const received = collector();
  let failure;
  let lastCursor;
  const stop = client.subscribe(
    { query: COMMENT_ADDED, variables: { p: post } },
    {
      next: (result) => received.push(result),
      error: (error) => { failure = error; },
      complete: () => {},
    },
  );
  // The protocol has no "subscribed" acknowledgement: comment until an
  // event arrives, which proves the subscription is live.
  await untilLive(received, () => http(COMMENT, { p: post, b: 'warm-up' }, bob));
  const latencies = [];
  for (let n = 0; n < events; n += 1) {
    const started = performance.now();
    await http(COMMENT, { p: post, b: `event ${n}` }, bob);
    const result = await received.next();
    latencies.push(performance.now() - started);
    if (failure) fail(`graphql-ws error: ${failure}`);
    const comment = result.data?.commentAdded?.comment;
    lastCursor = result.data?.commentAdded?.cursor;
    if (comment?.body !== `event ${n}`) fail(`graphql-ws got ${JSON.stringify(result)}`);
    if (!comment.author.username.startsWith('bob_')) fail(`wrong author ${JSON.stringify(result)}`);
  }
  stop();
  await client.dispose();
  console.log(
    `graphql-ws: ${events} events; mutation -> subscriber median ${median(latencies).toFixed(1)} ms, ` +
      `max ${Math.max(...latencies).toFixed(1)} ms`,
  );

  // The app goes away; three comments later it resubscribes with the last
  // cursor it got and receives exactly those three, in order.
  for (let n = 0; n < 3; n += 1) await http(COMMENT, { p: post, b: `missed ${n}` }, bob);
  const again = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: () => ({ Authorization: `Bearer ${ann}` }), retryAttempts: 0 });
  const resumed = collector();
  const stopAgain = again.subscribe(
    { query: COMMENT_ADDED, variables: { p: post, after: lastCursor } },
    { next: (result) => resumed.push(result), error: (error) => { failure = error; }, complete: () => {} },
  );
  for (let n = 0; n < 3; n += 1) {
    const result = await resumed.next();
    if (result.data?.commentAdded?.comment?.body !== `missed ${n}`) fail(`resumed subscription got ${JSON.stringify(result)}`);
  }
  const extra = await resumed.next(500).then((r) => r, () => null);
  if (extra) fail(`resumed subscription got more than it missed: ${JSON.stringify(extra)}`);
  stopAgain();
  await again.dispose();
  console.log('graphql-ws: resubscribing with after: the last cursor replayed exactly the 3 missed events');

  // 2. Apollo Client: subscriptions through GraphQLWsLink, mutations over HTTP.
  const wsLink = new GraphQLWsLink(
    createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${bob}` } }),
  );
  const httpLink = new apollo.HttpLink({ uri: mutationUrl, headers: { authorization: `Bearer ${bob}` } });
  const link = apollo.split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
    },
    wsLink,
    httpLink,
  );
  const apolloClient = new apollo.ApolloClient({ link, cache: new apollo.InMemoryCache() });
  const apolloReceived = collector();
  const subscription = apolloClient
    .subscribe({ query: apollo.gql(COMMENT_ADDED), variables: { p: post } })
    .subscribe({
      next: (result) => apolloReceived.push(result),
      error: (error) => fail(`Apollo subscription error: ${error}`),
    });
  await untilLive(apolloReceived, () => http(COMMENT, { p: post, b: 'warm-up' }, ann));
  const mutation = await apolloClient.mutate({
    mutation: apollo.gql(COMMENT),
    variables: { p: post, b: 'from apollo' },
  });
  if (!mutation.data?.createComment?.id) fail(`Apollo mutation: ${JSON.stringify(mutation)}`);
  const event = await apolloReceived.next();
  if (event.data?.commentAdded?.comment?.body !== 'from apollo') fail(`Apollo got ${JSON.stringify(event)}`);
  subscription.unsubscribe();
  await wsLink.client.dispose();
  apolloClient.stop();
  console.log('Apollo Client: subscription event received after a mutation over HttpLink');
  console.log('client proof: passed');
}

main().catch((error) => fail(error?.stack ?? String(error)));
