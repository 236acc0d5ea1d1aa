-- Failed sign-in attempts by key ('account:<name>', 'address:<ip>', 'request:<id>'), shared by
-- every hub on this database. A row lives for its window or its lockout, whichever ends later.
CREATE TABLE throttle (
    key TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    locked_until INTEGER NOT NULL DEFAULT 0
) STRICT;
