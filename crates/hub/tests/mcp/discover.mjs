// The official MCP TypeScript SDK's discovery of an authorization server whose issuer has a
// path: `discoverAuthorizationServerMetadata(ISSUER)` tries the RFC 8414 path-inserted URL
// first, then OpenID discovery inserted and appended. Prints one JSON line: the metadata the
// SDK settled on (or null) and every URL it asked, with the status it got.
//
// Environment: KEYWAY_MCP_SDK (the SDK's package folder), ISSUER (the hub's issuer).
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const sdk = process.env.KEYWAY_MCP_SDK;
const auth = await import(pathToFileURL(join(sdk, 'dist/esm/client/auth.js')).href);

const asked = [];
async function recording(url, init) {
  const response = await fetch(url, init);
  asked.push({ url: String(url), status: response.status });
  return response;
}

const metadata = await auth.discoverAuthorizationServerMetadata(process.env.ISSUER, { fetchFn: recording });
console.log(JSON.stringify({ metadata: metadata ?? null, asked }));
