import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withStackQueues } from '../../cli/spec-queues.js';
import { loadConfig, stateFolderTag } from '../../lib/config.js';

describe('task queues of a state folder', () => {
  it('an embedded stack suffixes the default queues with its resolved state folder\'s tag', () => {
    const a = loadConfig({ TIDELINE_HOME: '/srv/a/.tideline' });
    const b = loadConfig({ TIDELINE_HOME: '/srv/b/.tideline' });
    assert.equal(a.cpuQueue, `tideline-cpu-${stateFolderTag('/srv/a/.tideline')}`);
    assert.equal(a.gpuQueue, `tideline-gpu-${stateFolderTag('/srv/a/.tideline')}`);
    assert.match(a.cpuQueue, /^tideline-cpu-[0-9a-f]{6}$/);
    assert.notEqual(a.cpuQueue, b.cpuQueue);
    assert.equal(loadConfig({ TIDELINE_HOME: '/srv/a/x/../.tideline' }).cpuQueue, a.cpuQueue, 'the same folder, however it is spelled');
  });

  it('explicit queue names, and a shared server named by TEMPORAL_ADDRESS, keep the plain names', () => {
    const explicit = loadConfig({ TIDELINE_HOME: '/srv/a/.tideline', TIDELINE_CPU_QUEUE: 'mine-cpu' });
    assert.equal(explicit.cpuQueue, 'mine-cpu');
    assert.match(explicit.gpuQueue, /^tideline-gpu-[0-9a-f]{6}$/);
    const shared = loadConfig({ TIDELINE_HOME: '/srv/a/.tideline', TEMPORAL_ADDRESS: 'temporal:7233' });
    assert.deepEqual([shared.cpuQueue, shared.gpuQueue, shared.temporalAddress], ['tideline-cpu', 'tideline-gpu', 'temporal:7233']);
  });

  it('a spec gets the queues it leaves out from the config and keeps those it sets', () => {
    const config = { cpuQueue: 'tideline-cpu-3f9a1c', gpuQueue: 'tideline-gpu-3f9a1c' };
    assert.deepEqual(withStackQueues({ dataset: { name: 'd' } }, config), { dataset: { name: 'd' }, queues: { cpu: 'tideline-cpu-3f9a1c', gpu: 'tideline-gpu-3f9a1c' } });
    assert.deepEqual(withStackQueues({ queues: { gpu: 'big-gpus' } }, config), { queues: { cpu: 'tideline-cpu-3f9a1c', gpu: 'big-gpus' } });
    assert.equal(withStackQueues('not a spec', config), 'not a spec');
    assert.deepEqual(withStackQueues({ queues: 'cpu' }, config), { queues: 'cpu' }, 'left for parseSpec to reject');
  });
});
