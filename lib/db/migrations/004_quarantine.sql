-- Files under a dataset root that could not be ingested (empty, corrupt, undecodable), with why. The scan sees
-- the size and mtime recorded here: an unchanged file is not tried again, a changed one is (a writer fixed it).
-- Ingesting the file deletes its row.
CREATE TABLE quarantined_files (
  dataset_id      int NOT NULL REFERENCES datasets(dataset_id),
  path            text NOT NULL,          -- relative to the dataset root
  reason          text NOT NULL,
  size_bytes      bigint NOT NULL,
  mtime_s         double precision NOT NULL,
  quarantined_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dataset_id, path)
);

-- Why a stored model is suspect though its training finished (e.g. its loss diverged); null when nothing is.
ALTER TABLE models ADD COLUMN warning text;
