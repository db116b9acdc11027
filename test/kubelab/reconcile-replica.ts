/**
 * One reconcile pass in its own process, as a replica's worker runs it, so a suite can SIGKILL it
 * mid-pass. Reads KAAS_DATABASE_URL, the secret key (KAAS_TEST_SECRET_KEY, base64) and
 * KAAS_TEST_LEASE_MS; prints `claimed <cluster>` once it holds a cluster, then runs the pass.
 */
import { createLogger } from '../../src/log.ts';
import { createCloud } from '../../src/openstack/index.ts';
import { createProvisioner } from '../../src/provisioner/provisioner.ts';
import { openStore } from '../../src/store/db.ts';
import { adminConfig } from '../support/openstack.ts';

const env = process.env as Record<string, string>;
const logger = createLogger({ level: 'silent' });
const store = openStore(env.KAAS_DATABASE_URL as string);
const provisioner = createProvisioner({
  store,
  logger,
  now: () => new Date(),
  cloud: createCloud({ config: adminConfig('http://127.0.0.1:1/v3'), logger }),
  secretKey: Buffer.from(env.KAAS_TEST_SECRET_KEY as string, 'base64'),
  addonWait: { readinessMs: 60_000, crdMs: 30_000, pollMs: 200 },
});
const pass = await provisioner
  .reconciler({ resyncMs: 0, leaseMs: Number(env.KAAS_TEST_LEASE_MS) })
  .claimNext();
process.stdout.write(`claimed ${pass?.clusterId ?? 'nothing'}\n`);
const outcome = await pass?.run();
process.stdout.write(`${JSON.stringify(outcome)}\n`);
await store.close();
