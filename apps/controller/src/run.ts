/**
 * The controller as a process: configuration from the environment, start, print where it
 * listens (and the bootstrap admin token, once), stop cleanly on SIGINT/SIGTERM.
 */
import { ConfigError, loadConfig } from './config/config.js';
import { startController } from './app.js';
import { RolloutConfigError, loadRolloutConfig } from './rollout/rollout.config.js';

async function main(): Promise<void> {
  // Both sets of settings are checked before either is reported, so every bad variable shows at once.
  const problems: string[] = [];
  const attempt = <T>(load: () => T): T | undefined => {
    try {
      return load();
    } catch (error) {
      if (error instanceof ConfigError || error instanceof RolloutConfigError) {
        problems.push(error.message);
        return undefined;
      }
      throw error;
    }
  };
  const config = attempt(() => loadConfig(process.env));
  const rolloutConfig = attempt(() => loadRolloutConfig(process.env));
  if (config === undefined || rolloutConfig === undefined) {
    process.stderr.write(`${problems.join('\n')}\n`);
    process.exit(2);
  }
  const handle = await startController(config, { rollouts: { config: rolloutConfig } });
  process.stdout.write(`thp-fleet controller ${handle.replicaId}\n  REST + dashboard: ${handle.httpUrl}\n  API docs:         ${handle.httpUrl}/api/docs\n  agent gRPC:       ${handle.grpcAddress}\n  store:            ${handle.storeKind}\n`);
  if (handle.bootstrapAdminToken !== null) {
    process.stdout.write(`  admin token (shown once, keep it): ${handle.bootstrapAdminToken}\n`);
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      process.stderr.write(`${signal} again: exiting without a clean shutdown\n`);
      process.exit(1);
    }
    stopping = true;
    handle.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`shutdown failed: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`controller failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
