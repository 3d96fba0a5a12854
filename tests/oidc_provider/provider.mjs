// A real OpenID Provider for the OpenID Connect tests: panva's OpenID-Certified
// oidc-provider (the exact version pinned in package.json), on 127.0.0.1 only.
//
// Usage: node tests/oidc_provider/provider.mjs CONFIG.json
//
// CONFIG.json (every key optional except "clients"):
//   port          0 (default) picks a free port.
//   clients       [client metadata as oidc-provider accepts it]: client_id, client_secret,
//                 redirect_uris, post_logout_redirect_uris, token_endpoint_auth_method
//                 (client_secret_basic by default; client_secret_post; private_key_jwt with
//                 jwks_uri or inline jwks), backchannel_logout_uri (session_required defaults
//                 to true), id_token_signed_response_alg (RS256 by default). Every client must
//                 use PKCE with S256. frontchannel_logout_uri is refused: oidc-provider 8.x
//                 does not implement Front-Channel Logout.
//   accounts      {"<account id>": {claims}}: email, email_verified, preferred_username,
//                 given_name, family_name, name. The claims given replace the defaults below;
//                 sub is always the account id.
//                 Any other account id signs in too (devInteractions accepts any login and any
//                 password) with claims derived from the id: email = the id when it contains
//                 "@", else "<id>@example.com"; email_verified true; preferred_username = the
//                 id; given_name = the part before "@"; family_name "Example"; name = both.
//   id_token_claims_from_scope
//                 true (default): the id_token carries the claims of the granted scopes (email,
//                 profile), as most providers do. false: OIDC Core §5.4 strictly, scope claims
//                 only from the userinfo endpoint.
//   signing_keys  number of RS256 keys generated at start, 1 by default; the first signs.
//   admin_token   bearer token for the admin endpoints; random when absent.
//   cookie_keys   keys that sign the provider's cookies; random when absent.
//
// Ready line: once listening, one line of JSON on stdout,
//   {"issuer": "http://127.0.0.1:PORT", "admin_token": "...", "kids": ["..."]}
// and nothing else is ever written to stdout (logs go to stderr). SIGTERM or SIGINT closes
// the server and exits 0.
//
// Admin endpoints, on the same port, with "Authorization: Bearer <admin_token>", JSON in and out:
//   POST /_admin/rotate-keys   {"drop_old": false}
//       generates an RS256 key with a new kid and signs every new token with it; the old keys
//       stay in the JWKS unless drop_old. Answers {"kid": new kid, "kids": JWKS kids}.
//   POST /_admin/end-sessions  {"account_id": "alice"}
//       ends every provider session of the account as the RP-Initiated Logout confirm step
//       does: a back-channel logout (the library's own Client#backchannelLogout) to every
//       client of the session that registered a backchannel_logout_uri, then its grants and
//       the session are removed. Answers {"sessions": n, "backchannel_logout": [{"client_id",
//       "sid", "ok", "error"?}]}.
// RP-Initiated Logout (GET /session/end, then the confirm form) sends back-channel logouts too.
//
// Nothing leaves the machine: the provider fetches (jwks_uri, back-channel logout) only
// loopback URLs, and its HTML pages load no remote stylesheet (the stock pages @import a web
// font; it is removed and a Content-Security-Policy keeps everything on 127.0.0.1).

import { generateKeyPairSync, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

// oidc-provider prints its notices with console.info (stdout); stdout carries the ready line only.
console.log = console.error;
console.info = console.error;
const { default: Provider } = await import('oidc-provider');

const HOST = '127.0.0.1';
const LOOPBACK_HOSTNAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);
const CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:";
const REMOTE_STYLESHEET_IMPORT = /@import url\(https?:[^)]*\);?/g;
const GRANTABLE_MODELS = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken']);

function log(message) {
  process.stderr.write(`oidc-provider-test: ${message}\n`);
}

