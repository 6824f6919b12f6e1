-- ro_paused: of an acted-on removal order, the milliseconds its clock stood still while a
-- cannot-execute answer on an Annex III ground awaited clarification (0: it never paused),
-- written by the same statement as ro_elapsed. The summary counts the orders acted on after
-- a pause and their paused time. Orders acted on before this migration get it the next time
-- their clock is computed (a report on them, or a rebuild of their day's summary).
ALTER TABLE targets ADD COLUMN ro_paused BIGINT;
