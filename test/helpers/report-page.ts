/** Loads a self-contained HTML report (diff, replay, parity --html) in headless Chromium. */
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { CHROMIUM_PATH, haveChromium, launchChromium } from '../../scripts/browser/chromium.js';

/**
 * Opens `file`, runs `check` on the page, then asserts what every report must
 * do: render (a full-page screenshot over 10 kB), throw no page error, and
 * request nothing beyond the file itself.
 */
export async function checkReportPage(file: string, check: (page: Page) => Promise<void>): Promise<void> {
  if (!haveChromium) throw new Error(`CI needs Chromium at ${CHROMIUM_PATH} (set CHROMIUM_PATH)`);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const requests: string[] = [];
    page.on('request', (q) => {
      if (!q.url().startsWith('file:')) requests.push(q.url());
    });
    await page.goto(`file://${file}`);
    const shot = await page.screenshot({ fullPage: true });
    expect(shot.byteLength).toBeGreaterThan(10_000);
    await check(page);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
  } finally {
    await browser.close();
  }
}
