/**
 * TokenReview throughput and latency, as a ratio to a bare Fastify JSON echo server measured in
 * the same run (absolute numbers depend on the machine; the ratio does not, much). A bare node:http
 * echo (parse and re-serialize, no framework) is measured beside it, since the webhook is served
 * by a plain node:http handler in front of Fastify (server/webhook.ts).
 *
 * For each store engine asked for, kaas holds `--tokens` API tokens of `--users` synced Keystone
 * users (all but the reviewed ones are filler rows) and answers reviews of two working sets:
 *   - warm: `--working-set` distinct tokens, reviewed round robin (the identity cache, filled
 *     before each measure, serves them, re-reading them from the store in batches in the
 *     background), closed loop and at a fixed `--rate` (the echo too, at that rate, for the
 *     machine's own latency);
 *   - cold: more distinct tokens than the identity cache holds, so every review reads the store
 *     (the token joined with its owner, then the owner's roles on the cluster's project).
 * Each engine and size prints one Markdown table (req/s, CPU/req, p50, p99 of every measure) and
 * the ratios of kaas to echo, per round.
 * Beside them it measures what k8s-keystone-auth does on every request, validating a Keystone
 * token against Keystone (`GET /v3/auth/tokens`), when OS_AUTH_URL names one (the lab's).
 * The load comes from a process of its own (bench/loadgen.ts), so the servers measured have this
 * process's event loop to themselves, and "CPU/req" is theirs alone.
 *   npm run bench:tokenreview        small store, SQLite
 *   npm run bench:tokenreview:scale  1,000,000 tokens and 100,000 users, SQLite and PostgreSQL
 */
import Fastify from 'fastify';
import { sql } from 'kysely';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { DirectoryAssignment, DirectoryUser, KeystoneDirectory } from '../src/auth/directory.ts';
import { createAuthService } from '../src/auth/service.ts';
import { generateToken, hashSecret } from '../src/auth/tokens.ts';
import { createLogger } from '../src/log.ts';
import { resolveCloudConfig } from '../src/openstack/config.ts';
import { configAuthBody } from '../src/openstack/session.ts';
import { buildApp } from '../src/server/app.ts';
import type { Store } from '../src/store/db.ts';
import type { ApiTokensTable } from '../src/store/schema.ts';
import { startPostgres, type TestPostgres } from '../test/support/postgres.ts';
import { prodClusterStore } from '../test/support/server.ts';
import type { Call, LoadJob } from './loadgen.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '32' },
    rate: { type: 'string', default: '1000' },
    tokens: { type: 'string', default: '1000' },
    users: { type: 'string', default: '100' },
    'working-set': { type: 'string', default: '100' },
    engines: { type: 'string', default: 'sqlite' },
  },
});
const seconds = Number(values.seconds);
/** Seconds of each measure's load run first and not counted (bench/loadgen.ts says why). */
const warmupSeconds = Number(values.warmup);
const concurrency = Number(values.concurrency);
const rate = Number(values.rate);
const tokenCount = Number(values.tokens);
const userCount = Number(values.users);
const workingSet = Math.min(Number(values['working-set']), userCount);
/** The auth service's default identity cache size (cacheMaxEntries). */
const IDENTITY_CACHE = 10_000;
/** Three times the identity cache, reviewed round robin: every review misses it. */
const COLD_SET = 3 * IDENTITY_CACHE;
/**
 * The lab's Keystone (two uwsgi processes, SQLite, caching off) takes 0.6 to 1 s per validation even
 * one at a time: four in flight keep both processes busy, more would only queue.
 */
const KEYSTONE_CONCURRENCY = 4;
const CLUSTER_PATH = '/tokenreview/c1?timeout=30s';
/** How often kaas's event-loop delay is sampled during the fixed-rate measure. */
const DELAY_SAMPLE_MS = 1;
/** Echo/TokenReview measure pairs per engine; the median pair is reported. */
const ROUNDS = 3;

