/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return -- REST bodies are untyped JSON checked with expect() */
/**
 * Issue 8, "Must be shown": the dashboard in real Chromium (Debian's /usr/bin/chromium through
 * playwright-core, headless) against the real controller process serving the built dashboard
 * (THP_DASHBOARD_DIR) on the real Postgres, with one real agent process hosting a dozen
 * simulated nodes. Only public surfaces: the browser, REST for setup and cross-checks,
 * processes. An operator signs in with a token, writes a policy version (and sees a validation
 * error on the right line first), starts a rollout, watches it progress live, reads the canary
 * verdict and rolls back; a viewer token sees no mutating action anywhere. Screenshots go to
 * test-artifacts/dashboard/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '@thp-fleet/testing';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, ensureDashboardBuilt } from './dashboard.build.js';
import {
  EXAMPLE_POLICY,
  Rest,
  STANDARD_GATES,
  freePort,
  newSecrets,
  startController,
  startSimFleet,
  waitFor,
  type AgentFleet,
  type ControllerProcess,
  type Secrets,
} from './rollout.harness.js';

const FLEET_SIZE = 12;
const TIME_SCALE = 60;
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts/dashboard');
const CHROMIUM = process.env['THP_CHROMIUM'] ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/**
 * The fleet runs this long before the rollout starts, so the judge's pre-window (the last 15 s,
 * plan.judging.lookback) holds steady state: the first ~20 simulated minutes after boot are the
 * workloads loading their data, which made the latency gate's per-node normalization noisy
 * enough to leave a canary without a verdict within the judging timeout.
 */
const WARM_UP_MS = 35_000;

/** Canary first (one node asked for; the strata add the rest), then the whole fleet; short bakes. */
const PLAN = {
  steps: [
    { name: 'canary', select: { count: 1 }, bake: '5s' },
    { name: 'fleet', select: { percent: 100 }, bake: '2s' },
  ],
  gates: STANDARD_GATES,
  judging: { interval: '2s', timeout: '90s', onInconclusive: 'pause', lookback: '15s' },
};

const TERMINAL = ['completed', 'failed', 'rolled_back', 'aborted'];

/** Wait for the page to show something: pages update from fetches and events, not at once. */
const poll = <T>(probe: () => Promise<T> | T) => expect.poll(probe, { timeout: 15_000, interval: 100 });

