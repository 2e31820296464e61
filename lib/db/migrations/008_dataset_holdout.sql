-- The holdout is the dataset's (its fraction and seed), not a pipeline's: every pipeline over a dataset is
-- evaluated on the same held-out samples, so their figures compare fairly. Existing datasets get the fraction
-- pipelines used by default and seed 0.
ALTER TABLE datasets ADD COLUMN holdout jsonb NOT NULL DEFAULT '{"fraction": 0.1, "seed": 0}'::jsonb;
