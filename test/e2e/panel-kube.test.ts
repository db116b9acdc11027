/**
 * The newcomer's hour with `kaas dev --kube`, in headless Debian Chromium against a real kaas dev
 * process started from an empty `.kaas/`: the operator creates a cluster from the panel and follows
 * it to ready, downloads a kubeconfig (the real download) with which the real kubectl lists exactly
 * the cluster's Nodes, resizes it and sees the Node list follow; kaas dev restarts, and after a new
 * login the tokens, the cluster and the same kubeconfig still work; deleting it from the panel (the
 * name typed, "Keep backups" ticked) stops its control plane's processes and removes its directory,
 * and leaves its backup container in the cloud. Screenshots of each page at 1280 and 390 px land in
 * test-output/screenshots/panel-kube-*.png.
 *
 * Needs the kubelab binaries, which `npm test` builds first (scripts/test.sh); without them kaas dev
 * refuses `--kube` and this suite fails saying so, it is never skipped.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterNames } from '../../src/cluster/names.ts';
import { defaultPatch } from '../../src/dev/kube/binaries.ts';
import { loadCloudConfig } from '../../src/openstack/config.ts';
import { waitFor } from '../ha/support.ts';
import { testCloud } from '../provisioner/support.ts';
import { alive, controlPlaneOf, killWorkingIn, kubelabCache, nodes } from '../support/devKube.ts';
import { panelDev } from '../support/panelDev.ts';
import { sourcedEnv } from '../support/shellEnv.ts';

/** A job waits for a real control plane and its Nodes; a loaded 2-core machine takes its time. */
const JOB_WAIT = 300_000;
const NAME = 'kube1';
const names = clusterNames(NAME);

const suite = panelDev('panel-kube', { args: ['--kube'], env: { KUBELAB_CACHE: kubelabCache() } });
const { newPage, shoot, login, nav, listed } = suite;
/** Every control-plane process kaas dev started in this suite, to prove none is left. */
const seen = new Set<number>();

beforeAll(() => suite.setUp(), 180_000);
afterAll(async () => {
  // A failed run leaves no control plane behind either (nor one writing while its directory goes).
  if (suite.home) killWorkingIn(join(suite.project, '.kaas', 'kube'));
  await suite.tearDown();
});

