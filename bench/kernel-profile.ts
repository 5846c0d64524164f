/**
 * Per-kernel wall time on the wasm backend: every registered wasm kernel is wrapped with a timer.
 * wasm kernels run synchronously on the calling thread, so the time around kernelFunc is the
 * kernel's whole cost (the engine's own bookkeeping is what is left of a step).
 */
import { getKernelsForBackend, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { performance } from 'node:perf_hooks';

export interface KernelStat {
  name: string;
  calls: number;
  ms: number;
  cpuMs: number;
}

/** CPU time of this process in ms: on a machine shared with other jobs, wall time measures the neighbours too. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export class KernelProfiler {
  private readonly stats = new Map<string, KernelStat>();
  private readonly wrapped: KernelConfig[] = [];
  enabled = false;

  /** Wraps every kernel currently registered for `backendName`. Call after all kernels are registered. */
  install(backendName: string): void {
    for (const cfg of getKernelsForBackend(backendName)) {
      const inner = cfg.kernelFunc;
      const stat: KernelStat = { name: cfg.kernelName, calls: 0, ms: 0, cpuMs: 0 };
      this.stats.set(cfg.kernelName, stat);
      const timed: KernelConfig['kernelFunc'] = (args) => {
        if (!this.enabled) return inner(args);
        const t0 = performance.now();
        const c0 = cpuMs();
        try {
          return inner(args);
        } finally {
          stat.ms += performance.now() - t0;
          stat.cpuMs += cpuMs() - c0;
          stat.calls++;
        }
      };
      unregisterKernel(cfg.kernelName, backendName);
      registerKernel({ ...cfg, kernelFunc: timed });
      this.wrapped.push(cfg);
    }
  }

  /** Puts the unwrapped kernels back. */
  uninstall(): void {
    for (const cfg of this.wrapped) {
      unregisterKernel(cfg.kernelName, cfg.backendName);
      registerKernel(cfg);
    }
    this.wrapped.length = 0;
  }

  reset(): void {
    for (const s of this.stats.values()) {
      s.calls = 0;
      s.ms = 0;
      s.cpuMs = 0;
    }
  }

  /** Kernels that ran, most expensive first. */
  top(): KernelStat[] {
    return [...this.stats.values()].filter((s) => s.calls > 0).sort((a, b) => b.cpuMs - a.cpuMs);
  }
}
