"""Public benchmark data sets, read from their original files (never downloaded at run time)."""
