import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CgroupGlobSet, ancestorsAndSelf, cgroupGlobProblems, cgroupPathProblem, literalPrefix } from './glob.js';
import { cgroupPathArb, globArb, oracleSelects } from './policy.test-util.js';
import { orderToKb, orderToSizeName, parseThpSize } from './sizes.js';

describe('cgroup globs', () => {
  it('`*` stays within a segment, `**` spans any depth, and a match covers the subtree', () => {
    const zgc = new CgroupGlobSet(['/workloads.slice/zgc-*']);
    expect(zgc.selects('/workloads.slice/zgc-jvm')).toBe(true);
    expect(zgc.selects('/workloads.slice/zgc-jvm/worker/0')).toBe(true); // subtree
    expect(zgc.selects('/workloads.slice/kv-store')).toBe(false);
    expect(zgc.selects('/workloads.slice')).toBe(false);
    expect(zgc.selects('/other.slice/zgc-jvm')).toBe(false);
    const deep = new CgroupGlobSet(['/kubepods.slice/**/zgc-*']);
    expect(deep.selects('/kubepods.slice/zgc-a')).toBe(true); // ** = zero segments
    expect(deep.selects('/kubepods.slice/burstable/pod1/zgc-a')).toBe(true);
    expect(deep.selects('/kubepods.slice/burstable/pod1')).toBe(false);
    const everything = new CgroupGlobSet(['/**']);
    expect(everything.selectsRoot('/')).toBe(true);
    expect(everything.selects('/a/b/c')).toBe(true);
    // `/a/**` selects `/a` itself (unlike plain minimatch), so it is the same as `/a`.
    expect(new CgroupGlobSet(['/a/**']).selectsRoot('/a')).toBe(true);
    expect(new CgroupGlobSet(['/a/{b,c}']).selects('/a/c/d')).toBe(true);
    expect(new CgroupGlobSet(['/a/*']).selects('/a/.hidden')).toBe(true);
    expect(new CgroupGlobSet(['/a/+(b)']).selectsRoot('/a/+(b)')).toBe(true); // no extglobs: literal
  });

  it('property: CgroupGlobSet agrees with an independent regex oracle', () => {
    fc.assert(
      fc.property(fc.array(globArb, { minLength: 1, maxLength: 3 }), cgroupPathArb, (globs, path) => {
        for (const g of globs) expect(cgroupGlobProblems(g)).toEqual([]);
        expect(new CgroupGlobSet(globs).selects(path)).toBe(oracleSelects(globs, path));
      }),
      { numRuns: 5000 },
    );
  });

  it('literal prefixes and ancestors', () => {
    expect(literalPrefix('/a/b/zgc-*/c')).toBe('/a/b');
    expect(literalPrefix('/**')).toBe('/');
    expect(literalPrefix('/a/b')).toBe('/a/b');
    expect(literalPrefix('/a/{b,c}')).toBe('/a');
    expect(ancestorsAndSelf('/a/b')).toEqual(['/', '/a', '/a/b']);
    expect(ancestorsAndSelf('/')).toEqual(['/']);
  });

  it('property: everything a glob selects lies under its literal prefix', () => {
    fc.assert(
      fc.property(globArb, cgroupPathArb, (glob, path) => {
        const prefix = literalPrefix(glob);
        if (new CgroupGlobSet([glob]).selectsRoot(path)) {
          expect(prefix === '/' || path === prefix || path.startsWith(`${prefix}/`)).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('rejects too many brace alternatives and control characters', () => {
    expect(cgroupGlobProblems('/{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}')).toEqual([
      'cgroup glob "/{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}" expands to more than 64 alternatives',
    ]);
    expect(cgroupGlobProblems('/a\nb')).toEqual(['cgroup glob contains a control character']);
    expect(cgroupGlobProblems('')).toEqual(['cgroup glob is empty']);
    expect(cgroupGlobProblems('/')).toEqual([]);
    expect(cgroupGlobProblems('/a/[!b]c/\\*')).toEqual([]);
  });

  it('cgroup paths', () => {
    expect(cgroupPathProblem('/')).toBeUndefined();
    expect(cgroupPathProblem('/workloads.slice/zgc-jvm')).toBeUndefined();
    expect(cgroupPathProblem('/a/')).toBe(`cgroup path "/a/" must not end with '/'`);
    expect(cgroupPathProblem('a')).toMatch(/must be absolute/);
  });
});

describe('THP sizes', () => {
  it('parses every spelling of every anonymous THP size (kernel-interface.md 5.1)', () => {
    for (let order = 2; order <= 9; order++) {
      const kb = orderToKb(order);
      for (const s of [`${kb}kB`, `${kb}K`, `${kb}KB`, `${kb}KiB`, `${kb}k`, orderToSizeName(order)]) {
        expect(parseThpSize(s)).toEqual({ ok: true, order });
      }
    }
    expect(parseThpSize('2M')).toEqual({ ok: true, order: 9 });
    expect(parseThpSize('1MiB')).toEqual({ ok: true, order: 8 });
    expect(orderToSizeName(9)).toBe('2048kB');
    expect(orderToSizeName(2)).toBe('16kB');
  });

  it('rejects non-THP sizes with the reason', () => {
    expect(parseThpSize('4K')).toEqual({ ok: false, message: '4K is order 0; anonymous THP sizes are 16K (order 2) to 2M (order 9)' });
    expect(parseThpSize('1G')).toEqual({ ok: false, message: '1G is order 18 and exceeds PMD order 9 (2M)' });
    expect(parseThpSize('0K').ok).toBe(false);
    expect(parseThpSize('96K').ok).toBe(false);
    expect(parseThpSize('1234567890K').ok).toBe(false);
  });
});
