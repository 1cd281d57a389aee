import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LiveBlock } from './watch.js';

function terminal(columns: number): { stream: PassThrough & { columns: number }; written: () => string } {
  const stream = Object.assign(new PassThrough(), { columns });
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString()));
  return { stream, written: () => chunks.join('') };
}

describe('LiveBlock', () => {
  it('redraws in place: cursor up by the lines drawn, clear below, then the new block', () => {
    const { stream, written } = terminal(80);
    const block = new LiveBlock(stream);
    block.draw(['phase: baking', 'nodes: 3']);
    expect(written()).toBe('phase: baking\nnodes: 3\n');
    block.draw(['phase: judging', 'nodes: 3', 'verdict: pass']);
    // ESC[2A (up two lines), ESC[1G (column 1), ESC[0J (clear to the end of the screen).
    expect(written()).toBe('phase: baking\nnodes: 3\n\u001b[2A\u001b[1G\u001b[0Jphase: judging\nnodes: 3\nverdict: pass\n');
    block.draw(['done']);
    expect(written().endsWith('\u001b[3A\u001b[1G\u001b[0Jdone\n')).toBe(true);
  });

  it('cuts lines to the terminal width so wrapping cannot break the count', () => {
    const { stream, written } = terminal(10);
    new LiveBlock(stream).draw(['0123456789abcdef']);
    expect(written()).toBe('01234567…\n');
  });
});
