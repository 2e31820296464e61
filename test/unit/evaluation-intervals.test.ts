import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { intervalCells } from '../../policies/evaluation/interval-cells.js';
import { planIntervals, strategySchema, type PlanningContext } from '../../policies/evaluation/intervals/index.js';
import { planRequestSchema } from '../../policies/evaluation/plan-request.js';
import { activeAt, trainedAt } from '../../policies/evaluation/serving-models.js';
import { intervalCompositeSeries } from '../../lib/eval/interval-composite.js';
import { meanCompositeAccuracy } from '../../lib/eval/composite.js';

const DAY = 86_400;
/** Three days of data, one trigger per day; trigger 1 trained no model. */
const context: PlanningContext = {
  data: { minTs: 0, maxTs: 3 * DAY - 1 },
  triggers: [
    { triggerId: 0, minTs: 0, maxTs: DAY - 1, trained: true },
    { triggerId: 1, minTs: DAY, maxTs: 2 * DAY - 1, trained: false },
    { triggerId: 2, minTs: 2 * DAY, maxTs: 3 * DAY - 1, trained: true },
  ],
};
const plan = (strategy: unknown) => planIntervals(strategySchema.parse(strategy), context).map(({ intervalId, ...rest }) => ({ id: intervalId, ...rest }));

describe('evaluation intervals in sample time', () => {
  it('slicing cuts consecutive slices from the data start; the last one ends with the data', () => {
    assert.deepEqual(plan({ kind: 'slicing', every: '1d' }), [
      { id: 0, startTs: 0, endTs: DAY }, { id: 1, startTs: DAY, endTs: 2 * DAY }, { id: 2, startTs: 2 * DAY, endTs: 3 * DAY },
    ]);
    assert.deepEqual(plan({ kind: 'slicing', every: '2d', start: 12 * 3600 }), [
      { id: 0, startTs: 12 * 3600, endTs: 12 * 3600 + 2 * DAY }, { id: 1, startTs: 12 * 3600 + 2 * DAY, endTs: 3 * DAY },
    ]);
    assert.deepEqual(plan({ kind: 'slicing', every: '1d', start: '1970-01-02', end: '1970-01-03' }), [{ id: 0, startTs: DAY, endTs: 2 * DAY }]);
  });

  it('periodic puts a window [point − before, point + after) around points every period', () => {
    assert.deepEqual(plan({ kind: 'periodic', every: '1d', before: '6h', after: '12h' }), [0, 1, 2].map((d) => ({
      id: d, startTs: d * DAY - 6 * 3600, endTs: d * DAY + 12 * 3600,
    })));
  });

  it('static takes the listed intervals, in seconds or ISO dates', () => {
    assert.deepEqual(plan({ kind: 'static', intervals: [{ start: 0, end: 10 }, { start: '1970-01-02', end: '1970-01-03T12:00:00Z' }] }), [
      { id: 0, startTs: 0, endTs: 10 }, { id: 1, startTs: DAY, endTs: 2.5 * DAY },
    ]);
  });

  it('offset cuts the intervals around each trained trigger, each for its model alone', () => {
    assert.deepEqual(plan({ kind: 'offset', offsets: ['-inf', '-12h', '0', '+1d', '+inf'] }), [
      { id: 0, startTs: 0, endTs: 0, model: 0 },
      { id: 1, startTs: -12 * 3600, endTs: 0, model: 0 },
      { id: 2, startTs: 0, endTs: DAY, model: 0 },
      { id: 3, startTs: DAY, endTs: 2 * DAY, model: 0 },
      { id: 4, startTs: DAY, endTs: 3 * DAY, model: 0 },
      { id: 5, startTs: 0, endTs: 2 * DAY, model: 2 },
      { id: 6, startTs: 2 * DAY - 12 * 3600, endTs: 2 * DAY, model: 2 },
      { id: 7, startTs: 2 * DAY, endTs: 3 * DAY, model: 2 },
      { id: 8, startTs: 3 * DAY, endTs: 4 * DAY, model: 2 },
      { id: 9, startTs: 3 * DAY, endTs: 3 * DAY, model: 2 },
    ]);
  });

  it('betweenTriggers runs from each trigger\'s first sample to the next one\'s, the last to the end of the data', () => {
    assert.deepEqual(plan('betweenTriggers'), [
      { id: 0, startTs: 0, endTs: DAY }, { id: 1, startTs: DAY, endTs: 2 * DAY }, { id: 2, startTs: 2 * DAY, endTs: 3 * DAY },
    ]);
  });

  it('no data gives no intervals; too many intervals is an error naming `every`', () => {
    assert.deepEqual(planIntervals({ kind: 'slicing', every: '1d' }, { data: null, triggers: [] }), []);
    assert.throws(() => plan({ kind: 'slicing', every: '1s' }), /slicing makes 259,200 intervals, more than 10,000: choose an `every` longer than 1s/);
  });

  it('bad strategies name the field', () => {
    const issues = (input: unknown) => planRequestSchema.safeParse(input).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    assert.deepEqual(issues({ strategy: { kind: 'slicing', every: 'daily' } }), ['strategy.every: expected a duration such as "30s", "15m", "1d" or "2w"']);
    assert.deepEqual(issues({ strategy: { kind: 'periodic', every: '1d' } }), ['strategy.after: set before, after or both: the window around each point']);
    assert.deepEqual(issues({ strategy: { kind: 'static', intervals: [{ start: 5, end: 5 }] } }), ['strategy.intervals.0.end: must be after start']);
    assert.deepEqual(issues({ strategy: { kind: 'offset', offsets: ['1d'] } }), ['strategy.offsets.0: expected "0", "-inf", "+inf" or a signed duration such as "+1d" or "-12h"']);
    assert.match(issues({ strategy: 'weekly' })![0]!, /^strategy\.kind: /);
    assert.match(issues({ strategy: 'slicing', models: 'all' })![0]!, /^strategy\.every: |^models: /);
  });
});

