-- Selection policies: how many samples each trigger's window held, how often each sample was trained on (freshness
-- and randomNoReplacement read it), and what scoring cost a model (model-based downsampling).
ALTER TABLE triggers ADD COLUMN num_window int;
CREATE TABLE sample_uses (
  pipeline_id   int NOT NULL REFERENCES pipelines(pipeline_id),
  sample_key    bigint NOT NULL,
  uses          int NOT NULL,
  last_trigger  int NOT NULL,
  PRIMARY KEY (pipeline_id, sample_key)
);
ALTER TABLE models ADD COLUMN num_scored bigint NOT NULL DEFAULT 0;
ALTER TABLE models ADD COLUMN scoring_ms int NOT NULL DEFAULT 0;
-- Sample-then-batch downsampling: the samples, with their weights, that each scoring round of a trigger chose
-- from its training set; the round's epochs train on them, and a retried attempt reads them back.
CREATE TABLE downsampled_samples (
  pipeline_id  int NOT NULL,
  trigger_id   int NOT NULL,
  round        int NOT NULL,
  sample_key   bigint NOT NULL,
  weight       real NOT NULL,
  PRIMARY KEY (pipeline_id, trigger_id, round, sample_key)
);
-- The wall time of each evaluation call ("after:<trigger>" or "trailing:<interval>"): the evaluation seconds of a
-- pipeline's cost.
CREATE TABLE evaluation_runs (
  pipeline_id    int NOT NULL REFERENCES pipelines(pipeline_id),
  scope          text NOT NULL,
  cells          int NOT NULL,
  evaluation_ms  int NOT NULL,
  PRIMARY KEY (pipeline_id, scope)
);
