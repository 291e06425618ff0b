// A local OpenID provider for the API's tests, run by `oidc.rs`.
//
// One HTTP server on 127.0.0.1 serves:
// - oidc-provider (the certified implementation) at the issuer root;
// - `/native/...`: a minimal issuer (discovery and JWKS only) whose keys the
//   tests rotate and whose responses they can slow down;
// - `/github/...`: a stand-in for GitHub's OAuth2 endpoints (`/login/...`)
//   and REST API (`/api/...`);
// - `/test/...`: control endpoints, JSON in and out.
//
// Interactions (login, consent) are answered at once for `/test/authorize`;
// a real browser gets HTML forms instead, signing in people registered with
// `POST /test/people`.
//
// Usage: node oidc-provider.mjs '{"clients":[{"client_id":..,"client_secret":..,"redirect_uris":[..]}]}'
// with OIDC_MODULES pointing at a node_modules holding oidc-provider. An
// optional `"host"` names the issuer's host (default 127.0.0.1; `localhost`
// puts the provider on another site than a server at 127.0.0.1, as a real
// one is); it listens on 127.0.0.1 either way. Prints
// `{"issuer":..,"port":..}` on one line when ready; exits when stdin closes.

import crypto from 'node:crypto';
import http from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// stdout carries only the ready line: everything else goes to stderr, and
// oidc-provider's development notices (in-memory adapter, Node version,
// default helpers) are dropped.
for (const level of ['log', 'info', 'warn']) {
  console[level] = (...args) => {
    if (typeof args[0] === 'string' && args[0].startsWith('oidc-provider ')) return;
    console.error(...args);
  };
}

const config = JSON.parse(process.argv[2] ?? '{"clients":[]}');
const clients = config.clients ?? [];
const modules = process.env.OIDC_MODULES;
if (!modules) {
  console.error('OIDC_MODULES must name the node_modules directory holding oidc-provider');
  process.exit(2);
}
const { default: Provider } = await import(
  pathToFileURL(join(modules, 'oidc-provider', 'lib', 'index.js')).href
);

// The parent dropping its end of stdin (a finished or killed test) ends us.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));

// Keys

function newKey() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = crypto.randomUUID();
  return { kid, privateKey, publicKey };
}

function publicJwk(key) {
  return { ...key.publicKey.export({ format: 'jwk' }), kid: key.kid, alg: 'RS256', use: 'sig' };
}

const providerKey = newKey();
let nativeKey = newKey();
let nativeJwksFetches = 0;
let nativeDelayMs = 0;

const b64url = (data) => Buffer.from(data).toString('base64url');

