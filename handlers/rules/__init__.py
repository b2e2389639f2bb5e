"""Pure ITSM rules: no I/O, no clock, no database; plain functions over plain values."""
