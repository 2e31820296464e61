-- Every metric of an evaluation cell, by name (accuracy, loss, f1Macro, rocAuc, confusionMatrix, ...): new
-- metrics need no schema change. accuracy and loss stay as columns for queries that sort or filter on them.
ALTER TABLE evaluations ADD COLUMN metrics jsonb NOT NULL DEFAULT '{}'::jsonb;
