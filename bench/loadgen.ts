/**
 * The load generator of bench/tokenreview.ts, in a process of its own so that the server it
 * measures has its event loop and CPU to itself (as kube-apiserver and kaas would). Reads one job
 * as JSON on stdin and prints its result as JSON:
 *   closed: round robin over `calls`, `parallel` at a time, for `seconds` (and the calls in flight);
 *   fixed:  round robin over `calls` at `rate` requests per second (open loop), for `seconds`.
 * Each job first runs the same load for `warmupSeconds`, not counted: every job is a new process,
 * whose first requests pay for its own JIT and for opening the pool's connections (at 1,000 req/s
 * over 5 s, those first requests alone would be the p99, of the echo as much as of kaas).
 */
import { Pool } from 'undici';

/** One request of the round robin, and the answer that counts as a success. */
export interface Call {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  headers?: Record<string, string>;
  status: number;
  /** Text the answer must contain. */
  contains?: string;
}

/** What the bench asks for. */
export interface LoadJob {
  url: string;
  calls: Call[];
  mode: 'closed' | 'fixed';
  parallel: number;
  seconds: number;
  rate: number;
  warmupSeconds: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function send(pool: Pool, call: Call): Promise<boolean> {
  const res = await pool.request({
    method: call.method,
    path: call.path,
    headers: { 'content-type': 'application/json', ...call.headers },
    ...(call.body === undefined ? {} : { body: call.body }),
  });
  const text = await res.body.text();
  return res.statusCode === call.status && (call.contains === undefined || text.includes(call.contains));
}

/** Runs `job`'s load for `seconds` on `pool`: each call's latency, and how many failed. */
async function drive(pool: Pool, job: LoadJob, seconds: number) {
  const latencies: number[] = [];
  let failures = 0;
  const timed = async (call: Call) => {
    const t0 = performance.now();
    if (!(await send(pool, call))) failures++;
    latencies.push(performance.now() - t0);
  };
  const begin = performance.now();
  if (job.mode === 'closed') {
    let next = 0;
    const end = begin + seconds * 1000;
    await Promise.all(
      Array.from({ length: job.parallel }, async () => {
        while (performance.now() < end) await timed(job.calls[next++ % job.calls.length] as Call);
      }),
    );
  } else {
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < job.rate * seconds; i++) {
      const wait = begin + (i * 1000) / job.rate - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      inflight.push(timed(job.calls[i % job.calls.length] as Call));
    }
    await Promise.all(inflight);
  }
  return { latencies, failures, elapsed: (performance.now() - begin) / 1000 };
}

async function run(job: LoadJob) {
  const pool = new Pool(job.url, { connections: job.mode === 'closed' ? job.parallel : 64, pipelining: 1 });
  const warmup = await drive(pool, job, job.warmupSeconds);
  const { latencies, failures, elapsed } = await drive(pool, job, job.seconds);
  await pool.close();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    warmupRequests: warmup.latencies.length,
    rps: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    failures,
  };
}

let input = '';
for await (const chunk of process.stdin) input += chunk;
process.stdout.write(JSON.stringify(await run(JSON.parse(input) as LoadJob)));
