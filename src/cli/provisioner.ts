import { Agent, fetch } from 'undici';
import { plainHttpAllowed } from '../auth/loopback.ts';
import { InputError } from '../errors.ts';
import { readCaFile } from './caFile.ts';
import { createLogger, type Logger } from '../log.ts';
import { createCloud, loadCloudConfig, type Cloud } from '../openstack/index.ts';
import type { WebhookTarget } from '../provisioner/material.ts';
import { createProvisioner, type Provisioner, type ProvisionerDeps } from '../provisioner/provisioner.ts';
import { secretKeysFromEnv } from '../provisioner/secretbox.ts';
import type { ApiProbe } from '../provisioner/steps/context.ts';
import { openStore, type Store } from '../store/db.ts';
import { migrateToLatest } from '../store/migrate.ts';

type Env = Record<string, string | undefined>;

/** Default database of `kaas dev` and the break-glass CLI: an SQLite file in the working directory. */
export const DEFAULT_DATABASE_URL = 'sqlite:.kaas/kaas.db';

/**
 * Where clusters' API servers reach the TokenReview webhook: KAAS_WEBHOOK_URL when clusters reach
 * kaas at another address than users do, else KAAS_URL (the kaas server, as for every command),
 * with KAAS_CA_FILE (the CA of kaas' certificate) for https. Plain http only to this machine
 * (`kaas dev`). Undefined when neither URL is set: only creating a cluster needs it.
 */
export function webhookFromEnv(env: Env): WebhookTarget | undefined {
  const name = env.KAAS_WEBHOOK_URL ? 'KAAS_WEBHOOK_URL' : 'KAAS_URL';
  const value = env[name]?.trim();
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch (cause) {
    throw new InputError(`${name} must be a URL, got "${value}"`, { field: name, cause });
  }
  if (plainHttpAllowed(url)) return { kaasUrl: value };
  if (url.protocol !== 'https:')
    throw new InputError(
      `${name} must be https:// (http:// only on 127.0.0.1 or localhost), got "${value}"`,
      {
        field: name,
      },
    );
  if (!env.KAAS_CA_FILE)
    throw new InputError(`set KAAS_CA_FILE (the CA of kaas' certificate, PEM) with an https ${name}`, {
      field: 'KAAS_CA_FILE',
    });
  return { kaasUrl: value, caPem: readCaFile(env.KAAS_CA_FILE) };
}

/** KAAS_AUTOSCALER_PORT (0 to 65535): where kaas serves cluster-autoscaler; undefined when unset. */
export function autoscalerPortFromEnv(env: Env): number | undefined {
  const text = env.KAAS_AUTOSCALER_PORT?.trim();
  if (!text) return undefined;
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65_535) {
    throw new InputError(`KAAS_AUTOSCALER_PORT must be an integer from 0 to 65535, got "${text}"`, {
      code: 'invalid_config',
      field: 'KAAS_AUTOSCALER_PORT',
    });
  }
  return Number(text);
}

/**
 * Where clusters' cluster-autoscaler reaches kaas's externalgrpc server: the webhook's host (the
 * address clusters already reach kaas at) on KAAS_AUTOSCALER_PORT, and the webhook's CA (that of
 * kaas's certificate, which the server presents); undefined when the port or an https webhook is
 * not set.
 */
export function autoscalerFromEnv(
  env: Env,
  webhook: WebhookTarget | undefined,
): { address: string; caPem: string } | undefined {
  const port = autoscalerPortFromEnv(env);
  if (port === undefined || !webhook?.caPem) return undefined;
  return { address: `${new URL(webhook.kaasUrl).host.replace(/:\d+$/, '')}:${port}`, caPem: webhook.caPem };
}

/** Probes a cluster API's /healthz, trusting only the cluster CA when it is known. */
export const probeApi: ApiProbe = async (url, signal, caPem) => {
  const dispatcher = new Agent({ connect: caPem ? { ca: caPem } : {}, headersTimeout: 5_000 });
  try {
    const res = await fetch(url, {
      dispatcher,
      signal: AbortSignal.any([signal, AbortSignal.timeout(5_000)]),
    });
    await res.text();
    return res.status;
  } finally {
    await dispatcher.close();
  }
};

/**
 * Builds the provisioner a kaas server (`kaas serve`, `kaas dev`) runs jobs with, and the one the
 * break-glass `kaas cluster kubeconfig --admin` reads, from the environment: KAAS_DATABASE_URL
 * (default sqlite:.kaas/kaas.db, migrated to the latest schema), the cloud from clouds.yaml / OS_*,
 * KAAS_SECRET_KEY or KAAS_SECRET_KEY_FILE, and the webhook ({@link webhookFromEnv}).
 */
export async function openProvisionerFromEnv(
  env: Env,
  over: { logger?: Logger; cwd?: string; home?: string } & Partial<ProvisionerDeps> = {},
): Promise<{ provisioner: Provisioner; store: Store; cloud: Cloud; close(): Promise<void> }> {
  const keys = secretKeysFromEnv(env);
  const webhook = webhookFromEnv(env);
  const config = loadCloudConfig({
    env,
    ...(over.cwd ? { cwd: over.cwd } : {}),
    ...(over.home ? { home: over.home } : {}),
  });
  const logger = over.logger ?? createLogger({ level: env.KAAS_LOG_LEVEL ?? 'warn' });
  const store = openStore(env.KAAS_DATABASE_URL ?? DEFAULT_DATABASE_URL);
  try {
    await migrateToLatest(store.db as never);
  } catch (error) {
    await store.close();
    throw error;
  }
  const cloud = over.cloud ?? createCloud({ config, logger });
  const provisioner = createProvisioner({
    store,
    logger,
    now: () => new Date(),
    cloud,
    secretKey: keys.current,
    ...(keys.previous ? { previousSecretKey: keys.previous } : {}),
    ...(webhook ? { webhook } : {}),
    ...(autoscalerFromEnv(env, webhook) ? { autoscaler: autoscalerFromEnv(env, webhook)! } : {}),
    fetchApi: probeApi,
    ...over,
  });
  return {
    provisioner,
    store,
    cloud,
    close: () => store.close(),
  };
}