const f = (n: number) => n.toFixed(2);
/** `count` Keystone users, all members of the cluster's project (every tenth also admin). */
function directoryOf(count: number): KeystoneDirectory {
  const users: DirectoryUser[] = Array.from({ length: count }, (_, i) => ({
    id: `u${i}`,
    name: `user${i}`,
    domainId: 'default',
    domainName: 'Default',
    enabled: true,
  }));
  const assignments: DirectoryAssignment[] = users.flatMap((u, i) => [
    { userId: u.id, roleId: 'r-member', roleName: 'member' },
    ...(i % 10 === 0 ? [{ userId: u.id, roleId: 'r-admin', roleName: 'admin' }] : []),
  ]);
  return {
    authenticate: async () => ({
      userId: 'u0',
      userName: 'user0',
      domainId: 'default',
      domainName: 'Default',
    }),
    listUsers: async () => users,
    listRoleAssignments: async () => assignments,
    getProject: async (id) => ({ id, name: 'proj', domainId: 'default' }),
  };
}

/**
 * Stores `total` tokens: `real` of them with secrets the bench reviews (user i owns the i-th, so
 * the reviewed ones spread over users), in batched inserts inside one transaction; the rest are
 * filler rows spread over every user, made by the database itself in one INSERT ... SELECT
 * (generate_series on PostgreSQL, a recursive CTE on SQLite), then ANALYZEd.
 */
async function seedTokens(store: Store, total: number, real: number): Promise<string[]> {
  const secrets: string[] = [];
  const created = new Date().toISOString();
  const expires = new Date(Date.now() + 365 * 86_400_000).toISOString();
  const BATCH = 1000;
  await store.db.transaction().execute(async (trx) => {
    for (let start = 0; start < real; start += BATCH) {
      const rows: ApiTokensTable[] = [];
      for (let i = start; i < Math.min(real, start + BATCH); i++) {
        const token = generateToken();
        secrets.push(token);
        const user = i % userCount;
        rows.push({
          id: randomUUID(),
          user_id: `u${user}`,
          user_name: `user${user}`,
          domain_name: 'Default',
          name: `t${i}`,
          token_hash: hashSecret(token),
          created_at: created,
          expires_at: expires,
          last_used_at: null,
          cluster_ids: null,
        });
      }
      await trx.insertInto('api_tokens').values(rows).execute();
    }
  });
  if (total > real) {
    const columns = sql`(id, user_id, user_name, domain_name, name, token_hash, created_at, expires_at)`;
    const filler =
      store.dialect === 'postgres'
        ? sql`INSERT INTO api_tokens ${columns}
              SELECT 'filler-' || i, 'u' || (i % ${userCount}), 'user' || (i % ${userCount}), 'Default',
                     't' || i, md5(i::text) || md5('x' || i::text), ${created}, ${expires}
              FROM generate_series(${real}::int, ${total - 1}::int) AS i`
        : sql`INSERT INTO api_tokens ${columns}
              WITH RECURSIVE n(i) AS (SELECT ${real} UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ${total})
              SELECT 'filler-' || i, 'u' || (i % ${userCount}), 'user' || (i % ${userCount}), 'Default',
                     't' || i, lower(hex(randomblob(32))), ${created}, ${expires}
              FROM n`;
    await filler.execute(store.db);
  }
  if (store.dialect === 'postgres') {
    // A million fresh rows would otherwise have autovacuum and the first readers' hint-bit writes
    // compete with the measures for the CPUs; the checkpoint writes the seeding's WAL out now.
    await sql`VACUUM (ANALYZE) api_tokens`.execute(store.db);
    await sql`CHECKPOINT`.execute(store.db);
  } else {
    await sql`ANALYZE api_tokens`.execute(store.db);
  }
  return secrets;
}

const reviewBody = (token: string) =>
  JSON.stringify({
    kind: 'TokenReview',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { creationTimestamp: null },
    spec: { token, audiences: ['https://kubernetes.default.svc.cluster.local'] },
    status: { user: {} },
  });

