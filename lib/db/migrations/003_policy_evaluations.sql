-- Why each trigger fired, and every evaluation of a pipeline's trigger policy: the interval it covered,
-- the model it measured, scores against thresholds, votes, the decision, and the measurement it ran.
ALTER TABLE triggers ADD COLUMN reason text;

CREATE TABLE policy_evaluations (
  pipeline_id  int NOT NULL REFERENCES pipelines(pipeline_id),
  policy       text NOT NULL,          -- place in the spec: trigger, trigger.members.drift, ...
  first_key    bigint NOT NULL,
  last_key     bigint NOT NULL,
  model_id     int,
  scores       jsonb NOT NULL,
  thresholds   jsonb NOT NULL,
  votes        jsonb,
  triggered    boolean NOT NULL,
  reason       text NOT NULL,
  request      jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pipeline_id, policy, last_key)
);
