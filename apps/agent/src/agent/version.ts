/** The agent's version (Hello.agent_version), from this package's package.json. */
import { readFileSync } from 'node:fs';

function readVersion(): string {
  // src/agent/version.ts and dist/agent/version.js are both two levels below the package root.
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  const version = (JSON.parse(text) as { version?: unknown }).version;
  return typeof version === 'string' ? version : '0.0.0';
}

export const AGENT_VERSION = readVersion();
