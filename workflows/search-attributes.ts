import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Keys registered on the dev server and by `tide` on external clusters (see lib/stack). */
export const pipelineKey = defineSearchAttributeKey('TidelinePipeline', SearchAttributeType.KEYWORD);
export const datasetKey = defineSearchAttributeKey('TidelineDataset', SearchAttributeType.KEYWORD);
