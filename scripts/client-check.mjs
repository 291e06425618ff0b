// The manual as a JavaScript client developer meets it, against a running
// API with the demo data seeded:
//
//  1. Every GraphQL operation in README.md and docs/*.md parses, has a name
//     no other operation has, and validates against schema.graphql, with
//     graphql-js (what graphql-codegen and relay-compiler build on).
//  2. The documented Apollo Client 4 set-up, run as written: the tour's
//     feed and a mutation over HTTP, a subscription over the WebSocket.
//  3. The documented urql set-up with Graphcache: the tour's queries,
//     without a single cache warning.
//
//   node scripts/client-check.mjs <graphql url>
//
// Run by scripts/realtime.sh proof, which installs the packages, seeds the
// database and starts the API; CLIENT_MODULES names the node_modules
// directory to load them from.

import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(`${process.env.CLIENT_MODULES}/`);
const graphql = require('graphql');
globalThis.WebSocket ??= require('ws');

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const url = process.argv[2];

function fail(message) {
  console.error(`client check: FAILED: ${message}`);
  process.exit(1);
}

// The manual: README.md and every page under docs/.
function pages() {
  const found = [join(root, 'README.md')];
  const walk = (dir) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.md')) found.push(path);
    }
  };
  walk(join(root, 'docs'));
  return found;
}

function blocks(text, language) {
  const pattern = new RegExp('^```' + language + '\\n([\\s\\S]*?)^```', 'gm');
  return [...text.matchAll(pattern)].map((match) => match[1]);
}

// 1. Names and validity, by graphql-js.
const schema = graphql.buildSchema(readFileSync(join(root, 'schema.graphql'), 'utf8'));
const operations = new Map();
for (const page of pages()) {
  const text = readFileSync(page, 'utf8');
  for (const block of blocks(text, 'graphql')) {
    let document;
    try {
      document = graphql.parse(block);
    } catch (error) {
      fail(`${page}: ${error.message}\n${block}`);
    }
    const errors = graphql.validate(schema, document);
    if (errors.length) fail(`${page}: ${errors.map((e) => e.message).join('; ')}\n${block}`);
    for (const definition of document.definitions) {
      if (definition.kind !== 'OperationDefinition') continue;
      const name = definition.name?.value;
      if (!name) fail(`${page}: an operation without a name\n${block}`);
      if (operations.has(name)) fail(`${name} is in the manual twice (${operations.get(name).page}, ${page})`);
      operations.set(name, { page, source: graphql.print(definition) });
    }
  }
}
if (operations.size < 35) fail(`only ${operations.size} operations found`);
console.log(`client check: ${operations.size} operations, every name unique, all valid against schema.graphql`);

function operation(name) {
  const found = operations.get(name);
  if (!found) fail(`the manual has no operation ${name}`);
  return found.source;
}

async function http(query, variables, token) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) fail(`${query.slice(0, 60)}…: ${JSON.stringify(body.errors)}`);
  return body.data;
}

// A JavaScript snippet of the manual as a module next to the installed
// packages, with the URL of the API under test.
async function load(marker, file) {
  const code = pages()
    .flatMap((page) => blocks(readFileSync(page, 'utf8'), 'js'))
    .find((block) => block.includes(marker));
  if (!code) fail(`no snippet in the manual with ${marker}`);
  const path = join(process.env.CLIENT_MODULES, '..', file);
  writeFileSync(path, code.replaceAll('http://localhost:8080/graphql', url).replaceAll('ws://localhost:8080/graphql', url.replace(/^http/, 'ws')));
  return import(pathToFileURL(path).href);
}

async function main() {
  const device = { name: 'client check', secret: 'client-check-device-secret-01' };
  const signIn = 'mutation($input: SignInInput!) { signIn(input: $input) { accessToken user { profile { id } } } }';
  const demo = (await http(signIn, { input: { login: 'demo@hearth.dev', password: 'hearth-demo', device } })).signIn;
  const token = demo.accessToken;
  globalThis.getAccessToken = async () => token;
  globalThis.accessToken = () => token;

  // 2. Apollo Client, as the manual sets it up.
  const { client } = await load('new ApolloClient', 'readme-apollo.mjs');
  const { gql } = require('@apollo/client');
  const feed = await client.query({ query: gql(operation('Feed')) });
  if (!(feed.data?.feed?.edges?.length > 0)) fail(`Apollo: an empty feed: ${JSON.stringify(feed)}`);
  const edited = await client.mutate({ mutation: gql(operation('EditProfile')) });
  if (!edited.data?.updateProfile?.id) fail(`Apollo: EditProfile: ${JSON.stringify(edited)}`);
  const received = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no messageReceived event within 10 s')), 10_000);
    const subscription = client.subscribe({ query: gql(operation('MessageReceived')) }).subscribe({
      next: (result) => {
        clearTimeout(timer);
        subscription.unsubscribe();
        resolve(result);
      },
      error: reject,
    });
  });
  // Someone writes to the demo account until the event arrives (the
  // protocol does not say when a subscription is live).
  const run = Date.now().toString(36);
  const stranger = (
    await http(
      'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }',
      { input: { email: `check-${run}@example.com`, username: `check_${run}`, password: 'correct horse battery', device } },
    )
  ).signUp.accessToken;
  let delivered;
  received.then((event) => { delivered = event; }, (error) => fail(`Apollo subscription: ${error}`));
  for (let attempt = 0; attempt < 50 && !delivered; attempt += 1) {
    await http(
      'mutation($ids: [ID!]!) { startConversation(input: { participantIds: $ids, message: "hello" }) { id } }',
      { ids: [demo.user.profile.id] },
      stranger,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const event = await received;
  if (event.data?.messageReceived?.message?.body !== 'hello') fail(`Apollo got ${JSON.stringify(event)}`);
  client.stop();
  console.log('client check: the documented Apollo Client 4 set-up queries, mutates and subscribes');

  // 3. urql with Graphcache: no warnings on the tour's queries.
  const warnings = [];
  const warn = console.warn;
  console.warn = (...args) => warnings.push(args.join(' '));
  const { urqlClient } = await load('new Client(', 'readme-urql.mjs');
  for (const name of ['Feed', 'Profile', 'People', 'Communities', 'Conversations']) {
    const result = await urqlClient.query(operation(name), {}).toPromise();
    if (result.error || !result.data) fail(`urql ${name}: ${result.error}`);
  }
  console.warn = warn;
  if (warnings.length) fail(`Graphcache warned ${warnings.length} times, first: ${warnings[0]}`);
  console.log('client check: the documented urql set-up runs the tour\'s queries with no Graphcache warning');
  await new Promise((resolve) => setTimeout(resolve, 100));
  process.exit(0);
}

main().catch((error) => fail(error?.stack ?? String(error)));
