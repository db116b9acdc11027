/**
 * Clusters from the control panel, in headless Debian Chromium against a real `kaas dev` process
 * (its embedded cloud, job workers and the built panel) started from an empty data directory: the
 * operator creates a cluster with the guided form and follows it to ready, resizes it, sets its
 * autoscaling bounds in the resize dialog, restarts kaas dev and finds tokens and clusters as they
 * were, then deletes it by typing its name; a member sees no way to create one. Screenshots of
 * each page at 1280 and 390 px land in
 * test-output/screenshots/panel-clusters-*.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { panelDev } from '../support/panelDev.ts';
import { KUBERNETES_RELEASES, nextRelease } from '../../src/versions/index.ts';

/** Jobs on the embedded cloud take seconds; a loaded CI machine gets far more. */
const JOB_WAIT = 120_000;
/** The catalogue's oldest release: the panel can upgrade from it. */
const OLDEST = KUBERNETES_RELEASES[0]!;

const suite = panelDev('panel-clusters');
const { newPage, shoot, login, nav, listed } = suite;

beforeAll(() => suite.setUp(), 180_000);
afterAll(() => suite.tearDown());

describe('clusters from the control panel', () => {
  it('an operator creates, follows, resizes and, after a restart, deletes a cluster', async () => {
    const { page, errors } = await newPage();
    await login(page, 'admin');

    // No sample cluster: the empty state leads the operator to the form.
    await nav(page).getByRole('link', { name: 'Clusters' }).click();
    await page.getByRole('heading', { name: 'No cluster available to you' }).waitFor();
    expect(await listed(page)).toEqual([]);
    await shoot(page, 'empty-operator');
    await page.getByRole('link', { name: 'Create cluster' }).click();

    // The form shows the CLI's defaults and what the cloud offers.
    await page.locator('#cluster-name').waitFor();
    expect(await page.getByLabel('Master flavor').inputValue()).toBe('m1.large');
    expect(await page.getByLabel('Master image').inputValue()).toBe('debian-12');
    expect(await page.locator('#group-0-flavor option').allTextContents()).toContain(
      'm1.small (1 vCPU, 2 GiB RAM, 20 GB disk)',
    );
    expect(await page.locator('#group-0-image option').allTextContents()).toContain('ubuntu-24.04');
    expect(await page.getByRole('spinbutton', { name: 'Nodes in group 1' }).inputValue()).toBe('3');
    // The project: admin's Keystone default, demo, among the projects admin holds a role on.
    expect(await page.locator('#cluster-project option').allTextContents()).toEqual(['admin', 'demo']);
    expect(await page.locator('#cluster-project option:checked').textContent()).toBe('demo');
    await shoot(page, 'create-form');

    // Bad input: the server's message next to the field, and nothing created.
    await page.locator('#cluster-name').fill('Web_1');
    await page.getByRole('button', { name: 'Create cluster' }).click();
    const nameError = page
      .locator('#cluster-name')
      .locator('xpath=ancestor::div[contains(@class,"pf-v6-c-form__group")]');
    await nameError.getByText('name must be a DNS label').waitFor();
    expect(await listed(page)).toEqual([]);
    await shoot(page, 'create-form-error');
    await page.locator('#cluster-name').fill('web1');
    await page.locator('#cluster-image-repository').fill('https://registry.example/mirror');
    await page.getByRole('button', { name: 'Create cluster' }).click();
    await page
      .locator('#cluster-image-repository')
      .locator('xpath=ancestor::div[contains(@class,"pf-v6-c-form__group")]')
      .getByText('imageRepository must not have a scheme')
      .waitFor();
    expect(await listed(page)).toEqual([]);
    await page.locator('#cluster-image-repository').fill('');

    // A cluster of one master and one node on the catalogue's oldest version, followed live to ready.
    await suite.submitCluster(page, 'web1', OLDEST.patch);
    await page.getByText("Save the cluster's SSH private key now").waitFor();
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download SSH private key' }).click();
    expect((await download).suggestedFilename()).toBe('kaas-web1-ssh-key.pem');
    await page.getByRole('list', { name: 'Job events' }).waitFor({ timeout: JOB_WAIT });
    await shoot(page, 'cluster-progress');
    await page.getByText(/^Create job: succeeded/).waitFor({ timeout: JOB_WAIT });
    await page.getByTestId('cluster-state').getByText('Ready').waitFor();
    expect(await page.getByTestId('cluster-groups').textContent()).toBe('default: 1 × m1.small');
    expect(await page.getByTestId('cluster-project').textContent()).toBe('demo');
    // The embedded cloud boots no Kubernetes: said plainly, not as an unreachable API.
    expect(await page.getByTestId('no-api').textContent()).toMatch(
      /^No Kubernetes API: .*do not boot Kubernetes/,
    );
    await page.getByRole('button', { name: 'Close' }).first().click();
    await shoot(page, 'cluster-ready');

    // Resize the group to 2.
    await suite.resize(page, 2, JOB_WAIT);

    // Autoscaling from the same dialog: turned on by a job of the addons step (one step), then
    // wider bounds stored at once; the dialog says what is stored.
    await page.getByRole('button', { name: 'Resize', exact: true }).click();
    await page.getByRole('dialog').getByText('Not autoscaled.').waitFor();
    await page.getByRole('spinbutton', { name: 'Most nodes' }).fill('3');
    await shoot(page, 'resize-bounds-dialog');
    await page.getByRole('dialog').getByRole('button', { name: 'Save bounds' }).click();
    await page.getByText(/^Resize job: succeeded \(1 of 1 steps done\)/).waitFor({ timeout: JOB_WAIT });
    await page.getByRole('button', { name: 'Resize', exact: true }).click();
    await page.getByRole('dialog').getByText('Autoscaled between 2 and 3.').waitFor();
    await page.getByRole('spinbutton', { name: 'Most nodes' }).fill('4');
    await page.getByRole('dialog').getByRole('button', { name: 'Save bounds' }).click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Resize', exact: true }).click();
    await page.getByRole('dialog').getByText('Autoscaled between 2 and 4.').waitFor();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();

    // Auto-healing off for the whole cluster, then on again except for the group.
    const dialog = page.getByRole('dialog');
    await page.getByRole('button', { name: 'Change auto-healing' }).click();
    await dialog.getByLabel('Auto-healing').selectOption('off');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await page.getByTestId('cluster-autoheal').getByText('Off', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Change auto-healing' }).click();
    await dialog.getByLabel('Auto-healing').selectOption('on');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('button', { name: 'Change auto-healing' }).click();
    await dialog.getByLabel('For').selectOption('default');
    await dialog.getByLabel('Auto-healing').selectOption('off');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await page.getByTestId('cluster-autoheal').getByText('On, except node group default').waitFor();
    // Rotating the credential needs the cluster's API, which the embedded cloud has none of: the
    // server's refusal stays in the dialog and nothing is queued.
    await page.getByRole('button', { name: 'Rotate cloud credentials' }).click();
    await dialog.getByRole('button', { name: 'Rotate', exact: true }).click();
    await dialog.getByText(/kaas does not reach its API/).waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await page.getByText(/^Resize job: succeeded/).waitFor();

    await nav(page).getByRole('link', { name: 'Clusters' }).click();
    const row = page.getByRole('row', { name: /web1/ });
    await row.getByText('Ready').waitFor();
    await row.getByRole('cell', { name: 'demo', exact: true }).waitFor();
    await shoot(page, 'list');

    // A token, to find again after the restart.
    await nav(page).getByRole('link', { name: 'API tokens' }).click();
    await page.getByRole('button', { name: 'Create token' }).first().click();
    await page.getByLabel('Name').fill('laptop');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('button', { name: 'Done' }).click();

    // Restart kaas dev; log in again: the token and the cluster are as they were.
    await suite.stopDev();
    await suite.startDev();
    await page.context().clearCookies();
    await login(page, 'admin');
    await page.getByRole('cell', { name: 'laptop', exact: true }).waitFor();
    await nav(page).getByRole('link', { name: 'Clusters' }).click();
    await page.getByRole('row', { name: /web1/ }).getByText('Ready').waitFor();
    expect(await listed(page)).toEqual([
      expect.objectContaining({ name: 'web1', status: 'ready', kubernetesVersion: OLDEST.patch }),
    ]);

    // Upgrade offers only the catalogue's versions newer than the cluster's, the next minor first.
    // (Not submitted: nothing boots on the embedded cloud, so an upgrade would wait for an API.)
    await page.getByRole('link', { name: 'web1' }).click();
    await page.getByRole('button', { name: 'Upgrade', exact: true }).click();
    await page.getByRole('dialog').getByText(`It runs Kubernetes ${OLDEST.patch} now`).waitFor();
    const offered = await page.locator('#upgrade-version option').allTextContents();
    expect(offered).toEqual(
      KUBERNETES_RELEASES.filter((r) => r !== OLDEST)
        .map((r) => r.patch)
        .reverse(),
    );
    expect(await page.locator('#upgrade-version').inputValue()).toBe(nextRelease(OLDEST.minor)?.patch);
    await shoot(page, 'upgrade-dialog');
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();

    // Delete: only once the name is typed.
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    const confirm = page.getByRole('dialog').getByRole('button', { name: 'Delete cluster' });
    expect(await confirm.isDisabled()).toBe(true);
    await page.getByLabel('Type the cluster name to confirm').fill('web');
    expect(await confirm.isDisabled()).toBe(true);
    await shoot(page, 'delete-dialog');
    await page.getByLabel('Type the cluster name to confirm').fill('web1');
    await confirm.click();
    await page.getByRole('heading', { name: 'No cluster available to you' }).waitFor({ timeout: JOB_WAIT });
    expect(await listed(page)).toEqual([]);
    expect(errors).toEqual([]);
  }, 600_000);

  it('a failed create shows the failed step with its message, and Retry runs it again', async () => {
    const { page, errors } = await newPage();
    await login(page, 'admin');
    await page.goto(`${suite.base}/clusters/new`);
    // Three 8-vCPU nodes and a 4-vCPU master exceed the embedded cloud's 20-core quota.
    await page.locator('#cluster-name').fill('toobig');
    await page.locator('#group-0-flavor').selectOption('m1.xlarge');
    await page.getByRole('button', { name: 'Create cluster' }).click();
    const failure = page.getByTestId('job-failure');
    await failure.waitFor({ timeout: JOB_WAIT });
    expect(await failure.textContent()).toMatch(
      /^Danger alert:Create failed at step workers:default.*quota/i,
    );
    await page.getByTestId('cluster-state').getByText('Failed').waitFor();
    await shoot(page, 'failed');
    const firstAttempt = await page.getByRole('list', { name: 'Job events' }).locator('li').count();
    expect(firstAttempt).toBeGreaterThan(0);
    await failure.getByRole('button', { name: 'Retry' }).click();
    // The retried job fails at the same step again, with new events of its second run.
    const events = page.getByRole('list', { name: 'Job events' }).locator('li');
    await expect
      .poll(() => events.count(), { timeout: JOB_WAIT, interval: 500 })
      .toBeGreaterThan(firstAttempt);
    await failure.waitFor({ timeout: JOB_WAIT });
    expect(await failure.textContent()).toContain('workers:default');

    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByLabel('Type the cluster name to confirm').fill('toobig');
    await page.getByRole('dialog').getByRole('button', { name: 'Delete cluster' }).click();
    await page.getByRole('heading', { name: 'No cluster available to you' }).waitFor({ timeout: JOB_WAIT });
    expect(await listed(page)).toEqual([]);
    expect(errors).toEqual([]);
  }, 300_000);

  it('a member sees no create button, and the form is refused', async () => {
    const { page, errors } = await newPage();
    await login(page, 'demo');
    await nav(page).getByRole('link', { name: 'Clusters' }).click();
    await page.getByRole('heading', { name: 'No cluster available to you' }).waitFor();
    await page.getByText('Ask a kaas operator').waitFor();
    expect(await page.getByRole('link', { name: 'Create cluster' }).count()).toBe(0);
    await shoot(page, 'empty-member');
    await page.goto(`${suite.base}/clusters/new`);
    await page.getByRole('heading', { name: 'Operators only' }).waitFor();
    const refused = await page.request.get(`${suite.base}/api/v1/catalog/flavors`);
    expect(refused.status()).toBe(403);
    expect(errors).toEqual([]);
  }, 120_000);
});
