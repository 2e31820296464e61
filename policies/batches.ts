/**
 * A contiguous range of sample keys of one dataset, as ingestion reports it (one per ingested file).
 * Keys are dense per dataset, so `count === lastKey - firstKey + 1`; within one batch, keys follow
 * sample timestamps (ingestion sorts each file by timestamp before it assigns keys).
 * This is all a workflow ever learns about data: never per-sample lists.
 */
export interface BatchDescriptor {
  datasetId: number;
  firstKey: number;
  lastKey: number;
  count: number;
  /** Smallest and largest sample timestamp in the batch, in seconds. */
  minTs: number;
  maxTs: number;
}

/** A contiguous key range that a trigger covers or an evaluation reads. */
export interface KeyRange {
  firstKey: number;
  lastKey: number;
}