function sign({ keys, alg, claims, kid }) {
  const key = keys === 'native' ? nativeKey : providerKey;
  const payload = b64url(JSON.stringify(claims ?? {}));
  if (alg === 'none') {
    return `${b64url(JSON.stringify({ alg: 'none' }))}.${payload}.`;
  }
  if (alg === 'RS256') {
    const input = `${b64url(JSON.stringify({ alg, typ: 'JWT', kid: kid ?? key.kid }))}.${payload}`;
    return `${input}.${crypto.sign('sha256', Buffer.from(input), key.privateKey).toString('base64url')}`;
  }
  if (alg === 'HS256-public') {
    // Algorithm confusion: HMAC keyed with the public key's PEM text.
    const secret = key.publicKey.export({ type: 'spki', format: 'pem' });
    const input = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: kid ?? key.kid }))}.${payload}`;
    return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
  }
  throw new Error(`unknown alg ${alg}`);
}

// Users signed in by `/test/authorize`, by subject; and per browser flow (the
// `x-test-flow` header the flow's requests carry) who signs in.
const accounts = new Map();
const flowUsers = new Map();
let lastUser;
// People a browser can sign in as on the login form, by email.
const people = new Map(); // email -> { password, user }

async function findAccount(_ctx, sub) {
  const user = accounts.get(sub);
  if (!user) return undefined;
  return {
    accountId: sub,
    async claims() {
      // Absent rather than null, as providers leave out what they lack.
      const claims = Object.entries(user).filter(([, value]) => value !== null && value !== undefined);
      return { ...Object.fromEntries(claims), sub };
    },
  };
}

// HTTP plumbing

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(req) {
  const text = await readBody(req);
  return text ? JSON.parse(text) : {};
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let origin;
let provider;
let providerHandler;

const server = http.createServer((req, res) => {
  route(req, res).catch((error) => {
    console.error(error);
    if (!res.headersSent) sendJson(res, 500, { error: String(error?.stack ?? error) });
    else res.end();
  });
});

async function route(req, res) {
  const url = new URL(req.url, origin);
  const path = url.pathname;
  if (path.startsWith('/test/')) return control(req, res, path);
  if (path === '/native' || path.startsWith('/native/')) return native(req, res, path);
  if (path.startsWith('/github/')) return github(req, res, url);
  if (path.startsWith('/interaction/')) return interaction(req, res);
  return providerHandler(req, res);
}

// Control endpoints

async function control(req, res, path) {
  const key = `${req.method} ${path}`;
  switch (key) {
    case 'POST /test/authorize': {
      const { url, user } = await readJson(req);
      const flow = crypto.randomUUID();
      if (user?.sub) {
        accounts.set(user.sub, user);
        flowUsers.set(flow, user);
        lastUser = user;
      }
      try {
        const outcome = await browse(url, flow);
        return sendJson(res, outcome.error ? 400 : 200, outcome);
      } finally {
        flowUsers.delete(flow);
      }
    }
    case 'POST /test/people': {
      const { password, ...user } = await readJson(req);
      if (!user.sub || !user.email || !password) {
        return sendJson(res, 400, { error: 'sub, email and password are required' });
      }
      people.set(user.email.toLowerCase(), { password, user });
      return sendJson(res, 200, {});
    }
    case 'POST /test/sign': {
      const body = await readJson(req);
      try {
        return sendJson(res, 200, { token: sign(body) });
      } catch (error) {
        return sendJson(res, 400, { error: error.message });
      }
    }
    case 'POST /test/native/rotate':
      nativeKey = newKey();
      return sendJson(res, 200, { kid: nativeKey.kid });
    case 'GET /test/native/jwks-fetches':
      return sendJson(res, 200, { count: nativeJwksFetches });
    case 'POST /test/github/user':
      githubUser = await readJson(req);
      return sendJson(res, 200, {});
    case 'POST /test/slow':
      nativeDelayMs = Number((await readJson(req)).ms ?? 0);
      return sendJson(res, 200, {});
    default:
      return sendJson(res, 404, { error: `no control endpoint ${key}` });
  }
}

// Plays the browser: follows redirects within this server (authorization,
// interaction, resume) with a cookie jar, and answers where it leaves it.
async function browse(start, flow) {
  const jar = new Map(); // `name path` -> { name, value, path }
  let url;
  try {
    url = new URL(start);
  } catch {
    return { error: `not a URL: ${start}` };
  }
  for (let hop = 0; hop < 20; hop += 1) {
    if (url.origin !== origin) {
      const error = url.searchParams.get('error');
      if (error) {
        const description = url.searchParams.get('error_description');
        return { redirect: url.href, error: description ? `${error}: ${description}` : error };
      }
      return { redirect: url.href };
    }
    const cookie = [...jar.values()]
      .filter((c) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
    const response = await fetch(url, {
      redirect: 'manual',
      headers: { 'x-test-flow': flow, ...(cookie ? { cookie } : {}) },
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let expired = value === '';
      for (const attribute of attributes) {
        const [k, v = ''] = attribute.split('=');
        const lower = k.toLowerCase();
        if (lower === 'path') path = v || '/';
        if (lower === 'max-age' && Number(v) <= 0) expired = true;
        if (lower === 'expires' && Date.parse(v) <= Date.now()) expired = true;
      }
      if (expired) jar.delete(`${name} ${path}`);
      else jar.set(`${name} ${path}`, { name, value, path });
    }
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      url = new URL(location, url);
      continue;
    }
    const text = await response.text();
    let error = text;
    try {
      const body = JSON.parse(text);
      if (body.error) {
        error = body.error_description ? `${body.error}: ${body.error_description}` : body.error;
      }
    } catch {
      error = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
    }
    return { error: `${response.status} at ${url.pathname}: ${error}` };
  }
  return { error: 'more than 20 redirects' };
}

// oidc-provider's interactions. `browse` marks its requests with
// `x-test-flow`; anything else is a browser, which gets pages.
async function interaction(req, res) {
  if (req.headers['x-test-flow'] === undefined) return interactionPage(req, res);
  return interactionAnswered(req, res);
}

// Without a page: login as the flow's user, then consent to everything the
// client asked for.
async function interactionAnswered(req, res) {
  const details = await provider.interactionDetails(req, res);
  const user = flowUsers.get(req.headers['x-test-flow']) ?? lastUser;
  if (!user) return sendJson(res, 400, { error: 'no user registered for this authorization' });
  const { prompt } = details;
  if (prompt.name === 'login') {
    accounts.set(user.sub, user);
    return provider.interactionFinished(req, res, { login: { accountId: user.sub } }, {
      mergeWithLastSubmission: false,
    });
  }
  if (prompt.name === 'consent') {
    const grantId = await grantMissing(details);
    return provider.interactionFinished(req, res, { consent: { grantId } }, {
      mergeWithLastSubmission: true,
    });
  }
  return sendJson(res, 400, { error: `unexpected prompt ${prompt.name}` });
}

// Grants everything the consent prompt says is missing.
async function grantMissing(details) {
  const { prompt, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function sendPage(res, status, title, body) {
  const text = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} · Test provider</title></head>
<body><main><h1>${escapeHtml(title)}</h1>
${body}
</main></body></html>
`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function loginPage(res, uid, status, error, email = '') {
  return sendPage(res, status, 'Sign in', `${error ? `<p role="alert">${escapeHtml(error)}</p>\n` : ''}<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<p><label>Email <input type="email" name="email" autocomplete="username" required value="${escapeHtml(email)}"></label></p>
<p><label>Password <input type="password" name="password" autocomplete="current-password" required></label></p>
<p><button type="submit">Sign in</button></p>
</form>`);
}

