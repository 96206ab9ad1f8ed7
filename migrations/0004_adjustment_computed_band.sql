-- Keep the computed band an adjustment was made against, beside the chosen band and the
-- reason, so that an adjustment lapses as soon as changed answers move the computed band.
-- Rows from before this migration have none, and are checked by band and step only.

ALTER TABLE band_adjustments ADD COLUMN computed_band TEXT;
