// An MCP client's first sign-in at a Keyway hub, with the official MCP TypeScript SDK.
//
// 1. The SDK's own flow: a Client over the Streamable HTTP client transport, with an
//    OAuthClientProvider, calls the MCP server of `server.mjs`. The server answers 401 with
//    RFC 9728 `resource_metadata`; the SDK's `auth()` discovers the protected resource and the
//    hub (RFC 8414), registers (RFC 7591) and sends the person to the hub's sign-in form (here
//    submitted over HTTP) with PKCE and `resource` (RFC 8707); `finishAuth` exchanges the code;
//    the tool call then succeeds with the hub's JWT.
// 2. Direct checks on what the hub issued: `iss` on the redirect (RFC 9207), the token's `aud`
//    is the MCP server, refresh rotates the refresh token and keeps the audience; the server
//    refuses a hub token for another audience.
//
// Environment: KEYWAY_MCP_SDK (the SDK's package folder), HUB (the issuer), KW_USER,
// KW_PASSWORD, SCOPES (the server's scopes), OTHER_AUD_TOKEN (a hub JWT for the hub's API).
// Prints a JSON line {"resource"} once the MCP server listens, then waits for a line on stdin
// (the hub is told of the resource meanwhile), then prints one JSON line with the outcome.
// Exits non-zero on any failure.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startMcpServer } from './server.mjs';

const sdk = process.env.KEYWAY_MCP_SDK;
const load = (path) => import(pathToFileURL(join(sdk, 'dist/esm', path)).href);
const auth = await load('client/auth.js');
const { Client } = await load('client/index.js');
const { StreamableHTTPClientTransport } = await load('client/streamableHttp.js');
const { HUB, KW_USER, KW_PASSWORD, OTHER_AUD_TOKEN } = process.env;
const SCOPES = (process.env.SCOPES ?? '').split(' ').filter(Boolean);
const redirectUrl = 'http://127.0.0.1:33418/callback';

function fail(message) {
  console.error(message);
  process.exit(1);
}

function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

