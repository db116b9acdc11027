import { randomBytes } from 'node:crypto';
import { labAdminCloud } from '../support/openstack.ts';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { keystoneDirectory } from '../../src/auth/directory.ts';
import { createAuthService, type AuthService } from '../../src/auth/service.ts';
import { createLogger } from '../../src/log.ts';
import { buildApp } from '../../src/server/app.ts';
import type { Store } from '../../src/store/db.ts';
import { insertCluster } from '../../src/store/insertCluster.ts';
import { upsertClusterEndpoint } from '../../src/store/upsertClusterEndpoint.ts';
import { freshStore } from '../support/databases.ts';
import { createCa } from '../../src/auth/pki.ts';
import { validateSpec } from '../../src/cluster/validate.ts';
import { NotFoundError } from '../../src/errors.ts';
import { createKubeClient } from '../../src/provisioner/kubeclient.ts';
import { mastersCertificate } from '../../src/provisioner/identity.ts';
import { observeNodes } from '../../src/provisioner/observe.ts';
import { defaultPatch } from '../../src/dev/kube/binaries.ts';
import { startKubelab, type Kubelab } from '../../src/dev/kube/kubelab.ts';
import { CONTROL_PLANE_ROLE } from '../../src/dev/kube/nodes.ts';
import { labCluster } from '../kubelab/support.ts';
import { testSpec } from '../provisioner/support.ts';
import { reviewRequest } from '../support/tokenreview.ts';
import { collectPageErrors, launchChromium, shootWidths, unnamedControls } from '../support/browser.ts';

/**
 * The control panel in headless Debian Chromium against a real kaas server (127.0.0.1:0) and the
 * lab's real Keystone: a unique project, an admin-role holder and a plain member, two clusters.
 * Screenshots of every page at 1280 and 390 px land in test-output/screenshots/.
 */
