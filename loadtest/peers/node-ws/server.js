// Baseline peer for the OneClass load generator: the smallest honest implementation, in Node.js
// with the `ws` package, of the part of PROTOCOL.md that the `fanout`, `connect` and `chat`
// scenarios use:
//   - GET /ws with the oneclass.v1.json / oneclass.v1.msgpack subprotocols (echoed; frame type
//     checked against the codec: 1003 on mismatch, 1007 on undecodable frames, 1009 over 64 KiB);
//   - `connect` with an HS256 JWT checked with node's crypto (signature, alg, exp, nbf, iss, aud),
//     within 10 s, else close 4001; the user's inbox is subscribed;
//   - `subscribe` (class, dm, own inbox, school announcements; the school must match the token),
//     `unsubscribe`, `publish` (in-memory per-channel seq, `msg` events with a UUID v7
//     `event_id`, encoded once per codec and sent to every subscriber), `ping`;
//   - a WebSocket ping every 30 s, closing connections silent for two intervals.
// It keeps NO JOURNAL: a publish is acknowledged as soon as it is in memory, nothing survives a
// restart, `since`/`resume` replays and `client_msg_id` idempotency are not offered. Every number
// measured against it must say so.
//
// Usage: ONECLASS_JWT_SECRET=... node server.js [host:port]   (default 127.0.0.1:8091)
'use strict';

const http = require('http');
const crypto = require('crypto');
const { WebSocketServer } = require('ws');
const { encode, decode } = require('@msgpack/msgpack');

const [HOST, PORT] = (process.argv[2] || '127.0.0.1:8091').split(':');
const SECRET = process.env.ONECLASS_JWT_SECRET;
const ISSUER = process.env.ONECLASS_JWT_ISSUER || 'oneclass';
const AUDIENCE = 'oneclass-hub';
const PROTOCOLS = ['oneclass.v1.json', 'oneclass.v1.msgpack'];
const MAX_MESSAGE = 64 * 1024;
const CONNECT_TIMEOUT_MS = 10_000;
const HEARTBEAT_S = 30;

if (!SECRET) {
  console.error('set ONECLASS_JWT_SECRET');
  process.exit(1);
}

// ---- JWT (HS256 only) ----------------------------------------------------------------------

function b64urlJson(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

function verifyToken(token) {
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3) return null;
  let header, claims;
  try {
    header = b64urlJson(parts[0]);
    claims = b64urlJson(parts[1]);
  } catch {
    return null;
  }
  if (header.alg !== 'HS256') return null;
  const expected = crypto.createHmac('sha256', SECRET).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2], 'base64url');
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return null;
  const now = Date.now() / 1000;
  if (typeof claims.exp !== 'number' || claims.exp <= now) return null;
  if (typeof claims.nbf === 'number' && claims.nbf > now) return null;
  if (claims.iss !== ISSUER) return null;
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.includes(AUDIENCE)) return null;
  if (typeof claims.sub !== 'string' || typeof claims.school !== 'string') return null;
  if (claims.school === '*') return null; // services use the REST API only
  return {
    user: claims.sub,
    school: claims.school,
    role: claims.role,
    classes: Array.isArray(claims.classes) ? claims.classes : [],
  };
}

// ---- ids and time --------------------------------------------------------------------------

