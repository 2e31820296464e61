-- Per-dataset ingestion settings from the dataset config (files scanned in parallel, watcher poll
-- interval); operational, so re-registering a dataset may change them.
ALTER TABLE datasets ADD COLUMN ingest jsonb NOT NULL DEFAULT '{}'::jsonb;
