"""Networks and clustering heads: the stacked autoencoder (``autoencoder.py``), DEC's Student's t
head of centroids (``student_t.py``) and N2D's manifold-and-mixture head (``manifold.py``)."""
