"""Batch: many runs. A sweep file's schema and designs and the run keys (`sweep`), the
runner and its executors (`runner`: serial, process pool, Dask), the Parquet store
that makes a killed sweep resumable (`store`), and the loader notebooks and scripts
read results through (`results`)."""
