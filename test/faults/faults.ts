import type { Fault } from './driver.js';
import type { FaultWorld } from './world.js';

/**
 * SIGKILL of the gpu worker (training, evaluation), restarted at once as a supervisor would. Where it has work (a
 * training or evaluation point) it is killed once it polls; at selection and storing, whatever it is doing, also
 * starting up after the previous kill (the kill says so).
 */
export function gpuWorkerKill(world: FaultWorld): Fault {
  return {
    kind: 'gpu worker SIGKILLed',
    armed: (point) => world.gpu.ready || point.phase === 'selecting' || point.phase === 'storing',
    async inject() {
      const starting = !world.gpu.ready;
      await world.gpu.restart();
      return starting ? 'the worker restarted after the previous kill was still starting' : undefined;
    },
  };
}

/** SIGKILL of the control worker (pipeline and trigger workflows, cpu activities), restarted at once. */
export function controlWorkerKill(world: FaultWorld): Fault {
  return { kind: 'control worker SIGKILLed', armed: () => world.control.ready, inject: () => world.control.restart(), onlyOnTime: true };
}

/** SIGKILL of the Temporal dev server, restarted on its SQLite file and port after `downMs`. */
export function devServerKill(world: FaultWorld, downMs: number): Fault {
  return {
    kind: `dev server SIGKILLed, down ${(downMs / 1000).toFixed(1)} s`,
    armed: () => true,
    onlyOnTime: true,
    async inject() {
      await world.temporal.killServer();
      await new Promise((r) => setTimeout(r, downMs));
      await world.temporal.restartServer();
    },
  };
}
