import { ApplicationFailure } from '@temporalio/common';
import type { NonRetryableType } from '../policies/failure-types.js';

export function configurationError(type: NonRetryableType, message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, type);
}