describe('clusters you can kubectl, from the control panel (kaas dev --kube)', () => {
  it('creates, downloads a working kubeconfig, resizes, survives a restart and deletes a cluster', async () => {
    const { page, errors } = await newPage();
    await login(page, 'admin');
    await nav(page).getByRole('link', { name: 'Clusters' }).click();
    await page.getByRole('heading', { name: 'No cluster available to you' }).waitFor();
    await page.getByRole('link', { name: 'Create cluster' }).click();

    // One master and one m1.small node on the catalogue's default version (kubelab's binaries').
    expect(await page.locator('#cluster-version').inputValue()).toBe(defaultPatch());
    await shoot(page, 'create-form');
    const clusterId = await suite.submitCluster(page, NAME);
    await page.getByRole('list', { name: 'Job events' }).waitFor({ timeout: JOB_WAIT });
    await shoot(page, 'cluster-progress');
    await page.getByText(/^Create job: succeeded/).waitFor({ timeout: JOB_WAIT });
    await page.getByTestId('cluster-state').getByText('Ready').waitFor();
    // A real API: the page does not say the cluster has none.
    expect(await page.getByTestId('no-api').count()).toBe(0);
    await page.getByRole('button', { name: 'Close' }).first().click();
    await shoot(page, 'cluster-ready');
    expect(controlPlaneOf(suite.dev.pid, seen)).toEqual([
      'etcd',
      'kube-apiserver',
      'kube-controller',
      'kube-scheduler',
      'kwok',
    ]);

    // The kubeconfig with a fresh token, downloaded as a user would; kubectl lists exactly the cluster's Nodes.
    await nav(page).getByRole('link', { name: 'Kubeconfig' }).click();
    await page.getByRole('heading', { name: 'Kubeconfig', exact: true }).waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Create token and download' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(`kubeconfig-${NAME}.yaml`);
    const kubeconfig = join(suite.home, 'kubeconfig.yaml');
    writeFileSync(kubeconfig, readFileSync(await download.path()), { mode: 0o600 });
    expect(readFileSync(kubeconfig, 'utf8')).toMatch(/server: https:\/\/127\.0\.0\.1:\d+/);
    await page.getByText('It is listed on the API tokens page').waitFor();
    await shoot(page, 'kubeconfig-downloaded');
    expect(await nodes(kubeconfig)).toEqual([
      [names.worker('default', 0), true],
      [names.master(0), true],
    ]);

    // Resize the group to 2: the job ends once the new Node is Ready, and kubectl lists it.
    await nav(page).getByRole('link', { name: 'Clusters' }).click();
    await page.getByRole('link', { name: NAME }).click();
    await suite.resize(page, 2, JOB_WAIT);
    await shoot(page, 'cluster-resized');
    const resized: [string, boolean][] = [
      [names.worker('default', 0), true],
      [names.worker('default', 1), true],
      [names.master(0), true],
    ];
    expect(await nodes(kubeconfig)).toEqual(resized);

    // Restart kaas dev: its control-plane processes stop with it and come back for the cluster.
    await suite.stopDev();
    expect([...seen].filter(alive)).toEqual([]);
    const envFile = await suite.startDev();
    expect(suite.dev.output()).not.toContain('did not restart');
    await page.context().clearCookies();
    await login(page, 'admin');
    await page.getByRole('cell', { name: new RegExp(`^kubeconfig ${NAME} `) }).waitFor();
    await shoot(page, 'tokens-after-restart');
    await nav(page).getByRole('link', { name: 'Clusters' }).click();
    await page
      .getByRole('row', { name: new RegExp(NAME) })
      .getByText('Ready')
      .waitFor();
    await shoot(page, 'list-after-restart');
    expect(await listed(page)).toEqual([expect.objectContaining({ id: clusterId, status: 'ready' })]);
    expect(await nodes(kubeconfig)).toEqual(resized);
    expect(controlPlaneOf(suite.dev.pid, seen)).toHaveLength(5);

    // What the cluster's Velero would have stored, in the project's Swift (admin's clouds.yaml is on it).
    const swift = testCloud(loadCloudConfig({ env: sourcedEnv(envFile), home: suite.home })).swift;
    const velero = names.backupContainers.find((c) => c.endsWith('-velero')) as string;
    await swift.createContainer(velero);
    await swift.putObject(velero, 'backups/nightly/velero-backup.json', '{}');
    const containers = async () =>
      (await swift.listContainers({ prefix: `kaas-${NAME}-` })).map((c) => c.name).sort();
    expect(await containers()).toEqual([names.artifactsContainer, velero].sort());

    // Delete, keeping the backups: only once the name is typed; both choices start off.
    await page.getByRole('link', { name: NAME }).click();
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    const dialog = page.getByRole('dialog');
    const confirm = dialog.getByRole('button', { name: 'Delete cluster' });
    expect(await dialog.getByLabel('Keep volumes').isChecked()).toBe(false);
    expect(await dialog.getByLabel('Keep backups').isChecked()).toBe(false);
    await dialog.getByLabel('Keep backups').check();
    await page.getByLabel('Type the cluster name to confirm').fill(NAME);
    await shoot(page, 'delete-dialog');
    const [request] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'DELETE'),
      confirm.click(),
    ]);
    expect(new URL(request.url()).search).toBe('?keepBackups=true');
    await page.getByRole('heading', { name: 'No cluster available to you' }).waitFor({ timeout: JOB_WAIT });
    await shoot(page, 'empty-after-delete');
    expect(await listed(page)).toEqual([]);

    // The control plane's processes are gone (by PID) and its directory removed; the backup stays.
    await waitFor(
      'the control plane to stop',
      async () => (controlPlaneOf(suite.dev.pid, seen).length === 0 ? true : undefined),
      30_000,
    );
    expect([...seen].filter(alive)).toEqual([]);
    await waitFor(
      "the control plane's directory to go",
      async () => (existsSync(join(suite.project, '.kaas', 'kube', clusterId)) ? undefined : true),
      30_000,
    );
    expect(await containers()).toEqual([velero]);
    expect((await swift.listObjects(velero)).map((o) => o.name)).toEqual([
      'backups/nightly/velero-backup.json',
    ]);
    await suite.stopDev();
    expect(errors).toEqual([]);
  }, 900_000);
});
