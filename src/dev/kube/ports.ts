/**
 * Ports for servers a test starts as child processes. `listen(0)` hands out a port from the
 * kernel's ephemeral range, which every outgoing connection on the machine also draws from: by the
 * time the child binds it, a client socket may hold it (CI saw etcd fail with EADDRINUSE). So these
 * come from below that range, at random, and are checked free by binding them once. Each vitest
 * worker draws from its own slice, so two workers never hand out the same port either.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const LOWEST = 20_000;
const SLICES = 8;
const handedOut = new Set<number>();

/** The first port of the kernel's ephemeral range (32768 when it cannot be read). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > LOWEST + 1000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A loopback port nothing listens on, outside the ephemeral range, not handed out before here. */
export async function freePort(): Promise<number> {
  const size = Math.floor((ephemeralLow() - LOWEST) / SLICES);
  const slice = ((Number(process.env['VITEST_POOL_ID']) || 1) - 1) % SLICES;
  const low = LOWEST + slice * size;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * size);
    if (handedOut.has(port) || !(await bindable(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port between ${low} and ${low + size} after 200 tries`);
}
