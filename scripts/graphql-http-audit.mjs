// GraphQL over HTTP conformance : runs graphql-http's server
// audits against a running API and prints every result. Exits 1 when any
// MUST audit is not ok (or an audit cannot run at all); SHOULD/MAY results
// that are not ok are listed as warnings for the notes, and do not fail.
//
//   node scripts/graphql-http-audit.mjs http://127.0.0.1:8080/graphql
//
// scripts/conformance.sh installs graphql-http and graphql in a cache dir
// outside the repo and passes the package's entry point (a file: URL) in
// GRAPHQL_HTTP_MODULE, since ESM imports ignore NODE_PATH.
const url = process.argv[2];
if (!url) {
  console.error('usage: graphql-http-audit.mjs <graphql-url>');
  process.exit(2);
}
const { serverAudits } = await import(process.env.GRAPHQL_HTTP_MODULE ?? 'graphql-http');

// Record each audit's requests, so a failure can be reproduced by hand
// (the audit result carries only the response). Audits run one at a time.
let requests = [];
const recordingFetch = async (input, init = {}) => {
  requests.push({
    method: init.method ?? 'GET',
    url: String(input),
    headers: Object.fromEntries(new Headers(init.headers ?? {}).entries()),
    body: typeof init.body === 'string' ? init.body : init.body == null ? null : '<non-string body>',
  });
  return fetch(input, init);
};

const curl = (r) =>
  [
    'curl -si',
    `-X ${r.method}`,
    ...Object.entries(r.headers).map(([k, v]) => `-H '${k}: ${v}'`),
    r.body == null ? '' : `--data-raw '${r.body.replaceAll("'", "'\\''")}'`,
    `'${r.url}'`,
  ]
    .filter(Boolean)
    .join(' ');

const counts = { ok: 0, error: 0, warn: 0, notice: 0 };
const mustFailures = [];
const warnings = [];
for (const audit of serverAudits({ url, fetchFn: recordingFetch })) {
  requests = [];
  let result;
  try {
    result = await audit.fn();
  } catch (err) {
    // graphql-http throws (rather than returning a result) when an audit
    // cannot run at all, e.g. the connection failed: count it as a failure.
    result = { id: audit.id, name: audit.name, status: 'error', reason: `audit threw: ${err?.stack ?? err}` };
  }
  counts[result.status] = (counts[result.status] ?? 0) + 1;
  console.log(`${result.status.padEnd(6)} ${result.id}  ${result.name}`);
  if (result.status === 'ok') continue;

  let detail = `         reason: ${result.reason}`;
  if (result.response) {
    let body = '';
    try {
      body = await result.response.text();
    } catch {
      body = '<body already read>';
    }
    detail += `\n         response: ${result.response.status} ${result.response.headers.get('content-type') ?? ''} ${body.slice(0, 400)}`;
  }
  for (const r of requests) detail += `\n         request: ${curl(r)}`;
  console.log(detail);
  const entry = { ...result, detail };
  // A MUST that is not ok fails the audit whatever status graphql-http gave it.
  if (result.status === 'error' || result.name.startsWith('MUST')) mustFailures.push(entry);
  else warnings.push(entry);
}

console.log(
  `\ngraphql-http audit: ${counts.ok} ok, ${counts.error} error, ${counts.warn} warn, ${counts.notice} notice`,
);
if (warnings.length) {
  console.log(`\nWarnings (SHOULD/MAY not met; list them in the notes):`);
  for (const w of warnings) console.log(`  ${w.status} ${w.id} ${w.name}: ${w.reason}`);
}
if (mustFailures.length) {
  console.log(`\nMUST failures (${mustFailures.length}):`);
  for (const f of mustFailures) console.log(`  ${f.id} ${f.name}\n${f.detail}`);
  process.exit(1);
}
console.log('\nG2: 0 MUST failures');
