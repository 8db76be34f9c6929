// flow.mjs — the web app's user flow in Debian's firefox-esr, driven over WebDriver BiDi by
// puppeteer-core (no geckodriver, no browser download). Run by tests/e2e/test_web_firefox.py,
// which starts server-lite and a real agent and passes the ids here:
//   BASE KEY SECRET WORKER RUN_TASK (enqueued, prints ff-line-1..8) ABORT_TASK (running)
//   SHOTS (screenshot folder)
// Prints one "ok <step>" line per step; any failed step throws (exit 1) after a screenshot.
// Predicates return booleans: a DOM node does not cross the BiDi boundary as a value.
import puppeteer from 'puppeteer-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} not set`); return v; };
const BASE = env('BASE'), SHOTS = env('SHOTS');
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-profile-'));
const browser = await puppeteer.launch({
  browser: 'firefox', executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr',
  headless: true, userDataDir: profile,
  // nothing reaches out: no updates, telemetry or remote settings
  extraPrefsFirefox: { 'app.update.enabled': false, 'datareporting.policy.dataSubmissionEnabled': false,
    'toolkit.telemetry.enabled': false, 'services.settings.server': 'http://127.0.0.1:9/',
    'network.captive-portal-service.enabled': false, 'browser.safebrowsing.malware.enabled': false,
    'browser.safebrowsing.phishing.enabled': false },
});
const page = await browser.newPage();
await page.setViewport({ width: 1440, height: 900 });
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));
page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });

const shot = (name) => page.screenshot({ path: path.join(SHOTS, `firefox-${name}.png`) });
async function waitFor(what, fn, timeoutMs = 30000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    let v = null;
    try { v = await page.evaluate(fn); } catch { v = null; }
    if (v) return v;
    if (Date.now() > end) { await shot(`timeout-${what.replace(/\W+/g, '-')}`); throw new Error(`timed out: ${what}`); }
    await new Promise((r) => setTimeout(r, 150));
  }
}
const step = (s) => console.log(`ok ${s}`);

try {
  // sign in
  await page.goto(`${BASE}/ui/`);
  await page.waitForSelector('#access_key');
  await page.type('#access_key', env('KEY'));
  await page.type('#secret_key', env('SECRET'));
  await page.click('#signin');
  await waitFor('signed in', () => !!document.querySelector('#signout'));
  await shot('01-signed-in');
  step('sign-in');

  // Workers & Queues: the real agent with a CPU chart that has points
  const worker = env('WORKER');
  await page.goto(`${BASE}/ui/workers`);
  await waitFor('the agent row', `!!document.querySelector('tr[data-worker="${worker}"]')`);
  await waitFor('a CPU chart with points', () => {
    const c = document.querySelector('#worker-stats [data-chart="CPU usage"]');
    return !!c && Number(c.dataset.points || 0) > 0 && !!c.querySelector('canvas');
  });
  await shot('02-workers-queues');
  step('workers-chart');

  // a task's console, live, then its status history from the server
  const run = env('RUN_TASK');
  await page.goto(`${BASE}/ui/tasks/${run}/output/log`);
  await waitFor('the live console', () => (document.querySelector('#console-log') || {}).textContent?.includes('ff-line-3'), 60000);
  await waitFor('the whole log', () => (document.querySelector('#console-log') || {}).textContent?.includes('ff-line-8'), 60000);
  await shot('03-task-console');
  await page.click('#tab-info');
  await waitFor('status history through completed', () => {
    const rows = [...document.querySelectorAll('#status-history tr[data-to]')].map((e) => e.dataset.to);
    const folded = rows.filter((s, i) => i === 0 || rows[i - 1] !== s);
    return folded.join(',') === 'created,queued,in_progress,completed';
  }, 60000);
  await shot('04-task-info');
  step('console-and-history');

  // abort a running task, with the confirmation dialog
  const abort = env('ABORT_TASK');
  await page.goto(`${BASE}/ui/tasks/${abort}`);
  await waitFor('running shown', () => document.querySelector('#task-header [data-status]')?.textContent === 'in_progress', 60000);
  await page.click('#btn-abort');
  await page.waitForSelector('dialog [data-role=ok]');
  await shot('05-abort-confirm');
  await page.click('dialog [data-role=ok]');
  await waitFor('stopped shown', () => document.querySelector('#task-header [data-status]')?.textContent === 'stopped', 60000);
  await shot('06-aborted');
  step('abort');

  const shown = await page.evaluate(() => [...document.querySelectorAll('#errors .error')].map((e) => e.textContent));
  if (shown.length) throw new Error(`errors shown: ${shown.join(' | ')}`);
  if (pageErrors.length) throw new Error(`page errors: ${pageErrors.join(' | ')}`);
  step('no-errors');
} catch (e) {
  await shot('failed').catch(() => {});
  console.error(String(e && e.stack || e));
  process.exitCode = 1;
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
