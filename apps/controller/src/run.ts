/**
 * The controller as a process: configuration from the environment, start, print where it
 * listens (and the bootstrap admin token, once), stop cleanly on SIGINT/SIGTERM.
 */
import { ConfigError, loadConfig } from './config/config.js';
import { startController } from './app.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const handle = await startController(config);
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
