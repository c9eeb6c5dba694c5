import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon, waitFor } from '../helpers/hull.js';

/**
 * The dashboard as a person uses it: Debian's chromium, headless, driven by
 * playwright-core against a real daemon; containers made from the CLI show up
 * live, actions and the run form change real containers, and a shell works in
 * the page's terminal.
 */
let d: TestDaemon;
let browser: Browser;
let page: Page;
let loginUrl: string;
const pageErrors: string[] = [];

beforeAll(async () => {
  d = await TestDaemon.start(['--dashboard', '127.0.0.1:0']);
  loginUrl = (await d.ok(['dashboard'])).trim();
  await d.ok(['run', '-d', '--name', 'b-web1', 'busybox', 'sleep', '600']);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await d?.destroy();
});

const hook = (id: string) => page.locator(`[data-testid="${id}"]`);

describe('dashboard in a browser', () => {
  it('without the sign-in link it says how to sign in, and shows nothing', async () => {
    const other = await browser.newPage();
    await other.goto(new URL('/', loginUrl).href);
    expect(await other.textContent('body')).toMatch(/Not signed in.*hull dashboard/s);
    await other.close();
  });

  it('signs in with the link, lists containers, and shows one made from the CLI without a reload', async () => {
    await page.goto(loginUrl);
    await expect.poll(() => hook('version').textContent()).toMatch(/Hull/);
    // The token is kept in the page's own storage, out of the address bar, and never in a cookie (cookies go to every port of a host).
    expect(page.url()).not.toContain('token');
    expect(await page.context().cookies()).toEqual([]);
    await hook('nav-containers').click();
    await hook('row-b-web1').waitFor();
    expect(await hook('row-b-web1').locator('[data-testid="status"]').textContent()).toMatch(/running/i);
    await hook('live').and(page.locator('[data-live="1"]')).waitFor();
    await d.ok(['run', '-d', '--name', 'b-web2', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done']);
    await hook('row-b-web2').waitFor({ timeout: 10_000 });
  });

  it('a shell in the page: typed commands run in the container and their output shows in the terminal', async () => {
    await hook('row-b-web2').locator('[data-testid="link"]').click();
    await hook('page-container-detail').waitFor();
    await hook('open-shell').click();
    await hook('terminal').locator('.xterm-rows').waitFor();
    await page.waitForTimeout(500);
    await hook('terminal').click();
    await page.keyboard.type('echo hi-$((6*7)) > /tmp/f; cat /tmp/f\n');
    await expect.poll(() => hook('terminal').locator('.xterm-rows').textContent(), { timeout: 10_000 }).toMatch(/hi-42/);
    expect((await d.ok(['exec', 'b-web2', 'cat', '/tmp/f'])).trim()).toBe('hi-42');
  });

  it('stop from the page stops the container, as the CLI sees it', async () => {
    page.once('dialog', (dlg) => void dlg.accept());
    await hook('action-stop').first().click();
    await waitFor(async () => (await d.state('b-web2', 'Status')) === 'exited', 20_000);
    await expect.poll(() => hook('fact-state').textContent(), { timeout: 10_000 }).toMatch(/exited/i);
  });

  it('a container the user stopped is grey, also when killed at the stop timeout (137); one that failed on its own is red', async () => {
    await d.ok(['run', '-d', '--name', 'b-stopped', 'busybox', 'sleep', '600']); // pid 1 ignores SIGTERM: stop kills it
    await d.ok(['stop', '-t', '1', 'b-stopped']);
    await d.hull(['run', '--name', 'b-failed', 'busybox', 'sh', '-c', 'exit 3']);
    await hook('nav-containers').click();
    const status = (name: string) => hook(`row-${name}`).locator('[data-testid="status"] > span');
    await expect.poll(() => status('b-stopped').textContent(), { timeout: 10_000 }).toBe('exited (137)');
    expect(await status('b-stopped').getAttribute('class')).toContain('st-exited');
    await expect.poll(() => status('b-failed').textContent(), { timeout: 10_000 }).toBe('exited (3)');
    expect(await status('b-failed').getAttribute('class')).toContain('st-failed');
    await hook('row-b-stopped').locator('[data-testid="link"]').click();
    await expect.poll(() => page.locator('.page-head .st').getAttribute('class')).toContain('st-exited');
  });

  it('the run form starts a container; its logs show in the page', async () => {
    await hook('nav-containers').click();
    await hook('run-image').fill('busybox');
    await hook('run-name').fill('b-web3');
    await hook('run-cmd').fill('sh -c "echo from-b-web3; sleep 600"');
    await hook('run-submit').click();
    await waitFor(async () => (await d.hull(['inspect', '-f', '{{.State.Status}}', 'b-web3'])).stdout.trim() === 'running', 20_000);
    await hook('row-b-web3').locator('[data-testid="link"]').click();
    await expect.poll(() => hook('logs').textContent(), { timeout: 10_000 }).toMatch(/from-b-web3/);
  });

  it('the nodes page lists this host\'s node; a label added there is what hull node inspect sees, and × removes it', async () => {
    const id = (await d.ok(['node', 'ls', '-q'])).trim();
    const [node] = JSON.parse(await d.ok(['node', 'inspect', id])) as Array<{ name: string; labels: Record<string, string> }>;
    await hook('nav-nodes').click();
    const row = hook(`row-${node.name}`);
    await row.waitFor();
    expect(await row.locator('[data-testid="status"]').textContent()).toBe('ready');
    expect(await row.locator('[data-testid="availability"]').inputValue()).toBe('active');
    await row.locator('[data-testid="label-add"]').fill('disk=ssd');
    await row.locator('[data-testid="label-add-submit"]').click();
    await row.locator('[data-testid="label-rm-disk"]').waitFor();
    expect(JSON.parse(await d.ok(['node', 'inspect', node.name]))[0].labels).toEqual({ ...node.labels, disk: 'ssd' });
    await row.locator('[data-testid="label-rm-disk"]').click();
    await row.locator('[data-testid="label-rm-disk"]').waitFor({ state: 'detached' });
    expect(JSON.parse(await d.ok(['node', 'inspect', node.name]))[0].labels).toEqual(node.labels);
  });

  it('the availability select applies at once; drain asks first, and a refusal changes nothing', async () => {
    const id = (await d.ok(['node', 'ls', '-q'])).trim();
    const avail = async () => (await d.ok(['node', 'inspect', '-f', '{{.availability}}', id])).trim();
    const select = page.locator('[data-testid="nodes-table"] [data-testid="availability"]');
    await select.selectOption('pause');
    await waitFor(async () => (await avail()) === 'pause');
    page.removeAllListeners('dialog'); // an earlier test's once() may still wait (stop asks nothing)
    page.once('dialog', (dlg) => void dlg.dismiss());
    await select.selectOption('drain');
    await expect.poll(() => select.inputValue()).toBe('pause');
    expect(await avail()).toBe('pause');
    await select.selectOption('active');
    await waitFor(async () => (await avail()) === 'active');
  });

  it('applies a Compose file from the Services page: Diff says what would change and changes nothing, Apply makes the service, its replica runs', async () => {
    await hook('nav-services').click();
    await hook('apply-yaml').fill('name: bapp\nservices:\n  bsvc:\n    image: busybox\n    command: [sleep, "600"]\n    stop_grace_period: 0s\n    deploy:\n      replicas: 1\n');
    await hook('apply-diff').click();
    await expect.poll(() => hook('apply-change').first().getAttribute('data-change')).toBe('create');
    expect(await hook('apply-result').textContent()).toMatch(/service bsvc would be created/);
    expect((await d.hull(['service', 'inspect', 'bsvc'])).code).not.toBe(0);
    await hook('apply-submit').click();
    await hook('row-bsvc').waitFor({ timeout: 10_000 });
    await waitFor(async () => (JSON.parse(await d.ok(['service', 'ps', 'bsvc', '--format', 'json'])) as Array<{ state: string }>).some((r) => r.state === 'running'), 20_000);
    await expect.poll(() => hook('row-bsvc').locator('[data-testid="replicas"]').textContent(), { timeout: 10_000 }).toBe('1 / 1');
    await d.ok(['service', 'rm', 'bsvc']); // sleep ignores SIGTERM as pid 1: the grace period of 0 s keeps this quick
    await hook('row-bsvc').waitFor({ state: 'detached', timeout: 10_000 });
  });

  it('a Compose file the daemon refuses: the banner names its line and field, and nothing is made', async () => {
    await hook('apply-yaml').fill('name: bapp\nservices:\n  bbad:\n    image: busybox\n    replicas: 1\n');
    await hook('apply-submit').click();
    await hook('error').and(page.locator(':not([hidden])')).waitFor();
    expect(await hook('error').textContent()).toMatch(/compose\.yaml.*5.*services\.bbad\.replicas.*unknown field/s);
    expect((await d.hull(['service', 'inspect', 'bbad'])).code).not.toBe(0);
    // The refusal's 400 is the one console error expected on the way.
    await expect.poll(() => pageErrors.findIndex((e) => /status of 400/.test(e))).toBeGreaterThanOrEqual(0);
    pageErrors.splice(pageErrors.findIndex((e) => /status of 400/.test(e)), 1);
  });

  it('nothing on the way failed in the page (script errors, CSP refusals)', () => {
    expect(pageErrors).toEqual([]);
  });
});
