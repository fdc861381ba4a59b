"""Planning: parameter sweeps with replications and confidence intervals, locally or on Dask."""
