// A partner integration on Node.js with simple-oauth2 (npm), as its README shows the client credentials
// grant (https://github.com/lelylan/simple-oauth2#client-credentials-grant): a ClientCredentials client
// configured with tokenHost and tokenPath (it sends the client credentials with HTTP Basic, its
// default), `client.getToken({ scope })`, and the token kept until `accessToken.expired(window)` says
// it is about to expire ("Tokens obtained with the Client Credentials grant may not be refreshed.
// Fetch a new token when it's expired."). API calls use Node's global fetch with
// `Authorization: Bearer`. fetch retries nothing, so the careful variant is a plain loop: it waits
// what Retry-After says after a 429, 0.2, 0.4, 0.8, 1.6 s after a 502, 503 or 504, and fetches a new
// token when the API answers 401 to one that has not expired yet (revoked).
//
// Its task: read every application (following next_page_url), then create, read, rename and delete one.
// `--naive` is the first integration people write: no retries, no renewal on 401; any error status
// ends it.
//
// It reads CREDLY_API_BASE_URL, CREDLY_TOKEN_URL, CREDLY_ORGANIZATION_ID, CREDLY_CLIENT_ID and
// CREDLY_CLIENT_SECRET. Over HTTPS it trusts what Node trusts (NODE_EXTRA_CA_CERTS adds a CA to it),
// nothing more.
//
// Install once: npm ci --prefix tests/integrations/node

import { setTimeout as sleep } from 'node:timers/promises';
import { ClientCredentials } from 'simple-oauth2';

const SCOPE = 'oauth_applications';
// The README's window: fetch a new token 300 s before the old one expires.
const EXPIRATION_WINDOW_IN_SECONDS = 300;
const WAITS_AFTER_5XX_MS = [200, 400, 800, 1600];
const RETRIES_AFTER_429 = 5;
const naive = process.argv.slice(2).includes('--naive');

const tokenUrl = new URL(process.env.CREDLY_TOKEN_URL);
const client = new ClientCredentials({
  client: { id: process.env.CREDLY_CLIENT_ID, secret: process.env.CREDLY_CLIENT_SECRET },
  auth: { tokenHost: tokenUrl.origin, tokenPath: tokenUrl.pathname },
});
let accessToken = null;

async function bearer() {
  if (accessToken === null || accessToken.expired(EXPIRATION_WINDOW_IN_SECONDS)) {
    accessToken = await client.getToken({ scope: SCOPE });
  }
  return `Bearer ${accessToken.token.access_token}`;
}

// Retry-After is delay-seconds or an HTTP-date (RFC 9110 §10.2.3); 1 s when it is neither.
function retryAfterMs(response) {
  const value = response.headers.get('retry-after') ?? '';
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isNaN(ms) ? 1000 : Math.max(0, ms);
}

async function send(method, url, body) {
  const headers = { Accept: 'application/json', Authorization: await bearer() };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

async function call(method, url, body) {
  let response = await send(method, url, body);
  const waits = [...WAITS_AFTER_5XX_MS];
  let retriesAfter429 = RETRIES_AFTER_429;
  let renewed = false;
  while (!naive && !response.ok) {
    if (response.status === 429 && retriesAfter429-- > 0) {
      await sleep(retryAfterMs(response));
    } else if ([502, 503, 504].includes(response.status) && waits.length > 0) {
      await sleep(waits.shift());
    } else if (response.status === 401 && !renewed) {
      accessToken = null; // revoked before it expired: fetch a new one
      renewed = true;
    } else {
      break;
    }
    await response.arrayBuffer(); // read it, so the connection is reused
    response = await send(method, url, body);
  }
  if (!response.ok) {
    throw new Error(`${method} ${new URL(url).pathname} answered ${response.status}`);
  }
  return response.status === 204 ? null : response.json();
}

async function main() {
  const api = process.env.CREDLY_API_BASE_URL.replace(/\/+$/, '');
  const base = `${api}/organizations/${process.env.CREDLY_ORGANIZATION_ID}/oauth_applications`;
  const applications = [];
  let url = base;
  while (url) {
    const page = await call('GET', url);
    applications.push(...page.data);
    url = page.metadata.next_page_url;
  }
  const fields = { name: 'Synced by the partner', description: 'Created with simple-oauth2.' };
  const created = (await call('POST', base, fields)).data;
  await call('GET', `${base}/${created.id}`);
  await call('PUT', `${base}/${created.id}`, { name: 'Renamed by the partner' });
  await call('DELETE', `${base}/${created.id}`); // 204 No Content
  console.log(`synced ${applications.length} applications; created, read, renamed and deleted one`);
}

try {
  await main();
} catch (error) {
  // The message only: a simple-oauth2 error holds its HTTP exchange, the Basic credentials included
  // (error.data.res.req).
  console.error(`sync failed: ${error.message}`);
  process.exitCode = 1;
}
