import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import pg from 'pg';
import { asActivityFailure, deterministicCause } from '../../activities/deterministic-errors.js';
import { DataError } from '../../lib/data/errors.js';

const errno = (code: string, message: string) => Object.assign(new Error(message), { code });
const sqlError = (code: string) => Object.assign(new pg.DatabaseError('value out of range', 0, 'error'), { code });

describe('deterministic activity failures', () => {
  it('recognizes failures that end the same way on every attempt', () => {
    const deterministic: [unknown, RegExp][] = [
      [new RangeError('Invalid typed array length: 8589934588'), /^RangeError: Invalid typed array length/],
      [errno('ERR_OUT_OF_RANGE', 'The value of "size" is out of range.'), /out of range/],
      [new Error('onnxruntime: Array buffer allocation failed'), /Array buffer allocation failed/],
      [new Error('onnxruntime: Failed to load model because protobuf parsing failed.'), /protobuf parsing failed/],
      [new Error('onnxruntime: This is an invalid model. Error No Op registered for NoSuchOp'), /invalid model/],
      [errno('ENOENT', "ENOENT: no such file or directory, open '/store/model.onnx'"), /model\.onnx/],
      [errno('ENOTDIR', "ENOTDIR: not a directory, mkdir '/store/models/1/trigger-0'"), /ENOTDIR/],
      [sqlError('22003'), /^PostgreSQL 22003: value out of range/],
    ];
    for (const [err, cause] of deterministic) assert.match(deterministicCause(err) ?? '(retryable)', cause);
  });

  it('leaves transient failures to the retry policy', () => {
    for (const err of [
      errno('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
      errno('EIO', 'EIO: i/o error, read'),
      sqlError('40001'),
      sqlError('57P01'),
      new Error('session worker exited (code 1)'),
      new CancelledFailure('cancelled'),
    ]) {
      assert.equal(deterministicCause(err), undefined, String(err));
      assert.equal(asActivityFailure(err, 'TrainingFailed', 'trigger 2: training'), err);
    }
  });

  it('maps a deterministic failure to a non-retryable one naming what failed and why', () => {
    const failure = asActivityFailure(new RangeError('Array buffer allocation failed'), 'TrainingFailed', 'trigger 2: training');
    assert.ok(failure instanceof ApplicationFailure && failure.nonRetryable);
    assert.equal(failure.type, 'TrainingFailed');
    assert.equal(failure.message, 'trigger 2: training: RangeError: Array buffer allocation failed (a deterministic failure: not retried)');

    const data = asActivityFailure(new DataError('part-0.bin: no such file in the dataset root /d'), 'TrainingFailed', 'trigger 2: training');
    assert.ok(data instanceof ApplicationFailure && data.nonRetryable && data.type === 'InvalidData');
    assert.equal(data.message, 'trigger 2: training: part-0.bin: no such file in the dataset root /d');

    const configured = ApplicationFailure.nonRetryable('model.hidden: too wide', 'ModelMismatch');
    assert.equal(asActivityFailure(configured, 'TrainingFailed', 'trigger 2: training'), configured);
  });
});
