-- The workflow run that registered a pipeline (its first run id, stable across continue-as-new): a pipeline
-- started again under a used name must not write into the earlier run's triggers, models and evaluations.
ALTER TABLE pipelines ADD COLUMN run_id text;