/** One measure, by the load generator in a process of its own (bench/loadgen.ts). */
type Loop = Awaited<ReturnType<typeof closedLoop>>;

const LOADGEN = fileURLToPath(new URL('./loadgen.ts', import.meta.url));

/**
 * Runs one load job in a child process and returns its result, with the CPU this process (the
 * servers measured) spent per request meanwhile.
 */
async function load(job: Omit<LoadJob, 'seconds' | 'rate' | 'warmupSeconds'>) {
  const cpu = process.cpuUsage();
  const child = spawn(process.execPath, ['--import', 'tsx', LOADGEN], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.end(JSON.stringify({ ...job, seconds, rate, warmupSeconds }));
  let out = '';
  for await (const chunk of child.stdout) out += chunk;
  const code = await new Promise((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`the load generator exited with ${String(code)}`);
  const result = JSON.parse(out) as {
    requests: number;
    warmupRequests: number;
    rps: number;
    p50: number;
    p99: number;
    failures: number;
  };
  const used = process.cpuUsage(cpu);
  /** CPU of the servers' process per request (warm-up's too), in µs: steadier than rps on a busy machine. */
  return { ...result, cpuUs: (used.user + used.system) / (result.requests + result.warmupRequests) };
}

/** Round robin over `calls`, `parallel` at a time, for `seconds` (and the calls still in flight). */
const closedLoop = (url: string, calls: Call[], parallel = concurrency) =>
  load({ url, calls, mode: 'closed', parallel });

/**
 * Sends each of `calls` once, `concurrency` at a time, from this process: before each warm measure,
 * so that the identity cache holds the working set. The echo measures between two of them outlast
 * its TTL (10 s), and a warm measure would otherwise begin with a store read per token (on
 * PostgreSQL, a thousand round trips through a pool of ten connections).
 */
async function fillCache(url: string, calls: Call[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let call = calls[next++]; call; call = calls[next++]) {
        const res = await fetch(`${url}${call.path}`, {
          method: call.method,
          headers: { 'content-type': 'application/json' },
          ...(call.body === undefined ? {} : { body: call.body }),
        });
        await res.arrayBuffer();
        if (res.status !== call.status) throw new Error(`filling the identity cache: ${res.status}`);
      }
    }),
  );
}

/** Round robin over `calls` at `rate` requests per second (open loop), for `seconds`. */
const fixedRate = (url: string, calls: Call[]) => load({ url, calls, mode: 'fixed', parallel: 0 });

/** A table row of one measure. */
const row = (name: string, l: Loop) => [
  name,
  l.rps.toFixed(0),
  l.cpuUs.toFixed(0),
  f(l.p50),
  f(l.p99),
  String(l.failures),
];

/** A Markdown table (the note quotes it as is), columns padded to their widest cell. */
function table(head: string[], rows: string[][]): string[] {
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  return [
    line(head),
    `|${widths.map((w, i) => (i === 0 ? ` ${'-'.repeat(w)} ` : ` ${'-'.repeat(w - 1)}: `)).join('|')}|`,
    ...rows.map(line),
  ];
}

const reviews = (tokens: string[]): Call[] =>
  tokens.map((t) => ({
    method: 'POST',
    path: CLUSTER_PATH,
    body: reviewBody(t),
    status: 200,
    contains: '"authenticated":true',
  }));

async function openEngine(engine: string, dir: string): Promise<{ url: string; pg?: TestPostgres }> {
  if (engine === 'sqlite') return { url: `sqlite:${join(dir, 'kaas.db')}` };
  if (engine === 'postgres') {
    const pg = await startPostgres();
    return { url: pg.url, pg };
  }
  throw new Error(`unknown engine ${engine}: use sqlite or postgres`);
}

/** An echo server to compare with: where it listens, and the call it answers. */
interface Echo {
  url: string;
  calls: Call[];
}

