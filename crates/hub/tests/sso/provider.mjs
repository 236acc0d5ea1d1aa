// A real OpenID provider for the hub's SSO tests and the CLI's sign-in at another provider:
// node's oidc-provider (OpenID Certified) on 127.0.0.1, port chosen by the OS.
//
//   node provider.mjs            (KEYWAY_OIDC_PROVIDER = the oidc-provider package directory)
//
// It prints one line `listening http://127.0.0.1:PORT` on stdout, then serves:
// - the provider itself (discovery, authorize, token, userinfo, JWKS) once configured;
// - `POST /_test/setup` with JSON {client_id, client_secret, redirect_uri, auth_method?,
//   id_token_alg?, groups_in_id_token?}: creates the provider with that one confidential client
//   (the hub's redirect URI is only known once the hub listens, after this process);
//   or, with {client_id, native: true, refresh: 'consent' | 'never', access_ttl?}, with one public
//   native client (no secret, PKCE, loopback redirect `http://127.0.0.1/callback` on any port,
//   RFC 8252 §7.3) that may ask for `offline_access`: with 'consent' a refresh token is issued as
//   OIDC Core §11 says, only for a request with `prompt=consent`; with 'never' none at all. Its
//   access tokens live `access_ttl` seconds (default 3600) and can be revoked (RFC 7009);
// - `POST /_test/account` with JSON {id, email?, preferred_username?, groups?}: adds or replaces
//   an account (its groups change for the next sign-in);
// - `POST /_test/keys`: replaces the signing keys with new ones (new `kid`s).
// Sign-in is oidc-provider's devInteractions login form (any password; the login names the
// account). The hub's client is granted consent without a page; the native client gets
// devInteractions' consent page.

import http from 'node:http';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const moduleDir = process.env.KEYWAY_OIDC_PROVIDER;
if (!moduleDir) {
  console.error('KEYWAY_OIDC_PROVIDER must name the oidc-provider package directory');
  process.exit(2);
}
const { default: Provider } = await import(pathToFileURL(path.join(moduleDir, 'lib/index.js')).href);

const accounts = new Map();
let handler = null;
let setup = null;
let keyGeneration = 0;

function signingKeys() {
  keyGeneration += 1;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return {
    keys: [
      { ...rsa, kid: `rsa-${keyGeneration}`, alg: 'RS256', use: 'sig' },
      { ...ec, kid: `ec-${keyGeneration}`, alg: 'ES256', use: 'sig' },
    ],
  };
}

function client(s) {
  if (s.native) {
    return {
      client_id: s.client_id,
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  return {
    client_id: s.client_id,
    client_secret: s.client_secret,
    redirect_uris: [s.redirect_uri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: s.auth_method ?? 'client_secret_basic',
    id_token_signed_response_alg: s.id_token_alg ?? 'RS256',
  };
}

// The native client's own settings: `offline_access`, short access tokens, revocation, and
// oidc-provider's own consent (a page, and §11's rule for refresh tokens).
function nativeSettings(s) {
  const settings = {
    scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
    ttl: { AccessToken: s.access_ttl ?? 3600 },
    features: { devInteractions: { enabled: true }, revocation: { enabled: true } },
  };
  if (s.refresh === 'never') {
    settings.issueRefreshToken = async () => false;
  }
  return settings;
}

// The hub's client: consent without a page, every request of the one client is granted what it asks.
const hubSettings = {
  scopes: ['openid', 'email', 'profile', 'groups'],
  features: { devInteractions: { enabled: true } },
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile groups');
    grant.addOIDCClaims(['email', 'email_verified', 'preferred_username', 'name', 'groups']);
    await grant.save();
    return grant;
  },
};

function build(issuer, jwks) {
  const s = setup;
  const provider = new Provider(issuer, {
    clients: [client(s)],
    jwks,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'name'],
      groups: ['groups'],
    },
    conformIdTokenClaims: !s.groups_in_id_token,
    pkce: { required: () => true },
    cookies: { keys: ['keyway-test-cookie-key-0123456789'] },
    async findAccount(_ctx, id) {
      const account = accounts.get(id);
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          const a = accounts.get(id) ?? account;
          const claims = { sub: id, email: a.email, email_verified: true, groups: a.groups ?? [] };
          if (a.preferred_username) claims.preferred_username = a.preferred_username;
          return claims;
        },
      };
    },
    ...(s.native ? nativeSettings(s) : hubSettings),
  });
  provider.on('server_error', (_ctx, err) => console.error('provider error', err));
  return provider.callback();
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      try { resolve(body ? JSON.parse(body) : {}); } catch (e) { reject(e); }
    });
    req.on('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  try {
    if (req.method === 'POST' && req.url === '/_test/setup') {
      setup = await readJson(req);
      handler = build(issuer, signingKeys());
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'POST' && req.url === '/_test/account') {
      const a = await readJson(req);
      accounts.set(a.id, a);
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'POST' && req.url === '/_test/keys') {
      handler = build(issuer, signingKeys());
      res.writeHead(204).end();
      return;
    }
  } catch (e) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end(String(e));
    return;
  }
  if (!handler) {
    res.writeHead(503, { 'content-type': 'text/plain' }).end('not set up');
    return;
  }
  handler(req, res);
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening http://127.0.0.1:${server.address().port}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
