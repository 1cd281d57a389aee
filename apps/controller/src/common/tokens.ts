/** Injection tokens for the values the composition root hands to NestJS (not classes). */
export const CONFIG = Symbol('ControllerConfig');
export const STORE = Symbol('Store');
export const LOGGER = Symbol('Logger');
export const CLOCK = Symbol('Clock');

/** Time source, injected so tests can reason about it; the controller uses wall time. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