function hidden(html, name) {
  const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  if (!m) fail(`no hidden field ${name} in the sign-in page`);
  return m[1].replaceAll('&quot;', '"').replaceAll('&#x27;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
}

const server = await startMcpServer({ sdk, hub: HUB, scopes: SCOPES });
const RESOURCE = server.url;
console.log(JSON.stringify({ resource: RESOURCE }));
const lines = createInterface({ input: process.stdin });
await new Promise((resolve) => lines.once('line', resolve));
lines.close();

// The person's part: the hub's sign-in form, over HTTP. Returns the code from the redirect.
let consentPage = '';
async function signIn(authorizationUrl) {
  const page = await fetch(authorizationUrl, { redirect: 'manual' });
  if (page.status !== 200) fail(`authorize answered ${page.status}: ${await page.text()}`);
  const cookies = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const html = await page.text();
  consentPage = html;
  const form = new URLSearchParams({
    request: hidden(html, 'request'),
    csrf: hidden(html, 'csrf'),
    username: KW_USER,
    password: KW_PASSWORD,
  });
  const login = await fetch(new URL('/login', HUB), {
    method: 'POST',
    body: form,
    headers: { cookie: cookies },
    redirect: 'manual',
  });
  if (login.status !== 302) fail(`sign-in answered ${login.status}: ${await login.text()}`);
  const back = new URL(login.headers.get('location'));
  if (`${back.origin}${back.pathname}` !== redirectUrl) fail(`redirected to ${back}`);
  if (back.searchParams.get('state') !== authorizationUrl.searchParams.get('state')) fail('state does not match');
  if (back.searchParams.get('iss') !== HUB) fail('iss (RFC 9207) is not the issuer');
  const code = back.searchParams.get('code');
  if (!code) fail(`no code: ${back}`);
  return code;
}

// The SDK's OAuthClientProvider, in memory.
let tokenAt = null;
const saved = {};
const provider = {
  get redirectUrl() {
    return redirectUrl;
  },
  get clientMetadata() {
    return {
      client_name: 'MCP SDK test client',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      scope: 'openid offline_access',
    };
  },
  state: () => 'st-' + Math.random().toString(36).slice(2),
  clientInformation: () => saved.client,
  saveClientInformation: (info) => {
    saved.client = info;
  },
  tokens: () => saved.tokens,
  saveTokens: (tokens) => {
    tokenAt ??= performance.now();
    saved.tokens = tokens;
  },
  redirectToAuthorization: (url) => {
    saved.authorizationUrl = url;
  },
  saveCodeVerifier: (v) => {
    saved.verifier = v;
  },
  codeVerifier: () => saved.verifier,
  saveDiscoveryState: (s) => {
    saved.discovery = s;
  },
  discoveryState: () => saved.discovery,
};

const started = performance.now();
const first = new StreamableHTTPClientTransport(new URL(RESOURCE), { authProvider: provider });
try {
  await new Client({ name: 'keyway-test', version: '1.0.0' }).connect(first);
  fail('the MCP server let an unauthenticated client in');
} catch (e) {
  if (!(e instanceof auth.UnauthorizedError)) fail(`expected the SDK to need authorization: ${e.stack ?? e}`);
}
if (server.seen.refused !== 1) fail(`the server refused ${server.seen.refused} requests, not 1`);
if (!saved.authorizationUrl) fail('the SDK did not send the person to the hub');
if (saved.authorizationUrl.origin !== new URL(HUB).origin) fail(`sent to ${saved.authorizationUrl}, not the hub`);
if (saved.authorizationUrl.searchParams.get('resource') !== RESOURCE) fail('the SDK did not ask for the resource');
const code = await signIn(saved.authorizationUrl);
await first.finishAuth(code);
if (tokenAt === null) fail('finishAuth saved no tokens');
const firstSignInMs = tokenAt - started;

const client = new Client({ name: 'keyway-test', version: '1.0.0' });
await client.connect(new StreamableHTTPClientTransport(new URL(RESOURCE), { authProvider: provider }));
const result = await client.callTool({ name: 'whoami', arguments: {} });
await client.close();
const tokens = saved.tokens;
const sub = claims(tokens.access_token).sub;
if (result.content?.[0]?.text !== sub) fail(`the tool answered ${JSON.stringify(result)}, not ${sub}`);
if (server.seen.calls !== 1) fail(`the tool ran ${server.seen.calls} times`);

const aud = claims(tokens.access_token).aud;
if (aud !== RESOURCE) fail(`aud ${aud} is not ${RESOURCE}`);
if (claims(tokens.access_token).iss !== HUB) fail('iss is not the hub');
if (!tokens.refresh_token) fail('no refresh token');

const metadata = await auth.discoverAuthorizationServerMetadata(HUB);
if (metadata?.issuer !== HUB) fail(`issuer ${metadata?.issuer} is not ${HUB}`);
const refreshed = await auth.refreshAuthorization(HUB, {
  metadata,
  clientInformation: saved.client,
  refreshToken: tokens.refresh_token,
  resource: new URL(RESOURCE),
});
if (claims(refreshed.access_token).aud !== RESOURCE) fail('the refreshed token lost its audience');
if (refreshed.refresh_token === tokens.refresh_token) fail('the refresh token was not rotated');

// A hub token for the hub's own API is not one for this server.
const other = await fetch(RESOURCE, {
  method: 'POST',
  headers: { authorization: `Bearer ${OTHER_AUD_TOKEN}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
  body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
});
if (other.status !== 401) fail(`a token for another audience got ${other.status}`);
if (!other.headers.get('www-authenticate')?.includes('invalid_token')) fail('no invalid_token for another audience');

await server.close();
console.log(JSON.stringify({
  ok: true,
  client_id: saved.client.client_id,
  aud,
  scope: tokens.scope ?? '',
  consent_page: consentPage,
  first_sign_in_ms: Math.round(firstSignInMs),
}));
