// An MCP client's first sign-in at a Keyway hub, with the official MCP TypeScript SDK's auth
// helpers: discovery (RFC 8414), dynamic registration (RFC 7591), authorization code + PKCE
// with `resource` (RFC 8707) through the hub's sign-in form, code exchange, refresh.
//
// Environment: KEYWAY_MCP_SDK (the SDK's package folder), HUB (the issuer), RESOURCE,
// KW_USER, KW_PASSWORD. Prints one JSON line; exits non-zero on any failure.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const sdk = process.env.KEYWAY_MCP_SDK;
const auth = await import(pathToFileURL(join(sdk, 'dist/esm/client/auth.js')).href);
const { HUB, RESOURCE, KW_USER, KW_PASSWORD } = process.env;
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

const started = performance.now();
const metadata = await auth.discoverAuthorizationServerMetadata(HUB);
if (!metadata) fail('no authorization server metadata');
if (metadata.issuer !== HUB) fail(`issuer ${metadata.issuer} is not ${HUB}`);
if (!metadata.registration_endpoint) fail('no registration_endpoint');

const clientInformation = await auth.registerClient(HUB, {
  metadata,
  clientMetadata: {
    client_name: 'MCP SDK test client',
    redirect_uris: [redirectUrl],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  },
  scope: 'openid offline_access',
});
if (!clientInformation.client_id) fail('registration gave no client_id');

const state = 'st-' + Math.random().toString(36).slice(2);
const { authorizationUrl, codeVerifier } = await auth.startAuthorization(HUB, {
  metadata,
  clientInformation,
  redirectUrl,
  scope: 'openid offline_access',
  state,
  resource: new URL(RESOURCE),
});

// The person's part: the hub's sign-in form, over HTTP.
const page = await fetch(authorizationUrl, { redirect: 'manual' });
if (page.status !== 200) fail(`authorize answered ${page.status}: ${await page.text()}`);
const cookies = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
const html = await page.text();
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
if (back.searchParams.get('state') !== state) fail('state does not match');
if (back.searchParams.get('iss') !== HUB) fail('iss (RFC 9207) is not the issuer');
const authorizationCode = back.searchParams.get('code');
if (!authorizationCode) fail(`no code: ${back}`);

const tokens = await auth.exchangeAuthorization(HUB, {
  metadata,
  clientInformation,
  authorizationCode,
  codeVerifier,
  redirectUri: redirectUrl,
  resource: new URL(RESOURCE),
});
const firstSignInMs = performance.now() - started;
const aud = claims(tokens.access_token).aud;
if (aud !== RESOURCE) fail(`aud ${aud} is not ${RESOURCE}`);
if (!tokens.refresh_token) fail('no refresh token');

const refreshed = await auth.refreshAuthorization(HUB, {
  metadata,
  clientInformation,
  refreshToken: tokens.refresh_token,
  resource: new URL(RESOURCE),
});
if (claims(refreshed.access_token).aud !== RESOURCE) fail('the refreshed token lost its audience');
if (refreshed.refresh_token === tokens.refresh_token) fail('the refresh token was not rotated');

console.log(JSON.stringify({ ok: true, client_id: clientInformation.client_id, aud, first_sign_in_ms: Math.round(firstSignInMs) }));
