// A small MCP server that trusts a Keyway hub: the MCP TypeScript SDK's own McpServer over its
// Streamable HTTP transport (stateless), one tool, on 127.0.0.1. It accepts a bearer JWT only
// if the hub's JWKS verifies it (EdDSA, Ed25519), `iss` is the hub and `aud` is this server's
// canonical URI. Without one it answers 401 with `WWW-Authenticate: Bearer resource_metadata=…`
// and serves its RFC 9728 protected-resource metadata, naming the hub as authorization server.
import { createServer } from 'node:http';
import { createPublicKey, verify } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const METADATA_PATH = '/.well-known/oauth-protected-resource';

function b64json(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString());
}

// The claims of a hub JWT for `audience`, or null. The JWKS is fetched by `kid` when unknown.
async function verifier(hub) {
  const keys = new Map();
  async function key(kid) {
    if (!keys.has(kid)) {
      const metadata = await (await fetch(new URL('/.well-known/oauth-authorization-server', hub))).json();
      const jwks = await (await fetch(metadata.jwks_uri)).json();
      for (const jwk of jwks.keys) {
        if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') keys.set(jwk.kid, createPublicKey({ key: jwk, format: 'jwk' }));
      }
    }
    return keys.get(kid);
  }
  return async (jwt, audience) => {
    const parts = jwt.split('.');
    if (parts.length !== 3) return null;
    let header, claims;
    try {
      header = b64json(parts[0]);
      claims = b64json(parts[1]);
    } catch {
      return null;
    }
    if (header.alg !== 'EdDSA') return null;
    const k = await key(header.kid);
    if (!k) return null;
    const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
    if (!verify(null, signed, k, Buffer.from(parts[2], 'base64url'))) return null;
    const now = Math.floor(Date.now() / 1000);
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (claims.iss !== hub || !aud.includes(audience) || !(claims.exp > now)) return null;
    return claims;
  };
}

/// Starts the server; resolves to { url, close, seen } once it listens. `seen` counts the
/// requests refused (401) and the tool calls served.
export async function startMcpServer({ sdk, hub, scopes }) {
  const { McpServer } = await import(pathToFileURL(join(sdk, 'dist/esm/server/mcp.js')).href);
  const { StreamableHTTPServerTransport } = await import(
    pathToFileURL(join(sdk, 'dist/esm/server/streamableHttp.js')).href
  );
  const check = await verifier(hub);
  const seen = { refused: 0, calls: 0, audiences: [] };
  let url;
  const http = createServer(async (req, res) => {
    try {
      const path = new URL(req.url, url).pathname;
      if (req.method === 'GET' && path === METADATA_PATH + '/mcp') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({
          resource: url,
          authorization_servers: [hub],
          scopes_supported: scopes,
          bearer_methods_supported: ['header'],
        }));
        return;
      }
      if (path !== '/mcp') {
        res.writeHead(404).end();
        return;
      }
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const claims = bearer ? await check(bearer, url) : null;
      if (!claims) {
        seen.refused += 1;
        const origin = new URL(url).origin;
        const error = bearer ? ', error="invalid_token"' : '';
        res.writeHead(401, {
          'www-authenticate': `Bearer resource_metadata="${origin}${METADATA_PATH}/mcp"${error}`,
          'content-type': 'application/json',
        });
        res.end(JSON.stringify({ error: 'invalid_token', error_description: 'a hub token for this server is required' }));
        return;
      }
      seen.audiences.push(claims.aud);
      req.auth = { token: bearer, clientId: claims.client_id ?? '', scopes: (claims.scope ?? '').split(' '), extra: { sub: claims.sub } };
      const server = new McpServer({ name: 'keyway-test-mcp', version: '1.0.0' });
      server.registerTool('whoami', { description: 'Who the bearer token is for' }, async (extra) => {
        seen.calls += 1;
        return { content: [{ type: 'text', text: String(extra.authInfo?.extra?.sub) }] };
      });
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => {
        transport.close();
        server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res);
    } catch (e) {
      console.error('MCP server error', e);
      if (!res.headersSent) res.writeHead(500).end();
    }
  });
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${http.address().port}/mcp`;
  return { url, seen, close: () => new Promise((resolve) => http.close(resolve)) };
}