// UUID v7: 48-bit millisecond time, version 7, 74 random bits. Random bytes come from a pool to
// keep a syscall off the per-message path.
let pool = Buffer.alloc(0);
let poolPos = 0;
function uuidv7() {
  if (poolPos + 10 > pool.length) {
    pool = crypto.randomBytes(4096);
    poolPos = 0;
  }
  const b = Buffer.alloc(16);
  const ms = Date.now();
  b.writeUIntBE(ms, 0, 6);
  pool.copy(b, 6, poolPos, poolPos + 10);
  poolPos += 10;
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ---- channels ------------------------------------------------------------------------------

// name -> { seq, subs: Set<socket> }
const channels = new Map();
function channel(name) {
  let ch = channels.get(name);
  if (!ch) {
    ch = { seq: 0, subs: new Set() };
    channels.set(name, ch);
  }
  return ch;
}

// Returns null when `who` may use `name` (read, or write when `write`), else an error code.
function authorize(who, name, write) {
  if (typeof name !== 'string') return 'bad_request';
  const p = name.split(':');
  if (p[1] !== who.school) return 'forbidden';
  switch (p[0]) {
    case 'class':
      return p.length === 3 && who.classes.includes(p[2]) ? null : 'forbidden';
    case 'dm':
      return p.length === 4 && p[2] < p[3] && (p[2] === who.user || p[3] === who.user)
        ? null
        : 'forbidden';
    case 'user':
      return p.length === 3 && p[2] === who.user && !write ? null : 'forbidden';
    case 'school':
      if (p.length !== 3 || p[2] !== 'announcements') return 'bad_request';
      return !write || who.role === 'teacher' || who.role === 'admin' ? null : 'forbidden';
    default:
      return 'bad_request';
  }
}

// ---- connections ---------------------------------------------------------------------------

function send(ws, frame) {
  if (ws.binary) ws.send(encode(frame), { binary: true });
  else ws.send(JSON.stringify(frame));
}

function reply(ws, id, ok) {
  if (id !== undefined) send(ws, { id, ok });
}

function fail(ws, id, code, message) {
  if (id === undefined) send(ws, { ev: 'error', code, message });
  else send(ws, { id, error: { code, message } });
}

function subscribe(ws, name) {
  channel(name).subs.add(ws);
  ws.channels.add(name);
}

function onCommand(ws, cmd) {
  const id = Number.isInteger(cmd.id) && cmd.id >= 0 && cmd.id <= 0xffffffff ? cmd.id : undefined;
  if (!ws.who) {
    if (cmd.op !== 'connect') return ws.close(4001, 'first message must be connect');
    const who = verifyToken(cmd.token);
    if (!who) return ws.close(4001, 'invalid token');
    clearTimeout(ws.connectTimer);
    ws.who = who;
    const inbox = `user:${who.school}:${who.user}`;
    subscribe(ws, inbox);
    return reply(ws, id, {
      user: who.user, school: who.school, role: who.role, session: uuidv7(),
      heartbeat_s: HEARTBEAT_S, inbox, resumed: {}, refused: {},
    });
  }
  switch (cmd.op) {
    case 'subscribe': {
      const denied = authorize(ws.who, cmd.channel, false);
      if (denied) return fail(ws, id, denied, 'not allowed');
      const ch = channel(cmd.channel);
      if (cmd.since !== undefined && cmd.since < ch.seq) {
        return fail(ws, id, 'unavailable', 'the node-ws peer keeps no journal: no replay');
      }
      subscribe(ws, cmd.channel);
      reply(ws, id, { channel: cmd.channel, head: ch.seq });
      return send(ws, { ev: 'synced', channel: cmd.channel, head: ch.seq });
    }
    case 'unsubscribe': {
      const ch = channels.get(cmd.channel);
      if (ch) ch.subs.delete(ws);
      ws.channels.delete(cmd.channel);
      return reply(ws, id, {});
    }
    case 'publish': {
      const denied = authorize(ws.who, cmd.channel, true);
      if (denied) return fail(ws, id, denied, 'not allowed');
      if (!cmd.body || typeof cmd.body !== 'object' || Array.isArray(cmd.body)) {
        return fail(ws, id, 'bad_request', 'body must be an object');
      }
      const ch = channel(cmd.channel);
      const seq = ++ch.seq;
      const event = {
        ev: 'msg', channel: cmd.channel, seq, event_id: uuidv7(), from: ws.who.user,
        body: cmd.body, ts: new Date().toISOString(),
      };
      if (typeof cmd.client_msg_id === 'string') event.client_msg_id = cmd.client_msg_id;
      // Encode once per codec, send the same bytes to every subscriber.
      let json, packed;
      for (const sub of ch.subs) {
        if (sub.binary) sub.send(packed || (packed = encode(event)), { binary: true });
        else sub.send(json || (json = JSON.stringify(event)));
      }
      return reply(ws, id, { channel: cmd.channel, seq, event_id: event.event_id, ts: event.ts });
    }
    case 'ping':
      return reply(ws, id, {});
    case 'connect':
      return fail(ws, id, 'bad_request', 'already connected');
    default:
      return fail(ws, id, 'bad_request', `op ${JSON.stringify(cmd.op)} is not offered by the node-ws peer`);
  }
}

const server = http.createServer((req, res) => {
  res.writeHead(404).end();
});

const wss = new WebSocketServer({
  server,
  path: '/ws',
  maxPayload: MAX_MESSAGE,
  perMessageDeflate: false,
  handleProtocols: (offered) => PROTOCOLS.find((p) => offered.has(p)) || false,
});

wss.on('connection', (ws) => {
  ws.binary = ws.protocol === 'oneclass.v1.msgpack';
  ws.channels = new Set();
  ws.alive = true;
  ws.connectTimer = setTimeout(() => ws.close(4001, 'no connect'), CONNECT_TIMEOUT_MS);
  ws.on('pong', () => { ws.alive = true; });
  ws.on('message', (data, isBinary) => {
    ws.alive = true;
    if (isBinary !== ws.binary) return ws.close(1003, 'frame type does not match the codec');
    let cmd;
    try {
      cmd = ws.binary ? decode(data) : JSON.parse(data.toString('utf8'));
    } catch {
      return ws.close(1007, 'undecodable frame');
    }
    if (!cmd || typeof cmd !== 'object' || Array.isArray(cmd)) return ws.close(1007, 'not a map');
    onCommand(ws, cmd);
  });
  ws.on('close', () => {
    clearTimeout(ws.connectTimer);
    for (const name of ws.channels) {
      const ch = channels.get(name);
      if (ch) ch.subs.delete(ws);
    }
  });
  ws.on('error', () => {});
});

// Heartbeat: ping every interval; a connection that answered nothing for two is closed.
setInterval(() => {
  for (const ws of wss.clients) {
    if (ws.alive === false && ws.missed) {
      ws.terminate();
      continue;
    }
    ws.missed = !ws.alive;
    ws.alive = false;
    ws.ping();
  }
}, HEARTBEAT_S * 1000).unref();

server.listen(Number(PORT), HOST, 511 * 8, () => {
  console.error(`node-ws peer listening on ${HOST}:${PORT} (no journal)`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
