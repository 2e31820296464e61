-- Datasets and their files. A dataset's samples get dense keys (1, 2, 3, ...) in ingestion order;
-- next_key is advanced in the same transaction as the file's COPY, so a rolled-back file leaves no gap.
CREATE TABLE datasets (
  dataset_id     serial PRIMARY KEY,
  name           text NOT NULL UNIQUE,
  root           text NOT NULL,
  format         jsonb NOT NULL,
  hash_partitions int NOT NULL DEFAULT 4,
  next_key       bigint NOT NULL DEFAULT 1,
  created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE files (
  file_id      bigserial PRIMARY KEY,
  dataset_id   int NOT NULL REFERENCES datasets(dataset_id),
  path         text NOT NULL,          -- relative to the dataset root
  size_bytes   bigint NOT NULL,
  mtime_s      double precision NOT NULL,
  num_samples  int NOT NULL,
  first_key    bigint NOT NULL,
  last_key     bigint NOT NULL,
  min_ts       bigint NOT NULL,
  max_ts       bigint NOT NULL,
  ingested_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (dataset_id, path)
);
CREATE INDEX files_by_key ON files (dataset_id, first_key);

-- One row per sample: metadata only; payloads stay in the dataset's files.
-- Partitioned by dataset (LIST), each dataset partition by hash of the key, created with the dataset.
CREATE TABLE samples (
  dataset_id    int NOT NULL,
  sample_key    bigint NOT NULL,
  file_id       bigint NOT NULL,
  index_in_file int NOT NULL,
  label         int NOT NULL,
  ts            bigint NOT NULL,
  PRIMARY KEY (dataset_id, sample_key)
) PARTITION BY LIST (dataset_id);

-- A pipeline is one workflow id; everything it produces is keyed by (pipeline, trigger).
CREATE TABLE pipelines (
  pipeline_id  serial PRIMARY KEY,
  name         text NOT NULL UNIQUE,
  dataset_id   int NOT NULL REFERENCES datasets(dataset_id),
  spec         jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE triggers (
  pipeline_id   int NOT NULL REFERENCES pipelines(pipeline_id),
  trigger_id    int NOT NULL,
  first_key     bigint NOT NULL,      -- the new data this trigger covers
  last_key      bigint NOT NULL,
  num_new       int NOT NULL,
  min_ts        bigint NOT NULL,
  max_ts        bigint NOT NULL,
  num_selected  int,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pipeline_id, trigger_id)
);

-- Each trigger's training set, written by selection with INSERT ... SELECT; partitioned by pipeline.
CREATE TABLE training_samples (
  pipeline_id  int NOT NULL,
  trigger_id   int NOT NULL,
  sample_key   bigint NOT NULL,
  weight       real NOT NULL DEFAULT 1,
  PRIMARY KEY (pipeline_id, trigger_id, sample_key)
) PARTITION BY LIST (pipeline_id);

CREATE TABLE models (
  model_id          serial PRIMARY KEY,
  pipeline_id       int NOT NULL REFERENCES pipelines(pipeline_id),
  trigger_id        int NOT NULL,
  parent_model_id   int REFERENCES models(model_id),
  architecture      jsonb NOT NULL,
  onnx_path         text NOT NULL,     -- plain inference graph, weights inside
  state_path        text NOT NULL,     -- parameters and optimizer state, for fine-tuning
  sha256            text NOT NULL,
  num_samples       int NOT NULL,
  training_ms       int NOT NULL,
  final_loss        real,
  created_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (pipeline_id, trigger_id)
);

-- Accuracy and loss of one model on one evaluation interval (a trigger's data range, or the data after
-- the last trigger), on that interval's held-out samples.
CREATE TABLE evaluations (
  pipeline_id     int NOT NULL REFERENCES pipelines(pipeline_id),
  model_id        int NOT NULL REFERENCES models(model_id),
  interval_id     int NOT NULL,
  first_key       bigint NOT NULL,
  last_key        bigint NOT NULL,
  num_samples     int NOT NULL,
  accuracy        double precision,
  loss            double precision,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pipeline_id, model_id, interval_id)
);
