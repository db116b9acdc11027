import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's headless Chromium, as the panel's browser tests drive it. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

/**
 * Collects the page's script errors into `errors`. HTTP errors the tests provoke on purpose (401,
 * 403) are logged by Chromium too; CSP refusals and script errors are not those.
 */
export function collectPageErrors(page: Page, errors: string[]): void {
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
      errors.push(`console: ${m.text()}`);
  });
}
