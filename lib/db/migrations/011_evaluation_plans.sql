-- Evaluations in sample time (slicing, periodic, static, offset, between triggers), after a pipeline or by
-- `tide evaluate`: one plan per evaluation workflow (`name` is its workflow id, so a retried planning finds its
-- plan), over the pipeline's held-out samples or all samples of a separate evaluation dataset.
CREATE TABLE evaluation_plans (
  plan_id      serial PRIMARY KEY,
  name         text NOT NULL UNIQUE,
  pipeline_id  int NOT NULL REFERENCES pipelines(pipeline_id),
  dataset_id   int NOT NULL REFERENCES datasets(dataset_id),
  held_out     boolean NOT NULL,
  strategy     jsonb NOT NULL,
  models       text NOT NULL,
  -- [{intervalId, startTs, endTs, model?}], cut when the plan was made
  intervals    jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX evaluation_plans_pipeline ON evaluation_plans (pipeline_id);

CREATE TABLE interval_evaluations (
  plan_id      int NOT NULL REFERENCES evaluation_plans(plan_id) ON DELETE CASCADE,
  model_id     int NOT NULL REFERENCES models(model_id),
  interval_id  int NOT NULL,
  start_ts     bigint NOT NULL,
  end_ts       bigint NOT NULL,
  num_samples  int NOT NULL,
  metrics      jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (plan_id, model_id, interval_id)
);
