// What the realtime load generators share: GraphQL over HTTP, the bench
// account with its post, and where the CPU goes during a measurement,
// from /proc: the API process's, this client's own and PostgreSQL's
// (every process named `postgres`), in CPU seconds; `cores` turns two
// readings into cores (CPU seconds per second of wall time).

import { readdirSync, readFileSync } from 'node:fs';

// CPU seconds a process has used (0 when it is gone).
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

export function cpu(apiPid) {
  let postgres = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') postgres += cpuSeconds(pid);
    } catch {
      // The process ended meanwhile.
    }
  }
  return { at: performance.now(), api: apiPid ? cpuSeconds(apiPid) : 0, client: cpuSeconds(process.pid), postgres };
}

// "API 1.08, this client 0.43, PostgreSQL 0.42" cores between two readings.
export function cores(before, after) {
  const wall = (after.at - before.at) / 1000;
  const share = (key) => ((after[key] - before[key]) / wall).toFixed(2);
  return `API ${share('api')}, this client ${share('client')}, PostgreSQL ${share('postgres')}`;
}

// One GraphQL request; its errors are thrown.
export async function graphql(url, query, variables, token) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

// A new account named after `name` and this run, signed up through `url`,
// with a post of its own: its access token and the post's id.
export async function benchAccount(url, name) {
  const run = Date.now().toString(36);
  const { signUp } = await graphql(
    url,
    'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }',
    { input: { email: `${name}-${run}@example.com`, username: `${name}_${run}`, password: 'correct horse battery',
      device: { name: 'bench', secret: `realtime-${name}-device-secret` } } },
  );
  const token = signUp.accessToken;
  const created = await graphql(url, `mutation { createPost(input: {body: "${name} bench"}) { id } }`, {}, token);
  return { token, post: created.createPost.id };
}
