import os

# numpy's BLAS on one thread: renders are measured and compared per core.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
