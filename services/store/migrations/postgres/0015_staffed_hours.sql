-- staffing: when the platform's moderation is staffed, as JSON of
-- takedown_protocol::staffing::Staffing ({"time_zone", "windows": [{"weekday", "start",
-- "end"}], "contact_point"}, minutes after local midnight); NULL when the platform has not
-- said. Nothing queries inside it: the hub reads it with the platform.
ALTER TABLE platforms ADD COLUMN staffing TEXT;