function readConfig(path) {
  if (!path) {
    throw new Error('usage: node provider.mjs CONFIG.json');
  }
  const config = JSON.parse(readFileSync(path, 'utf8'));
  if (!Array.isArray(config.clients) || config.clients.length === 0) {
    throw new Error('config.clients must list at least one client');
  }
  for (const client of config.clients) {
    if (client.frontchannel_logout_uri !== undefined) {
      throw new Error(`client ${client.client_id}: oidc-provider 8.x does not implement Front-Channel Logout`);
    }
  }
  return config;
}

function generateSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

function clientMetadata(client) {
  const metadata = { ...client };
  if (metadata.backchannel_logout_uri !== undefined) {
    metadata.backchannel_logout_session_required ??= true;
  }
  return metadata;
}

function defaultClaims(accountId) {
  const email = accountId.includes('@') ? accountId : `${accountId}@example.com`;
  const givenName = email.split('@')[0];
  return {
    email,
    email_verified: true,
    preferred_username: accountId,
    given_name: givenName,
    family_name: 'Example',
    name: `${givenName} Example`,
  };
}

function accountFinder(accounts) {
  return async function findAccount(ctx, accountId) {
    const claims = { ...defaultClaims(accountId), ...(accounts[accountId] ?? {}), sub: accountId };
    return { accountId, claims: async () => claims };
  };
}

// In-memory storage shared by every Provider instance of this process, so that a key
// rotation (a new instance) keeps sessions, grants and codes, and /_admin can find sessions.
const storage = new Map();

function stored(key) {
  const entry = storage.get(key);
  if (entry && entry.expiresAt <= Date.now()) {
    storage.delete(key);
    return undefined;
  }
  return entry?.payload;
}

function storedPayloads(model) {
  return [...storage.keys()]
    .filter((key) => key.startsWith(`${model}:`))
    .map((key) => [key, stored(key)])
    .filter(([, payload]) => payload !== undefined);
}

class MapAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    storage.set(this.key(id), { payload, expiresAt });
  }

  async find(id) {
    return stored(this.key(id));
  }

  async findByUid(uid) {
    return storedPayloads(this.model).find(([, payload]) => payload.uid === uid)?.[1];
  }

  async findByUserCode(userCode) {
    return storedPayloads(this.model).find(([, payload]) => payload.userCode === userCode)?.[1];
  }

  async consume(id) {
    const payload = stored(this.key(id));
    if (payload) {
      payload.consumed = Math.floor(Date.now() / 1000);
    }
  }

  async destroy(id) {
    storage.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    deleteGrantTokens(grantId);
  }
}

function deleteGrantTokens(grantId) {
  for (const model of GRANTABLE_MODELS) {
    for (const [key, payload] of storedPayloads(model)) {
      if (payload.grantId === grantId) {
        storage.delete(key);
      }
    }
  }
}

function isLoopback(url) {
  return LOOPBACK_HOSTNAMES.has(url.hostname);
}

function httpOptions(url) {
  if (isLoopback(url)) {
    return { signal: AbortSignal.timeout(2500) };
  }
  log(`refused to fetch ${url.href}: only loopback URLs are fetched`);
  return { signal: AbortSignal.abort() };
}

// Stock pages @import a web font from the internet; browser tests must not leave the machine.
async function keepPagesLocal(ctx, next) {
  ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  await next();
  if (typeof ctx.body === 'string' && ctx.response.is('html')) {
    ctx.body = ctx.body.replace(REMOTE_STYLESHEET_IMPORT, '');
  }
}

