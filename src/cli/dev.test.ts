import { devBuilderCloud, finishedJob } from '../../test/support/dev.ts';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { PassThrough } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TEST_SECRET_KEY,
  testProvisioner,
  testSpec,
  testWebhook,
  testReleaseDeps,
} from '../../test/provisioner/support.ts';
import { createLogger } from '../log.ts';
import { openStore, type Store } from '../store/db.ts';
import { devAutoscalerTls, ensureSecretKeyFile, resetDev, startDev, type RunningDev } from './dev.ts';
import { externalGrpcClient } from '../../test/support/externalgrpc.ts';
import * as grpc from '@grpc/grpc-js';

const logger = createLogger({ level: 'silent' });
let dataDir: string;
let dev: RunningDev;
let store: Store;

beforeAll(async () => {
  dataDir = join(mkdtempSync(join(tmpdir(), 'kaas-dev-')), '.kaas');
  mkdirSync(dataDir, { mode: 0o700 });
  // The key a provisioner of this test seals its cluster's secrets with, so dev's worker opens them.
  writeFileSync(join(dataDir, 'secret.key'), TEST_SECRET_KEY.toString('base64'), { mode: 0o644 });
  dev = await startDev({
    dataDir,
    port: 0,
    autoscalerPort: 0,
    logger,
    workerPollMs: 20,
    provisioner: { pollIntervalMs: 20, ...testReleaseDeps() },
  });
  store = openStore(`sqlite:${join(dataDir, 'kaas.db')}`);
}, 30_000);
afterAll(async () => {
  await store?.close();
  await dev?.close();
});

describe('ensureSecretKeyFile', () => {
  it('creates a 32-byte key with mode 0600 once and keeps it afterwards', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'kaas-key-')), 'secret.key');
    ensureSecretKeyFile(file);
    const key = readFileSync(file, 'utf8');
    expect(Buffer.from(key.trim(), 'base64')).toHaveLength(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    ensureSecretKeyFile(file);
    expect(readFileSync(file, 'utf8')).toBe(key);
  });
});

describe('kaas dev', () => {
  it('keeps an existing secret key and makes it readable by its owner only', () => {
    expect(readFileSync(join(dataDir, 'secret.key'), 'utf8')).toBe(TEST_SECRET_KEY.toString('base64'));
    expect(statSync(join(dataDir, 'secret.key')).mode & 0o777).toBe(0o600);
  });

  it('runs queued cluster jobs in its worker, on cloudsim', async () => {
    // Queued by another process' provisioner with a webhook; nothing here runs it but kaas dev.
    const p = testProvisioner(store, devBuilderCloud(dev), await testWebhook());
    const { job } = await p.createCluster(testSpec('dev1', 1), { waitForApi: false });
    const done = await finishedJob(dev, job.id, 30_000);
    expect(done.job.state).toBe('succeeded');
    expect(dev.cloud.state.servers.size).toBe(2);
  });
});

describe("kaas dev serving cluster-autoscaler's provider (KAAS_AUTOSCALER_PORT)", () => {
  it('answers on 127.0.0.1 over mutual TLS with the certificate it keeps in .kaas/autoscaler; a caller without a client certificate fails in the handshake', async () => {
    const dir = join(dataDir, 'autoscaler');
    expect(readdirSync(dir).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    expect(statSync(join(dir, 'tls.key')).mode & 0o777).toBe(0o600);
    const caPem = readFileSync(join(dir, 'ca.crt'), 'utf8');
    // Kept: a second start (clusters' Secrets name this CA) reads the same files.
    expect((await devAutoscalerTls(dir)).caPem).toBe(caPem);

    const p = testProvisioner(store, devBuilderCloud(dev), await testWebhook());
    const { cluster, job } = await p.createCluster(
      testSpec('dev2', 1, {
        nodeGroups: [{ name: 'default', count: 1, minSize: 1, maxSize: 3, flavor: 'm1.small' }],
      }),
      { waitForApi: false },
    );
    expect((await finishedJob(dev, job.id, 30_000)).job.state).toBe('succeeded');
    const autoscaler = externalGrpcClient(
      dev.autoscalerPort!,
      caPem,
      await p.autoscalerCertificate(cluster.id),
    );
    const stranger = externalGrpcClient(dev.autoscalerPort!, caPem, undefined);
    try {
      // The server re-reads the cluster CAs every 10 s: a cluster just made may wait one round.
      await expect
        .poll(() => autoscaler.call('NodeGroups', {}).catch((e: Error) => e.message), { timeout: 15_000 })
        .toEqual({
          nodeGroups: [expect.objectContaining({ id: `${cluster.id}/default`, minSize: 1, maxSize: 3 })],
        });
      await expect(stranger.call('NodeGroups', {})).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      autoscaler.close();
      stranger.close();
    }
  }, 60_000);
});

describe('kaas dev state that cannot be used', () => {
  it('an unreadable cloud snapshot is a mismatch naming the file and --reset, which removes it', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'kaas-dev-bad-')), '.kaas');
    mkdirSync(join(dir, 'cloudsim'), { recursive: true });
    writeFileSync(join(dir, 'kaas.db'), '');
    writeFileSync(join(dir, 'cloudsim', 'state.json'), '{"version": 1, "sta');
    await expect(startDev({ dataDir: dir, port: 0, logger })).rejects.toMatchObject({
      code: 'dev_state_mismatch',
      message: expect.stringMatching(
        /cloudsim\/state\.json cannot be read: .*`kaas dev --reset` removes both/,
      ),
    });
    const out = new PassThrough();
    expect(resetDev(dir, out)).toEqual([
      join(dir, 'kaas.db'),
      join(dir, 'cloudsim'),
      join(dir, 'secret.key'),
    ]);
    expect(String(out.read())).toContain(`removing ${join(dir, 'cloudsim')} (the embedded cloud's state`);
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(true);
    const again = new PassThrough();
    expect(resetDev(dir, again)).toEqual([]);
    expect(String(again.read())).toBe(`kaas dev --reset: nothing to remove in ${dir}\n`);
  });
});
