// A real OpenID provider for the hub's SSO tests: node's oidc-provider (OpenID Certified) on
// 127.0.0.1, port chosen by the OS.
//
//   node provider.mjs            (KEYWAY_OIDC_PROVIDER = the oidc-provider package directory)
//
// It prints one line `listening http://127.0.0.1:PORT` on stdout, then serves:
// - the provider itself (discovery, authorize, token, userinfo, JWKS) once configured;
// - `POST /_test/setup` with JSON {client_id, client_secret, redirect_uri, auth_method?,
//   id_token_alg?, groups_in_id_token?}: creates the provider with that one confidential client
//   (the hub's redirect URI is only known once the hub listens, after this process);
// - `POST /_test/account` with JSON {id, email?, preferred_username?, groups?}: adds or replaces
//   an account (its groups change for the next sign-in);
// - `POST /_test/keys`: replaces the signing keys with new ones (new `kid`s).
// Sign-in is oidc-provider's devInteractions login form (any password; the login names the
// account), and consent is granted without a page.

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

function build(issuer, jwks) {
  const s = setup;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: s.client_id,
        client_secret: s.client_secret,
        redirect_uris: [s.redirect_uri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: s.auth_method ?? 'client_secret_basic',
        id_token_signed_response_alg: s.id_token_alg ?? 'RS256',
      },
    ],
    jwks,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'name'],
      groups: ['groups'],
    },
    scopes: ['openid', 'email', 'profile', 'groups'],
    conformIdTokenClaims: !s.groups_in_id_token,
    features: { devInteractions: { enabled: true } },
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
    // Consent without a page: every request of the one client is granted what it asks.
    async loadExistingGrant(ctx) {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid email profile groups');
      grant.addOIDCClaims(['email', 'email_verified', 'preferred_username', 'name', 'groups']);
      await grant.save();
      return grant;
    },
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
