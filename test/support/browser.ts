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

/**
 * Controls a screen reader could not name: no text, aria-label(ledby), title, or <label>.
 * Browser-side scripts are strings because the tests are type-checked without the DOM library.
 */
const UNNAMED_CONTROLS = `[...document.querySelectorAll('button, a[href], input:not([type=hidden]), select, textarea')]
  .filter((el) => el.offsetParent !== null)
  .filter((el) => !((el.textContent ?? '').trim() || el.getAttribute('aria-label') ||
    el.getAttribute('aria-labelledby') || el.getAttribute('title') || (el.labels?.length ?? 0) > 0))
  .map((el) => el.outerHTML.slice(0, 120))`;

/** The visible controls of the page a screen reader could not name (their HTML, shortened). */
export async function unnamedControls(page: Page): Promise<string[]> {
  return (await page.evaluate(UNNAMED_CONTROLS)) as string[];
}

/** How much taller than the window the scrolling areas are (PatternFly scrolls inside <main> and modal bodies). */
const MAIN_OVERFLOW = `Math.max(0, ...[...document.querySelectorAll('main, .pf-v6-c-page__main-container, .pf-v6-c-modal-box__body')]
  .map((el) => el.scrollHeight - el.clientHeight))`;

/**
 * Saves the page at 1280 and 390 px wide to `file(width)`, then returns to 1280. fullPage does not
 * see what scrolls inside <main>, so the window grows to the content first; `check` runs at each
 * width before that.
 */
export async function shootWidths(
  page: Page,
  file: (width: number) => string,
  check?: (width: number) => Promise<void>,
): Promise<void> {
  for (const [width, height] of [
    [1280, 800],
    [390, 844],
  ] as const) {
    await page.setViewportSize({ width, height });
    await page.waitForTimeout(300);
    await check?.(width);
    const overflow = (await page.evaluate(MAIN_OVERFLOW)) as number;
    if (overflow > 0) await page.setViewportSize({ width, height: height + overflow });
    await page.screenshot({ path: file(width), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.waitForTimeout(300);
}
