import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PressureFeeder } from './pressure.feeder.js';
import { parsePsi, pressureCellValue } from './psi.js';

const SAMPLE = 'some avg10=20.51 avg60=3.00 avg300=0.25 total=123456\nfull avg10=1.00 avg60=0.50 avg300=0.00 total=789\n';

describe('PSI', () => {
  it('parses both lines', () => {
    expect(parsePsi(SAMPLE, 'x')).toEqual({
      some: { avg10: 20.51, avg60: 3, avg300: 0.25, total: 123456 },
      full: { avg10: 1, avg60: 0.5, avg300: 0, total: 789 },
    });
  });

  it('the pressure cell is some avg10 in hundredths of a percent (20.00 % = 2000)', () => {
    expect(pressureCellValue(parsePsi('some avg10=20.00 avg60=0 avg300=0 total=0\n', 'x'))).toBe(2000);
    expect(pressureCellValue(parsePsi(SAMPLE, 'x'))).toBe(2051);
    expect(pressureCellValue(parsePsi('some avg10=100.00 avg60=0 avg300=0 total=0\n', 'x'))).toBe(10000);
  });

  it('names the file and line of garbage', () => {
    expect(() => parsePsi('some avg10=x avg60=0 avg300=0 total=0', '/proc/pressure/memory')).toThrow('/proc/pressure/memory:1: "avg10=x" is not name=value');
    expect(() => parsePsi('some avg10=1 total=0', 'f')).toThrow('f:1: expected avg10, avg60, avg300 and total');
    expect(() => parsePsi('half avg10=1 avg60=0 avg300=0 total=0', 'f')).toThrow('unknown PSI line "half"');
    expect(() => parsePsi('', 'f')).toThrow('no "some" line');
  });

  it('reads the real /proc/pressure/memory when the kernel has PSI', () => {
    let text: string;
    try {
      text = readFileSync('/proc/pressure/memory', 'utf8');
    } catch (error) {
      process.stderr.write(`[psi] real /proc/pressure/memory not checked: ${(error as Error).message}\n`);
      return;
    }
    const psi = parsePsi(text, '/proc/pressure/memory');
    expect(psi.some.avg10).toBeGreaterThanOrEqual(0);
    expect(psi.full).toBeDefined();
  });
});

describe('PressureFeeder', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes the node cell each tick (only on change) and keeps per-cgroup PSI', () => {
    dir = mkdtempSync(join(tmpdir(), 'thp-psi-'));
    mkdirSync(join(dir, 'proc/pressure'), { recursive: true });
    mkdirSync(join(dir, 'cg/app'), { recursive: true });
    writeFileSync(join(dir, 'proc/pressure/memory'), SAMPLE);
    writeFileSync(join(dir, 'cg/app/memory.pressure'), 'some avg10=5.00 avg60=1.00 avg300=0.00 total=10\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n');
    const cells: number[] = [];
    const cgroups = [
      { id: 7, path: '/app', parentId: 1 },
      { id: 8, path: '/gone', parentId: 1 },
    ];
    const feeder = new PressureFeeder({ procRoot: join(dir, 'proc'), cgroupRoot: join(dir, 'cg'), intervalMs: 1000, sink: (v) => cells.push(v), cgroups: () => cgroups });
    feeder.tick();
    feeder.tick();
    expect(cells).toEqual([2051]);
    expect(feeder.cgroupPsi(7)?.some.avg10).toBe(5);
    expect(feeder.cgroupPsi(8)).toBeUndefined();
    writeFileSync(join(dir, 'proc/pressure/memory'), 'some avg10=0.50 avg60=0 avg300=0 total=0\nfull avg10=0 avg60=0 avg300=0 total=0\n');
    feeder.tick();
    expect(cells).toEqual([2051, 50]);
  });

  it('without PSI the cell is 0 and the reason is kept', () => {
    dir = mkdtempSync(join(tmpdir(), 'thp-psi-'));
    const cells: number[] = [];
    const logs: string[] = [];
    const feeder = new PressureFeeder({ procRoot: dir, cgroupRoot: undefined, intervalMs: 1000, sink: (v) => cells.push(v), cgroups: () => [], log: (m) => logs.push(m) });
    feeder.tick();
    feeder.tick();
    expect(cells).toEqual([0]);
    expect(feeder.unavailable()).toMatch(/pressure\/memory/);
    expect(logs).toHaveLength(1);
  });
});