function buildProvider(issuer, config, jwks) {
  const provider = new Provider(issuer, {
    adapter: MapAdapter,
    clients: config.clients.map(clientMetadata),
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    clientDefaults: {
      grant_types: ['authorization_code'],
      id_token_signed_response_alg: 'RS256',
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    claims: {
      acr: null,
      auth_time: null,
      iss: null,
      sid: null,
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['family_name', 'given_name', 'name', 'preferred_username'],
    },
    conformIdTokenClaims: config.id_token_claims_from_scope === false,
    // Plain http on loopback: koa never marks these cookies Secure (ctx.secure is false), and
    // the session cookie's default SameSite=None would be dropped by browsers without Secure.
    cookies: {
      keys: config.cookie_keys ?? [randomBytes(32).toString('base64url')],
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    features: {
      devInteractions: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      revocation: { enabled: true },
    },
    findAccount: accountFinder(config.accounts ?? {}),
    httpOptions,
    jwks,
    pkce: { methods: ['S256'], required: () => true },
    responseTypes: ['code'],
    scopes: ['openid', 'email', 'profile'],
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      Grant: 86400,
      IdToken: 3600,
      Interaction: 3600,
      Session: 86400,
    },
  });
  provider.use(keepPagesLocal);
  provider.on('server_error', (ctx, error) => log(`server_error ${ctx.method} ${ctx.path}: ${error.stack}`));
  provider.on('backchannel.error', (ctx, error, client) => log(`backchannel logout to ${client.clientId} failed: ${error.message}`));
  return provider;
}

// What the RP-Initiated Logout confirm step does for a session (oidc-provider's
// lib/actions/end_session.js), for every session of one account and without a browser:
// OIDC Back-Channel Logout 1.0 §2.5, a logout token per client that registered a URI.
async function endSessions(provider, accountId) {
  const results = [];
  const sessions = storedPayloads('Session').filter(([, payload]) => payload.accountId === accountId);
  for (const [key, session] of sessions) {
    for (const [clientId, authorization] of Object.entries(session.authorizations ?? {})) {
      const client = await provider.Client.find(clientId);
      if (client?.backchannelLogoutUri) {
        try {
          await client.backchannelLogout(accountId, authorization.sid);
          results.push({ client_id: clientId, sid: authorization.sid, ok: true });
        } catch (error) {
          results.push({ client_id: clientId, sid: authorization.sid, ok: false, error: error.message });
        }
      }
      if (authorization.grantId) {
        deleteGrantTokens(authorization.grantId);
        storage.delete(`Grant:${authorization.grantId}`);
      }
    }
    storage.delete(key);
  }
  return { sessions: sessions.length, backchannel_logout: results };
}

function isAdminRequest(req, adminToken) {
  const expected = Buffer.from(`Bearer ${adminToken}`);
  const given = Buffer.from(req.headers.authorization ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) {
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function main() {
  const config = readConfig(process.argv[2]);
  const adminToken = config.admin_token ?? randomBytes(32).toString('base64url');
  let signingKeys = Array.from({ length: config.signing_keys ?? 1 }, generateSigningKey);
  let provider;
  let handle;

  const admin = {
    'POST /_admin/rotate-keys': async (body) => {
      const key = generateSigningKey();
      signingKeys = body.drop_old ? [key] : [key, ...signingKeys];
      provider = buildProvider(provider.issuer, config, { keys: signingKeys });
      handle = provider.callback();
      log(`signing key rotated to ${key.kid}`);
      return { kid: key.kid, kids: signingKeys.map((k) => k.kid) };
    },
    'POST /_admin/end-sessions': async (body) => {
      if (typeof body.account_id !== 'string') {
        throw new TypeError('account_id is required');
      }
      return endSessions(provider, body.account_id);
    },
  };

  const server = createServer(async (req, res) => {
    const route = `${req.method} ${req.url.split('?')[0]}`;
    if (!req.url.startsWith('/_admin/')) {
      handle(req, res);
    } else if (!isAdminRequest(req, adminToken)) {
      sendJson(res, 401, { error: 'invalid admin token' });
    } else if (!admin[route]) {
      sendJson(res, 404, { error: `no admin endpoint ${route}` });
    } else {
      try {
        sendJson(res, 200, await admin[route](await readJson(req)));
      } catch (error) {
        log(`${route}: ${error.stack}`);
        sendJson(res, 400, { error: error.message });
      }
    }
  });

  server.listen(config.port ?? 0, HOST, () => {
    const issuer = `http://${HOST}:${server.address().port}`;
    provider = buildProvider(issuer, config, { keys: signingKeys });
    handle = provider.callback();
    process.stdout.write(`${JSON.stringify({ issuer, admin_token: adminToken, kids: signingKeys.map((k) => k.kid) })}\n`);
    log(`listening on ${issuer}`);
  });

  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