describe('the dashboard in Chromium against a controller and a simulated fleet', () => {
  let db: TestDatabase;
  let secrets: Secrets;
  let controller: ControllerProcess;
  let fleet: AgentFleet;
  let rest: Rest;
  let browser: Browser;
  let viewerToken: string;
  let warmSince: number;
  let rolloutId: string;
  let rollbackId: string;
  const pageErrors: string[] = [];

  const newPage = async (): Promise<Page> => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    return page;
  };
  const shot = (page: Page, name: string): Promise<Buffer> => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const signIn = async (page: Page, token: string): Promise<void> => {
    await page.goto(`${controller.httpUrl}/`);
    await page.fill('[data-testid=token-input]', token);
    await page.click('[data-testid=sign-in]');
    await page.waitForSelector('[data-testid=who]');
  };
  const go = async (page: Page, hash: string): Promise<void> => {
    // Page code is given as text: these tests are compiled without the DOM library.
    await page.evaluate(`window.location.hash = ${JSON.stringify(hash)}`);
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const dist = ensureDashboardBuilt();
    db = await createTestDatabase('dashboard-e2e');
    secrets = newSecrets();
    const grpcPort = await freePort();
    controller = await startController({ db, secrets, grpcPort, env: { THP_DASHBOARD_DIR: dist } });
    rest = new Rest(controller.httpUrl, secrets.adminToken);
    fleet = startSimFleet({ grpcAddress: controller.grpcAddress, secrets, nodes: FLEET_SIZE, timeScale: TIME_SCALE });
    await waitFor('the simulated fleet to connect', async () => (await rest.nodes()).filter((n) => n.connected).length === FLEET_SIZE, 90_000);
    warmSince = Date.now();
    await rest.createPolicy(EXAMPLE_POLICY('zgc-only'));
    const token = await rest.post('/api/v1/tokens', { name: 'dashboard viewer', role: 'viewer' });
    expect(token.status).toBe(201);
    viewerToken = token.body.token as string;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await fleet?.stop('SIGTERM');
    await controller?.stop('SIGTERM');
    await db?.drop();
  });

  it('refuses a bad token, then signs an operator in and shows the fleet by state, filterable by strata', async () => {
    const page = await newPage();
    await page.goto(`${controller.httpUrl}/`);
    await page.fill('[data-testid=token-input]', 'thp_not-a-real-token-0123456789abcdefghij');
    await page.click('[data-testid=sign-in]');
    await poll(() => page.textContent('.sign-in [role=alert]')).toMatch(/does not accept this token/);

    await page.fill('[data-testid=token-input]', secrets.adminToken);
    await page.click('[data-testid=sign-in]');
    await page.waitForSelector('[data-testid=fleet-table] tbody tr');
    expect(await page.getAttribute('[data-testid=who]', 'data-role')).toBe('admin');
    await poll(() => page.locator('[data-testid=fleet-table] tbody tr').count()).toBe(FLEET_SIZE);
    // The cards count every node once.
    const counts = await page.$$eval('[data-testid=state-cards] .state-card:not(.node-level)', (cards) => cards.map((c) => Number(c.getAttribute('data-count'))));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(FLEET_SIZE);
    expect(await page.getAttribute('[data-testid=count-unassigned]', 'data-count')).toBe(String(FLEET_SIZE));
    await poll(() => page.textContent('[data-testid=live-status]')).toContain('live');

    // A stratum chip filters to the nodes carrying that label (the simulated fleet's kernels).
    const nodes = await rest.nodes();
    const v7 = nodes.filter((n) => n.labels.kernel === '6.17-bpf-thp-v7').map((n) => n.id as string).sort();
    expect(v7.length).toBeGreaterThan(0);
    await page.click('[data-testid="stratum-kernel-6.17-bpf-thp-v7"]');
    await poll(async () => (await page.$$eval('[data-testid=fleet-table] tbody tr', (rows) => rows.map((r) => r.getAttribute('data-node')))).sort()).toEqual(v7);
    expect(page.url()).toContain('strata=kernel%3D6.17-bpf-thp-v7');
    // The label filter narrows further; a bad term is named.
    await page.fill('[data-testid=labels-filter]', 'zone=zone-a');
    const v7a = nodes.filter((n) => n.labels.kernel === '6.17-bpf-thp-v7' && n.labels.zone === 'zone-a').map((n) => n.id as string).sort();
    await poll(async () => (await page.$$eval('[data-testid=fleet-table] tbody tr', (rows) => rows.map((r) => r.getAttribute('data-node')))).sort()).toEqual(v7a);
    await page.fill('[data-testid=labels-filter]', 'zone=zone-a,,');
    await poll(() => page.textContent('.filters .problem')).toContain('term 2');
    await shot(page, '01-fleet-filtered');

    // The node page: capabilities and live charts from the node's metric samples.
    const id = v7[0]!;
    await go(page, `#/nodes/${id}`);
    await poll(() => page.textContent('[data-testid=hook]')).toContain('bpf_thp_ops v7');
    await page.waitForSelector('[data-testid=chart-psi] canvas', { timeout: 30_000 });
    // The charts refetch every few seconds while the node reports.
    await expect.poll(async () => Number(await page.getAttribute('[data-testid=chart-psi]', 'data-points')), { timeout: 30_000 }).toBeGreaterThan(5);
    await shot(page, '02-node');
    await page.context().close();
  }, 120_000);

  it('creates a policy version: a validation error points at its line, then the fixed version is written with its message', async () => {
    const page = await newPage();
    await signIn(page, secrets.adminToken);
    await go(page, '#/policies/zgc-only');
    await page.click('[data-testid=new-version]');
    await page.waitForSelector('[data-testid=policy-text]');
    const source = await page.inputValue('[data-testid=policy-text]');
    expect(source).toContain('maxPtesNone: 64');

    const broken = source.replace('maxPtesNone: 64', 'maxPtesNone: 9999');
    const badLine = broken.split('\n').findIndex((l) => l.includes('maxPtesNone: 9999')) + 1;
    await page.fill('[data-testid=policy-text]', broken);
    const issue = page.locator('[data-testid=editor-issues] li[data-path="spec.node.khugepaged.maxPtesNone"]');
    await issue.waitFor();
    expect(await issue.getAttribute('data-line')).toBe(String(badLine));
    expect(await issue.textContent()).toContain(`line ${badLine}`);
    expect(await issue.textContent()).toMatch(/out of range 0\.\.511/);
    // The gutter marks that line, and only that one.
    expect(await page.$$eval('[data-testid=gutter] .ln.error', (lines) => lines.map((l) => l.getAttribute('data-line')))).toEqual([String(badLine)]);
    expect(await page.isDisabled('[data-testid=create-version]')).toBe(true);
    await shot(page, '03-validation-error');

    const fixed = source.replace('maxPtesNone: 64', 'maxPtesNone: 32');
    await page.fill('[data-testid=policy-text]', fixed);
    await page.fill('[data-testid=version-message]', 'khugepaged collapses less eagerly');
    await poll(() => page.getAttribute('[data-testid=validation]', 'data-ok')).toBe('true');
    expect(await page.$$eval('[data-testid=gutter] .ln.error', (lines) => lines.length)).toBe(0);
    await page.click('[data-testid=create-version]');
    await page.waitForSelector('[data-testid=versions] tr[data-version="2"]');
    expect(page.url()).toContain('#/policies/zgc-only?v=2');
    const row = await page.textContent('[data-testid=versions] tr[data-version="2"]');
    expect(row).toContain('khugepaged collapses less eagerly');
    expect(row).toContain('token:bootstrap-admin');

    // The controller has it, written against v1 (If-Match), with the message.
    const stored = await rest.get('/api/v1/policies/zgc-only');
    expect(stored.body.versions.map((v: { version: number; message: string }) => [v.version, v.message]).sort()).toEqual([
      [1, ''],
      [2, 'khugepaged collapses less eagerly'],
    ]);

    // Side-by-side diff of v1 and v2, and the change in meaning.
    await page.click('[data-testid=compare-1]');
    await page.waitForSelector('[data-testid=side-by-side] tr.changed');
    expect(await page.textContent('[data-testid=side-by-side] tr.changed')).toMatch(/maxPtesNone: 64.*maxPtesNone: 32/);
    expect(await page.textContent('[data-testid=semantic-diff]')).toMatch(/maxPtesNone changed from 64 to 32/);
    await shot(page, '04-diff');
    await page.context().close();
  }, 120_000);

  it('starts a rollout, watches it progress live, and reads the canary verdict explained', async () => {
    const page = await newPage();
    await signIn(page, secrets.adminToken);
    // A second tab on the fleet page, to see the rollout there while it happens.
    const fleetPage = await newPage();
    await signIn(fleetPage, secrets.adminToken);
    await fleetPage.waitForSelector('[data-testid=fleet-table] tbody tr');
    await go(page, '#/rollouts/new?policy=zgc-only&version=2');
    await page.waitForSelector('[data-testid=rollout-plan]');
    expect(await page.inputValue('[data-testid=rollout-version]')).toBe('2');
    await page.fill('[data-testid=rollout-plan]', JSON.stringify(PLAN, null, 2));
    // The judge compares with where every series was before the rollout: let the fleet run first.
    const wait = warmSince + WARM_UP_MS - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await page.click('[data-testid=start]');
    await page.waitForSelector('[data-testid=confirm-dialog]');
    await page.click('[data-testid=confirm-ok]');
    await page.waitForSelector('[data-testid=rollout]');
    rolloutId = /#\/rollouts\/([a-z0-9-]+)/.exec(page.url())?.[1] ?? '';
    expect(rolloutId).toMatch(/^ro-/);

    // Watch without reloading: the page follows the controller through server-sent events.
    await page.waitForSelector('[data-testid=rollout][data-phase=baking]', { timeout: 90_000 });
    const phases = ['baking'];
    // Pause the canary's bake (asks for a reason), look around, resume.
    await page.click('[data-testid=action-pause]');
    await page.waitForSelector('[data-testid=confirm-dialog]');
    await page.click('[data-testid=confirm-ok]');
    expect(await page.textContent('[data-testid=confirm-dialog] [role=alert]')).toContain('is required');
    await page.fill('[data-testid=confirm-reason]', 'looking at the canary by hand');
    await page.click('[data-testid=confirm-ok]');
    await page.waitForSelector('[data-testid=rollout][data-phase=paused]');
    phases.push('paused');
    expect(await page.textContent('[data-testid=phase-text]')).toBe('paused at step 1 (canary) while baking: looking at the canary by hand');
    expect(await page.$$eval('[data-testid=actions] button', (buttons) => buttons.map((b) => b.getAttribute('data-mutating')))).toEqual(['resume', 'promote', 'abort']);
    await shot(page, '05-rollout-paused');
    // The fleet tab followed live: the canary nodes are in sync on v2, the rest still unassigned.
    await poll(() => fleetPage.getAttribute('[data-testid=count-in-sync]', 'data-count')).not.toBe('0');
    await shot(fleetPage, '05-fleet-during-rollout');
    await page.click('[data-testid=action-resume]');
    await page.click('[data-testid=confirm-ok]');
    const final = await waitFor(
      'the rollout to finish in the page',
      async () => {
        const phase = (await page.getAttribute('[data-testid=rollout]', 'data-phase')) ?? '';
        if (phases.at(-1) !== phase) phases.push(phase);
        // A pause the controller takes itself (judging timed out) ends the watch: it is a failure here.
        return TERMINAL.includes(phase) || (phase === 'paused' && phases.at(-2) !== 'baking') ? phase : undefined;
      },
      240_000,
      150,
    );
    expect(final, `phases seen: ${phases.join(' > ')}; ${await page.textContent('[data-testid=phase-text]')}`).toBe('completed');
    expect(phases.slice(0, 3), `phases seen: ${phases.join(' > ')}`).toEqual(['baking', 'paused', 'baking']);
    // Then at least the next step's assignment, seen live (judging can be over between two looks).
    expect(phases.slice(3), `phases seen: ${phases.join(' > ')}`).toContain('progressing');
    await shot(page, '06-rollout-completed');
    // The pause is in the audit log with its reason and who paused.
    const pauses = await rest.audit(`targetType=rollout&targetId=${rolloutId}&action=rollout.pause`);
    expect(pauses).toHaveLength(1);
    expect(pauses[0].actor).toMatch(/^token:bootstrap-admin/);
    expect(JSON.stringify(pauses[0].after)).toContain('looking at the canary by hand');

    // Progress by step: each step's cohort (the nodes it added) assigned and acknowledged.
    const detail = await rest.rollout(rolloutId);
    const cohorts = detail.steps.map((s: { cohort: string[] }) => s.cohort.length);
    expect(cohorts[0]).toBeGreaterThan(0);
    expect(cohorts[0] + cohorts[1]).toBe(FLEET_SIZE);
    for (const [i, n] of cohorts.entries()) await poll(() => page.textContent(`[data-testid=cohort-${i}]`)).toBe(`${n}/${n} assigned, ${n} acknowledged`);
    expect(await page.textContent('[data-testid=steps] tr[data-step="0"]')).toContain('1 node');
    expect(await page.textContent('[data-testid=steps] tr[data-step="1"]')).toContain('100 % of the targeted nodes');

    // The canary verdict, per gated metric: badge, statistics in words, a canary-vs-baseline chart.
    const judged = page.locator('[data-testid=judgments-0]');
    expect(await judged.getAttribute('data-verdict')).toBe('pass');
    const cards = judged.locator('.metric-card');
    expect(await cards.count()).toBe(STANDARD_GATES.length);
    for (let i = 0; i < STANDARD_GATES.length; i++) {
      const card = cards.nth(i);
      expect(await card.getAttribute('data-verdict')).toBe('pass');
      const words = (await card.locator('[data-testid=verdict-explanation]').textContent()) ?? '';
      expect(words).toMatch(/canary samples with \d+ baseline samples/);
      expect(words).toMatch(/With 90 % confidence the true change lies in/);
      expect(words).toMatch(/within the tolerance.*pass/);
      expect(words).toMatch(/Sequential test \(mixture SPRT\): z = /);
      expect(await card.locator('[data-testid=verdict-headline]').textContent()).toMatch(/tolerance \+\d+ %: pass$/);
      await card.locator('[data-testid=canary-chart] canvas').waitFor({ timeout: 30_000 });
      expect(Number(await card.locator('[data-testid=canary-chart]').getAttribute('data-points'))).toBeGreaterThan(5);
    }
    // What the page says is what the controller stored.
    const stored = detail.judgments.filter((j: { step: number }) => j.step === 0);
    const last = Math.max(...stored.map((j: { attempt: number }) => j.attempt));
    for (const j of stored.filter((x: { attempt: number }) => x.attempt === last)) {
      const text = await judged.locator(`.metric-card[data-metric="${j.metric as string}"] [data-testid=verdict-explanation]`).textContent();
      expect(text).toContain(`Compared ${j.nCanary as number} canary samples with ${j.nBaseline as number} baseline samples`);
    }
    await judged.scrollIntoViewIfNeeded();
    await shot(page, '06-rollout-verdict');

    // The fleet now runs v2 everywhere: the README's screenshot.
    await go(page, '#/fleet');
    await expect.poll(() => page.getAttribute('[data-testid=count-in-sync]', 'data-count'), { timeout: 30_000 }).toBe(String(FLEET_SIZE));
    await shot(page, '07-fleet-in-sync');
    await page.context().close();
    await fleetPage.context().close();
  }, 300_000);

  it('rolls back to v1 with a confirmation, and the fleet follows', async () => {
    const page = await newPage();
    await signIn(page, secrets.adminToken);
    await go(page, `#/rollouts/${rolloutId}`);
    await page.click('[data-testid=action-rollback]');
    await page.waitForSelector('[data-testid=rollback-dialog]');
    expect(await page.inputValue('[data-testid=rollback-version]')).toBe('1');
    await page.check('[data-testid=rollback-direct]');
    await shot(page, '08-rollback-confirm');
    await page.click('[data-testid=rollback-confirm]');
    await page.waitForFunction(`/#\\/rollouts\\/ro-/.test(window.location.hash) && !window.location.hash.includes(${JSON.stringify(rolloutId)})`);
    rollbackId = /#\/rollouts\/([a-z0-9-]+)/.exec(page.url())?.[1] ?? '';
    await page.waitForSelector('[data-testid=rollout]');
    expect(await page.textContent('h1')).toMatch(/Rollback of zgc-only v2 → v1/);
    await expect.poll(() => page.getAttribute('[data-testid=rollout]', 'data-phase'), { timeout: 120_000, interval: 250 }).toBe('completed');
    await shot(page, '09-rollback-done');

    // Every node acknowledged v1 again, as the fleet page shows and the API says.
    await go(page, '#/fleet');
    await expect
      .poll(async () => (await page.$$eval('[data-testid=fleet-table] tbody tr td:nth-child(5)', (cells) => cells.map((c) => c.textContent))).filter((t) => t === 'zgc-only@1').length, { timeout: 60_000 })
      .toBe(FLEET_SIZE);
    expect((await rest.nodes()).every((n) => n.acked?.policy === 'zgc-only' && n.acked?.version === 1)).toBe(true);
    const rollback = await rest.rollout(rollbackId);
    expect(rollback.rollout.kind).toBe('rollback');
    expect(rollback.rollout.createdBy).toMatch(/^token:bootstrap-admin/);
    await page.context().close();
  }, 200_000);

  it('shows the audit log with before/after and the chain verified', async () => {
    const page = await newPage();
    await signIn(page, secrets.adminToken);
    await go(page, `#/audit?targetType=rollout&targetId=${rolloutId}`);
    await poll(() => page.getAttribute('[data-testid=chain]', 'data-ok')).toBe('true');
    expect(await page.textContent('[data-testid=chain]')).toMatch(/Chain intact: all \d+ entries verified/);
    await page.waitForSelector('[data-testid=audit] tr[data-action="rollout.create"]');
    const actions = await page.$$eval('[data-testid=audit] tr[data-action]', (rows) => rows.map((r) => r.getAttribute('data-action')));
    expect(actions).toContain('rollout.judge_verdict');
    expect(new Set(actions.map((a) => a?.split('.')[0]))).toEqual(new Set(['rollout']));
    await page.click('[data-testid=audit] tr[data-action="rollout.judge_verdict"] button');
    await page.waitForSelector('[data-testid=before-after]');
    // Before and after, field by field: the phase moved on and the verdict was added.
    expect(await page.textContent('[data-testid=before-after] tr.changed[data-field=phase] td:nth-child(2)')).toBe('"judging"');
    expect(await page.textContent('[data-testid=before-after] tr.changed[data-field=verdict] td:nth-child(3)')).toMatch(/"verdict": "pass"/);
    await shot(page, '10-audit');
    await page.context().close();
  }, 60_000);

  it('a viewer token sees everything and no mutating action', async () => {
    const page = await newPage();
    await signIn(page, viewerToken);
    expect(await page.getAttribute('[data-testid=who]', 'data-role')).toBe('viewer');
    const pages: [string, string][] = [
      ['#/fleet', '[data-testid=fleet-table] tbody tr'],
      ['#/nodes/sim-001', '[data-testid=policy-stages]'],
      ['#/policies', '[data-testid=policies] tr[data-policy]'],
      ['#/policies/zgc-only', '[data-testid=versions] tr[data-version]'],
      ['#/rollouts', '[data-testid=rollouts] tr[data-rollout]'],
      [`#/rollouts/${rolloutId}`, '[data-testid=judgments-0]'],
      [`#/rollouts/${rollbackId}`, '[data-testid=steps]'],
      ['#/audit', '[data-testid=audit] tr[data-seq]'],
    ];
    for (const [hash, ready] of pages) {
      await go(page, hash);
      await page.waitForSelector(ready);
      expect(await page.$$eval('[data-mutating]', (els) => els.map((e) => e.getAttribute('data-mutating'))), hash).toEqual([]);
      expect(await page.locator('[data-testid=actions]').count(), hash).toBe(0);
    }
    await go(page, `#/rollouts/${rolloutId}`);
    await page.waitForSelector('[data-testid=judgments-0]');
    await shot(page, '11-viewer-rollout');
    // Typing the address of a form does not help either.
    await go(page, '#/policies/zgc-only/edit');
    await poll(() => page.textContent('main')).toContain('needs the operator role; this token is viewer');
    await go(page, '#/rollouts/new');
    await poll(() => page.textContent('main')).toContain('needs the operator role; this token is viewer');
    // And the controller would refuse anyway (the page only hides what the role cannot do).
    const asViewer = new Rest(controller.httpUrl, viewerToken);
    expect((await asViewer.post(`/api/v1/rollouts/${rolloutId}/pause`, { reason: 'x' })).status).toBe(403);

    await page.click('[data-testid=sign-out]');
    await page.waitForSelector('[data-testid=token-input]');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await page.context().close();
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
