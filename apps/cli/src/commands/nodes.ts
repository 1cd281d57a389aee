/** `thpctl nodes list`. */
import { Option, type Command } from 'commander';
import type { NodeList, NodeView } from '../api-types.js';
import { labelSelector, nodeStates, NODE_STATES } from '../args.js';
import type { Session } from '../session.js';
import { ago, policyRef, renderTable } from '../table.js';

/** The API pages nodes 1,000 at a time by default; thpctl follows `next` to the end. */
const PAGE = 1000;

export function registerNodes(program: Command, session: () => Session): void {
  const nodes = program.command('nodes').description('The fleet: each node with its desired, acknowledged and observed policy and its state');

  nodes
    .command('list')
    .description('Nodes with state and drift')
    .addOption(new Option('-l, --labels <k=v,...>', 'only nodes with all these labels').argParser(labelSelector))
    .addOption(new Option('--state <states>', `only nodes in these states (comma-separated: ${NODE_STATES.join(', ')})`).argParser(nodeStates))
    .option('--show-labels', 'add a column with each node\u2019s labels')
    .addHelpText(
      'after',
      `
States: in-sync (runs what it should), drifted (reports something else), pending (not yet
acknowledged), nacked (rejected its version), stale (silent), incompatible (cannot enforce the
policy), unassigned (no policy).`,
    )
    .action(async (flags: { labels?: string; state?: string; showLabels?: boolean }) => {
      const s = session();
      const client = await s.client();
      const all: NodeView[] = [];
      let after: string | undefined;
      let total = 0;
      do {
        const page = (await client.get<NodeList>('/api/v1/nodes', { labels: flags.labels, state: flags.state, limit: PAGE, after })).body;
        all.push(...page.nodes);
        total = page.total;
        after = page.next ?? undefined;
      } while (after !== undefined);
      const now = s.io.now();
      s.output({ nodes: all, total }, () => renderNodes(all, now, flags.showLabels === true));
    });
}

/** What is off about a node, in a few words: drift, why it is incompatible, its NACK. */
export function nodeDetail(node: NodeView): string {
  if (node.state === 'nacked' && node.lastNack) return `NACK ${node.lastNack.policy}@${node.lastNack.version} (${node.lastNack.stage}): ${node.lastNack.message}`;
  if (node.state === 'incompatible' && node.incompatibility) return node.incompatibility;
  if (node.drift.length > 0) return node.drift.join('; ');
  return '';
}

/** What the node reports it runs, with its enforcement mode (`zgc-only@2 (bpf)`); "-" for nothing. */
export function observedText(node: NodeView): string {
  const o = node.observed;
  if (!o) return '-';
  const ref = policyRef(o);
  if (ref === '-') return o.enforcement && o.enforcement !== 'none' ? `- (${o.enforcement})` : '-';
  return o.enforcement ? `${ref} (${o.enforcement})` : ref;
}

export function renderNodes(nodes: readonly NodeView[], now: number, showLabels: boolean): string[] {
  if (nodes.length === 0) return ['No nodes.'];
  const counts = new Map<string, number>();
  for (const n of nodes) counts.set(n.state, (counts.get(n.state) ?? 0) + 1);
  const summary = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([state, n]) => `${n} ${state}`)
    .join(', ');
  const columns = [
    { header: 'node' },
    { header: 'state' },
    { header: 'desired' },
    { header: 'acked' },
    { header: 'observed' },
    { header: 'last seen' },
    { header: 'drift / reason', max: 70 },
    ...(showLabels ? [{ header: 'labels', max: 90 }] : []),
  ];
  const rows = nodes.map((n) => [
    n.id,
    n.state,
    policyRef(n.desired),
    policyRef(n.acked),
    observedText(n),
    `${ago(n.lastSeen, now)}${n.connected ? '' : ' (offline)'}`,
    nodeDetail(n),
    ...(showLabels
      ? [
          Object.entries(n.labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(','),
        ]
      : []),
  ]);
  return [...renderTable(columns, rows), '', `${nodes.length} node${nodes.length === 1 ? '' : 's'}: ${summary}`];
}
