"""The pipeline as a whole: its one description (``config``), the stages built from it and run over a
frame stream (``engine``, ``run``), and the runtime helpers of a long run (``background``: a worker
thread; ``memory``: handing freed memory back)."""