// What a person sees: a login form, then a consent page; each posts back to
// `/interaction/<uid>/<login|consent>`.
async function interactionPage(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params } = details;
  const action = new URL(req.url, origin).pathname.split('/')[3];
  if (req.method === 'GET' && action === undefined) {
    if (prompt.name === 'login') return loginPage(res, uid, 200);
    if (prompt.name === 'consent') {
      const scopes = String(params.scope ?? '').split(' ').filter(Boolean);
      return sendPage(res, 200, 'Allow access', `<p>${escapeHtml(params.client_id)} asks for: ${escapeHtml(scopes.join(', '))}.</p>
<form method="post" action="/interaction/${escapeHtml(uid)}/consent">
<p><button type="submit">Allow</button></p>
</form>`);
    }
    return sendPage(res, 400, 'Cannot continue', `<p>unexpected prompt ${escapeHtml(prompt.name)}</p>`);
  }
  if (req.method === 'POST' && action === 'login' && prompt.name === 'login') {
    const form = new URLSearchParams(await readBody(req));
    const email = form.get('email') ?? '';
    const person = people.get(email.trim().toLowerCase());
    if (!person || person.password !== form.get('password')) {
      return loginPage(res, uid, 401, 'Wrong email or password.', email);
    }
    accounts.set(person.user.sub, person.user);
    return provider.interactionFinished(req, res, { login: { accountId: person.user.sub } }, {
      mergeWithLastSubmission: false,
    });
  }
  if (req.method === 'POST' && action === 'consent' && prompt.name === 'consent') {
    const grantId = await grantMissing(details);
    return provider.interactionFinished(req, res, { consent: { grantId } }, {
      mergeWithLastSubmission: true,
    });
  }
  return sendPage(res, 400, 'Cannot continue', `<p>${escapeHtml(req.method)} ${escapeHtml(action ?? '')} at the ${escapeHtml(prompt.name)} prompt</p>`);
}

// The native issuer

async function native(req, res, path) {
  if (nativeDelayMs > 0) await sleep(nativeDelayMs);
  const issuer = `${origin}/native`;
  if (req.method === 'GET' && path === '/native/.well-known/openid-configuration') {
    return sendJson(res, 200, {
      issuer,
      jwks_uri: `${issuer}/jwks`,
      authorization_endpoint: `${issuer}/auth`,
      token_endpoint: `${issuer}/token`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
    });
  }
  if (req.method === 'GET' && path === '/native/jwks') {
    nativeJwksFetches += 1;
    return sendJson(res, 200, { keys: [publicJwk(nativeKey)] });
  }
  return sendJson(res, 404, { error: 'not_found' });
}

// The GitHub stand-in, shaped like github.com and api.github.com.

let githubUser;
const githubCodes = new Map(); // code -> { clientId, redirectUri, user, scope, challenge }
const githubTokens = new Map(); // token -> user

function githubClient(id) {
  return clients.find((c) => c.client_id === id);
}