const logger = createLogger({ level: 'silent' });
const suffix = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const password = `pw-${randomBytes(8).toString('hex')}`;
const shots = resolve('test-output/screenshots');
describe('control panel in Chromium', () => {
  const admin = labAdminCloud(logger);
  const created = { users: [] as string[], roles: [] as string[], projects: [] as string[] };
  const names = { ada: `kaas-ada-${suffix}`, max: `kaas-max-${suffix}` };
  const clusterA = { id: `e2e-a-${suffix}`, name: `alpha-${suffix}` };
  const clusterB = { id: `e2e-b-${suffix}`, name: `beta-${suffix}` };
  let outDir: string;
  let store: Store;
  let auth: AuthService;
  let app: FastifyInstance;
  let base: string;
  let healthz: Server;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  /** Cluster A's Kubernetes API: a kubelab from kaas's own material, with kwok Nodes. */
  let lab: Kubelab | undefined;

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'kaas-web-e2e-'));
    await build({ configFile: resolve('vite.config.ts'), logLevel: 'warn', build: { outDir } });

    const project = await admin.keystone.createProject({ name: `kaas-e2e-${suffix}` });
    created.projects.push(project.id);
    const roleAdmin = await admin.keystone.createRole({ name: `kaas-e2e-adm-${suffix}` });
    const roleMember = await admin.keystone.createRole({ name: `kaas-e2e-mem-${suffix}` });
    created.roles.push(roleAdmin.id, roleMember.id);
    const ada = await admin.keystone.createUser({ name: names.ada, password });
    const max = await admin.keystone.createUser({ name: names.max, password });
    created.users.push(ada.id, max.id);
    await admin.keystone.assignProjectRole({ projectId: project.id, userId: ada.id, roleId: roleAdmin.id });
    for (const u of [ada, max])
      await admin.keystone.assignProjectRole({ projectId: project.id, userId: u.id, roleId: roleMember.id });

    healthz = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((done) => healthz.listen(0, '127.0.0.1', done));
    const healthUrl = `http://127.0.0.1:${(healthz.address() as AddressInfo).port}`;

    store = await freshStore('sqlite');
    const now = () => new Date();
    for (const c of [clusterA, clusterB])
      await insertCluster({
        db: store.db,
        cluster: {
          ...c,
          projectId: project.id,
          projectName: project.name,
          adminRoleIds: [roleAdmin.id],
          createdAt: now().toISOString(),
        },
      });
    await upsertClusterEndpoint({
      db: store.db,
      endpoint: {
        clusterId: clusterA.id,
        apiUrl: healthUrl,
        caCertPem: '-----BEGIN CERTIFICATE-----\nMIIBe2e\n-----END CERTIFICATE-----\n',
        ingressDomain: 'apps.example.test',
        kubernetesVersion: 'v1.31.2',
        nodeCount: 3,
        provisioningState: 'ready',
        updatedAt: now().toISOString(),
      },
    });
    // Cluster A's API is a real kube-apiserver with kaas's CA; its Nodes are read with kaas's
    // break-glass certificate through the provisioner's own observer. Cluster B is not kaas's.
    const kaasCa = await createCa({ commonName: 'kaas-e2e' });
    const labbed = await labCluster({ kaasUrl: 'https://127.0.0.1:1', kaasCaPem: kaasCa.certPem });
    lab = await startKubelab({ master0: labbed.master0, scheduler: false });
    const spec = validateSpec(testSpec(labbed.clusterId, 2, { kubernetesVersion: defaultPatch() }));
    await lab.addNode(`kaas-${spec.name}-master-0`, {
      kubeletVersion: defaultPatch(),
      labels: { [CONTROL_PLANE_ROLE]: '' },
    });
    for (const i of [0, 1])
      await lab.addNode(`kaas-${spec.name}-default-${i}`, { kubeletVersion: defaultPatch() });
    const labUrl = lab.url;
    const observe = async (clusterId: string) => {
      if (clusterId !== clusterA.id) throw new NotFoundError(`no cluster ${clusterId}`);
      const client = createKubeClient({
        server: labUrl,
        caPem: labbed.material.ca.certPem,
        ...(await mastersCertificate(labbed.material.ca, 'kaas-break-glass')),
      });
      try {
        return await observeNodes({ client, spec, now });
      } finally {
        await client.close();
      }
    };
    auth = createAuthService({ store, directory: keystoneDirectory(admin), logger, now });
    app = await buildApp({ store, logger, now, auth, webRoot: outDir, observe, publicUrl: () => base });
    await auth.sync();
    base = await app.listen({ host: '127.0.0.1', port: 0 });

    mkdirSync(shots, { recursive: true });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    page = await context.newPage();
    collectPageErrors(page, pageErrors);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await auth?.close();
    await app?.close();
    await lab?.stop();
    await store?.close();
    await new Promise((done) => (healthz ? healthz.close(done) : done(undefined)));
    if (outDir) rmSync(outDir, { recursive: true, force: true });
    for (const id of created.users) await admin.keystone.deleteUser(id).catch(() => undefined);
    for (const id of created.roles) await admin.keystone.deleteRole(id).catch(() => undefined);
    for (const id of created.projects) await admin.keystone.deleteProject(id).catch(() => undefined);
  }, 60_000);

  const a11yProblems: string[] = [];
  /** Saves the current page at 1280 px and at 390 px wide, then returns to 1280. */
  async function shoot(name: string): Promise<void> {
    for (const html of await unnamedControls(page)) a11yProblems.push(`${name}: ${html}`);
    await shootWidths(page, (width) => join(shots, `${name}-${width}.png`));
  }

  async function login(user: string, pw = password): Promise<void> {
    await page.getByLabel('User name').fill(user);
    await page.getByLabel('Password').fill(pw);
    await page.getByRole('button', { name: 'Log in' }).click();
  }

  async function review(
    clusterId: string,
    token: string,
  ): Promise<{ authenticated?: boolean; user?: { username: string } }> {
    const res = await fetch(`${base}/tokenreview/${clusterId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(reviewRequest(token)),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { status: { authenticated?: boolean; user?: { username: string } } })
      .status;
  }

  const nav = () => page.getByRole('navigation', { name: 'Main navigation' });

  it('refuses wrong credentials with a clear message, then logs in', async () => {
    await page.goto(`${base}/tokens`);
    await page.getByRole('heading', { name: 'Log in to kaas', exact: true }).waitFor();
    expect(await page.getByLabel('Domain').inputValue()).toBe('Default');
    await shoot('01-login');
    const userField = async () => (await page.getByLabel('User name').boundingBox())?.y;
    const before = await userField();
    await login(names.ada, 'wrong-password');
    await page.getByTestId('login-error').waitFor();
    expect(await page.getByTestId('login-error').textContent()).toContain('not correct');
    // The message appears without moving the form under the user's pointer.
    expect(await userField()).toBe(before);
    await shoot('02-login-error');
    await login(names.ada);
    await page.getByRole('heading', { name: 'API tokens', exact: true }).waitFor();
    await page.getByText('No API tokens yet').waitFor();
    expect(page.url()).toBe(`${base}/tokens`);
    await shoot('03-tokens-empty');
  }, 60_000);

  let token = '';
  it('creates a token that authenticates a TokenReview, and deleting it revokes it', async () => {
    await page.getByRole('button', { name: 'Create token' }).first().click();
    await page.getByLabel('Name').fill('laptop');
    await shoot('04-token-create');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByText('Copy the token now').waitFor();
    token = await page.getByLabel('New API token').inputValue();
    expect(token.length).toBeGreaterThan(40);
    // The example goes through this cluster's kubeconfig: a bare --token would follow any current context.
    expect(await page.getByLabel('kubectl command').inputValue()).toBe(
      `kubectl --kubeconfig ~/Downloads/kubeconfig-${clusterA.name}.yaml get namespaces`,
    );
    await shoot('05-token-created');
    const ok = await review(clusterA.id, token);
    expect(ok.authenticated).toBe(true);
    expect(ok.user?.username).toContain(names.ada);
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByText('laptop', { exact: true }).waitFor();
    await shoot('06-tokens-list');

    await page.getByRole('button', { name: 'Delete token laptop' }).click();
    await page.getByText('stops working immediately').waitFor();
    await shoot('07-token-delete-confirm');
    await page.getByRole('button', { name: 'Delete token', exact: true }).click();
    await page.getByText('No API tokens yet').waitFor();
    expect((await review(clusterA.id, token)).authenticated).toBe(false);
  }, 60_000);

  it('restricts a new token to the active cluster when asked', async () => {
    await page.getByRole('button', { name: 'Create token' }).first().click();
    await page.getByLabel('Name').fill('only-alpha');
    await page.getByLabel(`Valid only on cluster ${clusterA.name}`).check();
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByText('Copy the token now').waitFor();
    const restricted = await page.getByLabel('New API token').inputValue();
    expect((await review(clusterA.id, restricted)).authenticated).toBe(true);
    expect((await review(clusterB.id, restricted)).authenticated).toBe(false);
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('button', { name: 'Delete token only-alpha' }).click();
    await page.getByRole('button', { name: 'Delete token', exact: true }).click();
    await page.getByText('No API tokens yet').waitFor();
  }, 60_000);

  it('switches the active cluster and remembers it across reloads', async () => {
    const select = page.getByLabel('Active cluster');
    expect(await select.locator('option').allTextContents()).toEqual([clusterA.name, clusterB.name]);
    expect(await select.inputValue()).toBe(clusterA.id);
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/v1/session/active-cluster') && r.ok()),
      select.selectOption(clusterB.id),
    ]);
    await page.reload();
    await page.getByLabel('Active cluster').waitFor();
    expect(await page.getByLabel('Active cluster').inputValue()).toBe(clusterB.id);
    // Without an API address there is no kubeconfig to give: both downloads are off and say why.
    await nav().getByRole('link', { name: 'Kubeconfig' }).click();
    await page.getByText('No kubeconfig yet').waitFor();
    for (const name of ['Download (exec plugin)', 'Create token and download'])
      expect(await page.getByRole('button', { name }).isDisabled(), name).toBe(true);
    await shoot('08-kubeconfig-unprovisioned');
    await nav().getByRole('link', { name: 'Cluster overview' }).click();
    await page.getByText('Not provisioned').first().waitFor();
    await shoot('08-admin-overview-unprovisioned');
    await page.getByLabel('Active cluster').selectOption(clusterA.id);
    await page.getByText('Healthy').waitFor();
    await shoot('09-admin-overview');
  }, 60_000);

  it("shows the administrator the cluster's Nodes as its API reports them, and plainly when it cannot be reached", async () => {
    const card = page.getByRole('table', { name: 'Node groups' });
    await card.waitFor();
    await page.getByText('3/3 Ready').waitFor();
    const rows = await card.locator('tbody tr').allInnerTexts();
    expect(rows.map((r) => r.replace(/\s+/g, ' ').trim())).toEqual([
      expect.stringMatching(new RegExp(`masters.*1/1 Ready.*v${defaultPatch().replace(/\./g, '\\.')}`)),
      expect.stringMatching(new RegExp(`default.*2/2 Ready.*v${defaultPatch().replace(/\./g, '\\.')}`)),
    ]);
    await shoot('09b-admin-overview-nodes');
    // Cluster A's API goes away: the page says so with the reason, and shows no stale counts.
    await lab?.stop();
    lab = undefined;
    await page.reload();
    await page.getByText('API unreachable: connection refused', { exact: false }).first().waitFor();
    expect(await page.getByRole('table', { name: 'Node groups' }).count()).toBe(0);
    expect(await page.getByText('3/3 Ready').count()).toBe(0);
    await shoot('09c-admin-overview-unreachable');
  }, 60_000);

  it('downloads kubeconfigs for the active cluster in exec and token modes', async () => {
    await nav().getByRole('link', { name: 'Kubeconfig' }).click();
    await page.getByRole('heading', { name: 'Kubeconfig', exact: true }).waitFor();
    await shoot('10-kubeconfig');
    const [execDownload] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download (exec plugin)' }).click(),
    ]);
    expect(execDownload.suggestedFilename()).toBe(`kubeconfig-${clusterA.name}.yaml`);
    const exec = parse(readFileSync(await execDownload.path(), 'utf8'));
    expect(exec).toMatchObject({ apiVersion: 'v1', kind: 'Config', 'current-context': clusterA.name });
    expect(exec.users[0].user.exec.apiVersion).toBe('client.authentication.k8s.io/v1');
    expect(exec.users[0].user.exec.command).toBe('kaas');
    const [tokenDownload] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Create token and download' }).click(),
    ]);
    const withToken = parse(readFileSync(await tokenDownload.path(), 'utf8'));
    expect((await review(clusterA.id, withToken.users[0].user.token)).authenticated).toBe(true);
    await page.getByText('It is listed on the API tokens page').waitFor();
    await shoot('11-kubeconfig-downloaded');

    // A download that fails once its token exists deletes that token again: no secret that nobody holds.
    const kubeconfigTokens = async () =>
      (
        (await page.evaluate(() => fetch('/api/v1/tokens').then((r) => r.json()))) as {
          items: { name: string }[];
        }
      ).items.filter((t) => t.name.startsWith('kubeconfig ')).length;
    const before = await kubeconfigTokens();
    const rendering = '**/api/v1/clusters/*/kubeconfig';
    await page.route(rendering, (route) =>
      route.request().method() === 'POST'
        ? route.fulfill({
            status: 503,
            contentType: 'application/json',
            body: JSON.stringify({ error: { code: 'unavailable', message: 'kaas is restarting' } }),
          })
        : route.continue(),
    );
    await page.getByRole('button', { name: 'Create token and download' }).click();
    await page.getByText('kaas is restarting').waitFor();
    await page.unroute(rendering);
    expect(await kubeconfigTokens()).toBe(before);
  }, 60_000);

  it('shows managed services, service status, role bindings and user tokens to the administrator', async () => {
    await nav().getByRole('link', { name: 'Managed services' }).click();
    await page.getByRole('link', { name: `grafana.${clusterA.name}.apps.example.test` }).waitFor();
    await shoot('12-services');
    await nav().getByRole('link', { name: 'Service status' }).click();
    await page.getByRole('heading', { name: 'Service status', exact: true }).waitFor();
    await page.getByText('Down', { exact: false }).first().waitFor();
    // No provisioner created this cluster: kaas's reconciler has nothing recorded for it.
    await page.getByText('Not reconciled yet').waitFor();
    await page.getByText('kaas has not applied any managed service to this cluster yet.').waitFor();
    await shoot('13-admin-services');

    await nav().getByRole('link', { name: 'Role bindings' }).click();
    await page.getByText('No role bindings').waitFor();
    await page.getByLabel('Keystone role').selectOption({ label: `kaas-e2e-mem-${suffix}` });
    await page.getByLabel('Kubernetes role name').fill('view');
    await page.getByRole('button', { name: 'Add binding' }).click();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Pending: not yet applied').waitFor();
    await shoot('14-admin-role-bindings');

    await nav().getByRole('link', { name: 'User tokens' }).click();
    await page.getByText(`kubeconfig ${clusterA.name}`).first().waitFor();
    await shoot('15-admin-user-tokens');
    await page
      .getByRole('button', { name: `Revoke token kubeconfig ${clusterA.name}`, exact: false })
      .click();
    await page.getByRole('button', { name: 'Revoke token', exact: true }).click();
    await page.getByText('No tokens').waitFor();
  }, 60_000);

  it('shows the administrator an audit log of these actions and exports it as JSON lines', async () => {
    await nav().getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log', exact: true }).waitFor();
    const table = page.getByRole('table', { name: 'Audit log' });
    await table.getByText('Revoke API token').waitFor();
    for (const action of ['Change role bindings', 'Create API token', 'Delete API token', 'Log in'])
      expect(await table.getByText(action, { exact: true }).count(), action).toBeGreaterThan(0);
    // The wrong-password attempt of the first test, tied to the user by name.
    expect(await table.getByText('Failed (401)').count()).toBe(1);
    await shoot('16-admin-audit');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Export (JSON lines)' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(
      new RegExp(`^audit-${clusterA.name}-\\d{4}-\\d\\d-\\d\\d\\.jsonl$`),
    );
    const lines = readFileSync(await download.path(), 'utf8')
      .trim()
      .split('\n');
    const events = lines.map(
      (l) => JSON.parse(l) as { action: string; actorName: string; clusterId: string | null },
    );
    expect(events.map((e) => e.action)).toEqual(
      expect.arrayContaining([
        'login',
        'token.create',
        'token.delete',
        'rolebindings.update',
        'token.revoke',
      ]),
    );
    expect(events.find((e) => e.action === 'rolebindings.update')).toMatchObject({
      actorName: `${names.ada}@Default`,
      clusterId: clusterA.id,
    });
    expect(lines.join('\n')).not.toContain(password);
  }, 60_000);

  it('shows a member no Administration menu and refuses admin pages', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByText('You have logged out.').waitFor();
    await login(names.max);
    await page.getByRole('heading', { name: 'API tokens', exact: true }).waitFor();
    await page.getByLabel('Active cluster').waitFor();
    expect(await nav().getByText('Administration').count()).toBe(0);
    expect(await nav().getByRole('link', { name: 'Cluster overview' }).count()).toBe(0);
    await shoot('17-member-tokens');
    // Members see whether the Nodes are Ready, not the reason (cluster A's API was stopped above).
    await nav().getByRole('link', { name: 'Managed services' }).click();
    await page.getByTestId('api-unreachable').waitFor();
    expect(await page.getByTestId('api-unreachable').textContent()).toBe('API unreachable');
    await page.goto(`${base}/admin/overview`);
    await page.getByText('Administrators only').waitFor();
    await shoot('18-member-admin-refused');
    const statuses = await page.evaluate(
      async (id) =>
        Promise.all(
          ['admin/tokens', 'admin/audit', 'admin/audit.jsonl'].map(
            async (p) => (await fetch(`/api/v1/clusters/${id}/${p}`)).status,
          ),
        ),
      clusterA.id,
    );
    expect(statuses).toEqual([403, 403, 403]);
  }, 60_000);

  it('sends the user back to login with a notice when the session expires', async () => {
    await store.db.deleteFrom('sessions').execute();
    await nav().getByRole('link', { name: 'Managed services' }).click();
    await page.getByText('Your session has expired').waitFor();
    expect(new URL(page.url()).pathname).toBe('/login');
    await shoot('19-session-expired');
    await login(names.max);
    await page.getByRole('heading', { name: 'Managed services', exact: true }).waitFor();
  }, 60_000);

  it('can be used from the keyboard: skip link first, login by Enter, menu links by Tab', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('User name').waitFor();
    await page.getByLabel('User name').focus();
    await page.keyboard.type(names.ada);
    await page.keyboard.press('Tab');
    await page.keyboard.type(password);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'API tokens', exact: true }).waitFor();
    await nav().getByRole('link', { name: 'Audit log' }).waitFor();
    await page.evaluate('document.activeElement?.blur()');
    await page.keyboard.press('Tab');
    expect(await page.locator(':focus').textContent()).toBe('Skip to content');
    let reached = false;
    for (let i = 0; i < 25 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = (await page.locator(':focus').textContent()) === 'Audit log';
    }
    expect(reached).toBe(true);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Audit log', exact: true }).waitFor();
  }, 60_000);

  it('ran without script errors, CSP violations or unnamed controls', () => {
    expect(pageErrors).toEqual([]);
    expect(a11yProblems).toEqual([]);
  });
});
