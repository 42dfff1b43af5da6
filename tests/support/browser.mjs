// Usage: node browser.mjs URL SELECTOR TIMEOUT_MS SCREENSHOT.png [ACTIONS_JSON]
// Opens URL in Debian's headless Chromium, does the actions (fill, setInputFiles, click,
// waitForText), waits for SELECTOR, prints {title, text, screenshot}.
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(join(process.env.NODE_PATH || '.', 'x.js'));
const { chromium } = require('playwright-core');

const [url, selector, timeoutArg, screenshot, actionsArg] = process.argv.slice(2);
const actions = JSON.parse(actionsArg || '[]');
if (!url || !selector) {
  console.error('usage: node browser.mjs URL SELECTOR [TIMEOUT_MS] [SCREENSHOT]');
  process.exit(2);
}
const timeout = Number(timeoutArg || 20000);
// The network here is closed: Chromium's background connections would only be refused.
const browser = await chromium.launch({
  executablePath: process.env.PIPEWRIGHT_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  page.on('console', (m) => console.error(`console.${m.type()}: ${m.text()}`));
  await page.goto(url, { timeout });
  for (const a of actions) {
    if (a.fill) await page.fill(a.fill, a.value, { timeout });
    else if (a.setInputFiles) await page.setInputFiles(a.setInputFiles, a.files, { timeout });
    else if (a.click) await page.click(a.click, { timeout });
    else if (a.waitForText) {
      await page.waitForFunction(([sel, text]) => {
        const el = document.querySelector(sel);
        return el && el.innerText.includes(text);
      }, [a.waitForText, a.text], { timeout });
    } else throw new Error('unknown action ' + JSON.stringify(a));
  }
  const el = await page.waitForSelector(selector, { state: 'visible', timeout });
  const text = await el.innerText();
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ title: await page.title(), text, screenshot: screenshot || null }));
} finally {
  await browser.close();  // playwright-core made a fresh profile and removes it
}