async function benchEngine(engine: string, echo: Echo, bare: Echo): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'kaas-bench-'));
  const logger = createLogger({ level: 'silent' });
  const { url, pg } = await openEngine(engine, dir);
  const store = await prodClusterStore({ createdAt: new Date().toISOString(), url });
  const auth = createAuthService({ store, directory: directoryOf(userCount), logger, now: () => new Date() });
  try {
    let t0 = performance.now();
    await auth.sync();
    const syncMs = performance.now() - t0;
    t0 = performance.now();
    const reviewed = Math.min(tokenCount, Math.max(workingSet, COLD_SET));
    const secrets = await seedTokens(store, tokenCount, reviewed);
    const seedMs = performance.now() - t0;
    const app = await buildApp({ store, logger, now: () => new Date(), auth });
    const kaasUrl = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const warm = reviews(secrets.slice(0, workingSet));
      const cold = reviews(secrets.slice(0, COLD_SET));
      await closedLoop(kaasUrl, warm); // warm-up: caches filled, code optimised
      // Echo and TokenReview alternate, ROUNDS times each: a neighbour's burst of load then hits
      // both sides instead of one, and the median round is reported.
      const rounds: { e: Loop; n: Loop; k: Loop }[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        rounds.push({
          e: await closedLoop(echo.url, echo.calls),
          n: await closedLoop(bare.url, bare.calls),
          k: await fillCache(kaasUrl, warm).then(() => closedLoop(kaasUrl, warm)),
        });
      }
      rounds.sort((a, b) => a.k.rps / a.e.rps - b.k.rps / b.e.rps);
      const { e, n, k } = rounds[Math.floor(ROUNDS / 2)] as { e: Loop; n: Loop; k: Loop };
      const percents = (of: (x: (typeof rounds)[number]) => number) =>
        rounds.map((x) => `${(100 * of(x)).toFixed(1)}%`).join(', ');
      // The echo at the same fixed rate tells the machine's own latency from kaas's.
      const echoFixed = await fixedRate(echo.url, echo.calls);
      await fillCache(kaasUrl, warm);
      // How long kaas's event loop was held up meanwhile (the store's synchronous SQLite calls, GC):
      // what a review arriving then waits, whatever the machine's own latency. The histogram holds
      // the time between two samples: less the sampling period, the delay.
      const delay = monitorEventLoopDelay({ resolution: DELAY_SAMPLE_MS });
      delay.enable();
      const fixed = await fixedRate(kaasUrl, warm);
      delay.disable();
      const rows: string[][] = [
        row('echo (Fastify), closed loop', e),
        row('echo (node:http), closed loop', n),
        row(`kaas warm (${workingSet} tokens), closed loop`, k),
        row(`echo (Fastify) at ${rate} req/s`, echoFixed),
        row(`kaas warm at ${rate} req/s`, fixed),
      ];
      if (cold.length > IDENTITY_CACHE) {
        rows.push(
          row(`kaas cold (${cold.length} tokens), closed loop`, await closedLoop(kaasUrl, cold)),
          row(`kaas cold at ${rate} req/s`, await fixedRate(kaasUrl, cold)),
        );
      }
      return [
        '',
        `${engine}, ${tokenCount.toLocaleString('en')} tokens, ${userCount.toLocaleString('en')} users (sync ${(syncMs / 1000).toFixed(1)} s, token seeding ${(seedMs / 1000).toFixed(1)} s)`,
        ...table(['measure', 'req/s', 'CPU/req µs', 'p50 ms', 'p99 ms', 'failures'], rows),
        `kaas/echo throughput ${((100 * k.rps) / e.rps).toFixed(1)}% (goal >= 80%; median round of ${percents((x) => x.k.rps / x.e.rps)}); kaas/node:http ${percents((x) => x.k.rps / x.n.rps)}`,
        `CPU per request: kaas ${f(k.cpuUs)} µs, echo ${f(e.cpuUs)} µs, node:http ${f(n.cpuUs)} µs; echo/kaas ${percents((x) => x.e.cpuUs / x.k.cpuUs)}`,
        `p50/p99 at ${rate} req/s: kaas ${f(fixed.p50)}/${f(fixed.p99)} ms (goal p99 < 2 ms), echo ${f(echoFixed.p50)}/${f(echoFixed.p99)} ms; kaas's event loop delay p99/max ${f(delay.percentile(99) / 1e6 - DELAY_SAMPLE_MS)}/${f(delay.max / 1e6 - DELAY_SAMPLE_MS)} ms${cold.length > IDENTITY_CACHE ? '' : `; cold not measured (needs more than ${IDENTITY_CACHE} tokens, the identity cache's size)`}`,
      ];
    } finally {
      await app.close();
    }
  } finally {
    await auth.close();
    await store.close();
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What k8s-keystone-auth does per request: Keystone validates the user's token (no cache). */
async function benchKeystone(echoRps: number): Promise<string[]> {
  const authUrl = process.env['OS_AUTH_URL'];
  if (!authUrl) return ["keystone: not measured (no OS_AUTH_URL; source the lab's admin-openrc.sh)"];
  // The login kaas's own OpenStack client sends for the same environment (OS_* or clouds.yaml).
  const config = resolveCloudConfig({ env: process.env });
  const res = await fetch(`${authUrl.replace(/\/+$/, '')}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(configAuthBody(config.auth, config.authType)),
  });
  const token = res.headers.get('x-subject-token');
  if (res.status !== 201 || !token) throw new Error(`Keystone refused the bench's login: ${res.status}`);
  const url = new URL(authUrl);
  const validate: Call = {
    method: 'GET',
    path: `${url.pathname.replace(/\/+$/, '')}/auth/tokens`,
    headers: { 'x-auth-token': token, 'x-subject-token': token },
    status: 200,
  };
  const k = await closedLoop(url.origin, [validate], KEYSTONE_CONCURRENCY);
  return [
    `keystone token validation (GET /v3/auth/tokens at ${url.origin}, ${KEYSTONE_CONCURRENCY} concurrent; what k8s-keystone-auth does per request):`,
    // Keystone may answer a few a second (the lab's: SQLite, no cache, two single-threaded workers),
    // so the rate is printed to two decimals with the number of validations it is made of.
    `  ${f(k.rps)} req/s  p50 ${f(k.p50)} ms  p99 ${f(k.p99)} ms  (${k.requests} validations, failures ${k.failures}); ${((100 * k.rps) / echoRps).toFixed(2)}% of echo throughput`,
  ];
}

const fastifyEcho = Fastify({ logger: false });
fastifyEcho.post('/echo', async (request) => request.body);
/** The same echo without a framework: read, parse, serialize, answer. */
const bareEcho = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (body += chunk));
  req.on('end', () => {
    const text = JSON.stringify(JSON.parse(body));
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  });
});
await new Promise<void>((resolve) => bareEcho.listen(0, '127.0.0.1', resolve));
const echoCalls: Call[] = [{ method: 'POST', path: '/echo', body: reviewBody(generateToken()), status: 200 }];
const echo: Echo = { url: await fastifyEcho.listen({ host: '127.0.0.1', port: 0 }), calls: echoCalls };
const bare: Echo = { url: `http://127.0.0.1:${(bareEcho.address() as AddressInfo).port}`, calls: echoCalls };
try {
  await closedLoop(echo.url, echo.calls); // warm-up
  await closedLoop(bare.url, bare.calls);
  const print = (lines: string[]) => process.stdout.write(`${lines.join('\n')}\n`);
  const load = () =>
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} on ${availableParallelism()} CPUs`;
  print([
    `closed loop ${concurrency} concurrent, ${seconds} s per measure after ${warmupSeconds} s of the same load not counted; ${load()}`,
  ]);
  for (const engine of values.engines.split(',')) print(await benchEngine(engine.trim(), echo, bare));
  const e = await closedLoop(echo.url, echo.calls);
  print(await benchKeystone(e.rps));
  print([`done; ${load()}`]);
} finally {
  await fastifyEcho.close();
  await new Promise((resolve) => bareEcho.close(resolve));
}