describe('models of an evaluation in sample time', () => {
  const models = [{ trigger: 0, maxTs: DAY - 1 }, { trigger: 2, maxTs: 3 * DAY - 1 }];

  it('the active model is the latest trained only on data before the interval; the trained one the first whose data reaches it', () => {
    assert.equal(activeAt(0, models), null);
    assert.equal(activeAt(DAY, models), 0);
    assert.equal(activeAt(3 * DAY, models), 2);
    assert.equal(trainedAt(0, models), 0);
    assert.equal(trainedAt(DAY, models), 2);
    assert.equal(trainedAt(3 * DAY, models), null);
  });

  it('picks the cells of each mode; an offset interval takes its own model only', () => {
    const intervals = planIntervals({ kind: 'slicing', every: '1d' }, context);
    const cells = (mode: 'matrix' | 'active' | 'trained') => intervalCells(intervals, models, mode).map((c) => `${c.modelTrigger}/${c.intervalId}`);
    assert.deepEqual(cells('matrix'), ['0/0', '2/0', '0/1', '2/1', '0/2', '2/2']);
    assert.deepEqual(cells('active'), ['0/0', '0/1', '2/1', '0/2', '2/2']);
    assert.deepEqual(cells('trained'), ['0/0', '2/1', '2/2']);
    const offsets = planIntervals({ kind: 'offset', offsets: ['0'] }, context);
    assert.deepEqual(intervalCells(offsets, models, 'matrix'), [{ modelTrigger: 0, intervalId: 0 }, { modelTrigger: 2, intervalId: 1 }]);
  });

  it('the composite takes the serving model\'s accuracy per interval and averages it by samples', () => {
    const intervals = planIntervals({ kind: 'slicing', every: '1d' }, context);
    const cells = [
      { modelTrigger: 0, intervalId: 0, numSamples: 10, accuracy: 0.9 },
      { modelTrigger: 0, intervalId: 1, numSamples: 30, accuracy: 0.6 },
      { modelTrigger: 2, intervalId: 1, numSamples: 30, accuracy: 0.8 },
      { modelTrigger: 0, intervalId: 2, numSamples: 10, accuracy: 0.4 },
      { modelTrigger: 2, intervalId: 2, numSamples: 10, accuracy: 0.95 },
    ];
    const series = intervalCompositeSeries(intervals, models, cells);
    assert.deepEqual(series.map((p) => [p.activeModel, p.activeAccuracy, p.trainedModel, p.trainedAccuracy, p.numSamples]), [
      [null, null, 0, 0.9, 10], [0, 0.6, 2, 0.8, 30], [0, 0.4, 2, 0.95, 10],
    ]);
    assert.ok(Math.abs(meanCompositeAccuracy(series)! - (0.6 * 30 + 0.4 * 10) / 40) < 1e-12);
  });
});
