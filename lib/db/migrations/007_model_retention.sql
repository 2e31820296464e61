-- When `tide gc` deleted a model's files (its .onnx and state); null while they are on disk. The row stays:
-- lineage, triggers and evaluations still refer to it, and reports and evaluation read here that the file is gone.
ALTER TABLE models ADD COLUMN deleted_at timestamptz;
