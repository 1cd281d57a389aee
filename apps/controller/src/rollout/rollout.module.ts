/**
 * The rollout domain: REST (rollouts, policy rollbacks, the blast-radius budget) and the
 * orchestrator, which registers itself with LeadershipService and so runs on the leader only.
 * startController mounts it by default (`RolloutModule.forRoot(config)`, settings from
 * THP_ROLLOUT_*); `startController(config, { rollouts: false })` leaves it out.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import { ClusterModule, NodeModule, PolicyModule, TokenModule } from '../app.module.js';
import type { RolloutConfig } from './rollout.config.js';
import { PolicyRollbackController, RolloutBudgetController, RolloutController } from './rollout.controller.js';
import { RolloutOrchestrator } from './rollout.orchestrator.js';
import { RolloutRepository } from './rollout.repository.js';
import { RolloutService } from './rollout.service.js';
import { ROLLOUT_CONFIG } from './rollout.tokens.js';

@Module({})
export class RolloutModule {
  static forRoot(config: RolloutConfig): DynamicModule {
    return {
      module: RolloutModule,
      imports: [TokenModule, PolicyModule, NodeModule, ClusterModule],
      providers: [{ provide: ROLLOUT_CONFIG, useValue: config }, RolloutRepository, RolloutService, RolloutOrchestrator],
      controllers: [RolloutBudgetController, RolloutController, PolicyRollbackController],
      exports: [RolloutService, RolloutOrchestrator],
    };
  }
}
