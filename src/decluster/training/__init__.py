"""Training: the one loop every method runs (``loop.py``), its checkpoint, divergence and signal
hooks (``checkpoint.py``), progress display, device and precision, and the two objectives that
run in it: pretraining (``pretraining.py``) and DEC/IDEC clustering (``clustering.py``)."""
