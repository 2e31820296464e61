-- Rows of an ingested file left out under the dataset's `ingest.badRows: 'skip'`: how many, and the first few
-- (where each is, which column, why), so no row is lost unnoticed.
ALTER TABLE files ADD COLUMN skipped_rows int NOT NULL DEFAULT 0;
ALTER TABLE files ADD COLUMN skipped_examples jsonb;
