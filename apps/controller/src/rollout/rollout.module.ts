/**
 * The rollout domain, mounted with `startController(config, { extraModules: [RolloutModule] })`.
 * The orchestrator registers itself with LeadershipService, so it runs on the leader only.
 */
import { Module } from '@nestjs/common';
import { ClusterModule, NodeModule, PolicyModule, TokenModule } from '../app.module.js';
import { loadRolloutConfig } from './rollout.config.js';
import { PolicyRollbackController, RolloutController } from './rollout.controller.js';
import { RolloutOrchestrator } from './rollout.orchestrator.js';
import { RolloutRepository } from './rollout.repository.js';
import { RolloutService } from './rollout.service.js';
import { ROLLOUT_CONFIG } from './rollout.tokens.js';

@Module({
  imports: [TokenModule, PolicyModule, NodeModule, ClusterModule],
  providers: [{ provide: ROLLOUT_CONFIG, useFactory: () => loadRolloutConfig(process.env) }, RolloutRepository, RolloutService, RolloutOrchestrator],
  controllers: [RolloutController, PolicyRollbackController],
  exports: [RolloutService, RolloutOrchestrator],
})
export class RolloutModule {}