async function github(req, res, url) {
  const path = url.pathname.slice('/github'.length);
  if (req.method === 'GET' && path === '/login/oauth/authorize') {
    const q = url.searchParams;
    const client = githubClient(q.get('client_id'));
    if (!client) return sendJson(res, 400, { error: 'unknown client_id' });
    const redirectUri = q.get('redirect_uri') ?? client.redirect_uris[0];
    if (!client.redirect_uris.includes(redirectUri)) {
      return sendJson(res, 400, { error: 'redirect_uri_mismatch: the redirect_uri is not registered' });
    }
    if (!githubUser) return sendJson(res, 400, { error: 'no GitHub user set (POST /test/github/user)' });
    const code = crypto.randomBytes(10).toString('hex');
    githubCodes.set(code, {
      clientId: client.client_id,
      redirectUri,
      user: githubUser,
      scope: (q.get('scope') ?? '').split(/[\s,]+/).filter(Boolean).join(','),
      challenge: q.get('code_challenge'),
    });
    const target = new URL(redirectUri);
    target.searchParams.set('code', code);
    if (q.has('state')) target.searchParams.set('state', q.get('state'));
    res.writeHead(302, { location: target.href });
    return res.end();
  }
  if (req.method === 'POST' && path === '/login/oauth/access_token') {
    const text = await readBody(req);
    const type = req.headers['content-type'] ?? '';
    const form = type.includes('json')
      ? new URLSearchParams(Object.entries(JSON.parse(text || '{}')))
      : new URLSearchParams(text);
    let clientId = form.get('client_id');
    let clientSecret = form.get('client_secret');
    const basic = /^basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      clientId = decodeURIComponent(decoded.slice(0, i));
      clientSecret = decodeURIComponent(decoded.slice(i + 1));
    }
    const answer = (body) => {
      // GitHub answers form-encoded unless JSON is asked for, and errors
      // with 200.
      if ((req.headers.accept ?? '').includes('json')) return sendJson(res, 200, body);
      const encoded = new URLSearchParams(body).toString();
      res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
      return res.end(encoded);
    };
    const client = githubClient(clientId);
    if (!client || client.client_secret !== clientSecret) {
      return answer({
        error: 'incorrect_client_credentials',
        error_description: 'The client_id and/or client_secret passed are incorrect.',
      });
    }
    const code = form.get('code');
    const grant = githubCodes.get(code);
    githubCodes.delete(code);
    const verifier = form.get('code_verifier');
    const challengeOk = !grant?.challenge
      || (verifier && crypto.createHash('sha256').update(verifier).digest('base64url') === grant.challenge);
    if (!grant || grant.clientId !== clientId || !challengeOk) {
      return answer({
        error: 'bad_verification_code',
        error_description: 'The code passed is incorrect or expired.',
      });
    }
    if (form.has('redirect_uri') && form.get('redirect_uri') !== grant.redirectUri) {
      return answer({
        error: 'redirect_uri_mismatch',
        error_description: 'The redirect_uri MUST match the registered callback URL for this application.',
      });
    }
    const token = `gho_${crypto.randomBytes(18).toString('base64url')}`;
    githubTokens.set(token, grant.user);
    return answer({ access_token: token, token_type: 'bearer', scope: grant.scope });
  }
  if (req.method === 'GET' && (path === '/api/user' || path === '/api/user/emails')) {
    if (!req.headers['user-agent']) {
      // As api.github.com does.
      return sendJson(res, 403, {
        message: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header',
      });
    }
    const auth = /^(?:bearer|token)\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const user = auth && githubTokens.get(auth[1]);
    if (!user) {
      return sendJson(res, 401, {
        message: 'Bad credentials',
        documentation_url: 'https://docs.github.com/rest',
        status: '401',
      });
    }
    const emails = (user.emails ?? []).map((e) => ({
      email: e.email,
      primary: Boolean(e.primary),
      verified: Boolean(e.verified),
      visibility: e.visibility ?? (e.primary ? 'private' : null),
    }));
    if (path === '/api/user/emails') return sendJson(res, 200, emails);
    const publicEmail = 'email' in user ? user.email : emails.find((e) => e.visibility === 'public')?.email;
    return sendJson(res, 200, {
      login: user.login,
      id: user.id,
      avatar_url: user.avatar_url ?? null,
      name: user.name ?? null,
      email: publicEmail ?? null,
      type: 'User',
    });
  }
  return sendJson(res, 404, { message: 'Not Found' });
}

// Start

const host = config.host ?? '127.0.0.1';

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  origin = `http://${host}:${port}`;
  provider = new Provider(origin, {
    clients: clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      // Either client_secret_basic or client_secret_post is accepted.
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    jwks: { keys: [{ ...providerKey.privateKey.export({ format: 'jwk' }), kid: providerKey.kid, alg: 'RS256', use: 'sig' }] },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    pkce: { required: () => true },
    scopes: ['openid', 'email', 'profile'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'picture'],
    },
    // Scope claims go into the ID token too, not only to userinfo.
    conformIdTokenClaims: false,
    findAccount,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: { devInteractions: { enabled: false } },
    clientBasedCORS: () => true,
    // Errors as JSON, for `browse` to report.
    async renderError(ctx, out) {
      ctx.type = 'application/json';
      ctx.body = out;
    },
  });
  providerHandler = provider.callback();
  process.stdout.write(`${JSON.stringify({ issuer: origin, port })}\n`);
});
