/**
 * TokenReview throughput and latency, as a ratio to a bare Fastify JSON echo server measured in
 * the same run (absolute numbers depend on the machine; the ratio does not, much). Also reports
 * Keystone calls made while reviewing (target 0: the hot path is memory + SQLite).
 *   npm run bench:tokenreview  [-- --seconds 5 --concurrency 32 --rate 1000]
 */
import Fastify from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import type { KeystoneDirectory } from '../src/auth/directory.ts';
import { createAuthService } from '../src/auth/service.ts';
import { createLogger } from '../src/log.ts';
import { buildApp } from '../src/server/app.ts';
import { prodClusterStore } from '../test/support/server.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '32' },
    rate: { type: 'string', default: '1000' },
  },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const rate = Number(values.rate);

const directory: KeystoneDirectory = {
  authenticate: async () => ({ userId: 'u1', userName: 'alice', domainId: 'default', domainName: 'Default' }),
  listUsers: async () => [
    { id: 'u1', name: 'alice', domainId: 'default', domainName: 'Default', enabled: true },
  ],
  listRoleAssignments: async () => [
    { userId: 'u1', roleId: 'r-admin', roleName: 'admin' },
    { userId: 'u1', roleId: 'r-member', roleName: 'member' },
  ],
  getProject: async (id) => ({ id, name: 'proj', domainId: 'default' }),
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function post(pool: Pool, path: string, body: string) {
  return pool.request({ method: 'POST', path, body, headers: { 'content-type': 'application/json' } });
}

async function closedLoop(url: string, path: string, body: string) {
  const pool = new Pool(url, { connections: concurrency, pipelining: 1 });
  const latencies: number[] = [];
  let count = 0;
  let failures = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const res = await post(pool, path, body);
        const text = await res.body.text();
        if (
          res.statusCode !== 200 ||
          !text.includes('"authenticated":true') === path.startsWith('/tokenreview')
        )
          failures++;
        latencies.push(performance.now() - t0);
        count++;
      }
    }),
  );
  await pool.close();
  latencies.sort((a, b) => a - b);
  return { rps: count / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), failures };
}

async function fixedRate(url: string, path: string, body: string) {
  const pool = new Pool(url, { connections: 64 });
  const latencies: number[] = [];
  const total = rate * seconds;
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      (async () => {
        const t0 = performance.now();
        const res = await post(pool, path, body);
        await res.body.text();
        latencies.push(performance.now() - t0);
      })(),
    );
  }
  await Promise.all(inflight);
  await pool.close();
  latencies.sort((a, b) => a - b);
  return {
    achieved: total / ((performance.now() - start) / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'kaas-bench-'));
const logger = createLogger({ level: 'silent' });
const store = await prodClusterStore({
  createdAt: new Date().toISOString(),
  url: `sqlite:${join(dir, 'kaas.db')}`,
});
const auth = createAuthService({ store, directory, logger, now: () => new Date() });
await auth.sync();
const { token } = await auth.createToken(
  { userId: 'u1', userName: 'alice', domainName: 'Default', via: 'session' },
  { name: 'bench' },
);
const app = await buildApp({ store, logger, now: () => new Date(), auth });
const kaasUrl = await app.listen({ host: '127.0.0.1', port: 0 });

const echo = Fastify({ logger: false });
echo.post('/echo', async (request) => request.body);
const echoUrl = await echo.listen({ host: '127.0.0.1', port: 0 });

const body = JSON.stringify({
  kind: 'TokenReview',
  apiVersion: 'authentication.k8s.io/v1',
  metadata: { creationTimestamp: null },
  spec: { token, audiences: ['https://kubernetes.default.svc.cluster.local'] },
  status: { user: {} },
});
const keystoneCalls = async () =>
  (await auth.metrics.keystoneCalls.get()).values.reduce((s, v) => s + v.value, 0);

try {
  await closedLoop(echoUrl, '/echo', body); // warm-up both
  await closedLoop(kaasUrl, '/tokenreview/c1?timeout=30s', body);
  const callsBefore = await keystoneCalls();
  const e = await closedLoop(echoUrl, '/echo', body);
  const k = await closedLoop(kaasUrl, '/tokenreview/c1?timeout=30s', body);
  const fixed = await fixedRate(kaasUrl, '/tokenreview/c1?timeout=30s', body);
  const calls = (await keystoneCalls()) - callsBefore;
  const f = (n: number) => n.toFixed(2);
  process.stdout.write(
    [
      `closed loop, ${concurrency} concurrent, ${seconds} s each:`,
      `  echo:        ${e.rps.toFixed(0)} req/s  p50 ${f(e.p50)} ms  p99 ${f(e.p99)} ms`,
      `  tokenreview: ${k.rps.toFixed(0)} req/s  p50 ${f(k.p50)} ms  p99 ${f(k.p99)} ms  (failures ${k.failures})`,
      `  ratio:       ${((100 * k.rps) / e.rps).toFixed(1)}% of echo throughput (goal >= 60%)`,
      `fixed rate ${rate} req/s for ${seconds} s: achieved ${fixed.achieved.toFixed(0)} req/s  p50 ${f(fixed.p50)} ms  p99 ${f(fixed.p99)} ms (goal p99 < 5 ms)`,
      `keystone calls during the run: ${calls} (target 0)`,
      '',
    ].join('\n'),
  );
} finally {
  await app.close();
  await echo.close();
  await auth.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
