/** `thpctl login`, `logout`, `whoami`. */
import type { Command } from 'commander';
import type { Whoami } from '../api-types.js';
import { ApiClient } from '../client.js';
import { checkToken, normalizeServer, readConfig, removeConfig, writeConfig } from '../config.js';
import { CliError, EXIT } from '../exit-codes.js';
import type { Io, Session } from '../session.js';

export function registerAuth(program: Command, session: () => Session): void {
  program
    .command('login')
    .description('Save the controller URL and an API token (checked against the controller) for the next commands')
    .addHelpText(
      'after',
      `
The server comes from --server, THP_SERVER or the saved config; the token from --token,
THP_TOKEN, or standard input (a hidden prompt on a terminal, else the first line).
Saved to $XDG_CONFIG_HOME/thpctl/config.json (~/.config/thpctl/config.json), mode 0600.

Examples:
  thpctl login --server http://127.0.0.1:8080
  printf '%s\\n' "$TOKEN" | thpctl login --server https://thp.example.net`,
    )
    .action(async () => {
      const s = session();
      const stored = await readConfig(s.configFile, (m) => s.warn(m));
      const rawServer = s.globals.server ?? nonEmpty(s.io.env['THP_SERVER']) ?? stored?.server;
      if (rawServer === undefined) throw new CliError(EXIT.usage, 'login needs the controller URL: thpctl login --server http://HOST:PORT');
      const server = normalizeServer(rawServer, s.globals.server !== undefined ? '--server' : nonEmpty(s.io.env['THP_SERVER']) !== undefined ? 'THP_SERVER' : s.configFile);
      let token: string;
      if (s.globals.token !== undefined) token = checkToken(s.globals.token, '--token');
      else if (nonEmpty(s.io.env['THP_TOKEN']) !== undefined) token = checkToken(s.io.env['THP_TOKEN'] ?? '', 'THP_TOKEN');
      else token = checkToken(await readToken(s.io), 'the token read from standard input');
      const who = await verify(server, token);
      await writeConfig(s.configFile, { server, token });
      s.output({ server, configFile: s.configFile, ...who }, () => `Logged in to ${server} as ${who.name} (${who.role}). Saved to ${s.configFile}.`);
    });

  program
    .command('logout')
    .description('Forget the saved server and token')
    .action(async () => {
      const s = session();
      const removed = await removeConfig(s.configFile);
      s.output({ removed, configFile: s.configFile }, () => (removed ? `Removed ${s.configFile}.` : `Not logged in (no ${s.configFile}).`));
    });

  program
    .command('whoami')
    .description('Show which controller and token the commands use, and what the token may do')
    .action(async () => {
      const s = session();
      const connection = await s.connect();
      const who = (await (await s.client()).get<Whoami>('/api/v1/whoami')).body;
      s.output({ server: connection.server, serverFrom: connection.serverSource, tokenFrom: connection.tokenSource, ...who }, () => [
        `server: ${connection.server} (from ${connection.serverSource})`,
        `token:  ${who.name} #${who.tokenId}, role ${who.role} (from ${connection.tokenSource ?? '-'})`,
      ]);
    });
}

async function verify(server: string, token: string): Promise<Whoami> {
  try {
    return (await new ApiClient(server, token).get<Whoami>('/api/v1/whoami')).body;
  } catch (error) {
    if (error instanceof CliError && error.exitCode === EXIT.auth) throw new CliError(EXIT.auth, `the controller at ${server} refused the token: ${error.message}`, error.problems, { code: error.code });
    throw error;
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** The token from standard input: a prompt without echo on a terminal, else the first non-empty line. */
async function readToken(io: Io): Promise<string> {
  if (io.stdin.isTTY && io.stdin.setRawMode) return promptHidden(io, 'API token: ');
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  const line = Buffer.concat(chunks)
    .toString('utf8')
    .split(/\r?\n/)
    .find((l) => l.trim() !== '');
  if (line === undefined) throw new CliError(EXIT.usage, 'no token: pass --token, set THP_TOKEN, or write the token to standard input');
  return line;
}

function promptHidden(io: Io, question: string): Promise<string> {
  const stdin = io.stdin;
  io.stderr.write(question);
  stdin.setRawMode?.(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      io.stderr.write('\n');
    };
    const onData = (chunk: string | Buffer): void => {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n') {
          finish();
          resolve(value);
          return;
        }
        if (ch === '\u0003' || ch === '\u0004') {
          finish();
          reject(new CliError(EXIT.usage, 'login cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
