/**
 * What the panel's end-to-end suites share: a real `kaas dev` process started from an empty
 * directory (its state in `<project>/.kaas`), headless Debian Chromium on its panel, and the steps
 * every such suite takes (log in, the main navigation, screenshots at 1280 and 390 px with the
 * naming and overflow checks).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { build } from 'vite';
import { expect } from 'vitest';
import { freePort } from '../../src/dev/kube/ports.ts';
import { collectPageErrors, launchChromium, shootWidths, unnamedControls } from './browser.ts';
import { spawnDev } from './dev.ts';
import type { ServiceProcess } from './process.ts';

/** Whether anything is wider than the window (a horizontal scrollbar at 390 px is a bug). */
const PAGE_OVERFLOW_X = `document.documentElement.scrollWidth - document.documentElement.clientWidth`;

/** A `kaas dev` (with `args`, e.g. `--kube`) and a browser for one suite, named `suite`. */
export function panelDev(suite: string, options: { args?: string[]; env?: Record<string, string> } = {}) {
  const shots = resolve('test-output/screenshots');
  let home = '';
  let port = 0;
  let dev: ServiceProcess | undefined;
  let browser: Browser | undefined;

  const self = {
    /** The temporary directory: HOME of kaas dev, holding `project/`. */
    get home(): string {
      return home;
    },
    /** kaas dev's working directory: its state is `project/.kaas`. */
    get project(): string {
      return join(home, 'project');
    },
    get base(): string {
      return `http://127.0.0.1:${port}`;
    },
    /** The running kaas dev process (for its PID and output). */
    get dev(): ServiceProcess {
      if (!dev) throw new Error('kaas dev is not running');
      return dev;
    },

    /** Builds the panel (kaas dev serves web/dist), starts kaas dev and Chromium. */
    async setUp(): Promise<void> {
      await build({ configFile: resolve('vite.config.ts'), logLevel: 'warn' });
      home = mkdtempSync(join(tmpdir(), `kaas-e2e-${suite}-`));
      mkdirSync(self.project);
      mkdirSync(shots, { recursive: true });
      port = await freePort();
      await self.startDev();
      browser = await launchChromium();
    },

    /** Closes the browser, kills kaas dev if it still runs, removes the directory. */
    async tearDown(): Promise<void> {
      await browser?.close();
      dev?.kill('SIGKILL');
      await dev?.exited;
      if (home) rmSync(home, { recursive: true, force: true });
    },

    /** `kaas dev` in the project on the suite's port, ready once it printed its env file (returned). */
    async startDev(): Promise<string> {
      dev = spawnDev({ cwd: self.project, home, port, args: options.args ?? [], env: options.env ?? {} });
      return dev.ready;
    },

    /** SIGTERM, and kaas dev exits 0. */
    async stopDev(): Promise<void> {
      const running = dev;
      dev = undefined;
      running?.kill('SIGTERM');
      expect(await running?.exited, running?.output()).toEqual({ code: 0, signal: null });
    },

    /** A fresh browser (no cookies) at 1280 px; its script errors collect in `errors`. */
    async newPage(): Promise<{ page: Page; errors: string[] }> {
      if (!browser) throw new Error('setUp() first');
      const context = await browser.newContext({
        viewport: { width: 1280, height: 800 },
        acceptDownloads: true,
      });
      const page = await context.newPage();
      // Generous waits for a loaded 2-core CI machine; every wait still ends as soon as the page is there.
      page.setDefaultTimeout(60_000);
      const errors: string[] = [];
      collectPageErrors(page, errors);
      return { page, errors };
    },

    /**
     * Saves the page at 1280 and 390 px wide as test-output/screenshots/<suite>-<name>-<width>.png,
     * then returns to 1280; checks every control has a name and nothing overflows sideways.
     */
    async shoot(page: Page, name: string): Promise<void> {
      expect(await unnamedControls(page), `${name}: controls without a name`).toEqual([]);
      await shootWidths(
        page,
        (width) => join(shots, `${suite}-${name}-${width}.png`),
        async (width) =>
          expect(
            (await page.evaluate(PAGE_OVERFLOW_X)) as number,
            `${name} at ${width} px`,
          ).toBeLessThanOrEqual(0),
      );
    },

    /** Logs `user` in (password = user name, as kaas dev seeds them) and waits for the tokens page. */
    async login(page: Page, user: string): Promise<void> {
      await page.goto(`${self.base}/`);
      await page.getByLabel('User name').fill(user);
      await page.getByLabel('Password').fill(user);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'API tokens', exact: true }).waitFor();
    },

    /** The panel's main navigation. */
    nav: (page: Page) => page.getByRole('navigation', { name: 'Main navigation' }),

    /**
     * Fills the create form for a cluster of one master and one m1.small node (on `version`, or the
     * form's default), submits it and waits for the cluster's page; returns the cluster's id.
     */
    async submitCluster(page: Page, name: string, version?: string): Promise<string> {
      await page.locator('#cluster-name').fill(name);
      if (version) await page.locator('#cluster-version').selectOption(version);
      await page.getByRole('spinbutton', { name: 'Nodes in group 1' }).fill('1');
      await page.locator('#group-0-flavor').selectOption('m1.small');
      await page.getByRole('button', { name: 'Create cluster' }).click();
      await page.getByRole('heading', { name, exact: true }).waitFor();
      const id = /\/clusters\/(c[0-9a-f]{12})$/.exec(page.url())?.[1];
      expect(id, page.url()).toBeTruthy();
      return id as string;
    },

    /** Resizes the cluster page's first node group to `count` (the dialog shot) and waits for the job. */
    async resize(page: Page, count: number, timeout: number): Promise<void> {
      await page.getByRole('button', { name: 'Resize', exact: true }).click();
      await page.getByRole('spinbutton', { name: 'Nodes', exact: true }).fill(String(count));
      await self.shoot(page, 'resize-dialog');
      await page.getByRole('dialog').getByRole('button', { name: 'Resize', exact: true }).click();
      await page.getByText(/^Resize job: succeeded/).waitFor({ timeout });
      await page.getByTestId('cluster-groups').getByText(`default: ${count} × m1.small`).waitFor();
    },

    /** What the signed-in page's session sees through the API (the browser's own cookie). */
    async listed(page: Page): Promise<{ id: string; name: string; status: string | null }[]> {
      const res = await page.request.get(`${self.base}/api/v1/clusters`);
      expect(res.status()).toBe(200);
      return ((await res.json()) as { items: { id: string; name: string; status: string | null }[] }).items;
    },
  };
  return self;
}
